"""Initial states for the fixed-point search, drawn from states visited on real trajectories."""

from __future__ import annotations

import torch

from .._checks import check_int
from ._traces import flatten_points, states_of


def sample_initial_states(trace, n: int, *, noise: float = 0.5, ensemble: bool | None = None,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n`` visited states (with replacement) and add Gaussian noise of standard deviation ``noise``.

    Args:
        trace: a :class:`rnnviz.Trace` or a states tensor ``(T+1, B, S)`` or ``(M, S)``;
            an ensemble's ``(E, T+1, B, S)``.
        n: number of initial states.
        noise: σ of the isotropic Gaussian added to each state (Sussillo & Barak use ≈ 0.5).
        ensemble: whether the first axis is the ensemble axis; by default, True for 4-D states.
        generator: a torch.Generator for reproducible draws (on any device; the draws are moved to
            the states' device).

    Returns:
        ``(n, S)``, or ``(E, n, S)`` for an ensemble (each member sampled from its own states).
    """
    states = states_of(trace).detach()
    check_int("n", n)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if ensemble is None:
        ensemble = states.dim() == 4
    if states.dim() not in ((3, 4) if ensemble else (2, 3)):
        raise ValueError(f"trace states must be (T+1, B, S) or (M, S) (ensembles: (E, T+1, B, S)), "
                         f"got {tuple(states.shape)}")
    points = flatten_points(states, 1 if ensemble else 0)  # (*E, M, S)
    M = points.shape[-2]
    where = points.device if generator is None else generator.device  # draw where the generator lives
    idx = torch.randint(M, (*points.shape[:-2], n), generator=generator, device=where).to(points.device)
    picked = points.gather(-2, idx.unsqueeze(-1).expand(*idx.shape, points.shape[-1]))  # (*E, n, S)
    noise_draw = torch.randn(picked.shape, generator=generator, device=where, dtype=picked.dtype)
    return picked + noise * noise_draw.to(picked.device)
