"""Capacity sweeps: store, resume, grouping, Dask, summaries, bad configurations, CLI, figures."""

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import torch

import rnnviz.study
import rnnviz.train._checkpoint
from rnnviz.study import Store, capacity, group_specs, per_targeted_bits, summarize, sweep_specs, train_group
from rnnviz.study._progress import Flight, heartbeat, in_flight_text
from rnnviz.train import SequenceModel, TrainConfig

matplotlib.use("Agg")

TINY = TrainConfig(steps=20, batch_size=8, lr=2e-2, eval_every=10, eval_batch=32)
SWEEP = dict(
    cells=["gru", "pru"],
    hidden_sizes=[3],
    targeted_bits=[2.0, 4.0],
    interfering=[(1, "blank")],
    seeds=[0],
    alphabet=4,
    train=TINY,
    n_test=100,
    progress=False,
)
METRICS = [
    "key",
    "accuracy",
    "loss",
    "recalled_bits",
    "accuracy_per_position",
    "recalled_bits_per_position",
    "steps",
    "n_parameters",
]


@pytest.fixture(autouse=True)
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def same_results(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = (
        a[METRICS].sort_values("key").reset_index(drop=True),
        b[METRICS].sort_values("key").reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sweep run in one go, locally."""
    return capacity(**SWEEP, store=tmp_path_factory.mktemp("ref") / "capacity.sqlite")


def test_rows_have_configuration_metrics_and_provenance(reference):
    assert len(reference) == 4 and reference["key"].is_unique
    row = reference.iloc[0]
    assert {
        "cell",
        "hidden_size",
        "targeted_bits",
        "interfering_bits",
        "seed",
        "accuracy",
        "recalled_bits",
        "n_parameters",
        "train_seconds",
        "device",
    } <= set(reference.columns)
    assert len(json.loads(row["accuracy_per_position"])) == row["n_targets"]
    assert json.loads(row["versions"])["torch"] == torch.__version__
    assert json.loads(row["versions"])["cuda"] == torch.version.cuda  # None on a CPU build of torch
    assert json.loads(row["config"])["cell"] == row["cell"]
    assert (reference["recalled_bits"] <= reference["targeted_bits"] + 1e-9).all()
    assert (reference["recalled_bits"] >= 0).all() and row["device"].startswith("cpu")
    assert (reference["mi_correction"] == "miller-madow").all()
    assert (reference["recalled_bits"] <= reference["recalled_bits_plugin"] + 1e-9).all()


def test_rows_record_the_protocol_and_why_training_stopped(reference):
    from rnnviz.study._store import FRAME_COLUMNS

    assert list(reference.columns) == list(FRAME_COLUMNS) and set(reference["warm_from"]) == {""}
    assert (reference["protocol"] == "memorization/1").all()
    expected = reference["reached_target"].map({1: "target", 0: "budget"})
    assert list(reference["stop_reason"]) == list(expected)
    budget = reference["stop_reason"] == "budget"
    assert (reference.loc[budget, "steps"] == TINY.steps).all()  # ran out of steps


def test_resume_after_interruption_loses_and_duplicates_nothing(tmp_path, reference):
    path = tmp_path / "capacity.sqlite"
    calls = []

    def crash_after_first_group(rows):
        calls.append(len(rows))
        raise KeyboardInterrupt("simulated kill after the first group")

    with pytest.raises(KeyboardInterrupt):
        capacity(**SWEEP, store=path, on_group=crash_after_first_group)
    with Store(path) as store:
        assert len(store) == calls[0] == 2  # the first group (one cell, 2 targeted amounts) was committed
        first = store.frame()
    resumed_groups = []
    df = capacity(**SWEEP, store=path, on_group=resumed_groups.append)
    assert len(resumed_groups) == 1 and len(df) == 4 and df["key"].is_unique
    kept = df.set_index("key").loc[first["key"], "finished_at"]
    assert list(kept) == list(first["finished_at"])  # not retrained
    same_results(df, reference)
    again = capacity(**SWEEP, store=path, on_group=resumed_groups.append)  # nothing left to do
    assert len(resumed_groups) == 1 and len(again) == 4
    with Store(path) as store:
        assert len(store) == 4


def test_a_group_killed_mid_training_resumes_from_its_checkpoint(tmp_path, reference, monkeypatch, request):
    """Killed after the first group's checkpoint at step 10 (of 20): the checkpoint is next to the
    store; the next run resumes that group from it (not from scratch) and every model ends as the
    uninterrupted sweep's did; once stored, no checkpoint is left."""
    from rnnviz.study import _run
    from rnnviz.train import _fit

    path = tmp_path / "capacity.sqlite"
    folder = tmp_path / "capacity.sqlite.checkpoints"
    monkeypatch.setattr(_run, "GROUP_CHECKPOINT_EVERY", 10)
    save = _fit.save_checkpoint

    def save_then_die(model, where, metadata, **kw):
        save(model, where, metadata, **kw)
        raise KeyboardInterrupt("simulated kill after a checkpoint")

    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        m.setattr(_fit, "save_checkpoint", save_then_die)
        capacity(**SWEEP, store=path)
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".pt"]  # one group's checkpoint
    resumed_from = request.getfixturevalue("resumed_from")  # the spy, set only now
    df = capacity(**SWEEP, store=path)
    assert resumed_from == [True, False]  # the interrupted group resumed, the other started afresh
    same_results(df, reference)
    assert not folder.exists()


def test_a_checkpoint_another_run_wrote_is_replaced_with_a_warning(tmp_path, reference):
    from rnnviz.study._checkpoints import group_checkpoint
    from rnnviz.tasks import Memorization
    from rnnviz.train import SequenceModel, fit

    path = tmp_path / "capacity.sqlite"
    specs = sweep_specs(**{k: v for k, v in SWEEP.items() if k != "progress"})
    first = group_specs(specs)[0]
    foreign = group_checkpoint(tmp_path / "capacity.sqlite.checkpoints", [s.key for s in first])
    task = Memorization(1, 4)
    fit(SequenceModel("gru", task.input_size, 3, task.output_size), task, TINY, checkpoint=foreign, progress=False)
    with pytest.warns(UserWarning, match=r"gru n=3 2-4 bits \(2 models\): checkpoint .* was written by a different run .*"
                      r"training the group from scratch"):
        df = capacity(**SWEEP, store=path)
    same_results(df, reference)
    assert not foreign.parent.exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hard_limit_stops_the_group_in_flight_at_a_checkpoint_and_the_next_run_resumes_it(
        tmp_path, reference, monkeypatch, workers):
    """Past the hard limit the group in flight stops at its next checkpoint (step 10 of 20) and no other
    starts; nothing is stored for it, and the next run resumes it to the uninterrupted sweep's rows."""
    from rnnviz.study import _run

    monkeypatch.setattr(_run, "GROUP_CHECKPOINT_EVERY", 10)
    monkeypatch.setenv("RNNVIZ_START_METHOD", "fork")  # the workers see the patched interval
    path = tmp_path / "capacity.sqlite"
    partial = capacity(**SWEEP, store=path, workers=workers, hard_limit=1e-9)
    assert len(partial) == 0 and partial.attrs["n_planned"] == 4
    assert sorted(p.suffix for p in (tmp_path / "capacity.sqlite.checkpoints").iterdir()) == [".json", ".pt"]
    same_results(capacity(**SWEEP, store=path, workers=workers), reference)


def test_a_dask_cluster_checkpoints_to_a_shared_folder_and_its_hard_limit_resumes(tmp_path, reference, monkeypatch,
                                                                                   request):
    """On a Dask cluster the groups are checkpointed only in checkpoints=<folder> (its workers may not see
    the store's): past the hard limit the group in flight stops at its checkpoint there, nothing is
    stored for it and no other group starts; the next run, on the cluster, resumes it from there to the
    uninterrupted sweep's rows, and the spent checkpoints are deleted."""
    distributed = pytest.importorskip("distributed")
    from rnnviz.study import _run

    monkeypatch.setattr(_run, "GROUP_CHECKPOINT_EVERY", 10)  # the cluster's threads share this process
    path, shared = tmp_path / "capacity.sqlite", tmp_path / "shared"
    with pytest.raises(ValueError, match=r"hard_limit on a Dask cluster needs checkpoints="):
        capacity(**SWEEP, store=path, client=object(), hard_limit=5)
    cluster = distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            partial = capacity(**SWEEP, store=path, client=client, checkpoints=shared, hard_limit=1e-9)
            assert len(partial) == 0 and partial.attrs["n_planned"] == 4
            assert sorted(p.suffix for p in shared.iterdir()) == [".json", ".pt"]  # one group, paused
            assert not (tmp_path / "capacity.sqlite.checkpoints").exists()
            resumed_from = request.getfixturevalue("resumed_from")  # the spy, set only now
            df = capacity(**SWEEP, store=path, client=client, checkpoints=shared)
    finally:
        cluster.close()
    assert resumed_from == [True, False]  # the paused group resumed from the shared folder, the other afresh
    same_results(df, reference)
    assert not shared.exists()  # every group stored: its checkpoints deleted, the empty folder too


class Done:
    """A finished future for the windowed runner's tests: ``result()`` returns its value or raises it."""

    def __init__(self, value):
        self.value = value

    def result(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_windowed_runner_starts_nothing_after_a_paused_group():
    from rnnviz.study._dask import run_windowed
    from rnnviz.train import TrainingPaused

    outcomes = [["a"], TrainingPaused("ckpt", 10), ["c"], ["d"]]
    submitted, committed = [], []

    def submit(_, payload):
        submitted.append(payload)
        return Done(outcomes[payload])

    assert run_windowed(list(range(4)), submit, lambda fs: fs[:1], 2, committed.extend, lambda: False,
                        paused=(TrainingPaused,)) is True
    assert submitted == [0, 1, 2] and committed == ["a", "c"]  # 2 was in flight when 1 paused; 3 never starts
    assert run_windowed([0, 2], submit, lambda fs: fs, 2, committed.extend, lambda: False,
                        paused=(TrainingPaused,)) is False


def test_a_hard_limit_is_checked(tmp_path):
    with pytest.raises(ValueError, match=r"hard_limit must be at least time_limit \(10 s\), got 5"):
        capacity(**SWEEP, store=tmp_path / "c.sqlite", time_limit=10, hard_limit=5)
    with pytest.raises(ValueError, match="hard_limit needs a file store"):
        capacity(**SWEEP, hard_limit=5)
    with pytest.raises(TypeError, match="checkpoints must be a folder path"):
        capacity(**SWEEP, checkpoints=3)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="checkpoints must be a folder .* which is a file"):
        capacity(**SWEEP, checkpoints=tmp_path / "a_file")
    with pytest.raises(ValueError, match=r"hard_limit \(seconds\) must be"):
        capacity(**SWEEP, store=tmp_path / "c.sqlite", hard_limit=-1)


def test_time_limit_starts_no_new_group_and_the_next_run_finishes(tmp_path, reference):
    path = tmp_path / "capacity.sqlite"
    partial = capacity(**SWEEP, store=path, max_group=1, time_limit=1e-9)
    assert len(partial) == 1 and partial.attrs["n_planned"] == 4  # the first group always starts
    rest = []
    full = capacity(**SWEEP, store=path, max_group=1, on_group=rest.append)
    assert len(rest) == 3 and len(full) == full.attrs["n_planned"] == 4
    same_results(full, reference)
    with pytest.raises(ValueError, match=r"time_limit \(seconds\) must be a finite number in \(0, inf\)"):
        capacity(**SWEEP, time_limit=0)


def test_windowed_runner_bounds_groups_in_flight_and_honours_the_deadline():
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from rnnviz.study._dask import run_windowed

    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def work(p):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return [p]

    def run(past_deadline):
        committed = []
        with ThreadPoolExecutor(4) as pool:
            run_windowed(
                list(range(7)),
                lambda _, p: pool.submit(work, p),
                lambda fs: wait(fs, return_when=FIRST_COMPLETED).done,
                2,
                committed.extend,
                past_deadline,
            )
        return committed

    assert sorted(run(lambda: False)) == list(range(7)) and state["peak"] == 2
    assert run(lambda: True) == [0]  # past the deadline: only the first group starts


def test_a_sweep_with_workers_estimates_its_time_left(monkeypatch):
    """The sweep's heartbeat gets the whole sweep's time left (:class:`SweepPace`) from the groups in
    flight and those committed: an estimate once some work is done, never negative."""
    import rnnviz.study._run as run

    estimates, real = [], run.heartbeat

    def quick(bar, enabled=True, status=None, sweep_left=None):
        def recorded(groups, now):
            estimates.append(sweep_left(groups, now))
            return estimates[-1]
        return real(bar, every=0.01, enabled=True, status=status, sweep_left=recorded)

    monkeypatch.setattr(run, "heartbeat", quick)
    rows = capacity(**{**SWEEP, "train": replace(TINY, steps=200)}, workers=2)
    assert len(rows) == 4 and estimates
    known = [e for e in estimates if e is not None]
    assert known and all(e >= 0 for e in known)


def test_results_do_not_depend_on_grouping(reference):
    one_by_one = capacity(**SWEEP, max_group=1)
    same_results(one_by_one, reference)


def test_local_process_pool_equals_local_run(reference):
    same_results(capacity(**SWEEP, workers=2), reference)


def test_dask_local_cluster_equals_local_run(reference):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    )
    try:
        with distributed.Client(cluster) as client:
            df = capacity(**SWEEP, client=client)
    finally:
        cluster.close()
    same_results(df, reference)


