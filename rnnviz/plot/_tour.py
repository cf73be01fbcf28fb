"""Figures that compare cells at initialisation: how long they remember a pulse, how open their gates are."""

from __future__ import annotations

import math

import numpy as np

from ..probes import PulseResponse, gate_values
from ..probes._traces import gates_of
from ._probes import _numpy
from ._style import PALETTE, Drawn, _axes

_LINESTYLES = ("-", "--", ":", "-.")


def plot_pulse_responses(responses: dict[str, PulseResponse], *, ax=None) -> Drawn:
    """How a single input pulse fades in each cell's state, on a log scale, with the memory time scale.

    Args:
        responses: name → :class:`rnnviz.probes.PulseResponse`; an ensemble's members are averaged
            (their mean response is drawn and its time scale read as for one cell).
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "lines" (name → Line2D) and "threshold" (the 1/e line).
    """
    if not responses:
        raise ValueError("responses must contain at least one PulseResponse")
    ax = _axes(ax)
    lines = {}
    for i, (name, resp) in enumerate(responses.items()):
        if not isinstance(resp, PulseResponse):
            raise TypeError(f"responses[{name!r}] must be a rnnviz.probes.PulseResponse, got {type(resp).__name__}")
        resp = resp.members_mean()
        r = resp.response.detach().double()
        tau = float(resp.memory_time)
        label = f"{name} (τ > {resp.steps})" if math.isinf(tau) else f"{name} (τ = {tau:.1f})"
        steps = np.arange(1, len(r))
        (lines[name],) = ax.plot(steps, np.clip(_numpy(r[1:]), 1e-6, None), label=label,
                                 color=PALETTE[i % len(PALETTE)], linestyle=_LINESTYLES[(i // len(PALETTE)) % 4],
                                 linewidth=1.2)
    threshold = ax.axhline(math.exp(-1), color="0.5", linewidth=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, None)
    ax.set_xlabel("steps since the pulse")
    ax.set_ylabel("pulse's trace in the state (relative)")
    ax.legend(fontsize="x-small", ncols=2)
    return Drawn((ax,), {"lines": lines, "threshold": threshold})


def plot_gate_distributions(traces: dict, *, ax=None) -> Drawn:
    """Every gate's activations of each cell as a violin in [0, 1]: which gates start half open, which
    saturate. Cells without gates are left out.

    Args:
        traces: name → :class:`rnnviz.Trace` (or a gates dict) of a single cell.
        ax: a Matplotlib Axes; created when None.

    Returns:
        :class:`Drawn` with "violins": (name, gate) → the violin's PolyCollection.
    """
    if not traces:
        raise ValueError("traces must contain at least one trace")
    ax = _axes(ax)
    items = [(name, gate) for name, tr in traces.items() for gate in gates_of(tr)]
    gate_names = sorted({g for _, g in items})
    violins = {}
    if items:
        data = [_numpy(gate_values(traces[name], gate)) for name, gate in items]
        parts = ax.violinplot(data, positions=np.arange(len(items)), widths=0.8, showextrema=False,
                              showmedians=True)
        for (name, gate), body in zip(items, parts["bodies"], strict=True):
            body.set_facecolor(PALETTE[gate_names.index(gate) % len(PALETTE)])
            body.set_alpha(0.7)
            violins[(name, gate)] = body
        parts["cmedians"].set_color("0.2")
        ax.set_xticks(np.arange(len(items)), [f"{n}·{g[0]}" for n, g in items], rotation=90, fontsize="x-small")
        for gate in gate_names:
            ax.bar(0, 0, color=PALETTE[gate_names.index(gate) % len(PALETTE)], alpha=0.7, label=gate)
        ax.legend(fontsize="x-small", ncols=len(gate_names), loc="upper center", bbox_to_anchor=(0.5, 1.0))
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("gate activation")
    return Drawn((ax,), {"violins": violins})
