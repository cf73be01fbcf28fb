"""Elementwise functions the cells apply outside their recurrences, as numba kernels.

:func:`tanh`: torch's CPU ``tanh`` is not vectorised in every build (measured on one AVX-512 CPU
with torch 2.13: 2.5 ns per float32 element, six times its ``sigmoid``); PRU's output map
``y = tanh(W_y s + b_y)`` then costs as much as a tenth of a capacity ensemble's training step. This
one uses the kernels' own tanh (:mod:`._math`: float32 ``2σ(2x) − 1``, absolute error ~1e-7;
float64 relative error ~2e-16), a loop that compiles to SIMD code. The backward is torch's
``tanh_backward``, ``dx = dy ⊙ (1 − y²)`` (vectorised, and the same formula as ``torch.tanh``'s).
"""

from __future__ import annotations

import torch
from numba import njit

from ._autograd import check_dtypes, first_order
from ._math import JIT
from ._math import tanh as _tanh


@njit(**JIT)
def tanh_kernel(src, dst):
    """dst[i] = tanh(src[i]) over two flat arrays of one dtype."""
    for i in range(src.shape[0]):
        dst[i] = _tanh(src[i])


def _dense_order(x: torch.Tensor) -> list[int] | None:
    """The permutation that makes ``x`` contiguous (a transposed view of a contiguous tensor), or None."""
    order = sorted(range(x.dim()), key=lambda i: (-x.stride(i), -x.shape[i]))
    return order if x.permute(order).is_contiguous() else None


class Tanh(torch.autograd.Function):
    """Autograd Function of :func:`tanh`."""

    @staticmethod
    def forward(ctx, x):
        x = x.detach()
        order = _dense_order(x)
        src = x.permute(order) if order is not None else x.contiguous()
        out = torch.empty_like(src, memory_format=torch.contiguous_format)
        tanh_kernel(src.view(-1).numpy(), out.view(-1).numpy())
        y = out if order is None else out.permute([order.index(i) for i in range(x.dim())])
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @first_order
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(dy, y)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """``tanh(x)`` for a float32 or float64 CPU tensor of any shape (differentiable, first order); the
    result has ``x``'s layout when ``x`` is a transposed view of a contiguous tensor, else is contiguous."""
    check_dtypes(x=x)
    return Tanh.apply(x)