def test_groups_on_a_dask_cluster_report_their_steps_to_the_sweep(tmp_path):
    """Each group on a Dask worker reports its steps into the scheduler's metadata (throttled);
    ``status()``, handed to the heartbeat, lists the groups in flight with them, and nothing once they
    finished; the sweep clears its reports at the end."""
    distributed = pytest.importorskip("distributed")
    from process_support import watch_status

    from rnnviz.study._dask import run_on_dask
    from rnnviz.study._progress import DASK_METADATA, dask_reporter

    def group(payload, folder, report_to):  # a group that reports its steps and waits for the test
        step, steps, name = payload
        report = dask_reporter(report_to)
        report(0, steps)
        report(step, steps)  # within DASK_REPORT_SECONDS of the first: not sent
        sent = distributed.get_client().get_metadata(list(report_to))  # the task runs on a copy of this
        (Path(folder) / f"throttled-{name}").write_text(json.dumps(sent))  # test's objects: a file
        dask_reporter(report_to, every=0.0)(step, steps)  # one that sends every report
        end = time.monotonic() + 60
        while not (Path(folder) / "release").exists() and time.monotonic() < end:
            time.sleep(0.01)
        return [name]

    payloads = [(1200, 36000, "a"), (7, 10, "b")]
    seen = []
    want = [Flight("group a", 1200, 36000, 0, 0), Flight("group b", 7, 10, 1, 1)]
    watch = watch_status(want, tmp_path / "release", seen)  # as the heartbeat does: a thread reads status()
    cluster = distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            committed = []
            assert run_on_dask(payloads, group, (str(tmp_path),), client, None, committed.append,
                               lambda p: f"group {p[2]}", lambda: False, watch) is False
            assert sorted(committed) == [["a"], ["b"]]
            sweeps = client.get_metadata([DASK_METADATA])
            assert len(sweeps) == 1 and list(sweeps.values()) == [{}]  # the sweep's reports, cleared
    finally:
        cluster.close()
    assert seen == [want, []]
    assert [json.loads((tmp_path / f"throttled-{name}").read_text()) for name in "ab"] == [[0, 36000], [0, 10]]


