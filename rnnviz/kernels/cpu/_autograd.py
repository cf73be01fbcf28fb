"""What the CPU kernels' autograd Functions share: first-order-only backwards and numpy views."""

from __future__ import annotations

import numpy as np
import torch

from .._first_order import first_order_for
from . import _workspace as workspace

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


def sequence(seq: torch.Tensor | None, like: torch.Tensor) -> tuple:
    """A sequence ``(T, E, B, N)`` as the dense kernels take it: ``(flat, strides)``, a 1-D numpy array
    and the element strides of the (model, feature, step, batch) axes. No copy when ``seq`` is a
    permuted view of a dense tensor (rows ``(E, T, B, N)`` or features first ``(E, N, T, B)``, say);
    otherwise (an expanded gradient, say) a contiguous copy. None: an empty sequence of ``like``'s dtype."""
    if seq is None:
        return np.empty(0, dtype=_NUMPY_DTYPES[like.dtype]), (0, 0, 0, 0)
    seq = seq.detach()
    order = sorted(range(4), key=lambda i: (-seq.stride(i), -seq.shape[i]))
    if not seq.permute(order).is_contiguous():
        seq = seq.contiguous()
        order = [0, 1, 2, 3]
    flat = seq.permute(order).reshape(-1).numpy()
    return flat, (seq.stride(1), seq.stride(3), seq.stride(0), seq.stride(2))


def features_first_layout(seq: torch.Tensor) -> bool:
    """Whether a sequence ``(T, E, B, N)`` is laid out features first (batch contiguous), not in rows."""
    return seq.stride(2) == 1 and not (seq.stride(3) == 1 and seq.shape[3] > 1)


def empty_sequence(T: int, E: int, B: int, N: int, dtype: torch.dtype, features_first: bool) -> torch.Tensor:
    """A pooled ``(T, E, B, N)`` sequence, a view of features-first ``(E, N, T, B)`` or of rows ``(E, T, B, N)``."""
    if features_first:
        return workspace.empty((E, N, T, B), dtype).permute(2, 0, 3, 1)
    return workspace.empty((E, T, B, N), dtype).transpose(0, 1)


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
