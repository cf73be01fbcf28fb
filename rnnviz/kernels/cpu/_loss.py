"""The masked softmax cross-entropy of the sequence tasks, and its gradient, in one numba pass.

For each member e of ``E`` (one model, or an ensemble's members) and each scored row r (a step and a
batch element; ``N`` rows), with logits ``z[e, :, r]`` over ``C`` classes, target ``t[e, r]`` and
weight ``w[e, r]`` (the task's mask, 0 or 1)::

    ℓ_e  = Σ_r w_r · (logsumexp_c z_cr − z_{t_r, r}) / max(Σ_r w_r, 1)
    ∂ℓ_e/∂z_cr = w_r · (softmax_c(z_r) − [c = t_r]) / max(Σ_r w_r, 1)

The forward pass writes the gradient beside the loss (it needs the same softmax), so the backward
is one multiplication by the incoming gradient. On a CPU this replaces ``log_softmax``,
``nll_loss``, the mask's product and sum, and their backwards: about ten passes over memory, two of
them (``log_softmax`` over a short class axis and its backward) slow in torch's CPU code when the
classes are few (~0.2 ms each for 24 models × 672 rows × 5 classes, against ~0.05 ms here).

Layout: logits "classes first", ``(E, C, N)`` contiguous, so that the inner loops run over rows and
vectorise for any number of classes (the layout in which :meth:`rnnviz.train.SequenceModel.read_out`
computes an ensemble's logits: a GEMM whose output is N wide, not C). exp is :mod:`._math`'s; the
log of the softmax's normaliser is taken once per block of rows, of their product (each normaliser
lies in [1, C], so a block of ``rows_per_log`` of them cannot overflow float64), in float64, and the
loss is summed in float64 whatever the logits' dtype.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

from .._first_order import first_order_for
from ._autograd import check_dtypes
from ._math import JIT
from ._math import exp as _exp


@njit(**JIT)
def cross_entropy_kernel(z, t, w, rows_per_log, loss, grad, e0, e1):
    """loss[e] and grad[e] (C, N) of members [e0, e1) from logits z (E, C, N), targets t (E, N) int64 and
    weights w (E, N) (see the module docstring)."""
    _, C, N = z.shape
    m = np.empty(N, z.dtype)
    s = np.empty(N, z.dtype)
    for e in range(e0, e1):
        count = 0.0
        for r in range(N):
            count += w[e, r]
        scale = 1.0 / max(count, 1.0)
        for r in range(N):
            m[r] = z[e, 0, r]
        for c in range(1, C):
            for r in range(N):
                m[r] = max(m[r], z[e, c, r])
        for r in range(N):
            s[r] = 0
        for c in range(C):
            for r in range(N):
                p = _exp(z[e, c, r] - m[r])
                grad[e, c, r] = p
                s[r] += p
        total = 0.0  # Σ_r w_r (m_r − z_{t_r, r}) + Σ_r w_r log s_r
        for r0 in range(0, N, rows_per_log):
            block = 1.0
            for r in range(r0, min(r0 + rows_per_log, N)):
                if w[e, r] != 0:
                    total += w[e, r] * (m[r] - z[e, t[e, r], r])
                    block *= s[r] if w[e, r] == 1 else s[r] ** w[e, r]
            total += math.log(block)
        loss[e] = total * scale
        for c in range(C):
            for r in range(N):
                grad[e, c, r] = grad[e, c, r] / s[r] * (w[e, r] * scale)
        for r in range(N):
            grad[e, t[e, r], r] -= w[e, r] * scale


def _rows_per_log(n_classes: int) -> int:
    """How many normalisers (each ≤ ``n_classes``) multiply to at most 2^1000, capped at 64."""
    return int(max(1, min(64, 1000 // max(1.0, math.log2(n_classes)))))


first_order = first_order_for(
    "the fused CPU cross-entropy (rnnviz.tasks.masked_cross_entropy)", "its numba kernel builds no autograd graph",
    "Set the environment variable RNNVIZ_BACKEND=reference (plain torch ops) for double backward.")


class CrossEntropy(torch.autograd.Function):
    """Autograd Function of :func:`masked_cross_entropy` (first order)."""

    @staticmethod
    def forward(ctx, z, t, w):
        E, C, N = z.shape
        z = z.detach().contiguous()
        loss = torch.empty(E, dtype=torch.float64)
        grad = torch.empty_like(z)
        cross_entropy_kernel(z.numpy(), t.numpy(), w.numpy(), _rows_per_log(C), loss.numpy(), grad.numpy(), 0, E)
        ctx.save_for_backward(grad)
        return loss.to(z.dtype)

    @staticmethod
    @first_order
    def backward(ctx, dloss):
        (grad,) = ctx.saved_tensors
        return grad * dloss.view(-1, 1, 1), None, None


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per member, the mean cross-entropy (nats) of the weighted rows: logits ``(E, C, N)`` (float32 or
    float64, best contiguous), targets ``(E, N)`` integer classes in [0, C), weights ``(E, N)`` of the
    logits' dtype (0 or 1: the mask). Returns ``(E,)``, differentiable in the logits (first order)."""
    check_dtypes(logits=logits, weights=weights)
    E, C, N = logits.shape
    if tuple(targets.shape) != (E, N) or tuple(weights.shape) != (E, N):
        raise ValueError(f"targets and weights must have shape {(E, N)} for logits {(E, C, N)}, got "
                         f"{tuple(targets.shape)} and {tuple(weights.shape)}")
    targets = targets.to(torch.int64).contiguous()
    if targets.numel():
        low, high = torch.aminmax(targets)
        if int(low) < 0 or int(high) >= C:
            raise IndexError(f"targets must be classes in [0, {C}), got values from {int(low)} to {int(high)}")
    return CrossEntropy.apply(logits, targets, weights.contiguous())
