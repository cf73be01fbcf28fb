"""Projections chosen for a question: the directions that tell labelled states apart (LDA)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._checks import check_int, check_number
from ._traces import states_of
from ._trajectories import LinearCoordinates


@dataclass(frozen=True, eq=False)
class Discriminant(LinearCoordinates):
    """A linear discriminant projection of labelled states (Fisher LDA), with an orthonormal basis.

    The discriminant directions maximise the between-label variance over the within-label variance.
    The basis is their Gram-Schmidt orthonormalisation (the first column is the best discriminant,
    the second the best one's orthogonal complement within the top two, …), so coordinates are in
    state units and :meth:`reconstruct` inverts :meth:`project` on the plane.

    Attributes (k components, S = state_size, C labels, N fitted states):
        mean: ``(S,)`` mean of the fitted states.
        basis: ``(S, k)`` orthonormal columns spanning the top-k discriminant directions.
        separation: ``(k,)`` Fisher ratio along each basis column: between-label variance over the
            mean within-label variance (shrunk as in the fit) (large: the labels form separate clusters along it).
        labels: ``(C,)`` the distinct labels, sorted.
        fitted_labels: ``(N,)`` the label of each fitted state.
        projected: ``(N, k)`` the fitted states in the basis.

    :meth:`to_frame` gives one row per fitted state: ``point, label, ld1 … ldk``.
    """

    mean: torch.Tensor
    basis: torch.Tensor
    separation: torch.Tensor
    labels: torch.Tensor
    fitted_labels: torch.Tensor
    projected: torch.Tensor

    def to_frame(self) -> pd.DataFrame:
        """One row per fitted state: ``point``, ``label``, then ``ld1`` … ``ldk``."""
        coords = self.projected.detach().cpu().numpy()
        return pd.DataFrame({"point": np.arange(len(coords)), "label": self.fitted_labels.cpu().numpy(),
                             **{f"ld{i + 1}": coords[:, i] for i in range(coords.shape[1])}})


def _scatter(points: torch.Tensor, labels: torch.Tensor, classes: torch.Tensor):
    """Within-label scatter ``(S, S)`` (mean per label) and between-label scatter ``(S, S)``."""
    mean = points.mean(0)
    within = torch.zeros(points.shape[1], points.shape[1], dtype=points.dtype)
    between = torch.zeros_like(within)
    for c in classes:
        group = points[labels == c]
        centred = group - group.mean(0)
        within += centred.T @ centred / len(points)
        d = (group.mean(0) - mean)[:, None]
        between += len(group) / len(points) * (d @ d.T)
    return within, between


def discriminant_projection(states, labels, n_components: int = 2, *, shrinkage: float = 1e-3) -> Discriminant:
    """Fisher's linear discriminant of states by label: the plane in which the labels separate.

    Solves ``B v = λ W v`` (B: between-label scatter, W: within-label scatter, plus a ridge
    ``shrinkage · tr(W + B)/S · I`` so that directions with no within-label variance stay finite),
    keeps the k directions of largest λ and orthonormalises them.

    Args:
        states: ``(N, S)`` states, or any ``(…, S)`` (a :class:`rnnviz.Trace` gives its states),
            e.g. the states at the end of a delay ``trace.states[t]`` ``(B, S)``.
        labels: integer labels, one per state (shape ``states.shape[:-1]``), e.g. the stored symbol.
        n_components: k, at most ``min(S, C - 1)`` with C distinct labels (C ≥ 2).
        shrinkage: relative ridge added to W (≥ 0).

    Returns:
        :class:`Discriminant` (float64).
    """
    points = states_of(states).detach().double()
    labels = torch.as_tensor(labels).detach().cpu()
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if tuple(labels.shape) != tuple(points.shape[:-1]):
        raise ValueError(f"labels must have one label per state, shape {tuple(points.shape[:-1])}, "
                         f"got {tuple(labels.shape)}")
    check_number("shrinkage", shrinkage, low=0.0)
    points, labels = points.reshape(-1, points.shape[-1]).cpu(), labels.reshape(-1)
    classes = torch.unique(labels)
    S = points.shape[1]
    if len(classes) < 2:
        raise ValueError(f"labels must hold at least 2 distinct values, got {classes.tolist()}")
    check_int("n_components", n_components, 1, min(S, len(classes) - 1))
    within, between = _scatter(points, labels, classes)
    ridge = shrinkage * float(torch.trace(within + between)) / S + 1e-300
    within = within + ridge * torch.eye(S, dtype=within.dtype)
    chol = torch.linalg.cholesky(within)  # W = L Lᵀ; solve L⁻¹ B L⁻ᵀ u = λ u, v = L⁻ᵀ u
    inv = torch.linalg.solve_triangular(chol, torch.eye(S, dtype=within.dtype), upper=False)
    _, vecs = torch.linalg.eigh(inv @ between @ inv.T)
    directions = inv.T @ vecs.flip(-1)[:, :n_components]  # (S, k), largest λ first
    basis, _ = torch.linalg.qr(directions)
    flip = basis.gather(0, basis.abs().argmax(0, keepdim=True)).sign()
    basis = basis * torch.where(flip == 0, 1.0, flip)
    mean = points.mean(0)
    projected = (points - mean) @ basis
    w_proj, b_proj = (torch.einsum("si,st,ti->i", basis, m, basis) for m in (within, between))
    separation = b_proj / w_proj  # within is shrunk: positive
    return Discriminant(mean=mean, basis=basis, separation=separation, labels=classes,
                        fitted_labels=labels, projected=projected)
