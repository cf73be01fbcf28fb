"""Figures of training runs and of their speed: a fit's validation history and benchmark timings.

Each function draws on one Axes (``ax=None`` creates it) and returns a :class:`~rnnviz.plot.Drawn`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import PALETTE, Drawn, _axes


def plot_training_history(result, *, metric: str = "accuracy", baseline: float | None = None, ax=None) -> Drawn:
    """A metric of :class:`rnnviz.train.FitResult`'s validation history against the training step,
    one line per member, with an optional memoryless ``baseline`` (dashed).

    Args:
        result: anything with ``to_frame()`` giving columns ``member``, ``step`` and ``metric``
            (a :class:`rnnviz.train.FitResult`).
        metric: the column to draw.
        baseline: the memoryless score, drawn as a dashed line (None: not drawn).

    Returns:
        :class:`Drawn` with "lines" (member → Line2D) and "baseline" (Line2D or None).
    """
    frame = result.to_frame()
    if metric not in frame.columns:
        raise ValueError(f"metric must be one of {sorted(frame.columns)}, got {metric!r}")
    ax = _axes(ax)
    lines = {}
    for member, g in frame.groupby("member", sort=True):
        (lines[member],) = ax.plot(g["step"], g[metric], color=PALETTE[int(member) % len(PALETTE)])
    line = None
    if baseline is not None:
        line = ax.axhline(baseline, color="0.5", linestyle="--", linewidth=0.8, label="memoryless")
        ax.legend()
    ax.set_xlabel("training step")
    ax.set_ylabel(f"validation {metric}")
    return Drawn((ax,), {"lines": lines, "baseline": line})


def plot_benchmarks(frame: pd.DataFrame, *, value: str = "median_ms", ax=None) -> Drawn:
    """Benchmark timings (from :func:`rnnviz.study.load_benchmarks`): one group of bars per shape
    (T, B, H), one bar per contender, log scale, with the 20–80 % spread as error bars when present.

    Returns:
        :class:`Drawn` with "bars": contender → BarContainer.
    """
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
    return Drawn((ax,), {"bars": bars})
