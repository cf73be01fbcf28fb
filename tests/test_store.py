"""The capacity store's schema: versions, reading and upgrading 0.1.x stores, resuming after an upgrade."""

import math
import sqlite3

import pandas as pd
import pytest

from rnnviz.cli import main
from rnnviz.study import (
    Store,
    StoreError,
    capacity,
    check_store,
    load_capacity_results,
    sweep_specs,
    upgrade_store,
)
from rnnviz.study._store import COLUMNS, FRAME_COLUMNS
from rnnviz.train import TrainConfig

TINY = TrainConfig(steps=20, batch_size=8, lr=2e-2, eval_every=10, eval_batch=32)
SWEEP = dict(cells=["gru"], hidden_sizes=[3], targeted_bits=[2.0, 4.0], interfering=[(1, "blank")], seeds=[0],
             alphabet=4, train=TINY, n_test=100, progress=False)

# The table rnnviz 0.1.x created (written out here, not taken from rnnviz: these are old files' facts).
V1_EARLY = ('"key" TEXT PRIMARY KEY, "cell" TEXT, "state_size" INTEGER, "n_layers" INTEGER, "alphabet" INTEGER, '
            '"n_targets" INTEGER, "n_interfering" INTEGER, "interference" TEXT, "targeted_bits" REAL, '
            '"interfering_bits" REAL, "seed" INTEGER, "accuracy" REAL, "loss" REAL, "recalled_bits" REAL, '
            '"accuracy_per_position" TEXT, "recalled_bits_per_position" TEXT, "reached_target" INTEGER, '
            '"steps" INTEGER, "n_parameters" INTEGER, "n_parameters_total" INTEGER, "train_seconds" REAL, '
            '"group_seconds" REAL, "group_size" INTEGER, "device" TEXT, "versions" TEXT, "config" TEXT, '
            '"finished_at" TEXT')


