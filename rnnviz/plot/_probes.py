"""Plots of the probes: trajectories with fixed points, gate saturation, energy landscapes and energy
along trajectories, spectra.

Every function takes ``ax=None`` (creating a figure when None), returns a :class:`~rnnviz.plot.Drawn`
and never calls ``plt.show()``. Colours come from :data:`rnnviz.plot.PALETTE`.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.collections import LineCollection

from .._checks import check_int
from ..probes import FixedPoints, Trajectories, gate_values
from ..probes._traces import gates_of
from ._style import PALETTE, Drawn, _axes

STABLE_COLOR = PALETTE[7]  # black
UNSTABLE_COLOR = PALETTE[3]  # vermillion


def _numpy(t) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _check_components(components, k: int) -> list[int]:
    comps = list(components)
    if len(comps) not in (2, 3) or len(set(comps)) != len(comps) or not all(0 <= c < k for c in comps):
        raise ValueError(f"components must be 2 or 3 different indices below n_components={k}, got {components!r}")
    return comps


def fixed_point_markers(ax, coords: np.ndarray, stable: np.ndarray, *, size: float) -> dict:
    """Stable fixed points filled black, unstable ones open vermillion, at ``coords (N, 2 or 3)``;
    ``{"stable", "unstable"}`` (None where there is none)."""
    drawn = {"stable": None, "unstable": None}
    if stable.any():
        drawn["stable"] = ax.scatter(*coords[stable].T, marker="o", s=size, color=STABLE_COLOR, zorder=5,
                                     label="stable fixed point")
    if (~stable).any():
        drawn["unstable"] = ax.scatter(*coords[~stable].T, marker="o", s=size, facecolors="white",
                                       edgecolors=UNSTABLE_COLOR, linewidths=1.2, zorder=5,
                                       label="unstable fixed point")
    return drawn


def _draw_fixed_points(ax, traj: Trajectories, fps: FixedPoints, comps: list[int], unstable_scale: float):
    """Stable points filled, unstable ones open; each unstable eigenvector as a segment through its point."""
    drawn = {"stable": None, "unstable": None, "directions": []}
    if not len(fps):
        return drawn
    coords = _numpy(traj.project(fps.states))[:, comps]  # (N, d)
    stable = _numpy(fps.is_stable).astype(bool)
    drawn.update(fixed_point_markers(ax, coords, stable, size=30))
    for i in np.flatnonzero(~stable):
        for v in fps.unstable_directions(int(i)):
            ends = torch.stack([fps.states[i] - unstable_scale * v, fps.states[i] + unstable_scale * v])
            seg = _numpy(traj.project(ends))[:, comps]  # (2, d)
            drawn["directions"] += ax.plot(*seg.T, color=UNSTABLE_COLOR, linewidth=1.0, zorder=4)
    return drawn


def plot_trajectories(traj: Trajectories, *, fixed_points: FixedPoints | None = None, components=(0, 1),
                      color_by="time", max_sequences: int | None = 20, unstable_scale: float = 0.3,
                      ax=None) -> Drawn:
    """Trajectories in the principal-component basis, in 2-D or 3-D, with fixed points.

    Args:
        traj: a :class:`rnnviz.probes.Trajectories` (projected states ``(T+1, B, k)``).
        fixed_points: optional :class:`rnnviz.probes.FixedPoints` drawn by stability (filled: stable,
            open: unstable) with a segment of half-length ``unstable_scale`` (in state units) along
            each unstable eigenvector.
        components: two or three component indices; three draws in 3-D.
        color_by: "time" (colour runs along each path), "sequence" (one palette colour per sequence),
            or an integer label per sequence ``(B,)`` (e.g. the input symbol), coloured by the palette.
        max_sequences: draw at most this many sequences (None: all).
        ax: a Matplotlib Axes (3-D for three components); created when None.

    Returns:
        :class:`Drawn` with "lines" (one artist per sequence), "stable", "unstable" (PathCollection or
        None), "directions" (list of Line2D).
    """
    comps = _check_components(components, traj.n_components)
    three_d = len(comps) == 3
    ax = _axes(ax, three_d=three_d)
    proj = _numpy(traj.projected)
    proj = proj.reshape(proj.shape[0], -1, proj.shape[-1])[..., comps]  # (T+1, B, d)
    B = proj.shape[1] if max_sequences is None else min(proj.shape[1], max_sequences)
    lines = []
    if isinstance(color_by, str) and color_by not in ("time", "sequence"):
        raise ValueError(f"color_by must be 'time', 'sequence' or labels (B,), got {color_by!r}")
    labels = None if isinstance(color_by, str) else _numpy(color_by).astype(int).reshape(-1)
    if labels is not None and len(labels) < B:
        raise ValueError(f"color_by must hold one label per sequence ({proj.shape[1]}), got {len(labels)}")
    for b in range(B):
        path = proj[:, b]
        if isinstance(color_by, str) and color_by == "time":
            segs = np.stack([path[:-1], path[1:]], axis=1)  # (T, 2, d)
            if three_d:
                from mpl_toolkits.mplot3d.art3d import Line3DCollection

                lc = Line3DCollection(segs, cmap="viridis", linewidths=0.8)
            else:
                lc = LineCollection(segs, cmap="viridis", linewidths=0.8)
            lc.set_array(np.arange(len(segs)))
            (ax.add_collection3d if three_d else ax.add_collection)(lc)
            lines.append(lc)
        else:
            colour = PALETTE[(b if labels is None else labels[b]) % len(PALETTE)]
            lines += ax.plot(*path.T, color=colour, linewidth=0.8, alpha=0.8)
    if three_d:
        ax.auto_scale_xyz(*[proj[:, :B, d].ravel() for d in range(3)])
        ax.set_zlabel(f"PC{comps[2] + 1}")
    else:
        ax.autoscale_view()
    ratio = _numpy(traj.explained_variance_ratio)
    ax.set_xlabel(f"PC{comps[0] + 1} ({100 * ratio[comps[0]]:.0f}%)")
    ax.set_ylabel(f"PC{comps[1] + 1} ({100 * ratio[comps[1]]:.0f}%)")
    out = {"lines": lines, "stable": None, "unstable": None, "directions": []}
    if fixed_points is not None:
        out.update(_draw_fixed_points(ax, traj, fixed_points, comps, unstable_scale))
    return Drawn((ax,), out)


def plot_saturation(frame, *, ax=None) -> Drawn:
    """The Karpathy et al. saturation scatter: one dot per unit, right- against left-saturated fraction.

    Args:
        frame: the DataFrame of :func:`rnnviz.probes.gate_saturation`; one colour per gate and,
            when it has a ``layer`` column, one marker per layer.
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "points" (gate name, ``"gate (layer)"`` with layers → PathCollection) and
        "boundary" (the line left + right = 1).
    """
    ax = _axes(ax)
    points = {}
    gates = list(dict.fromkeys(frame["gate"]))
    layers = list(dict.fromkeys(frame["layer"])) if "layer" in frame else [None]
    markers = "os^Dv<>P"
    for li, layer in enumerate(layers):
        rows_l = frame if layer is None else frame[frame["layer"] == layer]
        for gi, gate in enumerate(gates):
            rows = rows_l[rows_l["gate"] == gate]
            key = gate if layer is None else f"{gate} ({layer})"
            points[key] = ax.scatter(rows["left"], rows["right"], s=12, alpha=0.8, color=PALETTE[gi % len(PALETTE)],
                                     marker=markers[li % len(markers)], label=key)
    (boundary,) = ax.plot([0, 1], [1, 0], color="0.6", linewidth=0.8, linestyle="--")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("fraction left-saturated")
    ax.set_ylabel("fraction right-saturated")
    if points:
        ax.legend()
    return Drawn((ax,), {"points": points, "boundary": boundary})


def plot_gate_histograms(trace, *, gates=None, bins: int = 50, ax=None) -> Drawn:
    """Histograms (densities) of raw gate activations, one per gate, overlaid.

    Args:
        trace: a :class:`rnnviz.Trace` or a dict gate name → activations.
        gates: which gates (default all).
        bins: number of bins on [0, 1].
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "histograms": gate name → its list of patches.
    """
    names = list(gates_of(trace)) if gates is None else list(gates)
    ax = _axes(ax)
    histograms = {}
    edges = np.linspace(0, 1, bins + 1)
    for i, name in enumerate(names):
        values = _numpy(gate_values(trace, name))
        _, _, histograms[name] = ax.hist(values, bins=edges, density=True, histtype="stepfilled", alpha=0.4,
                                  color=PALETTE[i % len(PALETTE)], label=name)
    ax.set_xlabel("gate activation")
    ax.set_ylabel("density")
    if names:
        ax.legend()
    return Drawn((ax,), {"histograms": histograms})


def plot_energy_landscape(landscape, *, fixed_points: FixedPoints | None = None, draw_trajectories: bool = True,
                          max_sequences: int | None = 20, levels: int = 30, colorbar: bool = True,
                          ax=None) -> Drawn:
    """E_S over a plane (filled contours) with the trajectories and fixed points on it.

    Args:
        landscape: an :class:`rnnviz.probes.EnergyLandscape`.
        fixed_points: optional fixed points, drawn by stability.
        draw_trajectories: draw the trajectories the plane was fitted on.
        max_sequences: at most this many of them.
        levels: number of contour levels.
        colorbar: add a colour bar labelled E_S.
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "contour", "colorbar" (None without one), "lines" (one Line2D per drawn
        trajectory), "stable", "unstable", "directions" (as :func:`plot_trajectories`).
    """
    ax = _axes(ax)
    energy = np.ma.masked_invalid(_numpy(landscape.energy))  # +inf outside g's range
    contour = ax.contourf(_numpy(landscape.a), _numpy(landscape.b), energy, levels=levels, cmap="viridis")
    out = {"contour": contour, "colorbar": None, "lines": [], "stable": None, "unstable": None, "directions": []}
    if colorbar:
        out["colorbar"] = ax.figure.colorbar(contour, ax=ax, label=r"$E_S$")
    i, j = landscape.components
    plane = landscape.plane
    if draw_trajectories:
        proj = _numpy(plane.projected)
        proj = proj.reshape(proj.shape[0], -1, proj.shape[-1])
        B = proj.shape[1] if max_sequences is None else min(proj.shape[1], max_sequences)
        for b in range(B):
            out["lines"] += ax.plot(proj[:, b, i], proj[:, b, j], color="white", linewidth=0.7, alpha=0.8)
    if fixed_points is not None:
        out.update(_draw_fixed_points(ax, plane, fixed_points, [i, j], unstable_scale=0.3))
    ax.set_xlim(float(landscape.a[0]), float(landscape.a[-1]))
    ax.set_ylim(float(landscape.b[0]), float(landscape.b[-1]))
    ax.set_xlabel(f"PC{i + 1}")
    ax.set_ylabel(f"PC{j + 1}")
    return Drawn((ax,), out)


def plot_eigenvalues(fixed_points: FixedPoints, *, ax=None) -> Drawn:
    """Eigenvalues of the Jacobians at fixed points in the complex plane, with the unit circle.

    Eigenvalues of stable points are drawn in black, those of unstable points in vermillion.

    Returns:
        :class:`Drawn` with "circle" (Line2D), "stable", "unstable" (PathCollections or None).
    """
    ax = _axes(ax)
    theta = np.linspace(0, 2 * np.pi, 361)
    (circle,) = ax.plot(np.cos(theta), np.sin(theta), color="0.5", linewidth=0.8, linestyle="--")
    out = {"circle": circle, "stable": None, "unstable": None}
    lam = fixed_points.eigenvalues.detach().cpu().numpy()  # (N, S) complex
    stable = _numpy(fixed_points.is_stable).astype(bool) if len(fixed_points) else np.zeros(0, bool)
    for key, mask, colour in (("unstable", ~stable, UNSTABLE_COLOR), ("stable", stable, STABLE_COLOR)):
        if mask.any():
            values = lam[mask].ravel()
            out[key] = ax.scatter(values.real, values.imag, s=10, alpha=0.7, color=colour,
                                  label=f"{key} fixed points")
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    if out["stable"] is not None or out["unstable"] is not None:
        ax.legend()
    return Drawn((ax,), out)


def plot_states_by_label(traj: Trajectories, labels, *, label_names=None, components=(0, 1), size: float = 6,
                         ax=None) -> Drawn:
    """Every visited state as a dot in the principal-component plane, coloured by a label per step.

    Args:
        traj: a :class:`rnnviz.probes.Trajectories` whose ``projected`` is ``(T+1, B, k)``; the first
            state (s0) is skipped, so step t's dot is the state after reading input t.
        labels: ``(T, B)`` or ``(T,)`` (one sequence) integer labels, e.g. the class of the character read.
        label_names: names for the label values (index = value), shown in the legend.
        components: the two component indices to draw.
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "path" (the faint line joining the first sequence's states) and "points":
        label name (or value) → PathCollection.
    """
    comps = _check_components(components, traj.n_components)
    if len(comps) != 2:
        raise ValueError(f"components must be two indices for this plot, got {components!r}")
    ax = _axes(ax)
    proj = _numpy(traj.projected)
    proj = proj.reshape(proj.shape[0], -1, proj.shape[-1])[1:, :, comps]  # (T, B, 2)
    lab = _numpy(labels).astype(int)
    if lab.size != proj.shape[0] * proj.shape[1]:
        raise ValueError(f"labels must hold one label per step and sequence {proj.shape[:2]}, "
                         f"got shape {tuple(np.shape(labels))}")
    lab = lab.reshape(proj.shape[:2])
    (path,) = ax.plot(proj[:, 0, 0], proj[:, 0, 1], color="0.85", linewidth=0.4, zorder=0)
    points = {}
    for value in np.unique(lab):
        name = label_names[value] if label_names is not None else int(value)
        mask = lab == value
        points[name] = ax.scatter(proj[mask][:, 0], proj[mask][:, 1], s=size,
                                  color=PALETTE[int(value) % len(PALETTE)], label=str(name))
    ratio = _numpy(traj.explained_variance_ratio)
    ax.set_xlabel(f"PC{comps[0] + 1} ({100 * ratio[comps[0]]:.0f}%)")
    ax.set_ylabel(f"PC{comps[1] + 1} ({100 * ratio[comps[1]]:.0f}%)")
    return Drawn((ax,), {"path": path, "points": points})


def plot_gate_activity(trace, gate: str, *, batch_index: int = 0, steps: int | None = None, tick_labels=None,
                       colorbar: bool = True, ax=None) -> Drawn:
    """One gate's activations over time, one row per unit (a heat map in [0, 1]).

    Args:
        trace: a :class:`rnnviz.Trace` of a single cell (gates ``(T, B, n)``).
        gate: a name in ``trace.gates``.
        batch_index: which sequence of the batch to draw.
        steps: draw the first ``steps`` time steps (default: all).
        tick_labels: one label per drawn step for the x axis (e.g. the characters read).
        colorbar: add a colour bar.
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "image" (AxesImage) and "colorbar" (None without one).
    """
    gates = gates_of(trace)
    if gate not in gates:
        raise ValueError(f"gate must be one of {list(gates)}, got {gate!r}")
    g = gates[gate]
    if g.dim() != 3:
        raise ValueError(f"gate {gate!r} must be (T, B, n) of a single cell, got shape {tuple(g.shape)}")
    values = _numpy(g[:steps, batch_index])  # (T', n)
    ax = _axes(ax)
    image = ax.imshow(values.T, aspect="auto", vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
    if tick_labels is not None:
        labels = list(tick_labels)
        if len(labels) != len(values):
            raise ValueError(f"tick_labels must hold one label per drawn step ({len(values)}), got {len(labels)}")
        ax.set_xticks(range(len(labels)), labels, fontsize="x-small")
    ax.set_xlabel("time step")
    ax.set_ylabel("unit")
    ax.grid(False)
    bar = ax.figure.colorbar(image, ax=ax, label=f"{gate} gate") if colorbar else None
    return Drawn((ax,), {"image": image, "colorbar": bar})


def plot_energy_steps(diagnostics, *, sequence: int = 0, ax=None) -> Drawn:
    """E_S along one sequence of :func:`rnnviz.probes.energy_diagnostics`: for each step, the energy
    before and after it (the current I_t held within the step), as a sawtooth; steps that raised E_S
    are marked.

    Returns:
        :class:`Drawn` with "line" (Line2D) and "rises" (PathCollection, None when no step raised E_S).
    """
    check_int("sequence", sequence, 0, diagnostics.energy_before.shape[1] - 1)
    ax = _axes(ax)
    before = _numpy(diagnostics.energy_before[:, sequence])  # (T,)
    after = _numpy(diagnostics.energy_after[:, sequence])
    T = len(before)
    segments = np.full((T, 3, 2), np.nan)  # (step, [start, end, gap], xy): one segment per step
    segments[:, 0] = np.stack([np.arange(T), before], 1)
    segments[:, 1] = np.stack([np.arange(T) + 1.0, after], 1)
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
    return Drawn((ax,), {"line": line, "rises": rises})
