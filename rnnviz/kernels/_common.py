"""Small helpers shared by the Triton kernels: layout checks, padding sizes, launch options."""

from __future__ import annotations

import contextlib

import torch
import triton

from ._first_order import first_order_for

# Fused multiply-add in the kernels, passed explicitly at every launch and compile: it is Triton's
# default, and triton 3.9 warns (UserWarning) whenever the option is left unset.
FP_FUSION = True


def as_rows(t: torch.Tensor) -> torch.Tensor:
    """Return ``t`` (E, T, B, N) as a tensor whose rows (all but the last axis) have one common stride.

    Column blocks of a contiguous GEMM output ``(E, T, B, k·N)`` qualify as they are (row stride k·N,
    unit stride 1); anything else is copied with ``.contiguous()``.
    """
    E, T, B, N = t.shape
    rs = t.stride(2)
    ok = t.stride(3) == 1 and t.stride(1) == B * rs and t.stride(0) == T * B * rs
    return t if ok and rs >= N else t.contiguous()


def check_rows(name: str, t: torch.Tensor | None, shape) -> None:
    """Raise a ValueError naming ``name`` unless ``t`` is a tensor of ``shape`` (E, T, B, N)."""
    if t is None or not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor of shape {tuple(shape)}, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")


def padded_size(n: int, minimum: int = 16) -> int:
    """Smallest power of two ≥ max(n, minimum): the on-chip tile width for a hidden size n."""
    return max(minimum, triton.next_power_of_2(int(n)))


def on_device(t: torch.Tensor):
    """Context for a kernel launch on ``t``'s device: Triton launches on the *current* CUDA device
    and stream, which need not be the tensor's (e.g. a model on cuda:1). No-op for CPU tensors."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()


# the Triton kernels' backward guard (rnnviz.kernels._first_order)
first_order = first_order_for("backend='triton'", "the kernels' backward builds no autograd graph (it is once_differentiable)")
