"""Plots of the notebooks and widgets: phase plane, a trained model at one step, capacity slices,
training curves, energy along trajectories, benchmark timings.

Every function takes ``ax=None`` (or ``axes=None``), returns what it drew and never calls ``plt.show()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._capacity import METRICS, plot_accuracy_heatmap
from ._probes import plot_energy_landscape
from ._style import PALETTE, save, style


@contextlib.contextmanager
def saved_figure(path, *, nrows: int = 1, ncols: int = 1, figsize=None, projection: str | None = None,
                 squeeze: bool = True, style_name: str = "notebook", formats=("pdf", "png")) -> Iterator:
    """A figure for the notebooks: inside the ``with`` block the rnnviz ``style_name`` style is on and
    the block receives the Axes (one Axes, or an array for ``nrows``/``ncols`` > 1, always a 2-D array
    with ``squeeze=False``; ``projection="3d"`` for 3-D); on leaving, the figure is saved to ``path`` in ``formats`` (:func:`rnnviz.plot.save`).

    The figure stays open (the notebook shows it); ``path=None`` skips saving.
    """
    with style(style_name):
        fig = plt.figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=squeeze,
                            subplot_kw=None if projection is None else {"projection": projection})
        yield axes
        if path is not None:
            save(fig, path, formats)


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(layout="constrained")
    return ax


def plot_phase_plane(plane, *, colorbar: bool = True, ax=None) -> dict:
    """A 2-unit cell's phase plane (:class:`rnnviz.widgets.PhasePlane`): E_S as filled contours,
    trajectories from a ring of starting states (white, start marked), fixed points by stability
    (filled: stable, open: unstable, with their unstable directions).

    Returns the dict of :func:`rnnviz.plot.plot_energy_landscape` plus "starts".
    """
    ax = _axes(ax)
    out = plot_energy_landscape(plane.landscape, fixed_points=plane.fixed_points, draw_trajectories=True,
                                max_sequences=None, colorbar=colorbar, ax=ax)
    start = plane.plane.projected[0].numpy()  # (B, 2)
    out["starts"] = ax.scatter(start[:, 0], start[:, 1], s=8, color="white", zorder=4)
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
    return out


def plot_model_frame(recording, frame, *, axes=None) -> dict:
    """The trained-model explorer's view at one step (:func:`rnnviz.widgets.model_frame`).

    Three panels: the input symbols with the current one highlighted; the state trajectory in the
    first two principal components (whole sequence faint, up to t solid, the current state as a dot);
    the chosen unit's gates and state over time with a line at t.

    Args:
        recording: the :class:`rnnviz.widgets.ModelRecording`; frame: its :class:`ModelFrame`.
        axes: three Axes; created (one figure, three rows) when None.

    Returns:
        dict with "axes", "symbols" (Text artists), "path", "point", "gates" (name → Line2D), "now".
    """
    if axes is None:
        fig = plt.figure(figsize=(7.0, 6.0), layout="constrained")
        grid = fig.add_gridspec(3, 2, height_ratios=[0.35, 2.2, 1.4])
        axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, :]), fig.add_subplot(grid[2, :])]
    tape, space, gates_ax = axes
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
    return {"axes": list(axes), "symbols": texts, "path": line, "point": point, "gates": drawn, "now": now}


def plot_summary_metric(summary: pd.DataFrame, metric: str = "capacity_bits", *, highlight: str | None = None,
                        label: str | None = None, ax=None) -> dict:
    """One capacity quantity of :func:`rnnviz.study.summarize` against hidden size n, a line per cell;
    ``highlight`` draws that cell thick and the others thin. Returns ``{cell: Line2D}``."""
    if metric not in summary.columns:
        raise ValueError(f"metric must be a column of summary ({sorted(summary.columns)}), got {metric!r}")
    ax = _axes(ax)
    lines = {}
    for i, (cell, g) in enumerate(summary.groupby("cell", sort=True)):
        g = g.sort_values("hidden_size")
        strong = highlight is None or cell == highlight
        (lines[cell],) = ax.plot(g["hidden_size"], g[metric], "o-", color=PALETTE[i % len(PALETTE)], label=cell,
                                 linewidth=2.2 if strong else 0.8, alpha=1.0 if strong else 0.5,
                                 markersize=5 if strong else 3)
    sizes = sorted(int(n) for n in summary["hidden_size"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("hidden size n")
    ax.set_ylabel(label or metric)
    ax.legend(fontsize="small")
    return lines


def plot_capacity_view(view, *, axes=None) -> dict:
    """The capacity explorer's view (:func:`rnnviz.widgets.capacity_view`): the chosen cell's recall
    accuracy over (I_T, n) on the left, the chosen metric against n for every cell on the right.

    Returns dict with "axes", "heatmap" (AxesImage) and "lines" ({cell: Line2D})."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    left, right = axes
    image = plot_accuracy_heatmap(view.grid, view.cell, interference=view.interference, ax=left)
    left.set_title(f"{view.cell}, {view.interference} interference")
    lines = plot_summary_metric(view.summary, view.metric, highlight=view.cell, label=METRICS[view.metric],
                                ax=right)
    return {"axes": list(axes), "heatmap": image, "lines": lines}


