"""Processes of a capacity sweep: killing the command leaves no worker behind and loses no finished
model; a worker that dies costs only its own group (retried once, then reported).

Workers run :func:`process_support.scripted_train`, which can stall or die on cue, so each test
knows what every worker is doing when the signal arrives.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import rnnviz.study._run as run_module
from rnnviz.study import Store, WorkersFailed, capacity
from rnnviz.train import TrainConfig

HERE = Path(__file__).resolve().parent
TINY = TrainConfig(steps=10, batch_size=8, lr=2e-2, eval_every=5, eval_batch=16)


def gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(condition, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:g} s"
        time.sleep(0.05)


def workers_of(process: psutil.Process) -> list[psutil.Process]:
    """The sweep's workers among ``process``'s children: forked (the parent's command line) or spawned
    (multiprocessing's ``spawn_main``), not multiprocessing's resource tracker."""
    return [c for c in process.children() if "resource_tracker" not in " ".join(c.cmdline())]


def finished_models(store: Path) -> int:
    if not store.exists():
        return 0
    with Store(store, read_only=True) as s:
        return len(s.finished())


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "method"), [(signal.SIGTERM, "fork"), (signal.SIGINT, "fork"), (signal.SIGKILL, "fork"),
                                             (signal.SIGTERM, "spawn")], ids=lambda v: getattr(v, "name", v))
def test_killing_the_command_leaves_no_process_behind_and_keeps_what_finished(sig, method, tmp_path):
    """``rnnviz capacity --preset smoke --workers 2``: gru's group trains and is committed while pru's
    stalls in the other worker; then the command is killed. Its workers are gone at once (long before
    the stalled group would end), gru's models are in the store and SIGTERM/SIGINT log the run; with
    forked workers (which inherit the command's SIGTERM handler) as with spawned ones."""
    out, attempts = tmp_path / "out", tmp_path / "attempts"
    attempts.mkdir()
    root = HERE.parent
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "RNNVIZ_TEST_ATTEMPTS": str(attempts), "RNNVIZ_TEST_RULES": json.dumps({"pru": "stall"}),
           "RNNVIZ_START_METHOD": method}
    command = [sys.executable, str(HERE / "process_support.py"), "capacity", "--preset", "smoke", "--workers", "2",
               "--device", "cpu", "--quiet", "--no-figures", "--out", str(out)]
    parent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    descendants = []
    try:
        wait_for(lambda: (attempts / "pru-0").exists() and finished_models(out / "capacity.sqlite") == 2,
                 "gru committed while pru trains")
        descendants = psutil.Process(parent.pid).children(recursive=True)
        workers = workers_of(psutil.Process(parent.pid))
        assert len(workers) == 2
        assert all(("spawn_main" in " ".join(p.cmdline())) == (method == "spawn") for p in workers)
        parent.send_signal(sig)
        wait_for(lambda: all(gone(p) for p in descendants), "every worker ending", 10)
        _, err = parent.communicate(timeout=30)
    finally:  # a failing test leaves nothing behind either
        for p in [*descendants, psutil.Process(parent.pid)] if parent.poll() is None else descendants:
            if not gone(p):
                p.kill()
        parent.stderr.close()
        parent.wait()
    assert finished_models(out / "capacity.sqlite") == 2  # the finished group is kept
    if sig == signal.SIGKILL:
        assert parent.returncode == -signal.SIGKILL
        return
    assert parent.returncode == 128 + sig and "what finished is kept" in err, err
    (line,) = [json.loads(x) for x in (out / "capacity_runs.jsonl").read_text().splitlines()]
    assert line["error"].startswith("Terminated" if sig == signal.SIGTERM else "KeyboardInterrupt")
    assert line["models_trained"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_dead_worker_costs_only_its_group(method, tmp_path, monkeypatch):
    """gru's worker dies once (its retry succeeds), pru's on both attempts, rnn trains: gru and rnn are
    committed, pru is reported, and each group was tried as often as the rule says."""
    monkeypatch.setenv("RNNVIZ_START_METHOD", method)
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    monkeypatch.setenv("RNNVIZ_TEST_ATTEMPTS", str(attempts))
    monkeypatch.setenv("RNNVIZ_TEST_RULES", json.dumps({"gru": "once", "pru": "always"}))
    monkeypatch.syspath_prepend(str(HERE))
    import process_support

    monkeypatch.setattr(run_module, "train_group", process_support.scripted_train)
    store = tmp_path / "capacity.sqlite"
    with pytest.raises(WorkersFailed, match=r"1 group\(s\) were not trained .* died 2 time\(s\) \(pru n=3 2 bits \(1 model\): "
                                            r"killed by SIGKILL") as caught:
        capacity(["gru", "pru", "rnn"], [3], [2.0], [(1, "blank")], [0], train=TINY, n_test=50, store=store,
                 device="cpu", workers=2, progress=False)
    assert [f.description for f in caught.value.failures] == ["pru n=3 2 bits (1 model)"]
    with Store(store, read_only=True) as done:
        assert sorted(done.frame()["cell"]) == ["gru", "rnn"]
    assert sorted(p.name for p in attempts.iterdir()) == ["gru-0", "gru-1", "pru-0", "pru-1", "rnn-0"]
    assert all(gone(p) for p in workers_of(psutil.Process()))


@pytest.mark.slow
def test_an_exception_in_a_worker_stops_the_sweep_with_its_traceback(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    import process_support

    monkeypatch.setattr(run_module, "train_group", process_support.fail)
    with pytest.raises(ArithmeticError, match="deliberate failure in group") as caught:
        capacity(["gru", "pru"], [3], [2.0], [(1, "blank")], [0], train=TINY, n_test=50, device="cpu", workers=2,
                 progress=False)
    assert "process_support.py" in str(caught.value.__cause__)  # the worker's own traceback


class _Thread:
    def __init__(self, name: str):
        self.name = name


@pytest.mark.parametrize(("platform", "threads", "cuda", "torch_threads", "expected"), [
    ("linux", ["MainThread"], False, 1, "fork"),
    ("linux", ["MainThread", "tqdm_monitor"], False, 1, "fork"),  # tqdm's monitor: workers never draw bars
    ("linux", ["MainThread", "IOPub"], False, 1, "spawn"),  # any other thread (a Jupyter kernel's, say)
    ("linux", ["MainThread"], True, 1, "spawn"),  # CUDA initialised in the parent cannot be used after a fork
    ("linux", ["MainThread"], False, 2, "spawn"),  # torch's OpenMP pool does not survive a fork
    ("linux", ["MainThread"], False, None, "spawn"),  # torch's own setting: as many as the parent's
    ("darwin", ["MainThread"], False, 1, "spawn"),
    ("win32", ["MainThread"], False, 1, "spawn"),
])
def test_workers_are_forked_only_where_that_is_safe(platform, threads, cuda, torch_threads, expected, monkeypatch):
    import threading

    import torch

    from rnnviz.study._workers import start_method

    monkeypatch.delenv("RNNVIZ_START_METHOD", raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(threading, "enumerate", lambda: [_Thread(n) for n in threads])
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: cuda)
    assert start_method(torch_threads) == expected


def test_the_start_method_variable_decides_and_is_checked(monkeypatch):
    from rnnviz.study._workers import start_method

    monkeypatch.setattr(sys, "platform", "darwin")  # the rule alone would spawn
    monkeypatch.setenv("RNNVIZ_START_METHOD", "fork")
    assert start_method() == "fork"
    monkeypatch.setenv("RNNVIZ_START_METHOD", "spawn")
    assert start_method() == "spawn"
    monkeypatch.setenv("RNNVIZ_START_METHOD", "forkserver")
    with pytest.raises(ValueError, match=r"RNNVIZ_START_METHOD must be 'fork' or 'spawn', got 'forkserver'"):
        start_method()


def test_a_forked_worker_ends_on_sigterm_and_its_replacement_is_spawned():
    """A forked worker inherits the parent's signal handlers; one that raises on SIGTERM (as the rnnviz
    command's does) must not keep it alive. A worker that replaces a dead one is spawned."""
    from rnnviz.study._workers import WorkerPool

    def raise_on_sigterm(signum, frame):
        raise RuntimeError("the parent's handler")

    previous = signal.signal(signal.SIGTERM, raise_on_sigterm)
    try:
        pool = WorkerPool(1, "fork")
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        (worker,) = pool.workers
        assert pool.method == "fork" and worker.process._start_method == "fork"
        assert pool.start(worker, (0, 0), os.getpid, ()) is None
        ((job, reply, code),) = pool.wait()
        assert job == (0, 0) and reply == ("ok", worker.process.pid) and code is None  # it ran in the child
        worker.process.terminate()
        worker.process.join(5)
        assert worker.process.exitcode == -signal.SIGTERM
        fresh = pool._replace(worker)
        assert fresh.process._start_method == "spawn" and pool.workers == [fresh]
    finally:
        pool.close()


def test_the_heartbeat_starts_after_the_workers():
    """``while_running`` (the progress heartbeat, a thread) is entered once every worker has started, so
    none is forked while that thread runs, and left when the sweep ends."""
    import multiprocessing
    from contextlib import contextmanager

    from rnnviz.study._workers import run_in_processes

    seen = []

    @contextmanager
    def record(status):
        seen.append(len(multiprocessing.active_children()))
        yield
        seen.append("left")

    done = []
    run_in_processes([1, 2, 3], abs, (), 2, done.append, str, lambda: False, while_running=record)
    assert sorted(done) == [1, 2, 3]
    assert seen[0] >= 2 and seen[1:] == ["left"]  # two workers (and perhaps the resource tracker) were running


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_the_groups_in_flight_report_their_steps_to_the_sweep(method, monkeypatch, tmp_path):
    """Each worker writes its group's steps into the pool's shared array; ``status()``, handed to the
    heartbeat, lists the groups in flight with them, and nothing once they finished."""
    from process_support import report_and_wait, watch_status

    from rnnviz.study._workers import run_in_processes

    monkeypatch.setenv("RNNVIZ_START_METHOD", method)
    release = tmp_path / "release"
    payloads = [(1200, 36000, str(release)), (7, 10, str(release))]
    seen = []
    want = [("group 0", 1200, 36000, (0, 0), 0), ("group 1", 7, 10, (1, 0), 1)]
    watch = watch_status(want, release, seen)  # as the heartbeat does: a thread reads status() meanwhile
    done = []
    run_in_processes(payloads, report_and_wait, (), 2, done.append, lambda p: f"group {payloads.index(p)}",
                     lambda: False, while_running=watch)
    assert sorted(done) == [(7, 10), (1200, 36000)]
    assert seen == [want, []]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_idle_workers_lend_their_threads_to_the_groups_still_running(method, monkeypatch):
    """Once nothing is left to start, an idle worker's thread goes to the busy one's kernels: here the
    short group ends, the deadline has passed (the third group waits for the next run), and the long
    group's kernels get two threads; while both trained, each had one."""
    from process_support import threads_seen

    from rnnviz.study._workers import run_in_processes

    monkeypatch.setenv("RNNVIZ_START_METHOD", method)
    done = []
    run_in_processes([20.0, 0.0, 0.0], threads_seen, (), 2, done.append, str, lambda: len(done) >= 1, threads=1)
    assert sorted(done) == [(0.0, 1), (20.0, 2)]


def test_the_idle_threads_are_shared_out_evenly_between_the_busy_workers():
    from rnnviz.study._workers import WorkerPool

    pool = WorkerPool(3, "fork", lend=True)
    try:
        for busy, threads, lent in (([0], 1, [2, 0, 0]), ([0, 2], 1, [1, 0, 0]), ([1], 2, [0, 4, 0]),
                                    ([0, 1, 2], 1, [0, 0, 0]), ([], 1, [0, 0, 0])):
            for i, w in enumerate(pool.workers):
                w.job = (i, 0) if i in busy else None
            pool.lend_idle_threads(threads)
            assert list(pool.lent) == lent, (busy, threads)
        for w in pool.workers:
            w.job = None
    finally:
        pool.close()
    unlent = WorkerPool(1, "fork")
    try:
        unlent.lend_idle_threads(1)  # a pool made without lend lends nothing
        assert unlent.lent is None
    finally:
        unlent.close()
