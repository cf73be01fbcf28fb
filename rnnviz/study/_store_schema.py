"""What a capacity store file must hold, and how to tell whether a file is one.

Schema 3 (rnnviz after 0.2.0): ``PRAGMA application_id`` = :data:`APPLICATION_ID` (this file is an
rnnviz store), ``PRAGMA user_version`` = :data:`SCHEMA_VERSION` (its layout), a table ``models``
defined by exactly :data:`MODELS_SQL` (:data:`COLUMNS`), a table ``meta`` (:data:`META_SQL`:
``schema_version``, ``created_by``, ``created_at``, and ``upgraded_from`` for upgraded stores), and
nothing else but their primary-key indexes (and the ``sqlite_stat*`` tables ``ANALYZE`` writes).

Schema 2 (rnnviz 0.2.0): the same without the columns :data:`ADDED_IN_3` (``n_random``,
``recalled_bits_total_clamp``, ``recalled_bits_ce_bound``): ``models`` is defined by exactly
:data:`V2_MODELS_SQL`.

Schema 1 (rnnviz 0.1.x): no application id or version, a table ``models`` with :data:`V1_COLUMNS`
(``state_size`` for today's ``hidden_size``; ``recalled_bits_plugin`` and ``mi_correction`` only in
stores written by 0.1 releases after the Miller-Madow correction), nothing else.

Readers read older stores and map their rows (:func:`rows_as_current`); writers refuse them:
``rnnviz store upgrade`` writes a current copy.

:func:`inspect` reads only SQLite's header and its ``sqlite_master`` catalogue (plus
``PRAGMA table_xinfo`` and the ``meta`` table once they are known to be plain tables): it never
runs a view, and it refuses any trigger, view, extra index or changed table definition, since those
would run the sender's SQL on the reader's machine or rewrite the rows a sweep commits.
"""

from __future__ import annotations

import math
import shlex
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

#: The store layout this rnnviz reads and writes; a store's ``PRAGMA user_version``.
SCHEMA_VERSION = 3
#: The rnnviz releases that wrote each older schema (for messages).
WRITTEN_BY = {1: "rnnviz 0.1.x", 2: "rnnviz 0.2.0"}
#: ``PRAGMA application_id`` of an rnnviz store: "rnnv" in ASCII.
APPLICATION_ID = int.from_bytes(b"rnnv", "big")

# Schema 3: column name -> SQLite type. Per-position arrays, the configuration and versions are JSON
# text. Changing this (or MODELS_SQL) changes the schema: raise SCHEMA_VERSION and add an upgrade.
COLUMNS = {
    "key": "TEXT PRIMARY KEY",
    "cell": "TEXT",
    "hidden_size": "INTEGER",
    "n_layers": "INTEGER",
    "alphabet": "INTEGER",
    "n_targets": "INTEGER",
    "n_interfering": "INTEGER",
    "interference": "TEXT",
    "n_random": "INTEGER",  # how many of the n_interfering steps carry random symbols (schema 3)
    "targeted_bits": "REAL",
    "interfering_bits": "REAL",
    "seed": "INTEGER",
    "protocol": "TEXT",  # the memorization protocol the model was trained and scored under
    "accuracy": "REAL",
    "loss": "REAL",
    "recalled_bits": "REAL",
    "recalled_bits_plugin": "REAL",
    "recalled_bits_total_clamp": "REAL",  # schema 3
    "recalled_bits_ce_bound": "REAL",  # schema 3
    "mi_correction": "TEXT",
    "accuracy_per_position": "TEXT",
    "recalled_bits_per_position": "TEXT",
    "reached_target": "INTEGER",
    "stop_reason": "TEXT",  # one of STOP_REASONS
    "steps": "INTEGER",  # optimizer steps the model took (the budget is in config's train.steps)
    "n_parameters": "INTEGER",  # input map and cell(s) of one member: all but the readout
    "n_parameters_total": "INTEGER",
    "train_seconds": "REAL",
    "group_seconds": "REAL",
    "group_size": "INTEGER",
    "device": "TEXT",
    "versions": "TEXT",
    "config": "TEXT",
    "finished_at": "TEXT",
}


def _table_sql(columns) -> str:
    return "CREATE TABLE models (" + ", ".join(f'"{name}" {kind}' for name, kind in columns.items()) + ")"


MODELS_SQL = _table_sql(COLUMNS)
META_SQL = 'CREATE TABLE meta ("name" TEXT PRIMARY KEY, "value" TEXT NOT NULL)'
#: The columns schema 3 added to schema 2.
ADDED_IN_3 = ("n_random", "recalled_bits_total_clamp", "recalled_bits_ce_bound")
#: ``models`` as schema 2 defines it: schema 3's columns but :data:`ADDED_IN_3`, in the same order.
V2_MODELS_SQL = _table_sql({k: v for k, v in COLUMNS.items() if k not in ADDED_IN_3})
_TAGGED_SQL = {2: V2_MODELS_SQL, SCHEMA_VERSION: MODELS_SQL}  # versions with the header and the meta table

