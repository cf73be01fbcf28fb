"""Splitting a kernel's rows between threads (the numba kernels release the GIL).

The number of threads is torch's (``torch.get_num_threads()``), so ``torch.set_num_threads(1)`` in a
study's workers keeps every kernel on one thread, as it keeps torch's BLAS, plus any that other
processes lend this one (:func:`lend_threads`): a study's worker pool lends the threads of its idle
workers to the groups still training once nothing is left to start. Each row is computed by the same
code whatever the split, so the number of threads never changes a result.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

# below this many (row, step, unit) updates a second thread costs more than it saves
MIN_WORK_PER_THREAD = 1 << 16

_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, workers, pool)
_lent: tuple | None = None  # (a shared array of ints, this process's index in it)


def lend_threads(shared=None, index: int = 0) -> None:
    """From now on the kernels of this process also use ``shared[index]`` threads beyond torch's, read
    at every kernel call, so another process may change it at any time (``shared``: a shared array of
    ints, e.g. ``multiprocessing.RawArray("i", n)``); ``lend_threads()`` ends that."""
    global _lent
    _lent = None if shared is None else (shared, int(index))


def lent_threads() -> int:
    """The threads other processes lend this one now (:func:`lend_threads`; 0 when none)."""
    return 0 if _lent is None else max(0, int(_lent[0][_lent[1]]))


def kernel_threads() -> int:
    """The threads a kernel's rows are split between: torch's, plus any lent (:func:`lend_threads`)."""
    return torch.get_num_threads() + lent_threads()


def _executor(workers: int) -> ThreadPoolExecutor:
    """A pool of at least ``workers`` threads, made anew after a fork (a child inherits no threads)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] < workers:
            _pool = (os.getpid(), workers, ThreadPoolExecutor(workers, thread_name_prefix="rnnviz-cpu"))
        return _pool[2]


def run_rows(kernel, rows: int, work_per_row: int, *args, min_work: int = MIN_WORK_PER_THREAD) -> None:
    """``kernel(*args, r0, r1)`` over ``[0, rows)``, in up to :func:`kernel_threads` chunks run at once,
    each with at least ``min_work`` of ``rows · work_per_row``."""
    parts = min(kernel_threads(), rows, max(1, rows * work_per_row // min_work))
    if parts <= 1:
        kernel(*args, 0, rows)
        return
    bounds = [rows * i // parts for i in range(parts + 1)]
    pool = _executor(parts - 1)
    futures = [pool.submit(kernel, *args, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    kernel(*args, bounds[0], bounds[1])
    for f in futures:
        f.result()
