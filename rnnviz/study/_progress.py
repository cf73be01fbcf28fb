"""A sweep's progress while its groups train in worker processes: each worker reports its group's
training step into shared memory, and the sweep's bar shows the groups in flight.

A sweep's bar counts models as their groups finish, and a large group (a ``paper-cosine`` ensemble at
n = 64: 36,000 steps, most of an hour) finishes nothing for a long time. So each worker process has a
slot of two integers in a shared array (:func:`attach`, done by the worker pool when the process
starts): :func:`report` (which :func:`rnnviz.study._checkpoints.fit_group` hands to
:func:`~rnnviz.train.fit` as ``on_progress``) writes the steps done and the budget there after every
evaluation, and the sweep's :func:`heartbeat` redraws the bar with :func:`in_flight_text` of the
groups in flight and the time each has left at its pace (:class:`Pace`), e.g. ``training: sru n=64
32 bits (9 models) 28000/36000 steps (78%, ~9 min left)``, after the time the whole sweep has left
(:class:`SweepPace`: ``sweep ~3 h 10 min left``). Outside a worker
:func:`report` does nothing (a group trained in the sweep's own process draws fit's own bar).

On a Dask cluster a group reports instead into the scheduler's metadata (:func:`dask_reporter`, at
most every :data:`DASK_REPORT_SECONDS`), where the sweep reads it (:func:`dask_steps`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from contextlib import contextmanager
from typing import NamedTuple

#: Seconds between redraws of a sweep's progress bar while its groups train elsewhere (see :func:`heartbeat`).
HEARTBEAT_SECONDS = 30.0
#: The Dask scheduler's metadata key under which groups on a Dask cluster report their steps
#: (``[DASK_METADATA, sweep, group]``: see :func:`dask_reporter`).
DASK_METADATA = "rnnviz-progress"
#: Least seconds between two reports of a group on a Dask cluster (each is a message to the scheduler).
DASK_REPORT_SECONDS = 5.0

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


class Flight(NamedTuple):
    """A group in flight, as a sweep's ``status()`` lists it."""

    #: what the group is, e.g. ``"gru n=64 64 bits (9 models)"`` (its description)
    what: str
    #: the steps it has trained, as last reported
    step: int
    #: its budget of steps; 0 while nothing is reported yet
    steps: int
    #: what tells it apart from every other group of the sweep, e.g. the worker pool's
    #: ``(payload index, attempt)``: a retried group is another group
    job: Hashable
    #: the index of its payload in the list the sweep runs (None when not known): what
    #: :class:`SweepPace` weighs it by
    payload: int | None = None


def dask_reporter(path: Sequence[str], every: float = DASK_REPORT_SECONDS) -> Callable[[int, int], None]:
    """``on_progress`` for a group trained as a Dask task: ``report(step, steps)`` writes ``[step,
    steps]`` into the scheduler's metadata at ``path`` (``Client.set_metadata``, through the worker's
    client), at most every ``every`` seconds and always at the end of the budget; the sweep reads it
    with :func:`dask_steps`. A report the scheduler does not take (a closed connection) is skipped:
    progress never stops a group's training."""
    from distributed import get_client

    last = -math.inf

    def report_to_scheduler(step: int, steps: int) -> None:
        nonlocal last
        now = time.monotonic()
        if step < steps and now - last < every:
            return
        last = now
        try:
            get_client().set_metadata(list(path), [int(step), int(steps)])
        except (OSError, TimeoutError):  # progress is not worth a group: the next report may get through
            pass

    return report_to_scheduler


def dask_steps(client, path: Sequence[str]) -> tuple[int, int]:
    """``(step, steps)`` that the group reporting at ``path`` (:func:`dask_reporter`) last sent to
    ``client``'s scheduler; ``(0, 0)`` before its first report, or while the scheduler cannot be asked
    (the progress bar then says "starting"; the sweep itself notices a lost scheduler)."""
    try:
        step, steps = client.get_metadata(list(path), default=(0, 0))
    except (OSError, TimeoutError):
        return 0, 0
    return int(step), int(steps)


def in_flight_text(groups: Sequence[Flight], left: Sequence[float | None] | None = None) -> str:
    """``"training: gru n=64 64 bits (9 models) 1200/36000 steps (3%, ~41 min left) | …"`` for each
    group in flight (``steps`` 0: nothing reported yet, "starting"), with ``left[i]`` the estimated
    seconds group i has left (None: no estimate yet; see :class:`Pace`); empty when no group is in
    flight."""
    parts = []
    for i, group in enumerate(groups):
        what, step, steps = group.what, group.step, group.steps
        if steps <= 0:
            parts.append(f"{what} starting")
            continue
        eta = None if left is None or left[i] is None else f", ~{_duration(left[i])} left"
        parts.append(f"{what} {step}/{steps} steps ({100 * step // steps}%{eta or ''})")
    return f"training: {' | '.join(parts)}" if parts else ""