def test_the_steps_of_a_dask_group_read_as_none_yet_when_the_scheduler_cannot_be_asked():
    from rnnviz.study._progress import dask_steps

    class Client:
        def __init__(self, answer):
            self.answer = answer

        def get_metadata(self, keys, default):
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer if self.answer is not None else default

    assert dask_steps(Client([300, 800]), ["rnnviz-progress", "s", "0"]) == (300, 800)
    assert dask_steps(Client(None), ["rnnviz-progress", "s", "0"]) == (0, 0)  # nothing reported yet
    assert dask_steps(Client(OSError("connection closed")), ["rnnviz-progress", "s", "0"]) == (0, 0)
    assert dask_steps(Client(TimeoutError()), ["rnnviz-progress", "s", "0"]) == (0, 0)


def test_cli_scheduler_runs_the_sweep_on_that_cluster(reference, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    from rnnviz.cli import main

    cluster = distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    try:
        assert main(["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--no-figures",
                     "--scheduler", cluster.scheduler_address, "--checkpoints", str(tmp_path / "shared"),
                     "--hard-limit", "60"]) == 0
        assert not cluster.scheduler.clients.keys() - {"fire-and-forget"}  # the command closed its client
    finally:
        cluster.close()
    log = json.loads((tmp_path / "capacity_runs.jsonl").read_text())
    assert log["scheduler"] == cluster.scheduler_address and log["models_trained"] == 4
    assert log["checkpoints"] == str(tmp_path / "shared") and log["hard_limit_minutes"] == 60
    assert not (tmp_path / "shared").exists()  # every group stored: no checkpoint left
    capsys.readouterr()


def test_a_scheduler_address_with_no_scheduler_is_a_connection_error_naming_it(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(ConnectionError, match=r"cannot connect to a Dask scheduler at 'nonsense://x' \(unknown "
                                              r"address scheme 'nonsense'"):
        capacity(**SWEEP, scheduler="nonsense://x", store=tmp_path / "capacity.sqlite")


def _dies_for_pru(payload, *args, **kwargs):
    """``train_group`` as a Dask cluster sees it when the PRU group's worker dies on every attempt."""
    from types import SimpleNamespace

    import distributed

    if payload[0]["cell"] == "pru":
        raise distributed.KilledWorker("train_group-pru", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)
    return train_group(payload, *args, **kwargs)


def test_a_group_whose_dask_worker_keeps_dying_is_reported_after_the_others_are_committed(reference, tmp_path,
                                                                                           monkeypatch):
    """Dask's KilledWorker (the group's worker died on every attempt) costs that group only, as a dead
    local worker does: the other groups are committed, then WorkersFailed names it (one line from the CLI)."""
    distributed = pytest.importorskip("distributed")
    from rnnviz.study import WorkersFailed, _run

    monkeypatch.setattr(_run, "train_group", _dies_for_pru)
    cluster = distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    store = tmp_path / "capacity.sqlite"
    try:
        with distributed.Client(cluster) as client:
            with pytest.raises(WorkersFailed, match=r"1 group\(s\) were not trained .* 4 time\(s\) \(pru n=3 "
                                                    r"2-4 bits \(2 models\): KilledWorker"):
                capacity(**SWEEP, client=client, store=store)
    finally:
        cluster.close()
    monkeypatch.setattr(_run, "train_group", train_group)
    kept = capacity(**SWEEP, store=store, time_limit=1e-9)  # resumes: trains the lost group only
    same_results(kept, reference)


def test_a_group_is_described_by_its_cell_size_targeted_bits_and_models():
    from rnnviz.study._run import describe_group

    one = [s.as_dict() for s in sweep_specs(["gru"], [64], [32.0], [(8, 0), (8, 4)], [0], protocol=2, train=TINY)]
    assert describe_group(one) == "gru n=64 32 bits (2 models)"
    held = [s.as_dict() for s in sweep_specs(["sru"], [4], [2.0, 16.0], [(8, 4)], [0], protocol=2, train=TINY, hold=42)]
    assert describe_group(held) == "sru n=4 2-16 bits (2 models)" and describe_group(held[:1]) == "sru n=4 2 bits (1 model)"


def test_windowed_runner_keeps_going_past_lost_groups_and_stops_on_a_bug():
    from rnnviz.study import WorkersFailed
    from rnnviz.study._dask import run_windowed
    from rnnviz.study._run import describe_group

    class Lost(Exception):
        pass

    payloads = [[{"cell": c, "hidden_size": 4, "n_targets": 2, "alphabet": 4}] for c in ("gru", "lstm", "pru")]
    outcomes = {"gru": ["gru rows"], "lstm": Lost("worker died"), "pru": ["pru rows"]}
    committed = []
    with pytest.raises(WorkersFailed) as err:
        run_windowed(payloads, lambda _, p: Done(outcomes[p[0]["cell"]]), lambda fs: fs[:1], 2, committed.append,
                     lambda: False, describe_group, lost=(Lost,), attempts=3)
    assert committed == [["gru rows"], ["pru rows"]]
    assert [(f.index, f.description, f.reason) for f in err.value.failures] == [
        (1, "lstm n=4 4 bits (1 model)", "Lost: worker died")]
    assert "died 3 time(s)" in str(err.value)
    outcomes["lstm"] = RuntimeError("a bug")
    with pytest.raises(RuntimeError, match="a bug"):  # anything else stops the sweep at once
        run_windowed(payloads, lambda _, p: Done(outcomes[p[0]["cell"]]), lambda fs: fs[:1], 2, committed.append,
                     lambda: False, describe_group, lost=(Lost,), attempts=3)


def test_grouping_puts_compatible_models_in_one_ensemble():
    specs = sweep_specs(["gru"], [3, 5], [2.0, 4.0, 6.0], [(1, "blank"), (1, "random")], [0, 1], train=TINY)
    groups = group_specs(specs)
    assert len(specs) == 24 and [len(g) for g in groups] == [12, 12]
    assert {s.hidden_size for s in groups[0]} == {3}
    assert len({s.key for s in specs}) == 24
    assert [len(g) for g in group_specs(specs, max_group=5)] == [5, 5, 2, 5, 5, 2]


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"targeted_bits": [0.0]}, ValueError, r"targeted_bits\[0\] must be a finite number in \(0, inf\), got 0.0"),
        (
            {"targeted_bits": [3.0]},
            ValueError,
            r"targeted_bits\[0\] must be a positive multiple of log2\(alphabet\) = 2",
        ),
        ({"alphabet": 1}, ValueError, "alphabet must be an integer >= 2, got 1"),
        ({"cells": ["gru", "grux"]}, ValueError, r"cells\[1\] must be one of .* got 'grux'"),
        ({"interfering": [(1, "loud")]}, ValueError, r"interfering\[0\]: interference must be one of"),
        ({"interfering": [5]}, ValueError, r"interfering\[0\] must be an \(n_interfering, 'blank'\|'random'\) pair"),
        ({"seeds": []}, ValueError, "seeds must be a non-empty iterable"),
        ({"interfering": [(2, 1)]}, ValueError,
         r"interfering\[0\]: interference must be 'blank' or 'random' under protocol 1, got 1; .*need protocol 2 or 3"),
        ({"interfering": [(2, "blank")], "protocol": 2}, ValueError,
         r"interfering\[0\]: n_random must be an integer in \[0, n_interfering = 2\] under protocol 2, got 'blank'"),
        ({"interfering": [(2, 3)], "protocol": 2}, ValueError,
         r"interfering\[0\]: n_random must be an integer in \[0, 2\], got 3"),
        ({"protocol": 4}, ValueError, r"protocol must be an integer in \[1, 3\], got 4"),
        ({"protocol": True}, TypeError, r"protocol must be an integer in \[1, 3\], got True"),
        ({"lr": {"lstm": 1e-2}}, ValueError, r"lr gives learning rates for cells that are not in the sweep: \['lstm'\]"),
        ({"lr": {"gru": 0.0}}, ValueError, r"lr\['gru'\] must be"),
    ],
)
def test_bad_configurations_give_clear_errors(change, error, match):
    with pytest.raises(error, match=match):
        capacity(**{**SWEEP, **change})


