"""Command line: ``rnnviz adding --preset smoke|demo|paper|sizes --out DIR [--device auto] [--threads 1] [--workers N] [--time-limit MINUTES] [--hard-limit MINUTES]``.

Writes ``DIR/adding.csv`` (one row per model, after every ensemble: a rerun resumes),
``DIR/adding_summary.csv`` (seed means and 95 % intervals per cell, n and T) and the figure
``DIR/figures/adding_mse.{pdf,png}`` (one panel per hidden size), and appends one JSON line per
invocation to ``DIR/adding_runs.jsonl``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..study import ADDING_PRESETS, adding_preset, adding_summary
from ..study._adding import RESULTS_FILE, read_results
from ..study._provenance import RUN_LOGS, logged_invocation, wall_time
from ._options import (
    INCOMPLETE,
    OptionError,
    add_device_arguments,
    add_hard_limit_argument,
    add_time_limit_argument,
    add_workers_argument,
    describe_device,
    hard_limit_seconds,
    long_run_options,
    output_folder,
    resume_message,
    workers_option,
)

RUN_LOG = RUN_LOGS["adding"]  # one JSON line per invocation of ``rnnviz adding`` in --out


def register(subparsers) -> None:
    """Hook for :mod:`rnnviz.cli`: adds ``rnnviz adding``."""
    parser = subparsers.add_parser("adding", help="the adding problem: held-out MSE against sequence length",
                                   description="Train a preset adding-problem study and write OUT/adding.csv, "
                                   "OUT/adding_summary.csv and OUT/figures/adding_mse.{pdf,png}; each invocation "
                                   "appends a line (wall time, device, versions) to OUT/adding_runs.jsonl. Run "
                                   "again to resume.")
    parser.add_argument("--preset", choices=list(ADDING_PRESETS), default="smoke",
                        help="; ".join(f"{k}: {p.description} ({p.n_models} models)" for k, p in ADDING_PRESETS.items()))
    parser.add_argument("--out", required=True, help="folder for the results and the figure")
    add_device_arguments(parser)
    add_workers_argument(parser)
    add_time_limit_argument(parser)
    add_hard_limit_argument(parser, "the ensembles in flight, each at its next checkpoint (at most 2,000 steps "
                                    "later; OUT/adding.checkpoints/),")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def write_figure(rows, out: Path) -> list[Path]:
    """``out/figures/adding_mse.{pdf,png}``: :func:`rnnviz.plot.plot_adding` against T, one panel per
    hidden size; with several hidden sizes also ``out/figures/adding_mse_vs_hidden_size.{pdf,png}``,
    against n, one panel per length. Returns the written paths (the first: ``adding_mse.pdf``)."""
    import matplotlib.pyplot as plt

    from .. import plot as rplot

    written = []
    sizes = sorted(int(n) for n in rows["hidden_size"].unique())
    lengths = sorted(int(t) for t in rows["length"].unique())
    panels = [("adding_mse", "length", "hidden_size", sizes)]
    if len(sizes) > 1:
        panels.append(("adding_mse_vs_hidden_size", "hidden_size", "length", lengths))
    with rplot.style("paper"):
        for name, x, per, values in panels:
            width, height = rplot.figsize("double", 0.4)
            fig, axes = plt.subplots(1, len(values), figsize=(max(width, 2.4 * len(values)), height), sharey=True,
                                     squeeze=False, layout="constrained")
            for ax, value in zip(axes[0], values, strict=True):
                rplot.plot_adding(rows, x=x, ax=ax, **{per: value})
                if ax is not axes[0][0]:
                    ax.set_ylabel("")
            written += rplot.save(fig, out / "figures" / name)
            plt.close(fig)
    return written


def run(args: argparse.Namespace) -> int:
    """Run or resume a preset from parsed arguments; prints the seed means per (cell, n, T)."""
    # Every option is checked before anything runs (OptionError: one line, exit status 2).
    n_threads, time_limit = long_run_options(args)
    hard_limit = hard_limit_seconds(args, time_limit)
    workers = workers_option(args.workers, args.device)
    chosen = adding_preset(args.preset)
    out = output_folder(args.out)
    try:
        read_results(out / RESULTS_FILE)  # results this run would resume from: refused before anything runs
    except ValueError as err:
        raise OptionError(f"--out: {err}") from None
    torch.set_num_threads(n_threads)
    fields = {"command": "adding", "preset": args.preset, "device": args.device,
              "device_name": describe_device(args.device), "threads": n_threads, "workers": workers,
              "time_limit_minutes": args.time_limit, "hard_limit_minutes": args.hard_limit,
              "models_planned": chosen.n_models}
    with logged_invocation(out / RUN_LOG, **fields) as record:
        record["models_trained"] = 0

        def count(rows):
            record["models_trained"] += len(rows)

        rows = chosen.run(out, device=args.device, threads=n_threads, progress=not args.quiet, on_trained=count,
                          time_limit=time_limit, workers=workers, hard_limit=hard_limit)
        record["models_finished"] = len(rows)
        remaining = rows.attrs["n_planned"] - len(rows)
        record["exit_status"] = status = INCOMPLETE if remaining else 0
        figures = write_figure(rows, out) if len(rows) else []
    if rows.empty:
        print(resume_message(remaining, rows.attrs["n_planned"]))
        return status
    summary = adding_summary(rows)
    columns = ["cell", "hidden_size", "length", "test_mse_mean", "test_mse_ci_low", "test_mse_ci_high", "n_seeds",
               "relative_mse"]
    print(summary[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"always predicting 1: MSE {rows['baseline_mse'].mean():.4f} on the same test sequences (1/6 expected)")
    stems = list(dict.fromkeys(str(f.with_suffix("")) for f in figures))
    print(f"results: {out / 'adding.csv'}; figures: {', '.join(f'{s}.{{pdf,png}}' for s in stems)}")
    print(f"{record['models_trained']} models trained now; this run {record['wall_seconds']:.1f} s, all runs "
          f"{wall_time(out, 'adding'):.1f} s ({out / RUN_LOG})")
    if remaining:
        print(resume_message(remaining, rows.attrs["n_planned"]))
    return status
