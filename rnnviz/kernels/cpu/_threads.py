"""Splitting a kernel's rows between threads (the numba kernels release the GIL).

The number of threads is torch's (``torch.get_num_threads()``), so ``torch.set_num_threads(1)`` in a
study's workers keeps every kernel on one thread, as it keeps torch's BLAS.
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


def _executor(workers: int) -> ThreadPoolExecutor:
    """A pool of at least ``workers`` threads, made anew after a fork (a child inherits no threads)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] < workers:
            _pool = (os.getpid(), workers, ThreadPoolExecutor(workers, thread_name_prefix="rnnviz-cpu"))
        return _pool[2]


def run_rows(kernel, rows: int, work_per_row: int, *args, min_work: int = MIN_WORK_PER_THREAD) -> None:
    """``kernel(*args, r0, r1)`` over ``[0, rows)``, in up to ``torch.get_num_threads()`` chunks run at once,
    each with at least ``min_work`` of ``rows · work_per_row``."""
    parts = min(torch.get_num_threads(), rows, max(1, rows * work_per_row // min_work))
    if parts <= 1:
        kernel(*args, 0, rows)
        return
    bounds = [rows * i // parts for i in range(parts + 1)]
    pool = _executor(parts - 1)
    futures = [pool.submit(kernel, *args, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    kernel(*args, bounds[0], bounds[1])
    for f in futures:
        f.result()