def test_summary_on_known_rows():
    base = dict(
        cell="gru",
        hidden_size=4,
        n_layers=1,
        alphabet=4,
        n_interfering=0,
        interference="blank",
        interfering_bits=0.0,
        n_parameters=100,
    )
    rows = pd.DataFrame(
        [
            {**base, "targeted_bits": 2.0, "seed": 0, "accuracy": 1.0, "recalled_bits": 2.0},
            {**base, "targeted_bits": 2.0, "seed": 1, "accuracy": 0.9, "recalled_bits": 1.5},
            {**base, "targeted_bits": 4.0, "seed": 0, "accuracy": 0.995, "recalled_bits": 3.9},
            {**base, "targeted_bits": 8.0, "seed": 0, "accuracy": 0.7, "recalled_bits": 5.0},
            {**base, "targeted_bits": 8.0, "seed": 1, "accuracy": 0.6, "recalled_bits": 3.0},
        ]
    )
    s = summarize(rows).iloc[0]
    assert s["capacity_bits"] == 5.0 and s["targeted_bits_at_capacity"] == 8.0
    assert s["max_targeted_bits_99"] == 4.0 and s["bits_per_unit"] == 1.25 and s["bits_per_parameter"] == 0.05
    mean = summarize(rows, over_seeds="mean").iloc[0]
    assert mean["capacity_bits"] == 4.0 and mean["max_targeted_bits_99"] == 4.0
    with pytest.raises(ValueError, match="over_seeds must be one of"):
        summarize(rows, over_seeds="min")


def test_plots_return_what_they_drew(reference):
    import matplotlib.pyplot as plt

    from rnnviz.plot import (
        plot_accuracy_heatmap,
        plot_bits_per_parameter,
        plot_capacity_vs_hidden_size,
        plot_interference_effect,
    )

    summary = summarize(reference)
    fig, axes = plt.subplots(1, 4)
    heatmap = plot_accuracy_heatmap(per_targeted_bits(reference), "gru", ax=axes[0])
    assert heatmap.ax is axes[0] and heatmap["image"].get_array().shape == (1, 2)
    assert set(plot_capacity_vs_hidden_size(summary, ax=axes[1])["lines"]) == {"gru", "pru"}
    assert set(plot_interference_effect(summary, ax=axes[2])["lines"]) == {("gru", "blank"), ("pru", "blank")}
    lines = plot_bits_per_parameter(summary, ax=axes[3])["lines"]
    assert list(lines["gru"].get_ydata()) == list(summary[summary.cell == "gru"]["bits_per_parameter"])
    plt.close(fig)
    with pytest.raises(ValueError, match="cell must be one of"):
        plot_accuracy_heatmap(per_targeted_bits(reference), "lstm")
    with pytest.raises(ValueError, match="aggregate the seeds first"):
        plot_accuracy_heatmap(pd.concat([reference, reference.assign(seed=1)]), "gru")  # two seeds: not aggregated


def test_capacity_figures_save_one_heatmap_per_interference_setting(tmp_path, reference):
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    from rnnviz.plot import capacity_figures, plot_accuracy_heatmap, plot_capacity_vs_hidden_size

    noisy = reference.assign(interference="random", interfering_bits=2.0, n_interfering=1, accuracy=0.25)
    noisy["key"] = noisy["key"] + "-random"
    rows = pd.concat([noisy, reference], ignore_index=True)
    written = {p.name for p in capacity_figures(per_targeted_bits(rows), summarize(rows), tmp_path, formats=("png",))}
    assert {"capacity_heatmap_blank.png", "capacity_heatmap_random.png", "capacity_heatmap.png"} <= written
    blank, random, default = (
        mpimg.imread(tmp_path / f"capacity_heatmap{suffix}.png") for suffix in ("_blank", "_random", "")
    )
    assert (default == blank).all()  # the unsuffixed name keeps the least-interference setting
    assert blank.shape != random.shape or not (blank == random).all()
    # the study's size is the hidden size n (an LSTM's flat state [h; c], its state_size, is 2n).
    assert plot_accuracy_heatmap(per_targeted_bits(rows), "gru").ax.get_ylabel() == "hidden size n"
    plot_capacity_vs_hidden_size(summarize(rows))
    assert plt.gca().get_xlabel() == "hidden size n"
    plt.close("all")


