"""Plots of cells' raw behaviour."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..cells import Trace
from ._style import Drawn, _panels


def plot_cell_responses(traces: dict[str, Trace], *, batch_index: int = 0, units: int = 3, axes=None) -> Drawn:
    """Draw the first ``units`` state coordinates over time for each named trace, one panel (row) per cell.

    Args:
        traces: name → :class:`rnnviz.Trace` of a single cell, states ``(T + 1, B, S)``.
        batch_index: which sequence of the batch to draw.
        units: how many state coordinates to draw per cell.
        axes: one Axes per trace, in the order of ``traces``; created (one column, shared time axis) when None.

    Returns:
        :class:`Drawn` with one panel per trace and "lines": trace name → its list of Line2D (one per unit).
    """
    if not traces:
        raise ValueError("traces must contain at least one trace")

    def create():
        _, grid = plt.subplots(len(traces), 1, sharex=True, squeeze=False, layout="constrained",
                               figsize=(7.0, 1.2 * len(traces) + 0.6))
        return grid[:, 0]

    panels = _panels(axes, len(traces), create, "one per trace")
    lines = {}
    for a, (name, tr) in zip(panels, traces.items(), strict=True):
        states = tr.states.detach()
        if states.dim() != 3:
            raise ValueError(f"traces[{name!r}].states must be (T+1, B, S) of a single cell, "
                             f"got shape {tuple(states.shape)}")
        s = states[:, batch_index, :units].to("cpu", torch.float64).numpy()
        lines[name] = a.plot(s)
        a.set_ylabel(name, rotation=0, ha="right", va="center")
        a.grid(True, alpha=0.3)
    panels[-1].set_xlabel("time step t")
    return Drawn(panels, {"lines": lines})
