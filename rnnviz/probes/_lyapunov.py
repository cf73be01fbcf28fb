"""Lyapunov spectrum of a cell driven by an input sequence (QR method, float64)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .._checks import check_int
from ._jacobians import ensemble_size, float64_copy, step_jacobians


@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """Lyapunov exponents of a cell along driven trajectories (:func:`lyapunov_spectrum`).

    Attributes:
        exponents: float64 ``(k,)`` for one unbatched trajectory, ``(B, k)`` for B sequences,
            ``(E, B, k)`` for an ensemble: the k largest exponents in decreasing order, in nats per step.
        steps: T, the steps run.
        warmup: the first ``warmup`` steps were run but not averaged (``steps − warmup`` were).
    """

    exponents: torch.Tensor
    steps: int
    warmup: int

    @property
    def largest(self) -> torch.Tensor:
        """``exponents[..., 0]``: the largest exponent of each trajectory (> 0: chaotic)."""
        return self.exponents[..., 0]

    def to_frame(self) -> pd.DataFrame:
        """One row per exponent: ``member`` (ensembles), ``sequence`` (batched input), ``index`` (0 = largest),
        ``exponent``."""
        e = self.exponents.detach().cpu().numpy()
        names = {1: [], 2: ["sequence"], 3: ["member", "sequence"]}[e.ndim] + ["index"]
        grid = np.indices(e.shape).reshape(e.ndim, -1)
        return pd.DataFrame({**dict(zip(names, grid, strict=True)), "exponent": e.reshape(-1)})


def lyapunov_spectrum(cell, x: torch.Tensor, s0: torch.Tensor, *, n_exponents: int | None = None,
                      warmup: int = 0, progress: bool = False) -> LyapunovSpectrum:
    """Lyapunov exponents (per step) of ``s_{t+1} = F(x_t, s_t)`` along the trajectory from ``s0``.

    With ``Q_0`` the first k columns of the identity, each step does ``Q_t R_t = J_t Q_{t-1}``
    (QR, ``J_t = ∂F/∂s`` at ``(x_t, s_t)``), and
    ``λ_i = 1/(T − warmup) · Σ_{t ≥ warmup} log |R_t[i, i]|``. Everything runs in float64 on a
    float64 copy of the cell. For a linear map ``s ↦ A s`` the exponents are ``log |eig(A)|``.

    Args:
        cell: a rnnviz cell (ensembles: all members at once along E).
        x: inputs ``(T, B, m)`` or ``(T, m)`` (ensembles ``(E, T, B, m)``).
        s0: initial states ``(B, S)`` or ``(S,)`` (ensembles ``(E, B, S)``).
        n_exponents: k, how many of the largest exponents (default all S).
        warmup: steps run (and orthonormalised) before averaging starts, to forget ``Q_0``.
        progress: show a progress bar.

    Returns:
        :class:`LyapunovSpectrum` whose ``exponents`` are float64 ``(B, k)`` in decreasing order
        (``(k,)`` for unbatched input; ``(E, B, k)`` for an ensemble), in nats per step.
    """
    S, m = cell.state_size, cell.input_size
    k = S if n_exponents is None else n_exponents
    check_int("n_exponents", k, 1, S)
    E = ensemble_size(cell)
    for name, t in (("x", x), ("s0", s0)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    unbatched = E is None and x.dim() == 2
    if unbatched:
        x, s0 = x.unsqueeze(1), s0.unsqueeze(0)
    t_axis = 0 if E is None else 1
    lead = () if E is None else (E,)
    if x.dim() != 3 + (E is not None) or x.shape[-1] != m or x.shape[:t_axis] != lead:
        want = f"(T, B, {m}) or (T, {m})" if E is None else f"(E={E}, T, B, {m})"
        raise ValueError(f"x must have shape {want} (input_size={m}), got {tuple(x.shape)}")
    B = x.shape[-2]
    if tuple(s0.shape) != (*lead, B, S):
        want = f"({S},)" if unbatched else str((*lead, B, S))
        raise ValueError(f"s0 must have shape {want} (one state of state_size={S} per sequence of x), "
                         f"got {tuple(s0.shape[1:] if unbatched else s0.shape)}")
    T = x.shape[t_axis]
    if T == 0:
        raise ValueError(f"x must have at least one time step, got shape {tuple(x.shape)}")
    check_int("warmup", warmup, 0, T - 1)  # at least one step is averaged
    cell64 = float64_copy(cell)
    x = x.detach().double()
    s = s0.detach().double()
    Q = torch.eye(S, k, dtype=torch.float64, device=s.device).expand(*s.shape[:-1], S, k)  # (…, B, S, k)
    total = torch.zeros(*s.shape[:-1], k, dtype=torch.float64, device=s.device)
    for t in tqdm(range(T), desc="lyapunov", disable=not progress, leave=False):
        x_t = x.select(t_axis, t)  # (…, B, m)
        J = step_jacobians(cell64, x_t, s)  # (…, B, S, S)
        Q, R = torch.linalg.qr(J @ Q)
        if t >= warmup:
            total += R.diagonal(dim1=-2, dim2=-1).abs().log()
        with torch.no_grad():
            s = cell64.step(x_t, s)
    exponents = (total / (T - warmup)).sort(dim=-1, descending=True).values
    return LyapunovSpectrum(exponents=exponents.squeeze(0) if unbatched else exponents, steps=T, warmup=warmup)
