"""A short tour of the cells: build each one, run it on a random sequence, count parameters, draw a figure.

Run with ``python -m rnnviz.demo --out out/demo``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from . import cells  # noqa: E402
from . import plot as rplot  # noqa: E402


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
        axes = rplot.plot_cell_responses(traces)
        axes[0].figure.suptitle(f"First state coordinates of each cell on one random sequence (m = n = {size})")
        rplot.save(axes[0].figure, out / "cell_responses")
    return cells.summary_table(size, size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the figure")
    parser.add_argument("--size", type=int, default=16, help="input and hidden size of every cell")
    args = parser.parse_args(argv)
    print(cell_tour(args.out, size=args.size).to_string(index=False))
    print(f"figure: {args.out / 'cell_responses.pdf'} (and .png)")


if __name__ == "__main__":
    main()
