"""Local worker processes for a capacity sweep: each trains one group at a time, a worker that dies
costs only its own group, and none outlives the sweep.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies (the out-of-memory
killer, a segfault) the whole pool breaks and every group in flight is lost with it, including the
finished group of a worker that was about to report; and on an exception its ``with`` block waits for
the groups in flight before it lets the caller stop. Here each worker has its own pipe, so the parent
knows which group a dead worker held, starts a fresh worker in its place and retries the group once.

How they start (:func:`start_method`): forked where that is safe (Linux, CUDA not initialised in the
parent, no thread of the parent's but the main one and tqdm's monitor, one torch thread per worker),
so that a worker begins with torch, numba and rnnviz already imported, copy-on-write, instead of
importing them again (about 2.5-3 s a worker on this project's 2-core CPU: the capacity `demo`
preset's median 29.3 → 27.3 s in benchmarks/bench_presets.py, the same results); else spawned. A
worker that replaces a dead one is always spawned: by then the parent runs other threads (the
progress heartbeat), and a child forked while one of them holds a lock (stderr's) could block on it.
``RNNVIZ_START_METHOD=spawn`` (or ``fork``) overrides the rule.

Idle cores: once no group is left to start (every one started, or the deadline passed), a worker that
finishes stays idle, and its threads are lent to the workers still training (their CPU kernels split
their rows between more threads: :func:`rnnviz.cells._cpu.lend_threads`; torch's own thread
count is left alone, since a forked worker's OpenMP pool must stay at one thread). A sweep's last,
longest groups then run faster instead of leaving cores idle, with the same results.

Lifetime: workers run in the parent's process group and

- ignore SIGINT: Ctrl-C in a terminal reaches the whole group; the parent alone handles it and stops them;
- are stopped by :meth:`WorkerPool.close` (SIGTERM, then SIGKILL after a grace period), which the
  runner calls on every way out: normal end, an exception, Ctrl-C, or SIGTERM turned into an exception
  by the ``rnnviz`` command;
- die with the parent when it is killed outright (SIGKILL cannot be caught): on Linux each worker asks
  the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread
  polls ``os.getppid()`` and exits the worker when the parent is gone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for

from .._checks import EnvironmentVariableError
from ._progress import Flight

#: Seconds a worker gets to exit after SIGTERM before it is killed.
GRACE_SECONDS = 5.0
#: Environment variable that overrides :func:`start_method`: "fork" or "spawn".
START_METHOD_VARIABLE = "RNNVIZ_START_METHOD"
#: Threads of the parent that a forked worker may leave behind: it never uses what they hold (tqdm's
#: monitor wakes every few seconds to look at progress bars, which workers do not draw).
_QUIET_THREADS = frozenset({"MainThread", "tqdm_monitor"})


def start_method(threads: int | None = 1) -> str:
    """How the pool starts workers that each run ``threads`` torch threads: ``"fork"`` or ``"spawn"``
    (see the module docstring).

    ``RNNVIZ_START_METHOD`` decides when set; otherwise "fork" on Linux while the parent has not
    initialised CUDA (a child cannot use CUDA that its parent initialised before the fork), runs no
    Python thread but the main one and tqdm's monitor (in a Jupyter kernel, say, other threads run),
    and each worker runs one torch thread (torch's OpenMP pool, if the parent has started it, does not
    survive a fork: a worker with several threads could wait on it for ever); else "spawn"."""
    import multiprocessing

    chosen = os.environ.get(START_METHOD_VARIABLE)
    if chosen is not None:
        if chosen not in ("fork", "spawn"):
            raise EnvironmentVariableError(f"{START_METHOD_VARIABLE} must be 'fork' or 'spawn', got {chosen!r}")
        if chosen not in multiprocessing.get_all_start_methods():
            raise EnvironmentVariableError(f"{START_METHOD_VARIABLE}={chosen!r}: this platform starts processes "
                                           f"only with {multiprocessing.get_all_start_methods()}")
        return chosen
    if not sys.platform.startswith("linux"):
        return "spawn"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "spawn"
    if any(t.name not in _QUIET_THREADS for t in threading.enumerate()):
        return "spawn"
    return "fork" if threads == 1 else "spawn"


@dataclass(frozen=True)
class Failure:
    """A group that was not trained: its index in the payloads, its description and why."""

    index: int
    description: str
    reason: str


class WorkersFailed(RuntimeError):
    """Groups whose worker process died on every attempt; the sweep's other groups were committed."""

    def __init__(self, failures: Sequence[Failure], attempts: int):
        self.failures = list(failures)
        shown = "; ".join(f"{f.description}: {f.reason}" for f in self.failures[:3])
        more = f"; and {len(self.failures) - 3} more" if len(self.failures) > 3 else ""
        super().__init__(
            f"{len(self.failures)} group(s) were not trained because their worker process died "
            f"{attempts} time(s) ({shown}{more}); the other groups are committed, so running the sweep "
            "again retrains only these (with fewer --workers if memory ran out)"
        )


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker (attached as the ``__cause__``)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def _die_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` does (see the module docstring)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the request was made
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="rnnviz-parent-watch", daemon=True).start()


def _serve(conn, parent: int, lent=None, index: int = 0, progress=None) -> None:
    """A worker's loop: receive ``(func, args)``, send back ``("ok", result)`` or ``("error", exc, tb)``;
    ``None`` or a closed pipe ends it. ``lent[index]``: the threads the pool lends this worker's kernels;
    ``progress``: the pool's shared array where this worker's group reports its steps
    (:func:`rnnviz.study._progress.report`, slot ``index``)."""
    _die_with_parent(parent)
    if lent is not None:
        from ..cells._cpu import lend_threads

        lend_threads(lent, index)
    if progress is not None:
        from ._progress import attach

        attach(progress, index)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a forked worker inherits the parent's handlers: the rnnviz command's SIGTERM handler would raise
    # here, and the loop below would report it as a failed group instead of exiting
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        func, args = job
        try:
            reply = ("ok", func(*args))
        except Exception as err:  # noqa: BLE001 (sent to the parent, which raises it)
            reply = ("error", err, traceback.format_exc())
        try:
            conn.send(reply)
        except Exception:  # noqa: BLE001 (an unpicklable result or exception: send its text)
            conn.send(("error", RuntimeError(f"a worker's reply could not be sent: {reply[1]!r}"),
                       traceback.format_exc()))


class _Worker:
    def __init__(self, context, lent=None, index: int = 0, progress=None):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, os.getpid(), lent, index, progress), daemon=True,
                                       name="rnnviz-capacity-worker")
        self.process.start()
        child.close()
        self.job: tuple[int, int] | None = None  # (payload index, attempt) while busy

    def stop(self) -> None:
        """End the process: SIGTERM, then SIGKILL after :data:`GRACE_SECONDS`."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(GRACE_SECONDS)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.conn.close()


class WorkerPool:
    """``size`` worker processes, each with its own pipe, started by ``method`` (default
    :func:`start_method`); replacements of dead workers are spawned (see the module docstring).
    ``lend``: the pool may lend idle workers' threads to busy ones (:meth:`lend_idle_threads`). Each
    worker reports its job's progress into a shared array (:mod:`rnnviz.study._progress`), which
    :meth:`in_flight` reads."""

    def __init__(self, size: int, method: str | None = None, *, lend: bool = False):
        import multiprocessing

        self.method = method or start_method()
        self.replacements = multiprocessing.get_context("spawn")
        context = multiprocessing.get_context(self.method)
        self.lent = context.RawArray("i", size) if lend else None  # threads lent to worker i, read by its kernels
        self.progress = context.RawArray("q", 2 * size)  # worker i's job: steps done, budget
        self.workers = [_Worker(context, self.lent, i, self.progress) for i in range(size)]

    def in_flight(self) -> list[tuple[tuple[int, int], int, int]]:
        """``(job, step, steps)`` of each busy worker: its job (payload index, attempt) and the steps
        its group has trained of its budget, as last reported (``steps`` 0 before the first report)."""
        flights = []
        for i, w in enumerate(list(self.workers)):  # read from the heartbeat's thread: each job read once
            job = w.job
            if job is not None:
                flights.append((job, self.progress[2 * i], self.progress[2 * i + 1]))
        return flights

    def lend_idle_threads(self, threads: int) -> None:
        """Lend the ``threads`` of each idle worker to the busy ones, shared out evenly (nothing without
        ``lend``). Called when no group is left to start: every idle worker stays idle."""
        if self.lent is None:
            return
        busy = [i for i, w in enumerate(self.workers) if w.job is not None]
        spare = (len(self.workers) - len(busy)) * threads if busy else 0
        shares = {i: spare // len(busy) + (k < spare % len(busy)) for k, i in enumerate(busy)}
        for i in range(len(self.workers)):
            self.lent[i] = shares.get(i, 0)

    def idle(self) -> _Worker | None:
        return next((w for w in self.workers if w.job is None), None)

    def busy(self) -> list[_Worker]:
        return [w for w in self.workers if w.job is not None]

    def start(self, worker: _Worker, job: tuple[int, int], func: Callable, args: tuple) -> None:
        """Send ``func(*args)`` to an idle ``worker`` (one found dead meanwhile is replaced first)."""
        index = self.workers.index(worker)
        self.progress[2 * index] = self.progress[2 * index + 1] = 0  # nothing reported of this job yet
        try:
            worker.conn.send((func, args))
        except OSError:  # it died while idle
            worker = self._replace(worker)
            worker.conn.send((func, args))
        worker.job = job

    def wait(self) -> list[tuple[tuple[int, int], tuple | None, int | None]]:
        """Block until at least one busy worker replied or died. Returns ``(job, reply, exit code)``
        for each: ``reply`` None and the process's exit code for a worker that died (it is replaced
        by a fresh one), else the reply and None."""
        busy = self.busy()
        ready = set(wait_for([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        finished = []
        for w in busy:
            if w.conn not in ready and w.process.sentinel not in ready:
                continue
            reply = None
            try:
                if w.conn.poll():
                    reply = w.conn.recv()
            except (EOFError, OSError):
                pass
            if reply is None and w.process.is_alive():
                continue  # its pipe closed as it exits: the next wait sees the exit
            job, w.job = w.job, None
            exitcode = None
            if reply is None:
                w.process.join()
                exitcode = w.process.exitcode
                self._replace(w)
            finished.append((job, reply, exitcode))
        return finished

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop()
        index = self.workers.index(worker)
        fresh = _Worker(self.replacements, self.lent, index, self.progress)
        self.workers[index] = fresh
        return fresh

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit and given :data:`GRACE_SECONDS` to do so (a
        worker that exits by itself runs its finalizers: nothing it created, such as tqdm's lock, is
        left for the resource tracker to report); busy ones, and any that did not exit, are terminated."""
        asked = []
        for w in self.workers:
            if w.job is None and w.process.is_alive():
                try:
                    w.conn.send(None)
                    asked.append(w)
                except OSError:
                    pass
        for w in asked:
            w.process.join(GRACE_SECONDS)
        for w in self.workers:
            w.stop()


def describe_exit(code: int | None) -> str:
    """``"exit code 3"`` or ``"killed by SIGKILL (the out-of-memory killer?)"``."""
    if code is None:
        return "no exit code"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = " (the out-of-memory killer?)" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"


def run_in_processes(payloads: Sequence, func: Callable, args: tuple, workers: int, commit: Callable,
                     describe: Callable[[object], str], past_deadline: Callable[[], bool],
                     retries: int = 1,
                     while_running: Callable[[Callable[[], list]], AbstractContextManager] = lambda status: nullcontext(),
                     threads: int | None = 1, paused: tuple[type[BaseException], ...] = ()) -> None:
    """Run ``func(payload, *args)`` for each payload in ``workers`` processes and ``commit`` each result
    as it arrives. No group starts once ``past_deadline()`` (the first always does). A group whose
    worker dies is retried ``retries`` times in a fresh worker, then reported: :class:`WorkersFailed`
    is raised after every other group finished and was committed. An exception raised by ``func``
    stops the sweep at once (it is raised here with the worker's traceback as its cause).
    ``while_running(status)`` is entered once the workers have started and left when they are stopped: a
    progress heartbeat, a thread, goes there so that no worker is forked while it runs; ``status()``
    lists the payloads in flight (:class:`~rnnviz.study._progress.Flight`: ``describe(payload)``, the
    steps it has trained of its budget as ``func`` reports them (:func:`rnnviz.study._progress.report`),
    its job, ``(index, attempt)``, and its index). ``threads``:
    the torch threads each worker runs (``func``'s business; here it decides :func:`start_method`).
    A group whose ``func`` raises one of ``paused`` stopped on purpose (a hard time limit, at a
    checkpoint): it is neither committed nor a failure, and no further group starts. Once no group is
    left to start, idle workers lend their ``threads`` to the busy ones (see the module docstring)."""
    failures = []
    with ExitStack() as stack:  # on the way out: the heartbeat stops, then the workers
        pool = WorkerPool(workers, start_method(threads), lend=isinstance(threads, int))
        stack.callback(pool.close)
        stack.enter_context(while_running(
            lambda: [Flight(describe(payloads[job[0]]), step, steps, job, job[0]) for job, step, steps in pool.in_flight()]))
        queue = deque((i, 0) for i in range(len(payloads)))
        started = stopping = False
        while queue or pool.busy():
            while queue and not stopping and (not started or not past_deadline()):
                worker = pool.idle()
                if worker is None:
                    break
                i, attempt = queue.popleft()
                pool.start(worker, (i, attempt), func, (payloads[i], *args))
                started = True
            if not pool.busy():
                break  # the deadline passed: what is left stays for the next run
            # a worker still idle here gets no group (none left, the deadline passed, or stopping)
            pool.lend_idle_threads(threads)
            for (i, attempt), reply, exitcode in pool.wait():
                if reply is None:
                    reason = describe_exit(exitcode)
                    if attempt < retries:
                        queue.appendleft((i, attempt + 1))
                    else:
                        failures.append(Failure(i, describe(payloads[i]), reason))
                elif reply[0] == "ok":
                    commit(reply[1])
                elif isinstance(reply[1], paused):
                    stopping = True  # it resumes next run; so do the groups not started
                else:
                    _, err, text = reply
                    raise err from _RemoteTraceback(text)
    if failures:
        raise WorkersFailed(failures, retries + 1)
