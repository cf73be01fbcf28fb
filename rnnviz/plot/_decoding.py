"""Decoded bits over time: where each stored symbol enters the state, how long it stays, where it is read."""

from __future__ import annotations

import numpy as np
import torch

from ..probes import Decoding
from ._style import PALETTE, Drawn, _axes


def _numpy(t) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy() if isinstance(t, torch.Tensor) else np.asarray(t, float)


def plot_decoding(decoding: Decoding, *, recalled_bits=None, recall_times=None, label_names=None,
                  ax=None) -> Drawn:
    """Decoded bits of each label against the state index, with their intervals, chance and the readout.

    Args:
        decoding: a single model's :class:`rnnviz.probes.Decoding` (for an ensemble, pass
            ``decoding.member(i)``).
        recalled_bits: optional ``(K,)`` bits the trained readout recalls per position
            (``Memorization.score(...)["recalled_bits_per_position"]``), drawn as markers (one per label,
            in its colour) at ``recall_times``.
        recall_times: the state index read at each recall position (default: the last K state
            indices, which is where :class:`rnnviz.tasks.Memorization` recalls: its output at step t
            reads the state ``s_{t+1}``).
        label_names: a name per label for the legend (default ``symbol 1`` … ``symbol K``).
        ax: a Matplotlib Axes; created when None.

    Returns:
        a :class:`rnnviz.plot.Drawn` on one panel with ``lines`` (label name → its Line2D), ``bands``
        (label name → its interval), ``chance`` (0 bits), ``max`` (log2 A) and ``recalled`` (the
        markers, or None). Never calls ``plt.show()``.
    """
    if not isinstance(decoding, Decoding):
        raise TypeError(f"decoding must be a rnnviz.probes.Decoding, got {type(decoding).__name__}")
    if decoding.ensemble:
        raise ValueError("decoding holds an ensemble; plot one member: plot_decoding(decoding.member(i))")
    K = decoding.n_labels
    names = [f"symbol {k + 1}" for k in range(K)] if label_names is None else [str(n) for n in label_names]
    if len(names) != K:
        raise ValueError(f"label_names must name the K={K} labels, got {len(names)} names")
    ax = _axes(ax)
    times = _numpy(decoding.times)
    bits, low, high = (_numpy(getattr(decoding, name)) for name in ("bits", "bits_low", "bits_high"))
    drawn: dict = {"lines": {}, "bands": {}}
    for k, name in enumerate(names):
        color = PALETTE[k % len(PALETTE)]
        drawn["bands"][name] = ax.fill_between(times, low[k], high[k], color=color, alpha=0.2, linewidth=0)
        (drawn["lines"][name],) = ax.plot(times, bits[k], color=color, marker=".", label=name)
    drawn["chance"] = ax.axhline(0.0, color=PALETTE[7], linewidth=0.8, linestyle=":", label="chance (0 bits)")
    drawn["max"] = ax.axhline(decoding.max_bits, color=PALETTE[7], linewidth=0.8, linestyle="--",
                              label=f"log2 A = {decoding.max_bits:.3g} bits")
    drawn["recalled"] = None
    if recalled_bits is not None:
        recalled = _numpy(recalled_bits)
        if recalled.shape != (K,):
            raise ValueError(f"recalled_bits must have shape (K,) = ({K},), got {recalled.shape}")
        if recall_times is None:
            recall_times = np.arange(decoding.n_states - K, decoding.n_states)
        at = _numpy(recall_times)
        if at.shape != (K,):
            raise ValueError(f"recall_times must have shape (K,) = ({K},), got {at.shape}")
        drawn["recalled"] = ax.scatter(at, recalled, marker="D", s=36, zorder=5, edgecolors=PALETTE[7],
                                       linewidths=0.8, c=[PALETTE[k % len(PALETTE)] for k in range(K)],
                                       label="readout: recalled bits")
    ax.set_xlabel("state index t (after t inputs)")
    ax.set_ylabel("decoded bits (held out)")
    ax.set_ylim(-0.05 * decoding.max_bits, 1.1 * decoding.max_bits)
    ax.legend(loc="best")
    return Drawn((ax,), drawn)
