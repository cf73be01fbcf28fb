"""What a memorization network stores: states by stored label in a chosen projection, with the fixed
and slow points of the dynamics under the input held during the delay."""

from __future__ import annotations

import numpy as np

from ..probes import Discriminant, FixedPoints, Trajectories
from ..probes._traces import states_of
from ._probes import _numpy, fixed_point_markers
from ._style import PALETTE, Drawn, _axes

SLOW_COLOR = PALETTE[7]


def _axis_labels(projection) -> tuple[str, str]:
    if isinstance(projection, Discriminant):
        sep = _numpy(projection.separation)
        return tuple(f"discriminant {i + 1} (F = {sep[i]:.3g})" for i in range(2))
    ratio = _numpy(projection.explained_variance_ratio)
    return tuple(f"PC{i + 1} ({100 * ratio[i]:.0f}%)" for i in range(2))


def plot_memory_states(projection, states, labels, *, paths=None, fixed_points: FixedPoints | None = None,
                       label_names=None, max_paths: int = 40, size: float = 14, ax=None) -> Drawn:
    """States coloured by what they store, in the plane of a projection, with fixed and slow points.

    Args:
        projection: a :class:`rnnviz.probes.Discriminant` (e.g. fitted on the delay's states by stored
            symbol) or a :class:`rnnviz.probes.Trajectories`; its first two components are drawn.
        states: ``(B, S)`` the states to show as dots, e.g. the states at the end of the delay.
        labels: ``(B,)`` integer label of each state (e.g. the stored symbol), coloured by the palette.
        paths: optional ``(T, B, S)`` states (e.g. the delay period of the same sequences), drawn as
            faint lines in the colour of their label (at most ``max_paths`` of them).
        fixed_points: optional :class:`rnnviz.probes.FixedPoints` found under the held input: fixed
            points filled black (stable) or open vermillion (unstable); its ``slow_points`` as grey
            crosses whose size grows as their speed q falls.
        label_names: names of the label values (index = value) for the legend.
        size: marker size of the states.
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "points" (label name → PathCollection), "paths" (label name → list of
        Line2D), "stable", "unstable", "slow" (PathCollection or None).
    """
    if not isinstance(projection, (Discriminant, Trajectories)):
        raise TypeError(f"projection must be a rnnviz.probes.Discriminant or Trajectories, "
                        f"got {type(projection).__name__}")
    if projection.n_components < 2:
        raise ValueError(f"projection must have at least 2 components, got {projection.n_components}")
    points = _numpy(projection.project(states_of(states)))
    if points.ndim != 2:
        raise ValueError(f"states must have shape (B, S), got {tuple(np.shape(states))}")
    lab = _numpy(labels).astype(int).reshape(-1)
    if len(lab) != len(points):
        raise ValueError(f"labels must hold one label per state ({len(points)}), got {len(lab)}")
    ax = _axes(ax)

    def name(value):
        return label_names[value] if label_names is not None else int(value)

    drawn_paths: dict = {}
    if paths is not None:
        coords = _numpy(projection.project(states_of(paths)))
        if coords.ndim != 3 or coords.shape[1] != len(lab):
            raise ValueError(f"paths must have shape (T, {len(lab)}, S), got {tuple(np.shape(paths))}")
        for b in range(min(len(lab), max_paths)):
            drawn_paths.setdefault(name(lab[b]), []).extend(
                ax.plot(coords[:, b, 0], coords[:, b, 1], color=PALETTE[lab[b] % len(PALETTE)],
                        linewidth=0.6, alpha=0.35, zorder=1))
    drawn_points = {}
    for value in np.unique(lab):
        mask = lab == value
        drawn_points[name(value)] = ax.scatter(points[mask, 0], points[mask, 1], s=size, zorder=2,
                                               color=PALETTE[int(value) % len(PALETTE)], label=str(name(value)),
                                               edgecolors="white", linewidths=0.3)
    out = {"points": drawn_points, "paths": drawn_paths, "stable": None, "unstable": None, "slow": None}
    if fixed_points is not None:
        slow = fixed_points.slow_points
        if slow is not None and len(slow):
            xy = _numpy(projection.project(slow.states))[:, :2]
            logq = np.log10(np.clip(_numpy(slow.q), 1e-30, None))
            sizes = 10 + 50 * (logq.max() - logq) / max(np.ptp(logq), 1e-12)
            out["slow"] = ax.scatter(*xy.T, marker="x", s=sizes, color=SLOW_COLOR, linewidths=0.8, zorder=4,
                                     alpha=0.6, label=f"slow point (q ≥ {fixed_points.tol_q:.0e})")
        if len(fixed_points):
            xy = _numpy(projection.project(fixed_points.states))[:, :2]
            out.update(fixed_point_markers(ax, xy, _numpy(fixed_points.is_stable).astype(bool), size=45))
    xlabel, ylabel = _axis_labels(projection)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return Drawn((ax,), out)
