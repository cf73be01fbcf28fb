"""The SQLite store of a capacity sweep: one row per trained model, keyed by its configuration hash.

A store is a file people send each other: data, never instructions. So a :class:`Store`

- checks before it uses a file that it is an rnnviz store (:func:`rnnviz.study._store_schema.inspect`):
  ``models`` a plain table defined as rnnviz defines it, no views, triggers or other objects, and a
  known schema version; otherwise it raises :class:`StoreError` naming the file and the fault;
- opens readers read-only (``file:…?mode=ro``, ``PRAGMA query_only``): reading never changes a file;
- bounds every query by a wall-clock deadline (``query_timeout``) through a progress handler, which
  also lets Ctrl-C stop a query;
- lets one writer at a time work on a file: an exclusive ``flock`` on ``PATH.lock`` (released when
  the store closes or its process dies); a second writer fails at once with a one-line message;
- checks that it can write before a sweep trains anything (a read-only file is found first).

Standard library ``sqlite3`` with parameterised SQL only. Each finished group is committed in one
transaction, so an interrupted sweep loses only the models still in flight, and ``INSERT OR IGNORE``
on the key means re-running never duplicates a model. Schema, versions and upgrades: docs/store.md.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .._checks import check_positive
from .._version import __version__
from ._provenance import utc_now
from ._store_schema import (
    APPLICATION_ID,
    COLUMNS,
    META_SQL,
    MODELS_SQL,
    SCHEMA_VERSION,
    WRITTEN_BY,
    StoreError,
    inspect,
    rows_as_current,
    upgrade_command,
    upgraded_path,
)

try:  # POSIX; elsewhere stores are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

#: The columns of :meth:`Store.frame`: the stored :data:`COLUMNS`, then ``warm_from`` (read from ``config``).
FRAME_COLUMNS = (*COLUMNS, "warm_from")
#: Seconds any one query may run before it is stopped with a :class:`StoreError`.
QUERY_TIMEOUT = 30.0
_ORDER = ["cell", "hidden_size", "n_interfering", "interference", "targeted_bits", "seed"]


class Store:
    """Rows of trained models in a SQLite file (``":memory:"`` for a throw-away store).

    Args:
        path: the store file. A writer creates it (and its folder) when it does not exist or is
            empty; a reader (``read_only=True``) needs an rnnviz store there.
        read_only: open for reading only (``mode=ro``): the file is never changed, an older store
            (schema 1: rnnviz 0.1.x, schema 2: rnnviz 0.2.0) can be read (its rows come back in the
            current columns), and no lock is taken.
        query_timeout: seconds after which any one query is stopped (a :class:`StoreError`).

    Raises:
        StoreError (a ValueError): the file is not an rnnviz store, is an older store opened for
        writing, cannot be written by a writer, or is in use by another writer.
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False,
                 query_timeout: float = QUERY_TIMEOUT):
        self.path = str(path)
        self.read_only = bool(read_only)
        self.query_timeout = check_positive("query_timeout", query_timeout)
        self.schema_version: int | None = None
        self.meta: dict[str, str] = {}
        self._deadline, self._timed_out = math.inf, False
        self._lock = self._db = None
        memory = self.path == ":memory:"
        if memory and self.read_only:
            raise ValueError("read_only needs a store file, got path ':memory:'")
        try:
            if self.read_only:
                if not Path(self.path).is_file():
                    raise FileNotFoundError(f"{self.path}: no such store file")
            elif not memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._lock = _take_lock(self.path)
            self._db = self._connect(memory)
            with self._guard("reading its schema"):
                self._db.execute("PRAGMA trusted_schema = OFF")  # no function with side effects from the schema
                if self.read_only:
                    self._db.execute("PRAGMA query_only = ON")
                layout = inspect(self._db)
            if layout.problem:
                raise StoreError(self.path, f"not an rnnviz store ({layout.problem})")
            if layout.version is None:  # an empty database
                if self.read_only:
                    raise StoreError(self.path, "not an rnnviz store (empty file)")
                self._create()
            elif layout.version != SCHEMA_VERSION and not self.read_only:
                new = upgraded_path(self.path)
                raise StoreError(self.path, f"store schema {layout.version} ({WRITTEN_BY[layout.version]}); this rnnviz "
                                 f"writes schema {SCHEMA_VERSION} and changes no older store. Run "
                                 f"`{upgrade_command(self.path)}` (it writes {new} and leaves this file as it is), "
                                 f"then use {new.name} in its place")
            else:
                self.schema_version, self.meta = layout.version, layout.meta
                if not self.read_only:
                    self._check_writable()
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------------

    def _connect(self, memory: bool) -> sqlite3.Connection:
        if memory:
            target, uri = ":memory:", False
        else:
            mode = "ro" if self.read_only else "rwc"
            target, uri = f"{Path(self.path).resolve().as_uri()}?mode={mode}", True
        try:
            db = sqlite3.connect(target, uri=uri, isolation_level=None)  # transactions are explicit
        except sqlite3.Error as e:
            raise StoreError(self.path, f"cannot open it ({e})") from None
        db.set_progress_handler(self._tick, 1000)
        return db

    def _create(self) -> None:
        meta = {"schema_version": str(SCHEMA_VERSION), "created_by": f"rnnviz {__version__}",
                "created_at": utc_now()}
        with self._guard("creating the store"), self._transaction():
            self._db.execute(MODELS_SQL)
            self._db.execute(META_SQL)
            self._db.executemany("INSERT INTO meta (name, value) VALUES (?, ?)", list(meta.items()))
            # PRAGMA takes no parameters; both values are integer constants of this module.
            self._db.execute(f"PRAGMA application_id = {int(APPLICATION_ID)}")
            self._db.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
        self.schema_version, self.meta = SCHEMA_VERSION, meta

    def _check_writable(self) -> None:
        """Write and roll back one row: a read-only file or folder fails here, before any training."""
        with self._guard("checking that it can be written"):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", ("write-check", ""))
            except sqlite3.OperationalError as e:
                if self._timed_out or str(e) == "interrupted":
                    raise
                raise StoreError(self.path, f"a sweep cannot write to it ({e}); give it a writable store") from None
            finally:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    # -- guarding queries -------------------------------------------------------------------------

    def _tick(self) -> int:
        """SQLite's progress handler: nonzero stops the running query. A KeyboardInterrupt raised in
        here also stops it (SQLite then reports "interrupted"; :meth:`_guard` raises it again)."""
        if time.monotonic() > self._deadline:
            self._timed_out = True
            return 1
        return 0

    @contextmanager
    def _guard(self, doing: str):
        """Run the block's queries under the deadline; turn SQLite's errors into StoreErrors."""
        self._deadline, self._timed_out = time.monotonic() + self.query_timeout, False
        try:
            yield
        except sqlite3.Error as e:
            if self._timed_out:
                raise StoreError(self.path, f"{doing} took longer than {self.query_timeout:g} s and was stopped "
                                 f"(query_timeout)") from None
            if str(e) == "interrupted":
                raise KeyboardInterrupt from None
            if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
                raise StoreError(self.path, f"not an rnnviz store ({e})") from None
            raise StoreError(self.path, f"{doing} failed: {e}") from None
        finally:
            self._deadline = math.inf

    @contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back already (an interrupted query)
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _select(self, sql: str, params=(), doing: str = "reading it") -> tuple[list[str], list[tuple]]:
        with self._guard(doing):
            cursor = self._db.execute(sql, params)
            return [d[0] for d in cursor.description], cursor.fetchall()

    # -- rows -------------------------------------------------------------------------------------

    def finished(self, keys=None) -> set[str]:
        """Keys already in the store (restricted to ``keys`` when given)."""
        done = {k for (k,) in self._select("SELECT key FROM models")[1]}
        return done if keys is None else done & set(keys)

    def add(self, rows: list[dict]) -> int:
        """Insert rows in one transaction (rows whose key exists are ignored); returns how many were new."""
        if self.read_only:
            raise StoreError(self.path, "opened read-only: rows cannot be added")
        names = list(COLUMNS)
        values = [tuple(row[n] for n in names) for row in rows]
        sql = f"INSERT OR IGNORE INTO models ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        with self._guard(f"committing {len(rows)} rows"), self._transaction():
            before = self._db.total_changes
            self._db.executemany(sql, values)
            return self._db.total_changes - before

    def records(self, keys=None) -> list[dict]:
        """All rows (or those with the given keys) as dicts with the current :data:`COLUMNS`
        (a schema-1 store's rows are mapped: see :func:`rows_as_current`)."""
        names, rows = self._select("SELECT * FROM models")
        records = rows_as_current(self.schema_version, [dict(zip(names, row, strict=True)) for row in rows])
        if keys is not None:
            wanted = set(keys)
            records = [r for r in records if r["key"] in wanted]
        return records

    def frame(self, keys=None) -> pd.DataFrame:
        """All rows (or those with the given keys) as a DataFrame, ordered by configuration.

        Besides :data:`COLUMNS`, ``warm_from``: the key of the model whose trained weights the row's
        model started from (a warm sweep, see :func:`rnnviz.study.capacity`), "" for a cold start;
        read from the row's ``config`` (the model's :class:`~rnnviz.study.ModelSpec`, which hashes it)."""
        df = pd.DataFrame.from_records(self.records(keys), columns=list(COLUMNS), coerce_float=True)
        df["warm_from"] = [_warm_from(c) for c in df["config"]]  # the last of FRAME_COLUMNS
        return df.sort_values(_ORDER, kind="stable").reset_index(drop=True)

    def meta_set(self, name: str, value: str) -> None:
        """Set one row of the ``meta`` table (e.g. ``upgraded_from``)."""
        if self.read_only:
            raise StoreError(self.path, "opened read-only: meta cannot be set")
        with self._guard("writing its meta table"), self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, str(value)))
        self.meta[name] = str(value)

    def serialize(self) -> bytes:
        """The whole database as the bytes of a store file."""
        with self._guard("serializing it"):
            return self._db.serialize()

    def __len__(self) -> int:
        return self._select("SELECT COUNT(*) FROM models")[1][0][0]

    def close(self) -> None:
        """Close the file and release the writer's lock (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.close()  # closing the descriptor releases the flock
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _warm_from(config) -> str:
    """The ``warm_from`` key in a row's ``config`` JSON; "" for none (or a config that is not a JSON object)."""
    try:
        value = json.loads(config).get("warm_from") if isinstance(config, str) else None
    except (ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) else ""


def lock_path(path: str | Path) -> Path:
    """The lock file of a store: ``PATH.lock`` beside it."""
    return Path(f"{path}.lock")


def _take_lock(path: str):
    """An exclusive, non-blocking ``flock`` on ``PATH.lock``; the open file holds it until closed
    (or the process ends). A second writer fails at once rather than waiting unseen behind the first."""
    if fcntl is None:  # pragma: no cover
        return None
    where = lock_path(path)
    try:
        f = open(where, "a+")  # noqa: SIM115 (held open for the store's life)
    except OSError as e:
        raise StoreError(path, f"cannot create its lock file {where} ({e.strerror})") from None
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise StoreError(path, f"in use by another sweep (process {holder} holds {where}); wait for it to finish "
                         "or give this sweep another store") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f
