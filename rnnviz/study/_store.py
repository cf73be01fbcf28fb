"""The SQLite store of a capacity sweep: one row per trained model, keyed by its configuration hash.

Standard library ``sqlite3`` with parameterised SQL only. Each finished group is committed in one
transaction, so an interrupted sweep loses only the models still in flight, and ``INSERT OR
IGNORE`` on the key means re-running never duplicates a model.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

# column name -> SQLite type; per-position arrays, the configuration and versions are JSON text.
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
    "accuracy": "REAL",
    "loss": "REAL",
    "recalled_bits": "REAL",
    "recalled_bits_plugin": "REAL",
    "mi_correction": "TEXT",
    "accuracy_per_position": "TEXT",
    "recalled_bits_per_position": "TEXT",
    "reached_target": "INTEGER",
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


class Store:
    """Rows of trained models in a SQLite file (``":memory:"`` for a throw-away store)."""

    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        cols = ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS.items())
        with self._db:
            self._db.execute(f"CREATE TABLE IF NOT EXISTS models ({cols})")
            # A store written by an older rnnviz lacks newer columns: add them (NULL in old rows).
            present = {row[1] for row in self._db.execute("PRAGMA table_info(models)")}
            for name, kind in COLUMNS.items():
                if name not in present:
                    self._db.execute(f'ALTER TABLE models ADD COLUMN "{name}" {kind}')

    def finished(self, keys=None) -> set[str]:
        """Keys already in the store (restricted to ``keys`` when given)."""
        done = {k for (k,) in self._db.execute("SELECT key FROM models")}
        return done if keys is None else done & set(keys)

    def add(self, rows: list[dict]) -> int:
        """Insert rows in one transaction (rows whose key exists are ignored); returns how many were new."""
        names = list(COLUMNS)
        sql = f"INSERT OR IGNORE INTO models ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        with self._db:
            before = self._db.total_changes
            self._db.executemany(sql, [tuple(row[n] for n in names) for row in rows])
            return self._db.total_changes - before

    def frame(self, keys=None) -> pd.DataFrame:
        """All rows (or those with the given keys) as a DataFrame, ordered by configuration."""
        df = pd.read_sql_query("SELECT * FROM models", self._db)
        if keys is not None:
            df = df[df["key"].isin(set(keys))]
        order = ["cell", "hidden_size", "n_interfering", "interference", "targeted_bits", "seed"]
        return df.sort_values(order, kind="stable").reset_index(drop=True)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM models").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