def _duration(seconds: float) -> str:
    """``"40 s"``, ``"12 min"``, ``"1 h 05 min"``: a rough time left."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Pace:
    """Each group's pace, from the steps it reports over time: the seconds it has left at that pace
    to the end of its budget (an upper bound: a group whose members all stop early ends sooner).

    A group is known by its :attr:`Flight.job`; its pace is measured from the first report seen (so
    that the steps a resumed group starts from do not count as speed)."""

    def __init__(self):
        self._seen: dict[Hashable, tuple[float, int]] = {}  # job -> time and step first seen

    def left(self, groups: Sequence[Flight], now: float) -> list[float | None]:
        """Seconds left for each group in flight at time ``now`` (None until it has advanced since it
        was first seen); groups no longer in flight are forgotten."""
        seen, self._seen = self._seen, {}
        out = []
        for group in groups:
            step, steps, job = group.step, group.steps, group.job
            if steps <= 0:
                out.append(None)
                continue
            t0, step0 = self._seen[job] = seen.get(job, (now, step))
            out.append((steps - step) * (now - t0) / (step - step0) if step > step0 else None)
        return out


class SweepPace:
    """The time a whole sweep has left: its groups' estimated costs (``costs[i]`` for payload i, e.g.
    :func:`rnnviz.study._run.group_cost`, steps × length × members × (n + 6)) against the rate at which
    this run works through them.

    The clock starts at the first call of :meth:`left` (time t_0, the first heartbeat), so that the
    rate is measured over work it has seen done: a group's progress is counted from the fraction
    f0_i it had when first seen (at t_0, or later when it started later; so that a group resumed from
    a checkpoint, or trained before the clock started, counts only what it trains since). At time t,
    with f_i a group's steps over its budget as last reported, the cost done D = Σ_finished c_i (1 −
    f0_i) + Σ_others seen c_i (f_i − f0_i) (a group finished before t_0 counts 0; one finished
    without ever being seen, all its cost) and the cost left R = Σ_not finished c_i (1 − f_i): R ·
    (t − t_0) / D seconds. A group that stops early on its plateau counts as all its cost done, so the
    rate takes early stops into account; the estimate assumes the groups left go at the pace of those
    done (the costs are budgets, and with parallel workers the last groups run with fewer workers
    busy), so read it as a rough figure, better than a count of models, whose groups differ in cost by
    orders of magnitude."""

    def __init__(self, costs: Sequence[float]):
        self.costs = [float(c) for c in costs]
        self._clock: float | None = None  # t_0: the first call of left()
        self._first: dict[int, float] = {}  # payload -> fraction trained when first seen in flight
        self._last: dict[int, float] = {}  # payload -> the most of it seen trained
        self._done: dict[int, float] = {}  # finished payload -> the cost it did since the clock started

    def finished(self, index: int) -> None:
        """Payload ``index`` is finished (committed)."""
        since = 0.0 if self._clock is None else 1.0 - self._first.get(index, 0.0)
        self._done[index] = self.costs[index] * since

    def left(self, groups: Sequence[Flight], now: float, offset: int = 0) -> float | None:
        """Seconds the sweep has left at time ``now``, with ``groups`` in flight (their ``payload`` + ``offset``
        indexes ``costs``: a sweep in waves runs each wave's payloads from an offset); None at the first
        call (it starts the clock) and until some work is seen done. A group that leaves the flight
        unfinished (paused, or its worker lost and the group retried) keeps what it was seen to train."""
        for group in groups:
            if group.payload is None or group.steps <= 0:
                continue
            index = group.payload + offset
            f = min(1.0, group.step / group.steps)
            self._first.setdefault(index, f)
            self._last[index] = max(f, self._last.get(index, f))
        if self._clock is None:
            self._clock = now
            return None
        open_ = [i for i in self._last if i not in self._done]
        done = sum(self._done.values()) + sum(self.costs[i] * (self._last[i] - self._first[i]) for i in open_)
        left = sum(c * (1.0 - self._last.get(i, 0.0)) for i, c in enumerate(self.costs) if i not in self._done)
        elapsed = now - self._clock
        if done <= 0 or elapsed <= 0:
            return None
        return left * elapsed / done


@contextmanager
def heartbeat(bar, every: float = HEARTBEAT_SECONDS, enabled: bool = True,
              status: Callable[[], Sequence[Flight]] | None = None,
              sweep_left: Callable[[Sequence[Flight], float], float | None] | None = None):
    """Redraw ``bar`` (a tqdm bar) every ``every`` seconds inside the block, from a daemon thread.

    The bar counts models as their groups finish; with workers or a Dask cluster a large group
    trains for many minutes without an update (their own bars are off), and a frozen bar looks like
    a hung sweep. A redraw refreshes the elapsed time, and with ``status`` (a function listing the
    groups in flight, :class:`Flight`) shows how far each has trained
    (:func:`in_flight_text`, the bar's postfix). With ``sweep_left`` as well (``sweep_left(groups,
    now)``: the seconds the whole sweep has left, e.g. :meth:`SweepPace.left`), the postfix starts with
    ``"sweep ~2 h 10 min left"`` and the bar drops tqdm's own estimate and rate, which count models
    (a sweep's groups differ in cost by orders of magnitude, and the longest go first). The thread
    stops when the block ends, and the postfix is cleared then (no group is in flight any more)."""
    if not enabled:
        yield
        return
    stop = threading.Event()

    pace = Pace()

    def beat():
        while not stop.wait(every):
            if status is not None:
                groups, now = list(status()), time.monotonic()
                text = in_flight_text(groups, pace.left(groups, now))
                whole = None if sweep_left is None else sweep_left(groups, now)
                if whole is not None:
                    text = f"sweep ~{_duration(whole)} left" + (f" | {text}" if text else "")
                bar.set_postfix_str(text, refresh=False)
            bar.refresh()

    if sweep_left is not None and status is not None and hasattr(bar, "bar_format"):
        bar.bar_format = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"  # no model-count estimate

    thread = threading.Thread(target=beat, name="rnnviz-progress-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if status is not None:
            bar.set_postfix_str("", refresh=False)