#: Why a model's training stopped: it reached the accuracy target, ran out of steps (its budget),
#: stopped improving (the plateau rule of TrainConfig.plateau), or diverged (non-finite loss or weights).
STOP_REASONS = ("target", "budget", "plateau", "diverged")

#: Schema 1 (rnnviz 0.1.x) columns; the last two exist only in stores of its later releases.
V1_COLUMNS = (
    "key", "cell", "state_size", "n_layers", "alphabet", "n_targets", "n_interfering", "interference",
    "targeted_bits", "interfering_bits", "seed", "accuracy", "loss", "recalled_bits",
    "accuracy_per_position", "recalled_bits_per_position", "reached_target", "steps", "n_parameters",
    "n_parameters_total", "train_seconds", "group_seconds", "group_size", "device", "versions", "config",
    "finished_at", "recalled_bits_plugin", "mi_correction",
)
V1_ADDED_LATER = ("recalled_bits_plugin", "mi_correction")
#: The protocol of every schema-1 row (the memorization protocol had one version then).
V1_PROTOCOL = "memorization/1"


class StoreError(ValueError):
    """A file that cannot be used as a capacity store; ``str()`` names the file and the fault."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), printable(reason, 400)
        super().__init__(f"{self.path}: {self.reason}")


def printable(text, limit: int = 80) -> str:
    """``text`` with control characters replaced by "?" and cut to ``limit`` characters: names and
    values read from a store are shown without letting them move the cursor or recolour a terminal."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def upgrade_command(path: str | Path) -> str:
    """The shell command that upgrades the store at ``path`` into :func:`upgraded_path`."""
    return f"rnnviz store upgrade {shlex.quote(str(path))}"


def upgraded_path(path: str | Path) -> Path:
    """The default file an upgrade writes: ``runs/capacity.sqlite`` -> ``runs/capacity.v3.sqlite``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.v{SCHEMA_VERSION}.sqlite")


@dataclass
class Layout:
    """What :func:`inspect` found: ``version`` (None: an empty database), ``problem`` (None: usable),
    and the ``meta`` table's rows."""

    version: int | None = None
    problem: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


def inspect(db: sqlite3.Connection) -> Layout:
    """The schema version of the store open in ``db``, or the reason it is not an rnnviz store.

    Queries only the header pragmas and ``sqlite_master`` until ``models`` and ``meta`` are known to
    be plain tables; the caller bounds the time (the store's progress handler)."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    objects = [(kind, name, table, sql) for kind, name, table, sql in
               db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
               if not (kind == "table" and str(name).lower().startswith("sqlite_stat"))]
    if not objects and app_id == 0 and version == 0:
        return Layout()
    triggers = [o for o in objects if o[0] == "trigger"]
    if triggers:
        return Layout(problem=f"it holds {_listing(triggers)}; rnnviz stores have no triggers")
    by_name = {str(name).lower(): (kind, sql) for kind, name, _, sql in objects}
    if "models" not in by_name:
        return Layout(problem=f"no table 'models'; it holds {_listing(objects)}")
    if by_name["models"][0] != "table":
        return Layout(problem=f"'models' is a {by_name['models'][0]}, not a table")
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            return Layout(problem=f"store schema {version} is newer than this rnnviz reads ({SCHEMA_VERSION}); "
                          "use a newer rnnviz")
        if version not in _TAGGED_SQL:
            return Layout(problem=f"unknown store schema {version}")
        return _inspect_tagged(db, objects, by_name, version)
    if app_id != 0 or version != 0:
        return Layout(problem=f"application id {app_id:#x} and schema version {version} are not an rnnviz store's")
    return _inspect_v1(db, objects, by_name)


def _inspect_tagged(db, objects, by_name, version: int) -> Layout:
    """A store with the header and the meta table (schema 2 or 3): exactly rnnviz's tables."""
    expected = {("table", "models"), ("index", "sqlite_autoindex_models_1"),
                ("table", "meta"), ("index", "sqlite_autoindex_meta_1")}
    extra = [o for o in objects if (o[0], o[1]) not in expected]
    if extra:
        return Layout(problem=f"it holds {_listing(extra)}, which rnnviz does not create")
    if by_name["models"][1] != _TAGGED_SQL[version]:
        return Layout(problem="table 'models' is not defined as rnnviz defines it (columns, types or constraints "
                      "differ)")
    if by_name.get("meta", (None, None))[1] != META_SQL:
        return Layout(problem="table 'meta' is missing or not defined as rnnviz defines it")
    meta = {str(k): str(v) for k, v in db.execute("SELECT name, value FROM meta LIMIT 100")}
    if meta.get("schema_version") != str(version):
        return Layout(problem=f"its meta table says schema_version {printable(meta.get('schema_version'))!r}, "
                      f"its header {version}")
    return Layout(version=version, meta=meta)


