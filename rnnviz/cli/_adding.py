"""Command line: ``rnnviz adding --preset smoke|demo|paper|sizes --out DIR [--cells CELL ...] [--hidden-sizes N ...]
[--lengths T ...] [--seeds S ...] [--steps N] [--device auto] [--threads 1] [--workers N] [--time-limit MINUTES]
[--hard-limit MINUTES]``.

The grid options replace the preset's axes (each model is known by its own settings, so a model the
preset also lists keeps its key and is not trained twice); ``--steps`` changes its training budget
(other models).

Writes ``DIR/adding.csv`` (one row per model, after every ensemble: a rerun resumes),
``DIR/adding_summary.csv`` (seed means and 95 % intervals per cell, n and T) and the figure
``DIR/figures/adding_mse.{pdf,png}`` (one panel per hidden size), and appends one JSON line per
invocation to ``DIR/adding_runs.jsonl``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
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
    plan_folder,
    plan_text,
    resume_message,
    typed_options,
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
    grid = parser.add_argument_group("the grid (default: the preset's)")
    grid.add_argument("--cells", nargs="+", default=None, metavar="CELL",
                      help="train these cells (any of rnnviz's, e.g. --cells pru gru) instead of the preset's")
    grid.add_argument("--hidden-sizes", nargs="+", type=int, default=None, metavar="N",
                      help="train these hidden sizes instead of the preset's")
    grid.add_argument("--lengths", nargs="+", type=int, default=None, metavar="T",
                      help="train at these sequence lengths (at least 2) instead of the preset's")
    grid.add_argument("--seeds", nargs="+", type=int, default=None, metavar="S",
                      help="train these seeds (integers from 0) instead of the preset's")
    grid.add_argument("--steps", type=int, default=None, metavar="N",
                      help="a budget of N optimizer steps per model instead of the preset's (the plateau rule "
                           "unchanged): other models than the preset's, with store keys of their own")
    add_device_arguments(parser)
    add_workers_argument(parser)
    add_time_limit_argument(parser)
    add_hard_limit_argument(parser, "the ensembles in flight, each at its next checkpoint (at most 2,000 steps "
                                    "later; OUT/adding.checkpoints/),")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--plan", action="store_true",
                        help="train nothing: print what the same command without --plan would still train (the "
                             "models in OUT/adding.csv, the ensembles left in the order they would start, which "
                             "resume from a checkpoint at which step, each one's share of the cost left) and exit")
    parser.set_defaults(func=run)


#: ``rnnviz adding``'s grid options: (option, field of :class:`~rnnviz.study.AddingPreset`)
GRID_OPTIONS = (("--cells", "cells"), ("--hidden-sizes", "hidden_sizes"), ("--lengths", "lengths"),
                ("--seeds", "seeds"))


def grid_options(args: argparse.Namespace) -> str:
    """The grid options of an invocation as they would be typed (``--steps`` too; empty without them)."""
    given = [(option, getattr(args, field)) for option, field in GRID_OPTIONS]
    given.append(("--steps", None if args.steps is None else [args.steps]))
    return typed_options(given)


def chosen_preset(args: argparse.Namespace):
    """The preset with the axes the grid options give (repeats dropped) and ``--steps``' budget, every
    model checked before anything runs: an :class:`OptionError` names the options that chose it."""
    changes = {field: tuple(dict.fromkeys(getattr(args, field))) for _, field in GRID_OPTIONS
               if getattr(args, field) is not None}
    whole = adding_preset(args.preset)
    try:
        if args.steps is not None:
            changes["train"] = replace(whole.train, steps=args.steps)
        chosen = replace(whole, **changes)
        chosen.n_models  # noqa: B018 (lists and checks every model)
    except (TypeError, ValueError) as err:
        raise OptionError(f"{grid_options(args).strip()}: {err}") from None
    return chosen


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
    chosen = chosen_preset(args)
    if args.plan:  # before --out is created: a plan writes nothing
        out = plan_folder(args.out)
        try:
            plan = chosen.plan(out, workers=workers)
        except ValueError as err:  # out/adding.csv is not an adding study's results
            raise OptionError(f"--out: {err}") from None
        print(plan_text("adding", plan, out / RESULTS_FILE))
        return 0
    out = output_folder(args.out)
    try:
        read_results(out / RESULTS_FILE)  # results this run would resume from: refused before anything runs
    except ValueError as err:
        raise OptionError(f"--out: {err}") from None
    torch.set_num_threads(n_threads)
    fields = {"command": "adding", "preset": args.preset, "device": args.device,
              "device_name": describe_device(args.device), "threads": n_threads, "workers": workers,
              "time_limit_minutes": args.time_limit, "hard_limit_minutes": args.hard_limit,
              "cells": list(chosen.cells), "hidden_sizes": list(chosen.hidden_sizes), "lengths": list(chosen.lengths),
              "seeds": list(chosen.seeds), "steps": chosen.train.steps,
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
        print(resume_message(remaining, rows.attrs["n_planned"], plan=True))
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
        print(resume_message(remaining, rows.attrs["n_planned"], plan=True))
    return status
