"""Jaeger's short-term memory capacity (Jaeger 2002, "Short term memory in echo state networks").

Drive a cell with i.i.d. scalar input ``u_t ~ U(-input_scale, input_scale)`` (the same value on every
input channel), record its flat state ``s_t`` (after reading ``u_t``), and for each lag k fit a ridge
readout ``y_k(t) = w_k . [s_t; 1]`` to ``u_{t-k}``. The memory function is the squared correlation on
held-out steps, and the capacity its sum::

    MC_k = corr(y_k(t), u_{t-k})^2,        MC = sum_k MC_k   (k = 1..max_lag by default)

For i.i.d. input and linear readouts MC <= state size (Jaeger's bound, for the sum from k = 0).
The result depends on the input scale (saturating nonlinearities forget faster under large inputs),
so it is part of the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_int
from ._base import sampling_device


@dataclass(frozen=True)
class MemoryCapacity:
    """Result of :func:`memory_capacity`: ``mc`` = sum of ``mc_k`` over ``lags``, at ``input_scale``."""

    mc: float
    mc_k: tuple[float, ...]
    lags: tuple[int, ...]
    input_scale: float
    ridge: float
    n_steps: int
    washout: int

    def __str__(self) -> str:
        a = f"{self.input_scale:g}"
        return f"MC = {self.mc:.3f} over lags {self.lags[0]}..{self.lags[-1]} (input U(-{a}, {a}))"


@torch.no_grad()
def memory_capacity(
    cell,
    *,
    input_scale: float = 0.1,
    max_lag: int | None = None,
    lags=None,
    n_steps: int = 2000,
    washout: int = 100,
    n_sequences: int = 4,
    ridge: float = 1e-6,
    generator: torch.Generator | None = None,
) -> MemoryCapacity:
    """Jaeger memory capacity of a single ``cell`` (anything with ``trace(x) -> Trace`` and ``input_size``).

    Args:
        cell: a cell from :mod:`rnnviz.cells` (not an ensemble).
        input_scale: inputs are ``U(-input_scale, input_scale)``, broadcast to all input channels.
        max_lag: lags ``1..max_lag`` (default: twice the state size); or give ``lags`` explicitly.
        n_steps, washout: steps per sequence and initial steps discarded.
        n_sequences: independent sequences (batch); the first half trains the readouts, the second
            half measures ``MC_k`` (held out, so noise does not count as memory).
        ridge: ridge penalty relative to the mean diagonal of the state covariance.
        generator: source of the inputs (None: torch's global CPU generator); they are drawn on its
            device, so a CUDA generator works and gives inputs that do not depend on the cell's device.

    Returns a :class:`MemoryCapacity`.
    """
    if getattr(cell, "n_models", None) is not None:
        raise ValueError(
            f"cell must be a single cell, got an ensemble of {cell.n_models}; use cell.member(i)"
        )
    if not input_scale > 0:
        raise ValueError(f"input_scale must be > 0, got {input_scale!r}")
    check_int("n_sequences", n_sequences, 2)
    check_int("washout", washout, 0)
    state_size = int(cell.state_size)
    if lags is None:
        lags = range(1, (max_lag if max_lag is not None else 2 * state_size) + 1)
    lags = tuple(int(k) for k in lags)
    if not lags or min(lags) < 0:
        raise ValueError(f"lags must be non-negative integers, got {lags!r}")
    check_int("n_steps", n_steps, washout + max(lags) + 2)
    param = next(iter(cell.parameters()), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    # Drawn on the generator's device (a CUDA generator cannot fill a CPU tensor), then kept on the CPU
    # in float64 for the readout fits: a generator state gives the same inputs wherever the cell is.
    src = sampling_device(generator, None)
    u = torch.rand((n_steps, n_sequences), generator=generator, dtype=torch.float64, device=src)
    u = ((u * 2 - 1) * input_scale).cpu()
    x = u.to(dtype).to(device).unsqueeze(-1).expand(n_steps, n_sequences, int(cell.input_size))  # (T, B, m)
    states = cell.trace(x).states[1:].to(torch.float64).cpu()  # (T, B, S), s_t after u_t
    first = washout + max(lags)
    feats = torch.cat([states[first:], torch.ones_like(states[first:, :, :1])], -1)  # (T', B, S+1)
    half = n_sequences // 2
    train, test = feats[:, :half].reshape(-1, feats.shape[-1]), feats[:, half:].reshape(-1, feats.shape[-1])
    gram = train.T @ train
    reg = ridge * gram.diagonal().mean().clamp_min(1e-12) * torch.eye(gram.shape[0], dtype=torch.float64)
    mc_k = []
    for k in lags:
        target = u[first - k : n_steps - k]  # (T', B), u_{t-k}
        w = torch.linalg.solve(gram + reg, train.T @ target[:, :half].reshape(-1))
        pred, true = test @ w, target[:, half:].reshape(-1)
        pc, tc = pred - pred.mean(), true - true.mean()
        denom = (pc.square().sum() * tc.square().sum()).clamp_min(1e-300)
        mc_k.append(float((pc @ tc) ** 2 / denom))
    return MemoryCapacity(
        mc=float(sum(mc_k)),
        mc_k=tuple(mc_k),
        lags=lags,
        input_scale=float(input_scale),
        ridge=float(ridge),
        n_steps=n_steps,
        washout=washout,
    )
