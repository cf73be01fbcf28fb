"""State trajectories in the principal-component basis of the visited states."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._checks import check_int
from ._traces import flatten_points, states_of


class LinearCoordinates:
    """Coordinates in an affine basis of the state space: ``mean (S,)`` and orthonormal ``basis (S, k)``
    (fields of the dataclass that uses it: :class:`Trajectories`, :class:`~rnnviz.probes.Discriminant`)."""

    @property
    def n_components(self) -> int:
        """k, the number of coordinates."""
        return self.basis.shape[1]

    def project(self, points) -> torch.Tensor:
        """Coordinates ``(…, k)`` of points ``(…, S)`` (states, fixed points, another trace's states)."""
        points = states_of(points)
        if points.shape[-1] != self.basis.shape[0]:
            raise ValueError(f"points must have {self.basis.shape[0]} features on the last axis, "
                             f"got shape {tuple(points.shape)}")
        return (points.detach().to(self.basis) - self.mean) @ self.basis

    def reconstruct(self, coords: torch.Tensor) -> torch.Tensor:
        """States ``(…, S)`` at coordinates ``(…, k)`` in the basis (the plane/space they span)."""
        return self.mean + coords.to(self.basis) @ self.basis.T


@dataclass(frozen=True, eq=False)
class Trajectories(LinearCoordinates):
    """PCA of visited states and the trajectories projected onto it.

    Attributes (k components, S = state_size, the flat state):
        mean: ``(S,)`` mean of the visited states.
        basis: ``(S, k)`` orthonormal principal directions (columns), largest variance first; each
            column's largest-magnitude entry is positive (a deterministic sign).
        explained_variance: ``(k,)`` variance of the states along each direction.
        explained_variance_ratio: ``(k,)`` that variance over the total variance.
        projected: ``(T+1, B, k)`` the trajectories in the basis (same leading shape as the input).

    :meth:`to_frame` gives one row per visited state with its coordinates.
    """

    mean: torch.Tensor
    basis: torch.Tensor
    explained_variance: torch.Tensor
    explained_variance_ratio: torch.Tensor
    projected: torch.Tensor

    def to_frame(self) -> pd.DataFrame:
        """One row per projected state: ``step`` and ``sequence`` for ``(T+1, B, k)`` trajectories, ``step``
        for ``(T+1, k)``, ``point`` (the flattened leading axes) otherwise; then ``pc1`` … ``pck``."""
        coords = self.projected.detach().cpu().numpy()
        lead = coords.shape[:-1]
        if len(lead) in (1, 2):
            names, index = ["step", "sequence"][:len(lead)], np.indices(lead).reshape(len(lead), -1)
        else:
            names, index = ["point"], np.arange(int(np.prod(lead)))[None]
        pcs = coords.reshape(-1, coords.shape[-1])
        return pd.DataFrame({**dict(zip(names, index, strict=True)),
                             **{f"pc{i + 1}": pcs[:, i] for i in range(pcs.shape[1])}})



def _pca(points: torch.Tensor, k: int):
    """Mean, basis, variances and variance ratios of ``points`` ``(M, S)`` via an SVD of the centred data."""
    mean = points.mean(0)
    centred = points - mean
    _, sing, vh = torch.linalg.svd(centred, full_matrices=False)  # vh (min(M,S), S)
    var = sing.pow(2) / max(len(points) - 1, 1)
    basis = vh[:k].T.clone()  # (S, k)
    flip = basis.gather(0, basis.abs().argmax(0, keepdim=True)).sign()
    basis = basis * torch.where(flip == 0, 1.0, flip)
    total = var.sum()
    ratio = var[:k] / total if total > 0 else torch.zeros_like(var[:k])
    return mean, basis, var[:k], ratio


def trajectories(trace, n_components: int = 3, *, ensemble: bool | None = None):
    """Fit PCA on the states a trace visited and project its trajectories.

    Args:
        trace: a :class:`rnnviz.Trace` or a states tensor ``(T+1, B, S)`` (any ``(…, S)`` works);
            an ensemble's ``(E, T+1, B, S)``.
        n_components: k, number of principal components kept (≤ S).
        ensemble: whether the first axis is the ensemble axis; by default, True for 4-D states.

    Returns:
        :class:`Trajectories`; for an ensemble a list of them, one per member (each member has its
        own state space, so each gets its own PCA). The PCA is computed in float64.
    """
    states = states_of(trace).detach()
    S = states.shape[-1]
    check_int("n_components", n_components, 1, S)  # at most the state size
    if ensemble is None:
        ensemble = states.dim() == 4
    if ensemble:
        return [trajectories(member, n_components, ensemble=False) for member in states]
    points = flatten_points(states.double(), 0)  # (M, S)
    if len(points) < 2:
        raise ValueError(f"trace must contain at least 2 states, got {len(points)}")
    mean, basis, var, ratio = _pca(points, n_components)
    projected = (states.double() - mean) @ basis  # (…, k)
    return Trajectories(mean=mean, basis=basis, explained_variance=var, explained_variance_ratio=ratio,
                        projected=projected)
