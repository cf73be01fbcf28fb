"""Reused buffers for the large arrays the CPU kernels keep between forward and backward.

Fresh memory costs a page fault per 4 KiB on first write (the OS hands out zeroed pages; large
blocks go back to it when freed): for an ensemble step that is some 10⁴ faults, as long as the
kernels themselves. The large arrays of a recurrence (states, saved gates, outputs, gradients of
the projections) are therefore taken from a small pool: :func:`empty` hands out a *view* of a pooled
tensor, and a pooled tensor is free again once no view of it, nor anything derived from one, is alive
(its use count, which every view raises, is back to 1): once autograd has released the graph that
saved it, and the caller has dropped the outputs. Nothing handed out is ever reused while reachable.
The pool keeps at most :data:`MAX_BYTES` of free buffers (oldest dropped first). Without
``Tensor._use_count`` (older torch) it is a plain ``torch.empty``.
"""

from __future__ import annotations

import threading

import torch

MAX_BYTES = 128 * 2**20  # an ensemble step of the capacity study needs ~80 MB

_lock = threading.Lock()
_pool: list[torch.Tensor] = []
_TRACKS_USE = hasattr(torch.Tensor, "_use_count")


def _free(t: torch.Tensor) -> bool:
    return t._use_count() == 1


def empty(shape, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor of ``shape`` and ``dtype``, from the pool when one is free."""
    shape = tuple(shape)
    if not _TRACKS_USE or torch.is_inference_mode_enabled():  # inference tensors cannot be reused outside it
        return torch.empty(shape, dtype=dtype)
    with _lock:
        for i, t in enumerate(_pool):
            if t.shape == shape and t.dtype == dtype and _free(t):
                _pool.append(_pool.pop(i))  # most recently used last
                return t.view(shape)
        t = torch.empty(shape, dtype=dtype)
        _pool.append(t)
        _trim()
        return t.view(shape)


def _trim() -> None:
    """Drop the oldest free buffers while the free ones hold more than MAX_BYTES."""
    total = sum(t.numel() * t.element_size() for t in _pool if _free(t))
    i = 0
    while total > MAX_BYTES and i < len(_pool):
        t = _pool[i]
        if _free(t):
            total -= t.numel() * t.element_size()
            del _pool[i]  # by position: tensors compare elementwise
        else:
            i += 1


def clear() -> None:
    """Forget every pooled buffer (those in use stay valid; they are freed with their graphs)."""
    with _lock:
        _pool.clear()
