"""What a capacity store file must hold, and how to tell whether a file is one.

Schema 2 (rnnviz 0.2): ``PRAGMA application_id`` = :data:`APPLICATION_ID` (this file is an rnnviz
store), ``PRAGMA user_version`` = :data:`SCHEMA_VERSION` (its layout), a table ``models`` defined by
exactly :data:`MODELS_SQL` (:data:`COLUMNS`), a table ``meta`` (:data:`META_SQL`: ``schema_version``,
``created_by``, ``created_at``, and ``upgraded_from`` for upgraded stores), and nothing else but their
primary-key indexes (and the ``sqlite_stat*`` tables ``ANALYZE`` writes).

Schema 1 (rnnviz 0.1.x): no application id or version, a table ``models`` with :data:`V1_COLUMNS`
(``state_size`` for today's ``hidden_size``; ``recalled_bits_plugin`` and ``mi_correction`` only in
stores written by 0.1 releases after the Miller-Madow correction), nothing else. Readers read it and
map its rows (:func:`rows_as_current`); writers refuse it: ``rnnviz store upgrade`` writes a schema-2
copy.

:func:`inspect` reads only SQLite's header and its ``sqlite_master`` catalogue (plus
``PRAGMA table_xinfo`` and the ``meta`` table once they are known to be plain tables): it never
runs a view, and it refuses any trigger, view, extra index or changed table definition, since those
would run the sender's SQL on the reader's machine or rewrite the rows a sweep commits.
"""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

#: The store layout this rnnviz reads and writes; a store's ``PRAGMA user_version``.
SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of an rnnviz store: "rnnv" in ASCII.
APPLICATION_ID = int.from_bytes(b"rnnv", "big")

# Schema 2: column name -> SQLite type. Per-position arrays, the configuration and versions are JSON
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
    "targeted_bits": "REAL",
    "interfering_bits": "REAL",
    "seed": "INTEGER",
    "protocol": "TEXT",  # the memorization protocol the model was trained and scored under
    "accuracy": "REAL",
    "loss": "REAL",
    "recalled_bits": "REAL",
    "recalled_bits_plugin": "REAL",
    "mi_correction": "TEXT",
    "accuracy_per_position": "TEXT",
    "recalled_bits_per_position": "TEXT",
    "reached_target": "INTEGER",
    "stop_reason": "TEXT",  # one of STOP_REASONS
    "steps": "INTEGER",
    "n_parameters": "INTEGER",
    "n_parameters_total": "INTEGER",
    "train_seconds": "REAL",
    "group_seconds": "REAL",
    "group_size": "INTEGER",
    "device": "TEXT",
    "versions": "TEXT",
    "config": "TEXT",
    "finished_at": "TEXT",
}
MODELS_SQL = "CREATE TABLE models (" + ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS.items()) + ")"
META_SQL = 'CREATE TABLE meta ("name" TEXT PRIMARY KEY, "value" TEXT NOT NULL)'

#: Why a model's training stopped: it reached the accuracy target, ran out of steps, stopped
#: improving (reserved for a stopping rule that may follow), or diverged (non-finite loss or weights).
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
    """The default file an upgrade writes: ``runs/capacity.sqlite`` -> ``runs/capacity.v2.sqlite``."""
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
        if version != SCHEMA_VERSION:
            return Layout(problem=f"unknown store schema {version}")
        return _inspect_current(db, objects, by_name)
    if app_id != 0 or version != 0:
        return Layout(problem=f"application id {app_id:#x} and schema version {version} are not an rnnviz store's")
    return _inspect_v1(db, objects, by_name)


def _inspect_current(db, objects, by_name) -> Layout:
    expected = {("table", "models"), ("index", "sqlite_autoindex_models_1"),
                ("table", "meta"), ("index", "sqlite_autoindex_meta_1")}
    extra = [o for o in objects if (o[0], o[1]) not in expected]
    if extra:
        return Layout(problem=f"it holds {_listing(extra)}, which rnnviz does not create")
    if by_name["models"][1] != MODELS_SQL:
        return Layout(problem="table 'models' is not defined as rnnviz defines it (columns, types or constraints "
                      "differ)")
    if by_name.get("meta", (None, None))[1] != META_SQL:
        return Layout(problem="table 'meta' is missing or not defined as rnnviz defines it")
    meta = {str(k): str(v) for k, v in db.execute("SELECT name, value FROM meta LIMIT 100")}
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        return Layout(problem=f"its meta table says schema_version {printable(meta.get('schema_version'))!r}, "
                      f"its header {SCHEMA_VERSION}")
    return Layout(version=SCHEMA_VERSION, meta=meta)


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
    knew no other way to stop); columns its early releases lacked are None."""
    if version == SCHEMA_VERSION:
        return records
    reasons = {1: "target", 0: "budget"}
    out = []
    for row in records:
        row = dict(row, hidden_size=row.get("state_size"), protocol=V1_PROTOCOL)
        row["stop_reason"] = reasons.get(row.get("reached_target"))
        out.append({name: row.get(name) for name in COLUMNS})
    return out


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