def plot_training_history(result, *, metric: str = "accuracy", baseline: float | None = None, ax=None) -> dict:
    """A metric of :class:`rnnviz.train.FitResult`'s validation history against the training step,
    one line per member, with an optional memoryless ``baseline`` (dashed). Returns ``{member: Line2D}``."""
    frame = result.to_frame()
    if metric not in frame.columns:
        raise ValueError(f"metric must be one of {sorted(frame.columns)}, got {metric!r}")
    ax = _axes(ax)
    lines = {}
    for member, g in frame.groupby("member", sort=True):
        (lines[member],) = ax.plot(g["step"], g[metric], color=PALETTE[int(member) % len(PALETTE)])
    if baseline is not None:
        lines["baseline"] = ax.axhline(baseline, color="0.5", linestyle="--", linewidth=0.8, label="memoryless")
        ax.legend()
    ax.set_xlabel("training step")
    ax.set_ylabel(f"validation {metric}")
    return lines


def plot_energy_steps(diagnostics, *, sequence: int = 0, ax=None) -> dict:
    """E_S along one sequence of :func:`rnnviz.probes.energy_diagnostics`: for each step, the energy
    before and after it (the current I_t held within the step), as a sawtooth; steps that raised E_S
    are marked. Returns dict with "line", "rises" (PathCollection or None)."""
    ax = _axes(ax)
    before = diagnostics.energy_before[:, sequence].double().numpy()  # (T,)
    after = diagnostics.energy_after[:, sequence].double().numpy()
    T = len(before)
    xs = np.repeat(np.arange(T), 2) + np.tile([0.0, 1.0], T)
    ys = np.stack([before, after], axis=1).ravel()
    segments = np.full((T, 3, 2), np.nan)
    segments[:, 0] = np.stack([xs[0::2], ys[0::2]], 1)
    segments[:, 1] = np.stack([xs[1::2], ys[1::2]], 1)
    flat = segments.reshape(-1, 2)
    (line,) = ax.plot(flat[:, 0], flat[:, 1], color=PALETTE[0], linewidth=1.2, label="$E_S$ within each step")
    up = after > before + 1e-12 * np.maximum(1.0, np.abs(before))
    rises = None
    if up.any():
        rises = ax.scatter(np.arange(T)[up] + 1, after[up], color=PALETTE[3], s=14, zorder=5,
                           label="step that raised $E_S$")
    ax.set_xlabel("time step t")
    ax.set_ylabel("$E_S(s; I_t)$")
    ax.legend(fontsize="small")
    return {"line": line, "rises": rises}


def plot_benchmarks(frame: pd.DataFrame, *, value: str = "median_ms", ax=None) -> dict:
    """Benchmark timings (from :func:`rnnviz.results.load_benchmarks`): one group of bars per shape
    (T, B, H), one bar per contender, log scale, with the 20–80 % spread as error bars when present.
    Returns ``{contender: BarContainer}``."""
    if frame.empty:
        raise ValueError("frame holds no timed rows")
    ax = _axes(ax)
    frame = frame.dropna(subset=[value])
    shapes = list(dict.fromkeys(zip(frame["T"], frame["B"], frame["H"], strict=True)))
    contenders = list(dict.fromkeys(frame["contender"]))
    width = 0.8 / len(contenders)
    bars = {}
    for j, name in enumerate(contenders):
        rows = frame[frame["contender"] == name]
        pos, vals, err = [], [], []
        for i, shape in enumerate(shapes):
            hit = rows[(rows["T"] == shape[0]) & (rows["B"] == shape[1]) & (rows["H"] == shape[2])]
            if len(hit):
                r = hit.iloc[0]
                pos.append(i + (j - (len(contenders) - 1) / 2) * width)
                vals.append(r[value])
                if {"p20_ms", "p80_ms"} <= set(r.index) and value == "median_ms":
                    err.append((r[value] - r["p20_ms"], r["p80_ms"] - r[value]))
                else:
                    err.append((0.0, 0.0))
        bars[name] = ax.bar(pos, vals, width, yerr=np.array(err).T if err else None,
                            color=PALETTE[j % len(PALETTE)], label=name, capsize=2)
    ax.set_xticks(range(len(shapes)), [f"T={t}\nB={b}\nH={h}" for t, b, h in shapes])
    ax.set_yscale("log")
    ax.set_ylabel("forward + backward (ms)" if value == "median_ms" else value)
    ax.legend(fontsize="x-small", ncol=2)
    return bars
