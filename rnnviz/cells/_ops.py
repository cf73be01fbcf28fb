"""Tensor operations that work the same for a single cell and for an ensemble of cells.

A single cell keeps its weights as ``(P, m)`` matrices and ``(P,)`` vectors. An ensemble of E
models keeps ``(E, P, m)`` and ``(E, P)``; every activation then carries the model axis just before
the batch axis: ``(..., E, B, features)``. These helpers hide that difference so each cell's
equations are written once.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` for one model or for an ensemble.

    Single: x ``(..., m)``, weight ``(P, m)``, bias ``(P,)`` → ``(..., P)``.
    Ensemble: x ``(..., E, B, m)``, weight ``(E, P, m)``, bias ``(E, P)`` → ``(..., E, B, P)``. When x
    is a view of a features-first tensor ``(E, m, ..., B)`` (the CPU kernels' outputs), the product is
    :func:`outputs_first` and the result a view of the same layout.
    """
    if weight.dim() == 2:
        return F.linear(x, weight, bias)
    if x.dim() == 3:  # (E, B, m): one batched matmul
        y = torch.bmm(x, weight.transpose(1, 2)) if bias is None else torch.baddbmm(
            bias.unsqueeze(1), x, weight.transpose(1, 2))
        return y
    lead = x.shape[:-3]
    E, B, m = x.shape[-3:]
    L = math.prod(lead)  # explicit sizes, not -1: a batch of B = 0 has no elements to infer them from
    # (..., E, B, m) -> (E, L·B, m), so the whole sequence is one bmm.
    x_e = x.reshape(L, E, B, m).transpose(0, 1).reshape(E, L * B, m)
    if L * B > 1 and x_e.stride(1) == 1:  # a view of features-first (E, m, L·B): keep that layout
        y = outputs_first(weight, x_e, bias).transpose(1, 2)  # (E, L·B, P), a view
    else:
        y = linear(x_e, weight, bias)  # (E, L·B, P)
    P = y.shape[-1]
    return y.reshape(E, L, B, P).transpose(0, 1).reshape(*lead, E, B, P)


def member_map(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x Wᵀ + b`` per member on the model-major layout: x ``(T, B, k)`` with weight ``(o, k)``, or an
    ensemble's ``(E, T, B, k)`` with ``(E, o, k)`` → ``(…, T, B, o)``: one batched product over all
    steps of each member (a :class:`~rnnviz.train.SequenceModel`'s embedding and readout, and a cell's
    ``input_map``). With a bias the product is :func:`outputs_first` and the result an
    ``(E, T, B, o)`` view of ``(E, o, T·B)``: its GEMMs' outputs are T·B wide, not o (a readout has a
    few classes), and the fused loss reads that layout without a copy."""
    if weight.dim() == 2:
        return F.linear(x, weight, bias)
    E, k = weight.shape[0], weight.shape[-1]
    rows = x.reshape(E, -1, k)  # (E, T·B, k)
    if bias is None:
        y = torch.bmm(rows, weight.transpose(-1, -2))
        return y.reshape(*x.shape[:-1], weight.shape[-2])  # (E, T, B, o)
    y = outputs_first(weight, rows, bias)  # (E, o, T·B)
    return y.transpose(1, 2).reshape(*x.shape[:-1], weight.shape[-2])  # (E, T, B, o), a view


class _OutputsFirst(torch.autograd.Function):
    """Autograd Function of :func:`outputs_first`: its products in the layouts that keep every GEMM's
    output wide (differentiable twice: the backward is plain torch ops on the saved inputs)."""

    @staticmethod
    def forward(ctx, weight, rows, bias):
        E, O = weight.shape[:2]
        out = weight.new_empty((E, O, rows.shape[1]))
        if bias is None:
            torch.bmm(weight, rows.transpose(1, 2), out=out)
        else:
            torch.baddbmm(bias.unsqueeze(-1), weight, rows.transpose(1, 2), out=out)
        ctx.save_for_backward(weight, rows)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, dz):
        weight, rows = ctx.saved_tensors
        need = ctx.needs_input_grad
        dw = None
        if need[0]:  # dW = dz rows, as it is or as (rowsᵀ dzᵀ)ᵀ, whichever output is wider (k = 6, P = 48: 0.2 ms, not 0.9)
            P, k = weight.shape[1:]
            dw = torch.bmm(rows.transpose(1, 2), dz.transpose(1, 2)).transpose(1, 2) if P > k else torch.bmm(dz, rows)
        drows = torch.bmm(weight.transpose(1, 2), dz).transpose(1, 2) if need[1] else None  # (E, N, k) view
        db = dz.sum(-1) if need[2] and ctx.has_bias else None
        return dw, drows, db


def outputs_first(weight: torch.Tensor, rows: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``W rowsᵀ + b`` per member, "outputs first": weight ``(E, P, k)``, rows ``(E, N, k)`` (any
    strides), bias ``(E, P)`` or None → ``(E, P, N)`` contiguous.

    The same numbers as ``linear`` (``rows Wᵀ + b``, transposed), laid out so that every GEMM of the
    forward and backward has a wide output (N, or P, never k alone): on a CPU, MKL runs batched GEMMs
    whose output is a handful of columns wide several times slower (24 members, N = 672 rows: the
    readout of 5 classes 0.2-0.3 ms against 0.02-0.07; the gradient of a 48 × 6 input map 0.9 ms against
    0.2). The dense cells' CPU kernels and :meth:`rnnviz.train.SequenceModel.read_out` use it."""
    return _OutputsFirst.apply(weight, rows, bias)


def per_unit(v: torch.Tensor) -> torch.Tensor:
    """A per-unit vector shaped to broadcast against ``(B, n)`` or ``(E, B, n)`` activations.

    ``(n,)`` stays ``(n,)``; an ensemble's ``(E, n)`` becomes ``(E, 1, n)``.
    """
    return v if v.dim() == 1 else v.unsqueeze(-2)


def blend(gate: torch.Tensor, keep: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """``gate ⊙ keep + (1 − gate) ⊙ new``: the convex update shared by PRU, GRU, SRU and T-RNN."""
    return new + gate * (keep - new)


def residual_projection(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, block: int,
                        n: int) -> torch.Tensor:
    """The input projection of an IRC cell: ``W x + b`` by blocks of n, block ``block`` being ``x + b`` instead.

    ``weight`` holds the rows of every other block in order (``(k − 1)·n`` rows); ``bias`` holds all
    k blocks (``k·n``). Returns ``(…, k·n)``, laid out as the baseline cell's projection.
    """
    cut = block * n
    parts = [linear(x, weight[..., :cut, :], bias[..., :cut])] if cut else []
    parts.append(x + per_unit(bias[..., cut: cut + n]))
    if weight.shape[-2] > cut:
        parts.append(linear(x, weight[..., cut:, :], bias[..., cut + n:]))
    return torch.cat(parts, dim=-1)
