"""``rnnviz tour``: a short tour of the cells: build each one, run it on a random sequence, count
parameters, draw a figure.

Run with ``rnnviz tour --out out/cells``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .. import cells
from .. import plot as rplot


def cell_tour(out: Path, *, size: int = 16, steps: int = 60, seed: int = 0):
    """Build every registered cell with input = hidden = ``size``, trace it on one random sequence,
    save a figure of the first state coordinates, and return :func:`rnnviz.cells.summary_table`."""
    torch.manual_seed(seed)
    x = torch.randn(steps, 1, size)  # (T, B, m)
    traces = {}
    for name in cells.names():
        with torch.no_grad():
            traces[name] = cells.make(name, size, size).trace(x)
    with rplot.style("paper"):
        drawn = rplot.plot_cell_responses(traces)
        drawn.figure.suptitle(f"First state coordinates of each cell on one random sequence (m = n = {size})")
        rplot.save(drawn.figure, out / "cell_responses")
    return cells.summary_table(size, size)


def register(subparsers) -> None:
    """Hook for :mod:`rnnviz.cli`: adds ``rnnviz tour``."""
    parser = subparsers.add_parser("tour", help="a tour of every cell: parameters and a figure",
                                   description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--out", type=Path, default=Path("out/cells"), help="folder for the figure")
    parser.add_argument("--size", type=int, default=16, help="input and hidden size of every cell")
    parser.set_defaults(func=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    print(cell_tour(args.out, size=args.size).to_string(index=False))
    print(f"figure: {args.out / 'cell_responses.pdf'} (and .png)")
    return 0
