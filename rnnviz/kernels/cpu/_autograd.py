"""What the CPU kernels' autograd Functions share: first-order-only backwards and numpy views."""

from __future__ import annotations

import numpy as np
import torch

from .._first_order import first_order_for

SUPPORTED_DTYPES = (torch.float32, torch.float64)


# the numba kernels' backward guard (rnnviz.kernels._first_order)
first_order = first_order_for("backend='cpu'", "its numba kernels build no autograd graph")


_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def as_numpy(t: torch.Tensor | None, like: torch.Tensor, ndim: int) -> np.ndarray:
    """A numpy view of ``t`` (detached, contiguous), or an empty array of ``ndim`` dimensions and
    ``like``'s dtype standing for "absent" (numba compiles one signature for both cases)."""
    if t is None:
        return np.empty((0,) * ndim, dtype=_NUMPY_DTYPES[like.dtype])
    return t.detach().contiguous().numpy()


def model_major(seq: torch.Tensor) -> torch.Tensor:
    """``(T, E, B, N) → (E, T, B, N)``, detached and contiguous: no copy when ``seq`` is a time-major view
    of a model-major tensor (an ensemble's input GEMM, or a single model's (T, 1, B, N))."""
    return seq.detach().transpose(0, 1).contiguous()


def features_first(seq: torch.Tensor) -> torch.Tensor:
    """``(T, E, B, N) → (E, N, T, B)``, detached and contiguous: no copy when ``seq`` is a view of a
    features-first tensor (the output of :func:`rnnviz.kernels.cpu._dense.dense_recurrence`, or an
    input GEMM ``W xᵀ`` over all steps)."""
    return seq.detach().permute(1, 3, 0, 2).contiguous()


def from_features_first(arr: torch.Tensor) -> torch.Tensor:
    """``(E, N, T, B) → (T, E, B, N)``: the view the callers of the kernels see (no copy)."""
    return arr.permute(2, 0, 3, 1)


def check_dtypes(**tensors) -> torch.dtype:
    """The common dtype of the given tensors (None skipped); float32 or float64, else a TypeError."""
    dtypes = {name: t.dtype for name, t in tensors.items() if t is not None}
    dtype = next(iter(dtypes.values()))
    if dtype not in SUPPORTED_DTYPES or len(set(dtypes.values())) != 1:
        raise TypeError(f"the CPU kernels need float32 or float64 tensors of one dtype, got {dtypes}")
    for name, t in tensors.items():
        if t is not None and t.device.type != "cpu":
            raise ValueError(f"{name} is on {t.device}; the CPU kernels need CPU tensors")
    return dtype
