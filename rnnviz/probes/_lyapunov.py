"""Lyapunov spectrum of a cell driven by an input sequence (QR method, float64)."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .._checks import check_int
from ._jacobians import ensemble_size, float64_copy, step_jacobians


def lyapunov_spectrum(cell, x: torch.Tensor, s0: torch.Tensor, *, n_exponents: int | None = None,
                      warmup: int = 0, progress: bool = False) -> torch.Tensor:
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
        ``(B, k)`` float64 exponents in decreasing order (``(k,)`` for unbatched input;
        ``(E, B, k)`` for an ensemble), in nats per step.
    """
    S = cell.state_size
    k = S if n_exponents is None else n_exponents
    check_int("n_exponents", k, 1, S)
    E = ensemble_size(cell)
    unbatched = E is None and x.dim() == 2
    if unbatched:
        x, s0 = x.unsqueeze(1), s0.unsqueeze(0)
    t_axis = 0 if E is None else 1
    if x.dim() != 3 + (E is not None):
        raise ValueError(f"x must be (T, B, m) or (T, m) (ensembles (E, T, B, m)), got {tuple(x.shape)}")
    T = x.shape[t_axis]
    if not 0 <= warmup < T:
        raise ValueError(f"warmup must be in [0, T={T}), got {warmup!r}")
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
    return exponents.squeeze(0) if unbatched else exponents
