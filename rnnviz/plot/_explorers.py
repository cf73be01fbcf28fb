"""Plots of the notebook explorers (:mod:`rnnviz.widgets`): a 2-unit cell's phase plane and a trained
model at one step.

Each function takes ``ax=None`` (``axes=None`` for several panels), returns a
:class:`~rnnviz.plot.Drawn` and never calls ``plt.show()``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._probes import plot_energy_landscape
from ._style import PALETTE, Drawn, _axes, _panels


def plot_phase_plane(plane, *, colorbar: bool = True, ax=None) -> Drawn:
    """A 2-unit cell's phase plane (:class:`rnnviz.widgets.PhasePlane`): E_S as filled contours,
    trajectories from a ring of starting states (white, start marked), fixed points by stability
    (filled: stable, open: unstable, with their unstable directions).

    Returns:
        :class:`Drawn` with the artists of :func:`rnnviz.plot.plot_energy_landscape` plus "starts"
        (PathCollection of the starting states).
    """
    ax = _axes(ax)
    landscape = plot_energy_landscape(plane.landscape, fixed_points=plane.fixed_points, draw_trajectories=True,
                                      max_sequences=None, colorbar=colorbar, ax=ax)
    start = plane.plane.projected[0].numpy()  # (B, 2)
    starts = ax.scatter(start[:, 0], start[:, 1], s=8, color="white", zorder=4)
    ticks = [-1.0, -0.5, 0.0, 0.5, 1.0]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("$h_1$")
    ax.set_ylabel("$h_2$")
    ax.set_aspect("equal")
    ax.grid(False)
    x = plane.inputs.tolist()
    ax.set_title(f"{plane.cell.kind}, input ({x[0]:.2g}, {x[1]:.2g}): {len(plane.fixed_points)} fixed points, "
                 f"{plane.n_stable} stable", fontsize="medium")
    return Drawn((ax,), {**landscape.artists, "starts": starts})


def _model_frame_panels() -> list:
    fig = plt.figure(figsize=(7.0, 6.0), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[0.35, 2.2, 1.4])
    return [fig.add_subplot(grid[i]) for i in range(3)]


def plot_model_frame(recording, frame, *, axes=None) -> Drawn:
    """The trained-model explorer's view at one step (:func:`rnnviz.widgets.model_frame`).

    Three panels: the input symbols with the current one highlighted; the state trajectory in the
    first two principal components (whole sequence faint, up to t solid, the current state as a dot);
    the chosen unit's gates and state over time with a line at t.

    Args:
        recording: the :class:`rnnviz.widgets.ModelRecording`; frame: its :class:`ModelFrame`.
        axes: three Axes (symbols, state, gates); created (one figure, three rows) when None.

    Returns:
        :class:`Drawn` with the three panels and "symbols" (Text artists), "path" (Line2D), "point"
        (PathCollection), "gates" (gate name and "state" → Line2D), "now" (the line at t).
    """
    tape, space, gates_ax = _panels(axes, 3, _model_frame_panels, "symbols, state, gates")
    T = recording.length
    seq = frame.sequence
    names = [recording.symbol_names[int(i)] for i in recording.symbols[:, seq]]
    texts = []
    for i, name in enumerate(names):
        current = i == frame.t
        texts.append(tape.text(i, 0, name, ha="center", va="center", fontsize="medium",
                               fontweight="bold" if current else "normal",
                               color=PALETTE[3] if current else ("0.1" if i < frame.t else "0.6"),
                               bbox={"boxstyle": "round", "fc": "0.92", "ec": PALETTE[3]} if current else None))
    tape.set_xlim(-0.5, T - 0.5)
    tape.set_ylim(-1, 1)
    tape.set_axis_off()
    tape.set_title(f"input at t = {frame.t}: {frame.symbol!r}", fontsize="medium")

    whole = recording.pca.projected[:, seq].numpy()  # (T+1, 2)
    space.plot(whole[:, 0], whole[:, 1], color="0.8", linewidth=1.0)
    path = frame.path.numpy()
    (line,) = space.plot(path[:, 0], path[:, 1], "-o", color=PALETTE[0], markersize=3, linewidth=1.2)
    point = space.scatter(*frame.point.numpy(), s=60, color=PALETTE[3], zorder=5)
    ratio = recording.pca.explained_variance_ratio.numpy()
    space.set_xlabel(f"PC1 ({100 * ratio[0]:.0f}%)")
    space.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}%)")
    space.set_title("state after reading the input", fontsize="medium")

    drawn = {}
    steps = np.arange(T)
    for i, (name, g) in enumerate(frame.gates.items()):
        (drawn[name],) = gates_ax.plot(steps, g.numpy(), color=PALETTE[(i + 1) % len(PALETTE)], label=name)
    state = recording.trace.states[1:, seq, frame.unit].double().numpy()  # (T,)
    (drawn["state"],) = gates_ax.plot(steps, state, color="0.3", linestyle="--", label=f"state $s_{{{frame.unit}}}$")
    now = gates_ax.axvline(frame.t, color=PALETTE[3], linewidth=1.0)
    gates_ax.set_xlim(-0.5, T - 0.5)
    gates_ax.set_ylim(-1.05, 1.05)
    gates_ax.set_xticks(steps, names)
    gates_ax.set_xlabel("input")
    gates_ax.set_title(f"unit {frame.unit}", fontsize="medium")
    gates_ax.legend(fontsize="small", ncol=4, loc="lower left")
    return Drawn((tape, space, gates_ax), {"symbols": texts, "path": line, "point": point, "gates": drawn,
                                           "now": now})