def _inspect_v1(db, objects, by_name) -> Layout:
    expected = {("table", "models"), ("index", "sqlite_autoindex_models_1")}
    extra = [o for o in objects if (o[0], o[1]) not in expected]
    if extra:
        return Layout(problem=f"it holds {_listing(extra)}, which rnnviz does not create")
    if not str(by_name["models"][1]).upper().startswith("CREATE TABLE"):
        return Layout(problem="'models' is not a plain table")
    info = db.execute("PRAGMA table_xinfo(models)").fetchall()  # cid, name, type, notnull, default, pk, hidden
    names = [row[1] for row in info]
    computed = [row[1] for row in info if row[6] != 0]
    if computed:
        return Layout(problem=f"columns {_names(computed)} of 'models' are computed, not stored")
    missing = [c for c in V1_COLUMNS if c not in names and c not in V1_ADDED_LATER]
    unknown = [c for c in names if c not in V1_COLUMNS]
    if missing or unknown:
        found = "; ".join(part for part in (missing and f"columns {_names(missing)} are missing",
                                            unknown and f"columns {_names(unknown)} are unknown") if part)
        return Layout(problem=f"table 'models' is not a capacity table: {found}")
    if [row[1] for row in info if row[5]] != ["key"]:
        return Layout(problem="the primary key of 'models' is not its column 'key'")
    return Layout(version=1)


def rows_as_current(version: int | None, records: list[dict]) -> list[dict]:
    """Rows read from a store of schema ``version`` with the current :data:`COLUMNS`.

    Schema 1: ``state_size`` becomes ``hidden_size``; ``protocol`` is :data:`V1_PROTOCOL`;
    ``stop_reason`` is "target" where ``reached_target`` is 1 and "budget" where it is 0 (schema 1
    knew no other way to stop); columns its early releases lacked are None.

    Schema 1 and 2 (both made only protocol-1 rows), the columns of schema 3: ``n_random`` is
    ``n_interfering`` for "random" interference and 0 for "blank" (what protocol 1 draws);
    ``recalled_bits_ce_bound`` is ``K (log2 A − loss / ln 2)`` clamped at 0, from the row's held-out
    ``loss`` (the same arithmetic as :meth:`rnnviz.tasks.Memorization.score`; None without a loss);
    ``recalled_bits_total_clamp`` needs the unclipped per-position estimates, which no older row
    kept: None."""
    if version == SCHEMA_VERSION:
        return records
    reasons = {1: "target", 0: "budget"}
    out = []
    for row in records:
        row = dict(row)
        if version == 1:
            row.update(hidden_size=row.get("state_size"), protocol=V1_PROTOCOL,
                       stop_reason=reasons.get(row.get("reached_target")))
        if row.get("protocol") == V1_PROTOCOL:
            row["n_random"] = _v1_n_random(row.get("n_interfering"), row.get("interference"))
        row["recalled_bits_ce_bound"] = _ce_bound(row.get("n_targets"), row.get("alphabet"), row.get("loss"))
        out.append({name: row.get(name) for name in COLUMNS})
    return out


def _v1_n_random(n_interfering, interference) -> int | None:
    """Protocol 1's random steps: all L for "random" interference, none for "blank"."""
    if not isinstance(n_interfering, int):
        return None
    return {"random": n_interfering, "blank": 0}.get(interference)


def _ce_bound(n_targets, alphabet, loss) -> float | None:
    """``K (log2 A − loss / ln 2)`` clamped at 0, as ``Memorization.score`` computes it (None when a value is missing)."""
    if not (isinstance(n_targets, int) and isinstance(alphabet, int) and alphabet >= 2
            and isinstance(loss, float) and math.isfinite(loss)):
        return None
    return max(n_targets * (math.log2(alphabet) - loss / math.log(2.0)), 0.0)


def _names(names, most: int = 6) -> str:
    shown = [printable(n, 40) for n in names[:most]]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return "[" + ", ".join(repr(n) for n in shown) + "]" + more


def _listing(objects, most: int = 4) -> str:
    """"trigger 'wipe' on 'models', view 'x' and 3 more objects" for (type, name, table, sql) rows."""
    parts = [f"{kind} {printable(name, 40)!r}" + (f" on {printable(table, 40)!r}" if table != name else "")
             for kind, name, table, _ in objects[:most]]
    more = f" and {len(objects) - most} more objects" if len(objects) > most else ""
    return ", ".join(parts) + more if parts else "nothing"
