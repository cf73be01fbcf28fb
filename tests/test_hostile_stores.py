"""A capacity.sqlite is a file people send each other: data, never instructions.

Views, triggers, unrelated or empty databases, read-only files, endless queries, Ctrl-C and two sweeps
on one store. Every test runs in seconds; those that would hang without the guards are guarded.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rnnviz.cli import main
from rnnviz.study import Store, StoreError, capacity, load_capacity_results
from rnnviz.study._store import COLUMNS
from rnnviz.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SWEEP = dict(cells=["gru"], hidden_sizes=[3], targeted_bits=[2.0], interfering=[(1, "blank")], seeds=[0],
             alphabet=4, train=TrainConfig(steps=5, batch_size=4, eval_every=5, eval_batch=8), n_test=8,
             progress=False)
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.fixture
def no_hang(monkeypatch):
    """A watchdog for tests that would hang if a guard broke: a query stuck in SQLite ignores Python's
    timeouts, so after 45 s (past the stores' 30 s query deadline) a thread interrupts every SQLite
    connection the test opened (``Connection.interrupt()``, safe from any thread)."""
    opened, connect = [], sqlite3.connect

    def recording_connect(*args, **kwargs):
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    def interrupt_all():
        for db in opened:
            try:
                db.interrupt()
            except sqlite3.ProgrammingError:  # closed already
                pass

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    watchdog = threading.Timer(45, interrupt_all)
    watchdog.start()
    yield
    watchdog.cancel()


def sql(path, *statements):
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()


def good_store(path, n=2):
    """A store rnnviz wrote, with ``n`` rows."""
    rows = [{name: None for name in COLUMNS} | {"key": f"k{i}", "cell": "gru", "hidden_size": 3, "accuracy": 0.5,
                                                 "interference": "blank", "targeted_bits": 2.0, "recalled_bits": 1.0,
                                                 "protocol": "memorization/1", "stop_reason": "budget"}
            for i in range(n)]
    with Store(path) as store:
        store.add(rows)
    return path


def python(code: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)


def test_a_recursive_view_named_models_fails_fast_for_readers_writers_and_the_cli(tmp_path, capsys, no_hang):
    path = tmp_path / "capacity.sqlite"
    sql(path, f"CREATE VIEW models AS {ENDLESS.replace('SELECT count(*)', 'SELECT x AS key')}")
    before = path.read_bytes()
    message = f"{path}: not an rnnviz store ('models' is a view, not a table)"
    for read in (load_capacity_results, lambda p: Store(p, read_only=True), Store,
                 lambda p: capacity(**SWEEP, store=p)):
        with pytest.raises(StoreError) as err:
            read(path)
        assert str(err.value) == message
    assert main(["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--workers", "1"]) == 2
    assert capsys.readouterr().err == f"rnnviz capacity: {message}\n"
    assert main(["store", "check", str(path)]) == 1 and capsys.readouterr().out == f"{message}\n"
    assert main(["store", "upgrade", str(path)]) == 1
    assert capsys.readouterr().err == f"rnnviz store upgrade: {message}\n"
    assert path.read_bytes() == before and not (tmp_path / "capacity.v3.sqlite").exists()


@pytest.mark.parametrize("trigger", [
    "CREATE TRIGGER wipe AFTER INSERT ON models BEGIN DELETE FROM models; END",
    "CREATE TRIGGER flatter AFTER INSERT ON models BEGIN UPDATE models SET accuracy = 1.0 WHERE key = NEW.key; END",
    "CREATE TRIGGER elsewhere AFTER INSERT ON meta BEGIN DELETE FROM models; END",
])
def test_a_store_with_any_trigger_is_refused_before_anything_trains(tmp_path, trigger):
    path = good_store(tmp_path / "capacity.sqlite")
    sql(path, trigger)
    before = path.read_bytes()
    name = trigger.split()[2]
    table = trigger.split(" ON ")[1].split()[0]
    reason = f"not an rnnviz store (it holds trigger '{name}' on '{table}'; rnnviz stores have no triggers)"
    trained = []
    with pytest.raises(StoreError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        capacity(**SWEEP, store=path, on_group=trained.append)
    with pytest.raises(StoreError, match="rnnviz stores have no triggers"):
        load_capacity_results(path)
    assert trained == [] and path.read_bytes() == before


@pytest.mark.parametrize("change, reason", [
    ("CREATE UNIQUE INDEX one_per_cell ON models(cell)",  # INSERT OR IGNORE would drop rows silently
     "it holds index 'one_per_cell' on 'models', which rnnviz does not create"),
    ("CREATE VIEW scores AS SELECT * FROM models", "it holds view 'scores', which rnnviz does not create"),
    ("CREATE TABLE notes (x)", "it holds table 'notes', which rnnviz does not create"),
    ("PRAGMA user_version = 4", "store schema 4 is newer than this rnnviz reads (3); use a newer rnnviz"),
    ("PRAGMA user_version = 2",  # a schema-3 table under a schema-2 header
     "table 'models' is not defined as rnnviz defines it (columns, types or constraints differ)"),
    ("UPDATE meta SET value = '7' WHERE name = 'schema_version'", "its meta table says schema_version '7', its header 3"),
])
def test_objects_and_versions_rnnviz_does_not_write_are_refused(tmp_path, change, reason):
    path = good_store(tmp_path / "capacity.sqlite", n=1)
    sql(path, change)
    for open_store in (lambda p: Store(p, read_only=True), Store):
        with pytest.raises(StoreError) as err:
            open_store(path)
        assert str(err.value) == f"{path}: not an rnnviz store ({reason})"


def test_a_changed_models_table_is_refused(tmp_path):
    """Same columns, but a CHECK constraint (INSERT OR IGNORE would skip every row failing it)."""
    path = good_store(tmp_path / "capacity.sqlite", n=0)
    sql(path, "PRAGMA writable_schema = ON",
        "UPDATE sqlite_master SET sql = replace(sql, '\"accuracy\" REAL', '\"accuracy\" REAL CHECK (accuracy < 0.5)') "
        "WHERE name = 'models'")
    with pytest.raises(StoreError, match="table 'models' is not defined as rnnviz defines it"):
        Store(path)


def test_an_unrelated_database_is_not_a_store_and_is_not_changed(tmp_path):
    path = tmp_path / "contacts.sqlite"
    sql(path, "CREATE TABLE people (name TEXT)", "INSERT INTO people VALUES ('Ada')")
    before = path.read_bytes()
    for open_store in (load_capacity_results, Store):
        with pytest.raises(StoreError) as err:
            open_store(path)
        assert str(err.value) == f"{path}: not an rnnviz store (no table 'models'; it holds table 'people')"
    assert path.read_bytes() == before
    with sqlite3.connect(path) as db:
        assert [n for (n,) in db.execute("SELECT name FROM sqlite_master")] == ["people"]
    db.close()


def test_files_that_are_no_database_are_named_in_the_error(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database, just text " * 40)
    with pytest.raises(StoreError, match=r"notes.sqlite: not an rnnviz store \(file is not a database\)"):
        load_capacity_results(text)
    with pytest.raises(FileNotFoundError, match="no such store file"):
        Store(tmp_path / "missing.sqlite", read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()


def test_an_empty_file_is_no_store_for_readers_and_a_fresh_one_for_writers(tmp_path):
    path = tmp_path / "capacity.sqlite"
    path.touch()
    with pytest.raises(StoreError) as err:
        load_capacity_results(path)
    assert str(err.value) == f"{path}: not an rnnviz store (empty file)" and path.stat().st_size == 0
    rows = capacity(**SWEEP, store=path)
    assert len(rows) == 1 and len(load_capacity_results(path)) == 1


def test_names_from_the_file_cannot_drive_the_terminal(tmp_path):
    path = good_store(tmp_path / "capacity.sqlite", n=0)
    sql(path, 'CREATE TRIGGER "\x1b[2J\x1b[31mred" AFTER INSERT ON models BEGIN SELECT 1; END')
    with pytest.raises(StoreError) as err:
        Store(path, read_only=True)
    assert "\x1b" not in str(err.value) and "'?[2J?[31mred' on 'models'" in str(err.value)


def test_a_read_only_store_is_read_unchanged_and_refused_by_a_sweep_before_training(tmp_path, monkeypatch):
    path = good_store(tmp_path / "capacity.sqlite")
    before = path.read_bytes()
    os.chmod(path, 0o444)
    try:
        assert len(load_capacity_results(path)) == 2
        assert path.read_bytes() == before
        with Store(path, read_only=True) as store, pytest.raises(StoreError) as err:
            capacity(**SWEEP, store=store)
        assert str(err.value) == f"{path}: opened read-only: a sweep needs a writable store"
        if os.geteuid() == 0:  # root writes through 0o444: let SQLite open it read-only, as it does
            connect = sqlite3.connect  # when it may not write a file it opens "rwc"
            monkeypatch.setattr(sqlite3, "connect", lambda target, **kw: connect(target.replace("mode=rwc", "mode=ro"),
                                                                                 **kw))
        trained = []
        with pytest.raises(StoreError) as err:
            capacity(**SWEEP, store=path, on_group=trained.append)
        assert str(err.value) == (f"{path}: a sweep cannot write to it (attempt to write a readonly database); "
                                  "give it a writable store")
        assert trained == [] and path.read_bytes() == before
    finally:
        os.chmod(path, 0o644)


def test_a_query_past_its_deadline_stops_with_a_clear_error(tmp_path, no_hang):
    with Store(good_store(tmp_path / "capacity.sqlite"), read_only=True, query_timeout=0.2) as store:
        with pytest.raises(StoreError) as err:
            store._select(ENDLESS)
        assert str(err.value) == f"{store.path}: reading it took longer than 0.2 s and was stopped (query_timeout)"
        assert len(store) == 2  # the store still works
    with pytest.raises(ValueError, match="query_timeout"):
        Store(query_timeout=0)


def test_ctrl_c_stops_a_running_query():
    child = python("""
        import signal, sys
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from rnnviz.study import Store
        store = Store(query_timeout=600)
        print("querying", flush=True)
        try:
            store._select(ENDLESS)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """.replace("ENDLESS", repr(ENDLESS)))
    with child:
        try:
            assert child.stdout.readline() == "querying\n"
            time.sleep(1.0)  # well inside the endless query
            child.send_signal(signal.SIGINT)
            out, _ = child.communicate(timeout=30)
        finally:
            child.kill()
    assert out == "interrupted\n"


def test_one_writer_at_a_time_and_a_dead_writer_releases_its_lock(tmp_path):
    path = tmp_path / "capacity.sqlite"
    first = Store(path)
    with pytest.raises(StoreError) as err:
        Store(path)
    assert str(err.value) == (f"{path}: in use by another sweep (process {os.getpid()} holds {path}.lock); "
                              "wait for it to finish or give this sweep another store")
    with Store(path, read_only=True) as reader:  # readers take no lock
        assert len(reader) == 0
    first.close()
    Store(path).close()  # free again

    child = python(f"""
        import sys
        from rnnviz.study import Store
        store = Store({str(path)!r})
        print("locked", flush=True)
        sys.stdin.read()
    """)
    with child:
        try:
            assert child.stdout.readline() == "locked\n"
            with pytest.raises(StoreError, match=f"in use by another sweep \\(process {child.pid} holds"):
                capacity(**SWEEP, store=path)
        finally:
            child.kill()  # a crash: no clean-up runs, the kernel drops the flock
            child.wait(timeout=30)
    assert len(capacity(**SWEEP, store=path)) == 1
