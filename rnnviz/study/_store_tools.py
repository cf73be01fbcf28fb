"""Upgrading and checking capacity store files (what ``rnnviz store upgrade|check`` runs).

An upgrade never changes the old file: it reads it read-only and writes a new current store beside
it (atomically: the new file appears complete or not at all). Model keys do not change, so a sweep
pointed at the upgraded store finds its models finished and trains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._files import write_atomically
from ._store import QUERY_TIMEOUT, Store
from ._store_schema import SCHEMA_VERSION, STOP_REASONS, StoreError, printable, upgrade_command, upgraded_path


def upgrade_store(old: str | Path, new: str | Path | None = None, *, query_timeout: float = QUERY_TIMEOUT) -> Path:
    """Write the rows of the older store ``old`` (schema 1 or 2) into a new store ``new`` of the current
    schema (3) and return its path; the rows are mapped as readers map them
    (:func:`~rnnviz.study._store_schema.rows_as_current`).

    ``new`` defaults to ``old`` with the suffix ``.v3.sqlite`` and must not exist; ``old`` is opened
    read-only and never changed. Raises :class:`StoreError` when ``old`` is not an rnnviz store or
    is already current, or ``new`` exists.
    """
    old = Path(old)
    new = upgraded_path(old) if new is None else Path(new)
    if new.exists() or new.is_symlink():
        raise StoreError(new, "exists; an upgrade writes a new file and overwrites nothing: remove it or name another")
    with Store(old, read_only=True, query_timeout=query_timeout) as source:
        if source.schema_version == SCHEMA_VERSION:
            raise StoreError(old, f"already store schema {SCHEMA_VERSION}: nothing to upgrade")
        rows, version = source.records(), source.schema_version
    new.parent.mkdir(parents=True, exist_ok=True)
    with Store(":memory:", query_timeout=query_timeout) as target:
        target.meta_set("upgraded_from", f"store schema {version}: {old.name}")
        target.add(rows)
        data = target.serialize()
    write_atomically(new, lambda f: f.write(data))
    return new


@dataclass
class StoreReport:
    """What :func:`check_store` found. ``ok``: a current store with no problems."""

    path: str
    schema_version: int | None = None
    n_models: int | None = None
    meta: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.schema_version == SCHEMA_VERSION and not self.problems

    def lines(self) -> list[str]:
        """The report as ``rnnviz store check`` prints it."""
        if self.schema_version is None:
            return [f"{self.path}: {self.problems[0]}"]
        made = self.meta.get("created_by")
        head = f"{self.path}: rnnviz store, schema {self.schema_version}"
        head += f" (created by {printable(made)})" if made else " (rnnviz 0.1.x)"
        head += f", {self.n_models} models"
        return [head] + [f"problem: {p}" for p in self.problems] + (["no problems"] if self.ok else [])


def check_store(path: str | Path, *, query_timeout: float = QUERY_TIMEOUT) -> StoreReport:
    """Open ``path`` read-only and report its schema version, its number of models and its problems:
    not an rnnviz store, an older schema (readable; a sweep needs it upgraded), SQLite's
    ``quick_check`` findings, rows without a valid ``protocol`` or ``stop_reason``."""
    report = StoreReport(str(path))
    try:
        store = Store(path, read_only=True, query_timeout=query_timeout)
    except StoreError as e:
        report.problems.append(e.reason)
        return report
    except FileNotFoundError:
        report.problems.append("no such store file")
        return report
    with store:
        report.schema_version, report.meta, report.n_models = store.schema_version, dict(store.meta), len(store)
        if store.schema_version != SCHEMA_VERSION:
            report.problems.append(f"store schema {store.schema_version}: readable, but a sweep cannot resume "
                                   f"in it; upgrade it with `{upgrade_command(path)}`")
        findings = [f for (f,) in store._select("PRAGMA quick_check", doing="checking its integrity")[1]]
        if findings != ["ok"]:
            report.problems += [f"integrity: {printable(f)}" for f in findings[:5]]
        if store.schema_version == SCHEMA_VERSION:
            marks = ", ".join("?" for _ in STOP_REASONS)
            sql = (f"SELECT SUM(protocol IS NULL), SUM(stop_reason IS NULL OR stop_reason NOT IN ({marks})) "
                   "FROM models")
            no_protocol, bad_reason = store._select(sql, STOP_REASONS)[1][0]
            if no_protocol:
                report.problems.append(f"{no_protocol} rows have no protocol")
            if bad_reason:
                report.problems.append(f"{bad_reason} rows have no stop_reason from {list(STOP_REASONS)}")
    return report
