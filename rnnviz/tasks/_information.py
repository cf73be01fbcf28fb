"""Empirical information quantities (in bits) from samples of discrete variables.

The plug-in estimate of the mutual information between a target X and a prediction Y from their
confusion counts ``N[x, y]`` (``N`` samples in all, ``p = N / N.sum()``)::

    I(X; Y) = sum_{x,y} p(x,y) log2( p(x,y) / (p(x) p(y)) )           (0 log 0 = 0)

It lies in ``[0, min(H(X), H(Y))] <= log2 A`` for A classes. With finite samples it is biased
upwards by about ``(A - 1)^2 / (2 N ln 2)`` bits when X and Y are independent (Miller 1955);
``correction="miller-madow"`` subtracts that first-order bias (computed from the occupied bins).
"""

from __future__ import annotations

import math

import torch

from .._checks import check_bool

CORRECTIONS = (None, "miller-madow")


def confusion_counts(targets: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Counts ``N[..., x, y]`` of (target = x, prediction = y) over the last axis (the samples).

    targets, predictions: integer tensors ``(..., N)`` with values in ``[0, n_classes)`` (broadcast
    against each other). Returns int64 ``(..., n_classes, n_classes)``.
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes!r}")
    targets, predictions = torch.broadcast_tensors(targets, predictions)
    for name, t in (("targets", targets), ("predictions", predictions)):
        if t.dtype.is_floating_point or t.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer tensor of class indices, got dtype {t.dtype}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n_classes):
            raise ValueError(
                f"{name} must lie in [0, {n_classes}), got values in [{int(t.min())}, {int(t.max())}]"
            )
    lead = targets.shape[:-1]
    groups = math.prod(lead)
    joint = targets.reshape(groups, -1) * n_classes + predictions.reshape(groups, -1)  # (G, N)
    offset = torch.arange(groups, device=joint.device).unsqueeze(-1) * n_classes**2
    counts = torch.bincount((joint + offset).reshape(-1), minlength=groups * n_classes**2)
    return counts.reshape(*lead, n_classes, n_classes)


def mutual_information(counts: torch.Tensor, correction: str | None = None, clip: bool = True) -> torch.Tensor:
    """Mutual information (bits) of the joint distribution given by ``counts (..., A, B)``.

    Returns ``(...)`` float64. ``correction``: ``None`` (plug-in) or ``"miller-madow"`` (subtract
    ``(m_xy - m_x - m_y + 1) / (2 N ln 2)`` with ``m`` the number of occupied bins). With ``clip``
    (default) every estimate is clipped to ``[0, log2 min(A, B)]``, the range of a mutual information:
    Miller-Madow corrects the entropies upward, so on a few samples of a perfect recall it would
    otherwise exceed ``log2 A`` bits per position (1.36 bits from 2 samples of 2 symbols).

    ``clip=False`` returns the raw estimate, which can be negative (Miller-Madow at chance) or above
    ``log2 min(A, B)``: for sums over many tables, where clipping each term would bias the sum (at
    chance the clipped Miller-Madow terms are about half-normal, so their sum grows with the number
    of tables; the raw terms scatter around 0 and their sum does not drift).
    """
    check_bool("clip", clip)
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if counts.dim() < 2:
        raise ValueError(f"counts must have shape (..., A, B), got {tuple(counts.shape)}")
    counts = counts.to(torch.float64)
    total = counts.sum(dim=(-2, -1), keepdim=True)  # (..., 1, 1)
    if bool((total == 0).any()):
        raise ValueError("counts must contain at least one sample in every table")
    p = counts / total
    px = p.sum(-1, keepdim=True)  # (..., A, 1)
    py = p.sum(-2, keepdim=True)  # (..., 1, B)
    ratio = torch.where(p > 0, p / (px * py), torch.ones_like(p))
    mi = (p * torch.log2(ratio)).sum(dim=(-2, -1))
    if correction == "miller-madow":
        occupied = (counts > 0).sum(dim=(-2, -1))
        mx = (counts.sum(-1) > 0).sum(-1)
        my = (counts.sum(-2) > 0).sum(-1)
        bias = (occupied - mx - my + 1).to(torch.float64) / (2.0 * total[..., 0, 0] * math.log(2.0))
        mi = mi - bias
    return mi.clamp(0.0, math.log2(min(counts.shape[-2:]))) if clip else mi


def recalled_information(
    targets: torch.Tensor, predictions: torch.Tensor, n_classes: int, correction: str | None = None
) -> torch.Tensor:
    """Recalled information (bits) per position: MI between target and prediction over the batch.

    targets, predictions: ``(..., K, B)`` class indices (K positions, B held-out sequences).
    Returns float64 ``(..., K)``; sum over K for the total, which is at most ``K log2 A``.
    """
    return mutual_information(confusion_counts(targets, predictions, n_classes), correction)


def entropy(counts: torch.Tensor) -> torch.Tensor:
    """Plug-in entropy (bits) of the distribution given by ``counts (..., A)``."""
    p = counts.to(torch.float64)
    p = p / p.sum(-1, keepdim=True)
    return -(torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p))).sum(-1)