def v1_store(path, keys=("k0", "k1"), late=True):
    """A store as rnnviz 0.1.x wrote it: no version, ``state_size``; ``late``: a later 0.1 release that
    had added ``recalled_bits_plugin`` and ``mi_correction`` (by ALTER TABLE, as it did)."""
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE models ({V1_EARLY})")
        if late:
            db.execute('ALTER TABLE models ADD COLUMN "recalled_bits_plugin" REAL')
            db.execute('ALTER TABLE models ADD COLUMN "mi_correction" TEXT')
        for i, key in enumerate(keys):
            row = {"key": key, "cell": "gru", "state_size": 3, "n_layers": 1, "alphabet": 4, "n_targets": i + 1,
                   "n_interfering": 1, "interference": "blank", "targeted_bits": 2.0 * (i + 1),
                   "interfering_bits": 0.0, "seed": 0, "accuracy": 0.5 + 0.25 * i, "loss": 1.0,
                   "recalled_bits": 0.5 * i, "accuracy_per_position": "[0.5]", "recalled_bits_per_position": "[0.1]",
                   "reached_target": i % 2, "steps": 20, "n_parameters": 66, "n_parameters_total": 100,
                   "train_seconds": 1.0, "group_seconds": 2.0, "group_size": 2, "device": "cpu",
                   "versions": "{}", "config": "{}", "finished_at": "2026-01-01T00:00:00+00:00"}
            if late:
                row |= {"recalled_bits_plugin": 0.5 * i + 0.1, "mi_correction": "miller-madow"}
            db.execute(f"INSERT INTO models ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                       tuple(row.values()))
    db.close()
    return path


# The table and header rnnviz 0.2.0 wrote (schema 2), written out here: an old file's facts.
V2_TABLE = ('CREATE TABLE models ("key" TEXT PRIMARY KEY, "cell" TEXT, "hidden_size" INTEGER, "n_layers" INTEGER, '
            '"alphabet" INTEGER, "n_targets" INTEGER, "n_interfering" INTEGER, "interference" TEXT, '
            '"targeted_bits" REAL, "interfering_bits" REAL, "seed" INTEGER, "protocol" TEXT, "accuracy" REAL, '
            '"loss" REAL, "recalled_bits" REAL, "recalled_bits_plugin" REAL, "mi_correction" TEXT, '
            '"accuracy_per_position" TEXT, "recalled_bits_per_position" TEXT, "reached_target" INTEGER, '
            '"stop_reason" TEXT, "steps" INTEGER, "n_parameters" INTEGER, "n_parameters_total" INTEGER, '
            '"train_seconds" REAL, "group_seconds" REAL, "group_size" INTEGER, "device" TEXT, "versions" TEXT, '
            '"config" TEXT, "finished_at" TEXT)')


def v2_store(path, rows):
    """A store as rnnviz 0.2.0 wrote it (schema 2), holding ``rows`` (dicts of its columns)."""
    with sqlite3.connect(path) as db:
        db.execute(V2_TABLE)
        db.execute('CREATE TABLE meta ("name" TEXT PRIMARY KEY, "value" TEXT NOT NULL)')
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "2"), ("created_by", "rnnviz 0.2.0"),
                                                          ("created_at", "2026-11-29T00:00:00+00:00")])
        for row in rows:
            db.execute(f"INSERT INTO models ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                       tuple(row.values()))
        db.execute(f"PRAGMA application_id = {int.from_bytes(b'rnnv', 'big')}")
        db.execute("PRAGMA user_version = 2")
    db.close()
    return path


def test_a_new_store_has_schema_3_an_application_id_and_a_meta_table(tmp_path):
    import rnnviz

    path = tmp_path / "capacity.sqlite"
    with Store(path) as store:
        assert store.schema_version == 3 and store.meta["created_by"] == f"rnnviz {rnnviz.__version__}"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        assert db.execute("PRAGMA application_id").fetchone() == (int.from_bytes(b"rnnv", "big"),)
        assert [r[1] for r in db.execute("PRAGMA table_info(models)")] == list(COLUMNS)
        assert dict(db.execute("SELECT name, value FROM meta"))["schema_version"] == "3"
    db.close()
    assert {"hidden_size", "protocol", "stop_reason"} <= set(COLUMNS) and "state_size" not in COLUMNS


@pytest.mark.parametrize("late", [True, False])
def test_a_v1_store_is_read_in_todays_columns_without_changing_the_file(tmp_path, late):
    path = v1_store(tmp_path / "old.sqlite", late=late)
    before = path.read_bytes()
    rows = load_capacity_results(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["old.sqlite"]
    assert list(rows.columns) == list(FRAME_COLUMNS) and list(rows["hidden_size"]) == [3, 3]
    assert list(rows["protocol"]) == ["memorization/1"] * 2
    assert list(rows["stop_reason"]) == ["budget", "target"]  # from reached_target 0, 1
    assert list(rows["accuracy"]) == [0.5, 0.75]
    assert list(rows["mi_correction"]) == (["miller-madow"] * 2 if late else [None, None])
    with Store(path, read_only=True) as store:
        assert store.schema_version == 1 and store.finished() == {"k0", "k1"} and len(store) == 2
        with pytest.raises(StoreError, match="opened read-only"):
            store.add([])


def test_a_writer_refuses_a_v1_store_naming_the_upgrade_command(tmp_path):
    path = v1_store(tmp_path / "capacity.sqlite")
    before = path.read_bytes()
    with pytest.raises(StoreError) as err:
        Store(path)
    message = str(err.value)
    assert message == (f"{path}: store schema 1 (rnnviz 0.1.x); this rnnviz writes schema 3 and changes no older "
                       f"store. Run `rnnviz store upgrade {path}` (it writes {tmp_path / 'capacity.v3.sqlite'} and "
                       "leaves this file as it is), then use capacity.v3.sqlite in its place")
    with pytest.raises(StoreError, match="rnnviz store upgrade"):
        capacity(**SWEEP, store=path)
    assert path.read_bytes() == before


def test_upgrade_writes_a_new_file_keeps_the_old_one_and_refuses_to_overwrite(tmp_path):
    old = v1_store(tmp_path / "capacity.sqlite", late=False)
    before = old.read_bytes()
    new = upgrade_store(old)
    assert new == tmp_path / "capacity.v3.sqlite" and old.read_bytes() == before
    with Store(new, read_only=True) as store:
        assert store.schema_version == 3 and store.meta["upgraded_from"] == "store schema 1: capacity.sqlite"
        upgraded = store.frame()
    pd.testing.assert_frame_equal(upgraded, load_capacity_results(old))  # the same rows, now stored
    with pytest.raises(StoreError, match="exists; an upgrade writes a new file and overwrites nothing"):
        upgrade_store(old, new)
    with pytest.raises(StoreError, match="already store schema 3: nothing to upgrade"):
        upgrade_store(new, tmp_path / "again.sqlite")
    assert check_store(new).ok and check_store(new).n_models == 2


def test_an_upgraded_store_resumes_training_nothing(tmp_path):
    keys = [s.key for s in sweep_specs(**{k: v for k, v in SWEEP.items() if k != "progress"})]
    old = v1_store(tmp_path / "capacity.sqlite", keys=keys)
    new = upgrade_store(old, tmp_path / "runs" / "capacity.sqlite")
    trained = []
    rows = capacity(**SWEEP, store=new, on_group=trained.append)
    assert trained == [] and sorted(rows["key"]) == sorted(keys) and rows.attrs["n_planned"] == 2
    assert list(rows["accuracy"]) == [0.5, 0.75]  # the old rows, not retrained


def test_cli_store_upgrade_and_check(tmp_path, capsys):
    old = v1_store(tmp_path / "capacity.sqlite")
    assert main(["store", "check", str(old)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{old}: rnnviz store, schema 1 (rnnviz 0.1.x), 2 models",
                   f"problem: store schema 1: readable, but a sweep cannot resume in it; upgrade it with "
                   f"`rnnviz store upgrade {old}`"]
    assert main(["store", "upgrade", str(old)]) == 0
    new = tmp_path / "capacity.v3.sqlite"
    assert capsys.readouterr().out == f"wrote {new}: 2 models, store schema 3 ({old} is unchanged)\n"
    assert main(["store", "check", str(new)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{new}: rnnviz store, schema 3 (created by rnnviz ") and out[1:] == ["no problems"]
    assert main(["store", "check", str(tmp_path / "missing.sqlite")]) == 1
    assert capsys.readouterr().out == f"{tmp_path / 'missing.sqlite'}: no such store file\n"
    assert main(["store", "upgrade", str(old)]) == 1  # the new file exists
    assert "exists; an upgrade writes a new file" in capsys.readouterr().err


def test_cli_capacity_refuses_a_v1_store_in_one_line(tmp_path, capsys):
    path = v1_store(tmp_path / "capacity.sqlite")
    before = path.read_bytes()
    assert main(["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rnnviz capacity: {path}: store schema 1")
    assert f"Run `rnnviz store upgrade {path}`" in err
    assert path.read_bytes() == before and not (tmp_path / "capacity.csv").exists()


def test_check_reports_rows_with_an_unknown_stop_reason(tmp_path):
    path = tmp_path / "capacity.sqlite"
    row = {name: None for name in COLUMNS} | {"key": "a", "cell": "gru", "protocol": "memorization/1",
                                              "stop_reason": "bored"}
    with Store(path) as store:
        store.add([row])
    report = check_store(path)
    assert not report.ok and report.problems == [
        "1 rows have no stop_reason from ['target', 'budget', 'plateau', 'diverged']"]


def test_a_v2_store_is_read_upgraded_and_resumed_with_the_schema_3_columns_filled_where_they_can_be(tmp_path):
    """Schema 2 (rnnviz 0.2.0): read as it is; writers refuse it naming the upgrade; the upgrade keeps
    every row, adds n_random (what protocol 1 drew) and the cross-entropy bound (from the stored loss),
    leaves recalled_bits_total_clamp empty (no old row kept what it needs); a sweep resumes in it."""
    fresh = capacity(**SWEEP)  # the rows this rnnviz makes, in schema 3's columns
    old_rows = [{k: v for k, v in row.items() if k not in ("n_random", "recalled_bits_total_clamp",
                                                            "recalled_bits_ce_bound", "warm_from")}
                for row in fresh.astype(object).where(fresh.notna(), None).to_dict("records")]
    path = v2_store(tmp_path / "capacity.sqlite", old_rows)
    before = path.read_bytes()
    read = load_capacity_results(path)
    assert path.read_bytes() == before and list(read.columns) == list(FRAME_COLUMNS)
    assert list(read["n_random"]) == [0, 0] and read["recalled_bits_total_clamp"].isna().all()
    assert list(read["recalled_bits_ce_bound"]) == list(fresh["recalled_bits_ce_bound"])  # the same arithmetic
    with pytest.raises(StoreError, match=r"store schema 2 \(rnnviz 0.2.0\); this rnnviz writes schema 3 .* "
                       r"Run `rnnviz store upgrade"):
        capacity(**SWEEP, store=path)
    report = check_store(path)
    assert report.schema_version == 2 and not report.ok and "upgrade it with" in report.problems[0]
    new = upgrade_store(path)
    assert new == tmp_path / "capacity.v3.sqlite" and path.read_bytes() == before
    with Store(new, read_only=True) as store:
        assert store.meta["upgraded_from"] == "store schema 2: capacity.sqlite"
        pd.testing.assert_frame_equal(store.frame(), read)
    trained = []
    rows = capacity(**SWEEP, store=new, on_group=trained.append)
    assert trained == [] and sorted(rows["key"]) == sorted(fresh["key"])
    pd.testing.assert_frame_equal(rows, read)


def test_a_v1_store_upgrades_to_schema_3_with_n_random_from_its_interference(tmp_path):
    old = v1_store(tmp_path / "capacity.sqlite")
    with sqlite3.connect(old) as db:
        db.execute("UPDATE models SET interference = 'random', n_interfering = 3 WHERE key = 'k1'")
    db.close()
    with Store(upgrade_store(old), read_only=True) as store:
        rows = store.frame()
    assert list(rows["n_random"]) == [0, 3] and rows["recalled_bits_total_clamp"].isna().all()
    bound = [max(k * (2.0 - 1.0 / math.log(2.0)), 0.0) for k in (1, 2)]  # A = 4, loss 1 nat
    assert list(rows["recalled_bits_ce_bound"]) == pytest.approx(bound)
