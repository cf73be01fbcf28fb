"""Plots of cells' raw behaviour."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..cells import Trace


def plot_cell_responses(traces: dict[str, Trace], *, batch_index: int = 0, units: int = 3, ax=None):
    """Draw the first ``units`` state coordinates over time for each named trace, one row per cell.

    Args:
        traces: name → :class:`rnnviz.Trace` of a single cell, states ``(T + 1, B, S)``.
        batch_index: which sequence of the batch to draw.
        units: how many state coordinates to draw per cell.
        ax: a sequence of Axes, one per trace; created when None.

    Returns:
        The list of Axes drawn on.
    """
    if not traces:
        raise ValueError("traces must contain at least one trace")
    if ax is None:
        _, ax = plt.subplots(len(traces), 1, sharex=True, squeeze=False, layout="constrained",
                             figsize=(7.0, 1.2 * len(traces) + 0.6))
        ax = list(ax[:, 0])
    axes = list(ax) if not hasattr(ax, "plot") else [ax]
    if len(axes) != len(traces):
        raise ValueError(f"ax must hold one Axes per trace ({len(traces)}), got {len(axes)}")
    for a, (name, tr) in zip(axes, traces.items(), strict=True):
        states = tr.states.detach()
        if states.dim() != 3:
            raise ValueError(f"traces[{name!r}].states must be (T+1, B, S) of a single cell, "
                             f"got shape {tuple(states.shape)}")
        s = states[:, batch_index, :units].to("cpu", torch.float64).numpy()
        a.plot(s)
        a.set_ylabel(name, rotation=0, ha="right", va="center")
        a.grid(True, alpha=0.3)
    axes[-1].set_xlabel("time step t")
    return axes
