"""``rnnviz tour``: a short tour of the cells: build each one, count its parameters, and draw how long it
remembers an input pulse and how open its gates are, at initialisation.

Run with ``rnnviz tour --out out/cells``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch

from .. import cells, probes
from ._options import output_folder, positive_int


def cell_tour(out: Path, *, size: int = 16, steps: int = 60, seed: int = 0, inits: int = 4):
    """Build every registered cell with input = hidden = ``size`` and draw, at initialisation, what
    distinguishes them before any training: how long a single input pulse stays in the state (the
    memory time scale τ, averaged over ``inits`` random initialisations) and how open each gate is on
    random input (``steps`` steps). Saves ``out/cell_responses.pdf|png`` and returns
    :func:`rnnviz.cells.summary_table` with a ``memory_time`` column (τ, steps)."""
    import matplotlib.pyplot as plt

    from .. import plot as rplot  # matplotlib: imported when a figure is drawn, not with the parser

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 8, size, generator=generator)  # (T, B, m)
    responses, traces = {}, {}
    for name in cells.names():
        ensemble = cells.make(name, size, size, n_models=inits, generator=generator)
        responses[name] = probes.pulse_response(ensemble, steps=min(steps, 30), generator=generator)
        with torch.no_grad():
            traces[name] = cells.make(name, size, size, generator=generator).trace(x)
    with rplot.style("paper"):
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained",
                                          gridspec_kw={"width_ratios": (1, 1.3)})
        rplot.plot_pulse_responses(responses, ax=left)
        left.set_title(f"memory at initialisation: one input pulse, then zeros (mean of {inits} inits)")
        rplot.plot_gate_distributions(traces, ax=right)
        right.set_title("gate activations on random input (median line)")
        fig.suptitle(f"The cells before training (m = n = {size})")
        rplot.save(fig, out / "cell_responses")
        plt.close(fig)
    table = cells.summary_table(size, size)
    tau = {name: float(r.members_mean().memory_time) for name, r in responses.items()}
    return table.assign(memory_time=table["cell"].map(tau).round(1))


CAPTION = ("What to see: left, how many steps each cell keeps a trace of one input before training "
           "(τ, the memory_time column: steps until the trace falls below 1/e); right, where its gates' "
           "activations lie on random input. Gates that start half open (median near 0.5) mix old and new "
           "state evenly, so the pulse fades by about half per step and τ is a few steps: an untrained cell "
           "remembers almost nothing, and a gate that starts biased (FastGRNN's update gate) lengthens τ. "
           "Training must push keep-gates towards 1 to hold memories over a delay (notebooks 4 and 7).")


def register(subparsers) -> None:
    """Hook for :mod:`rnnviz.cli`: adds ``rnnviz tour``."""
    parser = subparsers.add_parser("tour", help="a tour of every cell: parameters and a figure",
                                   description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--out", default="out/cells", help="folder for the figure (default: out/cells)")
    parser.add_argument("--size", type=int, default=16, help="input and hidden size of every cell")
    parser.set_defaults(func=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    args.out = output_folder(args.out)
    positive_int("--size", args.size)
    print(cell_tour(args.out, size=args.size).to_string(index=False))
    print(f"figure: {args.out / 'cell_responses.png'} (and .pdf)")
    print(textwrap.fill(CAPTION, 100))
    return 0
