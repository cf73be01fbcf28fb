"""A sweep's groups on a Dask cluster: :func:`connect_scheduler` checks and connects to a scheduler,
:func:`run_on_dask` runs each group as a Dask task, as many at once as the cluster has threads
(:func:`run_windowed`), commits each as it finishes and reports the groups in flight with their
steps, as :func:`rnnviz.study._workers.run_in_processes` does with local processes.

Nothing here knows what a group is: the caller hands over the function that trains one, and one that
describes it (:func:`rnnviz.study._run.capacity` hands over ``train_group`` and ``describe_group``).
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext

from .._checks import require
from ..train import TrainingPaused
from ._progress import DASK_METADATA, Flight, dask_steps
from ._workers import Failure, WorkersFailed

#: Seconds a ``tcp://`` scheduler address gets to accept a connection (:func:`connect_scheduler`).
PROBE_SECONDS = 10.0


def connect_scheduler(address: str):
    """A ``dask.distributed.Client`` of the scheduler at ``address``; a ``ConnectionError`` naming the
    address when its scheme is unknown or, for a ``tcp://`` address (the default scheme), nothing
    accepts a connection there within :data:`PROBE_SECONDS`. The probe is a plain socket: dask's own
    client can hang while it cleans up after a failed connection."""
    distributed = require("dask.distributed", "dist", "running a sweep on a Dask cluster (client or scheduler)")
    from distributed.comm import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)  # ValueError: unknown address scheme
        if scheme == "tcp":
            with socket.create_connection(parse_host_port(location), timeout=PROBE_SECONDS):
                pass
        return distributed.Client(address)
    except (OSError, ValueError, TypeError) as err:
        raise ConnectionError(f"cannot connect to a Dask scheduler at {address!r} ({err})") from None


def run_windowed(payloads: Sequence, submit: Callable, wait_first: Callable, window: int,
                 commit: Callable[[list], None], past_deadline: Callable[[], bool],
                 describe: Callable[[object], str] = str, lost: tuple = (), attempts: int = 1,
                 paused: tuple = (), running: dict | None = None) -> bool:
    """Keep at most ``window`` groups in flight; commit each as it finishes; start none once
    ``past_deadline()`` (the first always starts).

    ``submit(index, payload) -> future``; ``wait_first(futures) -> finished futures`` (blocks until one is).
    Submitting lazily (rather than all at once) is what lets a time limit stop the sweep cleanly.
    A future whose ``result()`` raises one of ``lost`` (the cluster gave up on the group after its
    worker died ``attempts`` times, e.g. Dask's ``KilledWorker``) costs only that group: the others go
    on, and :class:`~rnnviz.study.WorkersFailed` names the lost ones (``describe(payload)``) at the
    end, as the local workers do. A future that raises one of ``paused`` (the hard limit stopped its
    group at a checkpoint, which the next run resumes) is not committed, and no further group starts;
    the ones in flight are waited for. Any other exception (a bug in training) stops the sweep at once.
    Returns whether a group paused. ``running`` (an empty dict): where the groups in flight are kept,
    ``{future: payload index}``, for the caller to read (from another thread) while they train.
    """
    queue = list(reversed(list(enumerate(payloads))))
    running = {} if running is None else running
    failures = []
    stopped = False
    while queue or running:
        while queue and not stopped and len(running) < window and (len(queue) == len(payloads) or not past_deadline()):
            index, payload = queue.pop()
            running[submit(index, payload)] = index
        if not running:
            break
        for future in wait_first(list(running)):
            index = running.pop(future)
            try:
                rows = future.result()
            except lost as err:
                failures.append(Failure(index, describe(payloads[index]), f"{type(err).__name__}: {err}"))
                continue
            except paused:
                stopped = True
                continue
            commit(rows)
    if failures:
        raise WorkersFailed(failures, attempts)
    return stopped


def run_on_dask(payloads: Sequence, func: Callable, args: tuple, client, scheduler: str | None,
                commit: Callable[[list], None], describe: Callable[[object], str],
                past_deadline: Callable[[], bool],
                while_running: Callable[[Callable[[], list]], contextlib.AbstractContextManager] =
                lambda status: nullcontext()) -> bool:
    """Run ``func(payload, *args, report_to=path)`` for each payload as a Dask task on ``client`` (or a
    client of ``scheduler``, closed at the end), as many at once as the cluster has threads, and
    ``commit`` each result as it arrives (:func:`run_windowed`; no group starts once
    ``past_deadline()``). True when a group raised :class:`~rnnviz.train.TrainingPaused` (the hard
    limit paused it at its checkpoint; no new group starts then). ``report_to`` is the path in the
    scheduler's metadata, ``[DASK_METADATA, this sweep, the payload's index]``, where ``func`` reports
    its steps (:func:`rnnviz.study._progress.dask_reporter`); ``while_running(status)`` is entered
    while the groups run (the progress heartbeat): ``status()`` lists those in flight
    (:class:`~rnnviz.study._progress.Flight`: ``describe(payload)``, its steps, its index as its job and payload). The sweep's
    reports are cleared at the end."""
    distributed = require("dask.distributed", "dist", "running a sweep on a Dask cluster (client or scheduler)")
    wait = distributed.wait

    own = client is None
    if own:
        client = connect_scheduler(scheduler)
    try:
        slots = max(1, sum(client.nthreads().values()))
        import dask

        # Dask retries a task whose worker died until it has died on `allowed-failures` + 1 workers.
        attempts = int(dask.config.get("distributed.scheduler.allowed-failures", 3)) + 1
        sweep = uuid.uuid4().hex
        running: dict = {}

        def path(index: int) -> list[str]:  # where the group of payloads[index] reports its steps
            return [DASK_METADATA, sweep, str(index)]

        def status() -> list[Flight]:
            return [Flight(describe(payloads[index]), *dask_steps(client, path(index)), index, index)
                    for index in list(running.values())]

        try:
            with while_running(status):
                return run_windowed(payloads,
                                    lambda i, p: client.submit(func, p, *args, report_to=path(i), pure=False),
                                    lambda fs: wait(list(fs), return_when="FIRST_COMPLETED").done,
                                    slots, commit, past_deadline, describe, lost=(distributed.KilledWorker,),
                                    attempts=attempts, paused=(TrainingPaused,), running=running)
        finally:
            with contextlib.suppress(OSError, TimeoutError):  # a lost scheduler keeps nothing to clear
                client.set_metadata([DASK_METADATA, sweep], {})  # this sweep's reports
    finally:
        if own:
            client.close()
