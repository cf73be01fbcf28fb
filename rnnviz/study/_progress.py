"""A sweep's progress while its groups train in worker processes: each worker reports its group's
training step into shared memory, and the sweep's bar shows the groups in flight.

A sweep's bar counts models as their groups finish, and a large group (a ``paper-cosine`` ensemble at
n = 64: 36,000 steps, most of an hour) finishes nothing for a long time. So each worker process has a
slot of two integers in a shared array (:func:`attach`, done by the worker pool when the process
starts): :func:`report` (which :func:`rnnviz.study._checkpoints.fit_group` hands to
:func:`~rnnviz.train.fit` as ``on_progress``) writes the steps done and the budget there after every
evaluation, and the sweep's :func:`heartbeat` redraws the bar with :func:`in_flight_text` of the
groups in flight, e.g. ``training: sru n=64 (9 models) 28000/36000 steps (78%)``. Outside a worker
:func:`report` does nothing (a group trained in the sweep's own process draws fit's own bar).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager

#: Seconds between redraws of a sweep's progress bar while its groups train elsewhere (see :func:`heartbeat`).
HEARTBEAT_SECONDS = 30.0

_slot: tuple | None = None  # (a shared array of 2 ints per worker, this worker's index)


def attach(shared, index: int) -> None:
    """From now on :func:`report` writes into ``shared[2 index]`` (steps done) and ``shared[2 index + 1]``
    (the budget); ``shared``: e.g. ``multiprocessing.RawArray("q", 2 * workers)``. ``attach(None, 0)``
    ends that."""
    global _slot
    _slot = None if shared is None else (shared, int(index))


def report(step: int, steps: int) -> None:
    """Record that this process's group has trained ``step`` of its ``steps`` (nothing when no slot is
    attached: the sweep's own process)."""
    if _slot is not None:
        shared, i = _slot
        shared[2 * i + 1] = int(steps)
        shared[2 * i] = int(step)


def in_flight_text(groups: Sequence[tuple[str, int, int]]) -> str:
    """``"training: gru n=64 (9 models) 1200/36000 steps (3%) | …"`` for ``(description, step, steps)``
    of each group in flight (``steps`` 0: nothing reported yet, "starting"); empty when none is."""
    parts = [f"{what} {step}/{steps} steps ({100 * step // steps}%)" if steps > 0 else f"{what} starting"
             for what, step, steps in groups]
    return f"training: {' | '.join(parts)}" if parts else ""


@contextmanager
def heartbeat(bar, every: float = HEARTBEAT_SECONDS, enabled: bool = True,
              status: Callable[[], Sequence[tuple[str, int, int]]] | None = None):
    """Redraw ``bar`` (a tqdm bar) every ``every`` seconds inside the block, from a daemon thread.

    The bar counts models as their groups finish; with workers or a Dask cluster a large group
    trains for many minutes without an update (their own bars are off), and a frozen bar looks like
    a hung sweep. A redraw refreshes the elapsed time, and with ``status`` (a function listing the
    groups in flight as ``(description, step, steps)``) shows how far each has trained
    (:func:`in_flight_text`, the bar's postfix). The thread stops when the block ends, and the
    postfix is cleared then (no group is in flight any more)."""
    if not enabled:
        yield
        return
    stop = threading.Event()

    def beat():
        while not stop.wait(every):
            if status is not None:
                bar.set_postfix_str(in_flight_text(status()), refresh=False)
            bar.refresh()

    thread = threading.Thread(target=beat, name="rnnviz-progress-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if status is not None:
            bar.set_postfix_str("", refresh=False)