def test_cli_smoke_preset_end_to_end_and_resume(tmp_path, capsys):
    from rnnviz.cli import main

    assert main(["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "4 models" in out and "capacity_bits" in out
    for name in (
        "capacity.sqlite",
        "capacity.csv",
        "capacity_summary.csv",
        "capacity_heatmap.pdf",
        "capacity_heatmap.png",
        "capacity_heatmap_blank.pdf",
        "capacity_vs_hidden_size.pdf",
        "capacity_interference.pdf",
        "capacity_bits_per_parameter.pdf",
    ):
        assert (tmp_path / name).exists(), name
    assert b"/FontFile2" in (tmp_path / "capacity_vs_hidden_size.pdf").read_bytes()  # TrueType fonts embedded
    first = pd.read_csv(tmp_path / "capacity.csv")
    assert main(["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--no-figures"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "capacity.csv"), first)
    assert main(["capacity", "--preset", "huge", "--out", str(tmp_path)]) == 2  # one line: tests/test_cli_errors.py


def test_cli_time_limit_exits_3_with_what_finished_and_resumes(tmp_path, capsys):
    from rnnviz.cli import main
    from rnnviz.cli._options import INCOMPLETE

    args = ["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--workers", "1", "--no-figures"]
    assert main([*args, "--time-limit", "1e-9"]) == INCOMPLETE == 3
    assert "run the same command again to resume (the same command with --plan shows what is left)" in \
        capsys.readouterr().out
    first = len(pd.read_csv(tmp_path / "capacity.csv"))
    assert 0 < first < 4
    assert main(args) == 0 and len(pd.read_csv(tmp_path / "capacity.csv")) == 4
    assert main([*args, "--time-limit", "0"]) == 2  # refused in one line (tests/test_cli_errors.py)
    assert "--time-limit must be a positive" in capsys.readouterr().err
    # One JSON line per invocation (the stopped one too), so the cost of a resumed sweep adds up.
    log = [json.loads(line) for line in (tmp_path / "capacity_runs.jsonl").read_text().splitlines()]
    assert [r["exit_status"] for r in log] == [3, 0]
    assert [r["models_trained"] for r in log] == [first, 4 - first]
    assert [r["models_finished"] for r in log] == [first, 4]
    assert all(r["models_planned"] == 4 and r["workers"] == 1 and r["device"] == "auto" for r in log)
    assert all(r["start"] <= r["end"] and r["start"].endswith("+00:00") for r in log)
    assert log[0]["versions"]["torch"] == torch.__version__ and "cuda" in log[0]["versions"]
    assert rnnviz.study.wall_time(tmp_path) == pytest.approx(sum(r["wall_seconds"] for r in log))
    assert rnnviz.study.wall_time(tmp_path) > 0 and rnnviz.study.wall_time(tmp_path / "none") == 0


def test_cli_trains_part_of_a_preset_and_the_whole_resumes_from_it(tmp_path, capsys):
    """--cells/--hidden-sizes train a part of the preset under the same keys: the whole run later trains
    only the rest, and ends with the same models as one whole run."""
    from rnnviz.cli import main

    args = ["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--workers", "1", "--no-figures"]
    assert main([*args, "--cells", "pru", "pru", "--hidden-sizes", "4"]) == 0
    part = pd.read_csv(tmp_path / "capacity.csv")
    assert set(part["cell"]) == {"pru"} and len(part) == 2
    assert "--cells pru pru --hidden-sizes 4" in (tmp_path / "capacity_report.md").read_text()
    assert main(args) == 0
    log = [json.loads(line) for line in (tmp_path / "capacity_runs.jsonl").read_text().splitlines()]
    assert [r["models_planned"] for r in log] == [2, 4] and [r["models_trained"] for r in log] == [2, 2]
    assert [r["cells"] for r in log] == [["pru"], ["gru", "pru"]] and log[0]["hidden_sizes"] == [4]
    whole = pd.read_csv(tmp_path / "capacity.csv")
    assert len(whole) == 4 and set(whole["key"]) == {spec.key for spec in rnnviz.study.capacity_preset("smoke").specs()}
    pd.testing.assert_frame_equal(whole[whole["cell"] == "pru"].reset_index(drop=True),
                                  part.reset_index(drop=True), check_like=True)
    capsys.readouterr()


def test_cli_trains_doses_and_variants_of_a_preset(tmp_path, monkeypatch, capsys):
    """--doses and --targeted-bits train part of the preset under its own keys, and values it lacks extend its grid;
    --protocol and --curriculum train a variant
    (other keys, the protocol column says which); the run log and the report name what was chosen."""
    from rnnviz.cli import main
    from rnnviz.study import Preset
    from rnnviz.train import TrainConfig

    tiny = Preset(description="a protocol-2 test sweep", cells=("gru",), hidden_sizes=(4,), targeted_bits=(2.0, 4.0),
                  interfering=((2, 0), (2, 1)), seeds=(0,), protocol=2, n_test=100,
                  train=TrainConfig(steps=20, batch_size=8, lr=1e-2, eval_every=10, eval_batch=32))
    monkeypatch.setitem(rnnviz.study.PRESETS, "tiny", tiny)
    args = ["capacity", "--preset", "tiny", "--quiet", "--workers", "1", "--no-figures"]
    assert main([*args, "--out", str(tmp_path / "part"), "--doses", "2:1"]) == 0
    part = pd.read_csv(tmp_path / "part" / "capacity.csv")
    assert set(part["n_random"]) == {1} and set(part["protocol"]) == {"memorization/2"}
    assert set(part["key"]) == {s.key for s in tiny.specs() if s.n_random == 1}  # the preset's own models
    assert main([*args, "--out", str(tmp_path / "bits"), "--targeted-bits", "4"]) == 0
    bits = pd.read_csv(tmp_path / "bits" / "capacity.csv")
    assert set(bits["key"]) == {s.key for s in tiny.specs() if s.n_targets == 2}  # K = 4 bits / log2 4
    (log,) = [json.loads(line) for line in (tmp_path / "bits" / "capacity_runs.jsonl").read_text().splitlines()]
    assert log["targeted_bits"] == [4.0] and "--targeted-bits 4" in (tmp_path / "bits" / "capacity_report.md").read_text()

    # values the preset lacks extend its grid: its own models keep their keys, the new ones are the
    # models of the grid written out in Python (same keys), trained with the preset's settings
    more = tmp_path / "more"
    assert main([*args, "--out", str(more), "--targeted-bits", "6", "4", "--doses", "3:2", "2:1",
                 "--hidden-sizes", "4", "2"]) == 0
    grown = pd.read_csv(more / "capacity.csv")
    extended = rnnviz.study.capacity_preset("tiny", hidden_sizes=(4, 2), targeted_bits=(4.0, 6.0),
                                            interfering=((2, 1), (3, 2)))
    assert set(grown["key"]) == {s.key for s in extended.specs()} and len(grown) == 8
    own = {s.key for s in tiny.specs() if s.n_random == 1 and s.n_targets == 2}
    assert own < set(grown["key"]) and set(grown[grown["key"].isin(own)]["hidden_size"]) == {4}
    (log,) = [json.loads(line) for line in (more / "capacity_runs.jsonl").read_text().splitlines()]
    assert log["targeted_bits"] == [4.0, 6.0] and log["doses"] == [[2, 1], [3, 2]] and log["hidden_sizes"] == [4, 2]
    assert "--hidden-sizes 4 2 --doses 3:2 2:1 --targeted-bits 6 4" in (more / "capacity_report.md").read_text()

    out = tmp_path / "variant"
    assert main([*args, "--out", str(out), "--doses", "2:1", "--protocol", "3", "--curriculum", "prefix"]) == 0
    variant = pd.read_csv(out / "capacity.csv")
    assert len(variant) == 2 and set(variant["protocol"]) == {"memorization/3+prefix"}
    assert not set(variant["key"]) & {s.key for s in tiny.specs()}  # other models: other keys
    (log,) = [json.loads(line) for line in (out / "capacity_runs.jsonl").read_text().splitlines()]
    assert log["doses"] == [[2, 1]] and log["protocol"] == 3 and log["curriculum"] == "prefix"
    assert "--doses 2:1 --protocol 3 --curriculum prefix" in (out / "capacity_report.md").read_text()

    longer = tmp_path / "longer"  # another budget: other models, the preset's grid and settings otherwise
    assert main([*args, "--out", str(longer), "--targeted-bits", "2", "--steps", "30"]) == 0
    trained = pd.read_csv(longer / "capacity.csv")
    again = rnnviz.study.capacity_preset("tiny", targeted_bits=(2.0,), train=replace(tiny.train, steps=30))
    assert set(trained["key"]) == {s.key for s in again.specs()} and len(trained) == 2
    assert not set(trained["key"]) & {s.key for s in tiny.specs()} and trained["steps"].max() <= 30
    (log,) = [json.loads(line) for line in (longer / "capacity_runs.jsonl").read_text().splitlines()]
    assert log["steps"] == 30 and "--targeted-bits 2 --steps 30" in (longer / "capacity_report.md").read_text()
    capsys.readouterr()


def test_results_name_the_processor():
    """A CPU result records the CPU's model (read from /proc/cpuinfo on Linux), not just the architecture."""
    from rnnviz.study import device_name, processor_name
    from rnnviz.study._provenance import cpuinfo_model

    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    assert cpuinfo_model(text) == "AMD EPYC 7B13"
    assert cpuinfo_model("processor\t: 0\nBogoMIPS\t: 50.00\nmodel name\t:\n") is None  # no name, as on some ARM
    assert processor_name() and device_name("cpu") == f"cpu:{processor_name()}"


@pytest.fixture
def fresh_gpu_versions():
    from rnnviz.study import _provenance

    _provenance._gpu_versions.cache_clear()
    yield _provenance
    _provenance._gpu_versions.cache_clear()


def test_versions_record_triton_cuda_cudnn_and_the_gpu_driver(fresh_gpu_versions, monkeypatch, tmp_path):
    import importlib.util

    provenance = fresh_gpu_versions
    v = provenance.versions()
    assert v["cuda"] == torch.version.cuda and v["torch"] == torch.__version__
    assert ("triton" in v) == (importlib.util.find_spec("triton") is not None)
    if not torch.cuda.is_available():
        assert "cudnn" not in v and "gpu_driver" not in v
    # As on a GPU machine: cuDNN from torch, the driver from nvidia-smi.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91002)
    monkeypatch.setattr(provenance, "nvidia_driver_version", lambda: "570.86.15")
    v = provenance.versions()
    assert v["cudnn"] == 91002 and v["gpu_driver"] == "570.86.15"
    fake = tmp_path / "nvidia-smi"  # one line per GPU
    fake.write_text("#!/bin/sh\necho 570.86.15\necho 570.86.15\n")
    fake.chmod(0o755)
    monkeypatch.setattr(provenance.shutil, "which", lambda name: str(fake))
    assert provenance.nvidia_driver_version() == "570.86.15"
    # What cannot be read is left out, silently.
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: None)
    monkeypatch.setattr(provenance, "nvidia_driver_version", lambda: None)
    provenance._gpu_versions.cache_clear()
    v = provenance.versions()
    assert "cudnn" not in v and "gpu_driver" not in v and v["torch"] == torch.__version__


def test_run_log_is_written_when_the_block_fails_and_skips_a_torn_line(tmp_path):
    from rnnviz.study._provenance import logged_invocation, read_run_log, wall_seconds

    path = tmp_path / "out" / "runs.jsonl"
    with logged_invocation(path, device="cpu") as record:
        record["models_trained"] = 2
    assert record["wall_seconds"] >= 0 and record["models_trained"] == 2
    with pytest.raises(KeyboardInterrupt), logged_invocation(path, device="cpu"):
        raise KeyboardInterrupt
    with path.open("a") as f:
        f.write('{"start": "2026-')  # an invocation killed while writing its line
    with pytest.warns(RuntimeWarning, match="not a JSON record"):
        log = read_run_log(path)
    assert [r.get("error") for r in log] == [None, "KeyboardInterrupt: "]
    assert log[0]["models_trained"] == 2 and log[1]["device"] == "cpu"
    with pytest.warns(RuntimeWarning):
        assert wall_seconds(path) == pytest.approx(sum(r["wall_seconds"] for r in log))
    assert read_run_log(tmp_path / "missing.jsonl") == []


# ------------------------------------------------------------------------- protocol 2, per-cell rates
PLATEAU_TINY = TrainConfig(steps=40, batch_size=8, lr=2e-2, eval_every=5, eval_batch=32, schedule="constant",
                           plateau=0.05, plateau_window=0.5, plateau_min_steps=10, lr_drops=1)


def test_protocol_2_specs_keep_protocol_1_keys_and_group_one_length_per_ensemble():
    p1 = sweep_specs(["gru"], [3], [2.0], [(2, "random")], [0], train=TINY)[0]
    assert p1.key == rnnviz.study.ModelSpec(**{**p1.as_dict(), "protocol": 1, "n_random": None}).key
    specs = sweep_specs(["gru", "lstm"], [3], [2.0, 4.0], [(2, 0), (2, 1), (2, 2)], [0], train=TINY, protocol=2)
    assert len({s.key for s in specs}) == 12 and {s.protocol for s in specs} == {2}
    assert [(s.n_random, s.interference) for s in specs[:6:2]] == [(0, "blank"), (1, "mixed"), (2, "random")]
    assert {s.forget_bias for s in specs if s.cell == "lstm"} == {1.0}  # protocol 2's LSTM init
    assert {s.forget_bias for s in specs if s.cell == "gru"} == {None}
    groups = group_specs(specs)
    assert [len(g) for g in groups] == [3, 3, 3, 3]  # the doses of one (cell, K) train together
    assert all(len({s.task().length for s in g}) == 1 for g in groups)  # nothing padded
    same_dose_p1 = sweep_specs(["gru"], [3], [2.0], [(2, "random")], [0], train=TINY)
    assert same_dose_p1[0].key not in {s.key for s in specs}
    with pytest.raises(ValueError, match="forget_bias needs a cell with a forget gate"):
        rnnviz.study.ModelSpec(**{**specs[0].as_dict(), "forget_bias": 1.0})
    with pytest.raises(ValueError, match="protocol 2 needs n_random"):
        rnnviz.study.ModelSpec(**{**specs[0].as_dict(), "n_random": None})


def test_per_cell_learning_rates_are_recorded_in_each_models_settings_and_key():
    base = sweep_specs(["gru", "pru"], [3], [2.0], [(1, "blank")], [0], train=TINY)
    tuned = sweep_specs(["gru", "pru"], [3], [2.0], [(1, "blank")], [0], train=TINY, lr={"gru": 5e-2})
    assert [s.train["lr"] for s in tuned] == [5e-2, TINY.lr]
    assert tuned[0].key != base[0].key and tuned[1].key == base[1].key  # pru keeps the default rate
    same = sweep_specs(["gru", "pru"], [3], [2.0], [(1, "blank")], [0], train=TINY, lr=TINY.lr)
    assert [s.key for s in same] == [s.key for s in base]


def test_a_protocol_2_preset_trains_to_the_plateau_and_writes_the_new_columns(tmp_path):
    preset = rnnviz.study.Preset(description="test", cells=("gru", "lstm"), hidden_sizes=(3,), targeted_bits=(4.0,),
                                 interfering=((2, 0), (2, 1), (2, 2)), seeds=(0,), alphabet=4, n_test=100,
                                 train=PLATEAU_TINY, protocol=2, lr={"lstm": 3e-2})
    assert preset.n_models == 6
    rows = preset.run(tmp_path, device="cpu", progress=False)
    assert len(rows) == 6 and (rows["protocol"] == "memorization/2").all()
    assert sorted(rows["n_random"]) == [0, 0, 1, 1, 2, 2] and (rows["group_size"] == 3).all()
    assert list(rows["interfering_bits"]) == [2.0 * r for r in rows["n_random"]]
    for column in ("recalled_bits", "recalled_bits_total_clamp", "recalled_bits_ce_bound"):
        assert ((rows[column] >= 0) & (rows[column] <= rows["targeted_bits"] + 1e-9)).all(), column
    assert set(rows["stop_reason"]) <= {"target", "plateau", "budget"} and (rows["steps"] <= 40).all()
    assert ((rows["stop_reason"] == "budget") == (rows["steps"] == 40)).all()
    configs = [json.loads(c) for c in rows["config"]]
    assert {(c["cell"], c["train"]["lr"], c["forget_bias"]) for c in configs} == {("gru", 2e-2, None),
                                                                                    ("lstm", 3e-2, 1.0)}
    # n_parameters: every map from the input to the state (no embedding for these cells), not the readout
    lstm = rows[rows["cell"] == "lstm"].iloc[0]
    assert lstm["n_parameters"] == 4 * (3 * (7 + 3) + 2 * 3)  # input size A + 3 = 7
    assert lstm["n_parameters_total"] == lstm["n_parameters"] + 4 * 3 + 4
    summary = pd.read_csv(tmp_path / "capacity_summary.csv")
    assert len(summary) == 6  # one row per cell and dose
    mixed = pd.concat([rows, rows.assign(protocol="memorization/1")])
    with pytest.raises(ValueError, match="rows hold models of several protocols"):
        summarize(mixed)


def test_learning_rate_pilot_picks_each_cells_best_rate():
    table = rnnviz.study.learning_rate_pilot(["gru", "lstm"], [1e-4, 3e-2], points=[(3, 4.0)], interfering=[(2, 1)],
                                             seeds=[0], protocol=2, train=TINY, n_test=100, device="cpu",
                                             progress=False)
    assert list(table.columns) == ["cell", "lr", "median_recalled_bits", "models", "diverged", "best"]
    assert len(table) == 4 and (table["models"] == 1).all() and table.groupby("cell")["best"].sum().eq(1).all()
    for cell, lr in table.attrs["best"].items():
        rates = table[table["cell"] == cell].set_index("lr")["median_recalled_bits"]
        assert rates[lr] == rates.max()
    # known rows: the median decides, a diverged model counts 0 bits, a tie goes to the smaller rate
    rows = pd.DataFrame({"cell": ["gru"] * 6 + ["pru"] * 2, "lr": [1e-3, 1e-3, 1e-3, 1e-2, 1e-2, 1e-2, 1e-3, 1e-2],
                         "recalled_bits": [1.0, 2.0, 9.0, 3.0, 3.0, float("nan"), 1.0, 1.0],
                         "accuracy": [0.5] * 5 + [float("nan")] + [0.5] * 2})
    picked = rnnviz.study.pick_learning_rates(rows)
    assert picked.attrs["best"] == {"gru": 1e-2, "pru": 1e-3}
    assert list(picked["median_recalled_bits"]) == [2.0, 3.0, 1.0, 1.0] and list(picked["diverged"]) == [0, 1, 0, 0]


def test_the_paper_preset_is_the_cpu_study_and_the_gpu_sweep_keeps_its_own_name(tmp_path, capsys):
    from rnnviz.cli import main
    from rnnviz.study import PRESETS, capacity_preset

    paper, gpu = PRESETS["paper"], PRESETS["gpu"]
    assert paper.protocol == 2 and not paper.warm_start and paper.n_models == 7 * 5 * 6 * 3 * 3
    assert {dose for _, dose in paper.interfering} == {0, 4, 8}  # three interference amounts at one delay
    assert paper.train.plateau == 0.01 and paper.train.plateau_floor == 0.1 and paper.train.schedule == "constant"
    combined = PRESETS["paper-combined"]
    assert combined.train.curriculum == "combined" and combined.train.plateau_floor_score == "recalled_bits_ce_bound"
    assert replace(combined, description=paper.description, train=paper.train) == paper  # only the training differs
    # the GPU sweep: the same protocol and training at larger states and amounts
    assert gpu.protocol == 2 and gpu.train == combined.train and gpu.hidden_sizes[-1] == 256
    assert max(gpu.targeted_bits) == 256 and gpu.interfering == paper.interfering and gpu.seeds == paper.seeds
    with pytest.raises(ValueError, match="has no pilot"):
        capacity_preset("smoke").pilot(tmp_path)
    assert main(["capacity", "--preset", "smoke", "--pilot", "--out", str(tmp_path)]) == 2
    assert "--pilot needs a preset with a learning-rate pilot" in capsys.readouterr().err


def test_a_preset_pilot_writes_its_table(tmp_path):
    from rnnviz.study import capacity_preset

    tiny = capacity_preset("smoke", cells=("gru",), pilot_lrs=(1e-3, 1e-2), pilot_points=((4, 2.0),),
                           pilot_interfering=((1, "blank"),), pilot_seeds=(0,))
    table = tiny.pilot(tmp_path, device="cpu", progress=False)
    assert (tmp_path / "capacity_pilot.csv").is_file() and (tmp_path / "capacity_pilot.sqlite").is_file()
    assert sorted(table["lr"]) == [1e-3, 1e-2] and table["best"].sum() == 1
    assert table.attrs["best"]["gru"] in (1e-3, 1e-2)


def test_parallel_workers_take_the_longest_groups_first():
    from rnnviz.study._run import longest_first

    specs = sweep_specs(["gru", "pru"], [2, 16], [2.0, 8.0], [(4, "blank")], [0], train=TrainConfig(steps=5))
    groups = group_specs(specs)
    ordered = longest_first(groups)
    assert sorted(map(id, ordered)) == sorted(map(id, groups))  # a permutation
    assert [g[0].hidden_size for g in ordered] == [16, 16, 2, 2]
    assert [g[0].cell for g in ordered[:2]] == ["gru", "pru"]  # equal cost: the sweep's order kept
    few = [g[:1] for g in groups]  # fewer members, shorter sequences: cheaper
    assert longest_first([few[1], groups[0]])[0] is groups[0]


def test_heartbeat_redraws_the_bar_while_groups_train_elsewhere_and_stops_after():
    class Bar:
        refreshes = 0

        def refresh(self):
            self.refreshes += 1

    bar = Bar()
    with heartbeat(bar, every=0.01):
        time.sleep(0.2)
    during = bar.refreshes
    assert during >= 3
    time.sleep(0.05)
    assert bar.refreshes == during  # stopped with the block
    assert not any(t.name == "rnnviz-progress-heartbeat" for t in threading.enumerate())
    quiet = Bar()
    with heartbeat(quiet, every=0.01, enabled=False):
        time.sleep(0.05)
    assert quiet.refreshes == 0


def test_a_study_group_reports_its_steps_into_its_workers_slot():
    """fit_group hands fit the progress reporter: in a worker (a slot attached) the group's steps land
    in the pool's shared array; outside one, reporting does nothing."""
    import multiprocessing

    from rnnviz.study import _progress
    from rnnviz.study._checkpoints import fit_group

    spec = sweep_specs(["gru"], [3], [2.0], [(2, "blank")], [0], train=TINY)[0]
    model = SequenceModel("gru", spec.task().input_size, 3, spec.task().output_size)
    slots = multiprocessing.RawArray("q", 4)
    _progress.attach(slots, 1)
    try:
        result = fit_group(model, spec.task(), TINY, keys=[spec.key], name="gru n=3 2 bits (1 model)", progress=False)
    finally:
        _progress.attach(None, 0)
    assert list(slots) == [0, 0, max(result.stopped_at), TINY.steps] and slots[2] > 0
    _progress.report(5, 10)  # no slot: nothing happens
    assert list(slots) == [0, 0, max(result.stopped_at), TINY.steps]


def test_heartbeat_shows_how_far_the_groups_in_flight_have_trained():
    class Bar:
        postfix = None

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def refresh(self):
            pass

    flights = [[Flight("gru n=64 64 bits (9 models)", 0, 0, 1)],
               [Flight("gru n=64 64 bits (9 models)", 1200, 36000, 1), Flight("sru n=4 2-8 bits (9 models)", 50, 800, 2)],
               []]
    bar = Bar()
    shown = []
    with heartbeat(bar, every=0.01, status=lambda: flights[min(len(shown), 2)]):
        while len(shown) < 3:
            time.sleep(0.005)
            if bar.postfix is not None and (not shown or shown[-1] != bar.postfix):
                shown.append(bar.postfix)
        flights[2] = [Flight("gru n=64 64 bits (9 models)", 36000, 36000, 1)]  # still shown when the block ends
        time.sleep(0.05)
    assert shown == ["training: gru n=64 64 bits (9 models) starting",
                     "training: gru n=64 64 bits (9 models) 1200/36000 steps (3%) | sru n=4 2-8 bits (9 models) 50/800 "
                     "steps (6%)", ""]
    assert bar.postfix == ""  # cleared with the block
    assert in_flight_text([Flight("a", 36000, 36000, 1)]) == "training: a 36000/36000 steps (100%)"
    assert in_flight_text([]) == ""


def test_the_sweep_gets_the_time_it_has_left_from_its_groups_costs():
    from rnnviz.study._progress import SweepPace

    a, b = "gru n=64 64 bits (9 models)", "sru n=4 2 bits (9 models)"
    pace = SweepPace([100.0, 50.0, 10.0, 40.0, 30.0])  # five groups, costs in any unit
    pace.finished(4)  # before the clock starts: done, but not counted in the rate
    # the first look starts the clock (t_0 = 30); payload 1 resumed from a checkpoint: seen at 40 %
    assert pace.left([Flight(a, 10, 100, (0, 0), 0), Flight(b, 40, 100, (1, 0), 1)], now=30.0) is None
    assert pace.left([Flight(a, 10, 100, (0, 0), 0), Flight(b, 40, 100, (1, 0), 1)], now=40.0) is None  # no work
    left = pace.left([Flight(a, 30, 100, (0, 0), 0), Flight(b, 60, 100, (1, 0), 1)], now=90.0)
    done = 100 * (0.3 - 0.1) + 50 * (0.6 - 0.4)  # 30 units in the 60 s since t_0
    rest = 100 * 0.7 + 50 * 0.4 + 10 + 40
    assert left == pytest.approx(rest * 60 / done)
    pace.finished(1)  # 60 % of its cost done since t_0
    pace.finished(2)  # never seen in flight (too short between two beats): all of it
    left = pace.left([Flight(a, 50, 100, (0, 0), 0)], now=150.0)
    done = 100 * (0.5 - 0.1) + 50 * 0.6 + 10
    assert left == pytest.approx((100 * 0.5 + 40) * 120 / done)
    # a group that leaves the flight unfinished (paused, retried) keeps what it was seen to train
    assert pace.left([], now=180.0) == pytest.approx((100 * 0.5 + 40) * 150 / done)
    pace.finished(0)
    done = 100 * 0.9 + 50 * 0.6 + 10
    # a sweep in waves: the second wave's payloads start at an offset
    assert pace.left([Flight(b, 50, 100, (0, 0), 0)], now=210.0, offset=3) == pytest.approx(
        40 * 0.5 * 180 / done)  # payload 3 first seen at 50 %: nothing of it done in this run yet
    assert pace.left([Flight(b, 75, 100, (0, 0), 0)], now=270.0, offset=3) == pytest.approx(
        40 * 0.25 * 240 / (done + 40 * 0.25))
    assert pace.left([Flight(a, 1, 2, 7)], now=300.0) is not None  # a flight of no known payload is left out


def test_the_heartbeat_shows_the_sweep_time_left_and_drops_the_model_count_estimate():
    class Bar:
        postfix = None
        bar_format = None

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def refresh(self):
            pass

    flights = [Flight("gru n=64 64 bits (9 models)", 1200, 36000, (0, 0), 0)]
    bar = Bar()
    with heartbeat(bar, every=0.01, status=lambda: flights, sweep_left=lambda groups, now: 7500.0):
        end = time.monotonic() + 10
        while bar.postfix is None and time.monotonic() < end:
            time.sleep(0.005)
        shown = bar.postfix
    assert shown == "sweep ~2 h 05 min left | training: gru n=64 64 bits (9 models) 1200/36000 steps (3%)"
    assert "remaining" not in bar.bar_format and "{postfix}" in bar.bar_format
    bar = Bar()  # no estimate yet: the groups alone
    with heartbeat(bar, every=0.01, status=lambda: flights, sweep_left=lambda groups, now: None):
        end = time.monotonic() + 10
        while bar.postfix is None and time.monotonic() < end:
            time.sleep(0.005)
        assert bar.postfix.startswith("training: gru")


def test_each_group_in_flight_gets_the_time_it_has_left_at_its_pace():
    from rnnviz.study._progress import Pace

    pace = Pace()
    a, b = "gru n=64 64 bits (9 models)", "sru n=4 2 bits (9 models)"
    assert pace.left([Flight(a, 2000, 36000, 1), Flight(b, 0, 0, 2)], now=100.0) == [None, None]  # no pace yet
    assert pace.left([Flight(a, 2600, 36000, 1), Flight(b, 0, 800, 2)], now=130.0) == [pytest.approx(33400 * 30 / 600),
                                                                                       None]
    assert pace.left([Flight(a, 3200, 36000, 1), Flight(b, 400, 800, 2)], now=160.0) == [
        pytest.approx(32800 * 60 / 1200), 400 * 30 / 400]
    # a finished group is forgotten; another group, of the same name or not, starts afresh
    assert pace.left([Flight(b, 500, 800, 2)], now=190.0) == [300 * 60 / 500]
    assert pace.left([Flight(a, 0, 36000, 3), Flight(b, 600, 800, 2)], now=220.0) == [None, 200 * 90 / 600]
    assert pace.left([Flight(b, 100, 800, (2, 1))], now=250.0) == [None]  # a retry is another group
    twins = Pace()  # two groups of one name: told apart by their jobs
    twins.left([Flight(a, 0, 100, 1), Flight(a, 50, 100, 2)], now=0.0)
    assert twins.left([Flight(a, 10, 100, 1), Flight(a, 60, 100, 2)], now=10.0) == [90.0, 40.0]
    text = in_flight_text([Flight(a, 3200, 36000, 1), Flight(b, 400, 800, 2), Flight(b, 5, 10, 3)],
                          [32800 * 60 / 1200, 30.0, 4000.0])
    assert text == (f"training: {a} 3200/36000 steps (8%, ~27 min left) | {b} 400/800 steps (50%, ~30 s left) | "
                    f"{b} 5/10 steps (50%, ~1 h 07 min left)")
