"""Command line: ``rnnviz lm --preset smoke|demo|paper|gpu --out DIR [--device auto] [--threads 1] [--cells pru gru] [--pilot]``.

Writes ``DIR/lm.csv`` (one row per comparison, cell and seed), ``DIR/lm_curves.csv``,
``DIR/checkpoints/``, ``DIR/lm_summary.csv`` (seed means with 95 % intervals),
``DIR/lm_differences.csv`` (against GRU and LSTM, paired by seed), ``DIR/samples.txt`` (text generated
by each seed-0 model) and ``DIR/figures/lm_bpc.{pdf,png}``, ``DIR/figures/lm_curves.{pdf,png}``, and
appends one JSON line per invocation to ``DIR/lm_runs.jsonl``. ``--pilot`` runs the preset's
learning-rate pilot instead (``DIR/lm_pilot.csv``, one study per rate in ``DIR/lr<rate>/``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

from .._files import write_text_atomically
from ..cells import names as cell_names
from ..study import LM_PRESETS, lm_differences, lm_preset, load_curves, load_model, summarize_lm
from ..study._provenance import RUN_LOGS, logged_invocation, wall_time
from ..train import sample
from ._options import (
    INCOMPLETE,
    OptionError,
    add_device_arguments,
    add_hard_limit_argument,
    add_time_limit_argument,
    describe_device,
    hard_limit_seconds,
    limits_given,
    long_run_options,
    output_folder,
    plan_folder,
    resume_message,
)

SAMPLE_PRIME = "ROMEO:\n"
RUN_LOG = RUN_LOGS["lm"]  # one JSON line per invocation of ``rnnviz lm`` in --out


def add_lm_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``lm`` options to ``parser``."""
    parser.add_argument("--preset", choices=list(LM_PRESETS), default="smoke",
                        help="; ".join(f"{k}: {p.description} ({len(p.cells)} cells x {len(p.comparisons())} comparisons x "
                                      f"{len(p.seeds)} seeds)" for k, p in LM_PRESETS.items()))
    # (not LMPreset.n_models: sizing the equal-parameter models builds models, a second on every start)
    parser.add_argument("--out", required=True, help="folder for results, checkpoints and figures")
    add_device_arguments(parser)
    parser.add_argument("--cells", nargs="+", default=None, help="cells to compare (default: the preset's)")
    parser.add_argument("--no-resume", action="store_true", help="retrain runs already present in --out")
    parser.add_argument("--pilot", action="store_true",
                        help="run the preset's learning-rate pilot (each cell at each of its pilot rates, seed 0) "
                             "and print the rate it chooses per cell, instead of the study")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--plan", action="store_true",
                        help="train nothing: print what the same command without --plan would still train in "
                             "--out (models done, to train, resuming from a checkpoint at which step)")
    add_time_limit_argument(parser)
    add_hard_limit_argument(parser, "the model in flight, at its next checkpoint (at most 2,000 steps later; "
                                    "OUT/checkpoints/in_flight/; not with --pilot),")
    return parser


def add_lm_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``lm`` subcommand on an ``argparse`` subparsers object; returns its parser."""
    parser = subparsers.add_parser("lm", help="character-level language modelling on Tiny Shakespeare",
                                   description=__doc__.splitlines()[0])
    add_lm_arguments(parser)
    parser.set_defaults(func=run_lm)
    return parser


def write_figures(results, out: Path) -> list[Path]:
    """The bpc comparison (seed means, 95 % intervals) and learning-curve (seed 0) figures of a study
    in ``out``; returns the written files."""
    import matplotlib.pyplot as plt

    from .. import plot as rplot

    written = []
    seeds = results["seed"].nunique() if "seed" in results else 1
    with rplot.style("paper"):
        fig, ax = plt.subplots(figsize=rplot.figsize("double", 0.4), layout="constrained")
        if seeds > 1:
            rplot.plot_bpc_intervals(summarize_lm(results), ax=ax)
        else:
            rplot.plot_bpc_comparison(results, ax=ax)
        ax.set_title("Test bits per character on Tiny Shakespeare (lower is better)"
                     + (f"; mean of {seeds} seeds, 95 % interval" if seeds > 1 else ""))
        written += rplot.save(fig, out / "figures" / "lm_bpc")
        plt.close(fig)
        fig, ax = plt.subplots(figsize=rplot.figsize("double", 0.5), layout="constrained")
        curves = load_curves(out)
        curves = curves[curves["run_id"].isin(set(results["run_id"]))]
        if "seed" in curves:
            curves = curves[curves["seed"].fillna(0) == curves["seed"].fillna(0).min()]
        rplot.plot_learning_curves(curves, ax=ax)
        ax.set_title("Validation bits per character during training" + (" (seed 0)" if seeds > 1 else ""))
        written += rplot.save(fig, out / "figures" / "lm_curves")
        plt.close(fig)
    return written


def write_samples(results, out: Path, *, length: int, prime: str = SAMPLE_PRIME, temperature: float = 0.8,
                  seed: int = 0) -> Path:
    """Text generated by every seed-0 model of ``results`` (each once) into ``out/samples.txt``; a model
    whose weights are not in ``out`` (a study resumed from a store that keeps its rows and not its
    weights, as the GPU sessions' does) is named with no text."""
    parts = []
    first = results if "seed" not in results else results[results["seed"] == results["seed"].min()]
    for row in first.drop_duplicates("run_id").itertuples():
        if not (out / "checkpoints" / f"{row.run_id}.pt").is_file():
            parts.append(f"=== {row.run_id} (test {row.test_bpc:.3f} bpc): its weights are not kept here ===\n")
            continue
        model = load_model(out, row.run_id)
        text = sample(model, length, prime=prime, temperature=temperature, seed=seed)
        parts.append(f"=== {row.run_id} (test {row.test_bpc:.3f} bpc, temperature {temperature}) ===\n{text}\n")
    path = out / "samples.txt"
    write_text_atomically(path, "\n".join(parts))
    return path


def run_lm(args: argparse.Namespace) -> int:
    """Run a preset from parsed arguments (see :func:`add_lm_arguments`); prints the table."""
    # Every option is checked before anything runs (OptionError: one line, exit status 2).
    n_threads, time_limit = long_run_options(args)
    hard_limit = hard_limit_seconds(args, time_limit)
    if hard_limit is not None and args.pilot:
        raise OptionError("--hard-limit is for the study, not --pilot (whose runs are short): use --time-limit")
    if args.cells is not None:
        unknown = [c for c in args.cells if c not in cell_names()]
        if unknown:
            raise OptionError(f"--cells must name cells from {list(cell_names())}, got unknown {unknown}")
        if len(set(args.cells)) < len(args.cells):
            print(f"rnnviz lm: --cells repeats {sorted({c for c in args.cells if args.cells.count(c) > 1})}: "
                  "each cell is trained once", file=sys.stderr)
    chosen = lm_preset(args.preset, **({} if args.cells is None else {"cells": tuple(dict.fromkeys(args.cells))}))
    if args.plan and args.pilot:
        raise OptionError("--plan shows the study's plan and does not go with --pilot (the learning-rate pilot)")
    if args.pilot and not chosen.pilot_lrs:
        raise OptionError(f"--pilot needs a preset with a learning-rate pilot, and {args.preset!r} has none "
                          f"(these have one: {[k for k, p in LM_PRESETS.items() if p.pilot_lrs]})")
    if args.plan:  # before --out is created: a plan writes nothing
        print(plan_text(chosen.plan(plan_folder(args.out), resume=not args.no_resume), args.out))
        return 0
    args.out = output_folder(args.out)
    torch.set_num_threads(n_threads)
    if args.pilot:
        return run_pilot(chosen, args, time_limit)
    planned = chosen.n_models
    fields = {"command": "lm", "preset": args.preset, "device": args.device,
              "device_name": describe_device(args.device), "threads": torch.get_num_threads(),
              "cells": list(chosen.cells), "time_limit_minutes": args.time_limit,
              "hard_limit_minutes": args.hard_limit, "models_planned": planned}
    with logged_invocation(args.out / RUN_LOG, **fields) as record:
        record["models_trained"] = 0

        def count(rows):
            record["models_trained"] += len(rows)

        results = chosen.run(args.out, device=args.device, progress=not args.quiet,
                             resume=not args.no_resume, on_trained=count, time_limit=time_limit,
                             hard_limit=hard_limit)
        record["models_finished"] = int(results["run_id"].nunique()) if len(results) else 0  # models, not rows
        remaining = results.attrs["n_planned"] - len(results)
        record["exit_status"] = status = INCOMPLETE if remaining else 0
        if not results.empty:
            write_text_atomically(args.out / f"lm_{args.preset}.csv", results.to_csv(index=False))
            write_summaries(results, args.out)
            samples = write_samples(results, args.out, length=chosen.sample_chars)
            figures = write_figures(results, args.out)
    limits = limits_given(args)
    paused = results.attrs.get("paused")
    paused_note = f" ({paused} stopped at its last checkpoint and resumes from it)" if paused else ""
    if results.empty:
        print(f"stopped by {limits} before any model finished: {remaining} to train{paused_note}; run the same "
              "command again to resume (the same command with --plan shows what is left)")
        return status
    columns = ["comparison", "run_id", "hidden_size", "n_parameters", "test_bpc", "valid_bpc", "steps", "stop_reason",
               "train_seconds"]
    print(results[[c for c in columns if c in results]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"unigram baseline: {results['unigram_bpc'].iloc[0]:.3f} bpc on the test split")
    print(f"results: {args.out / 'lm.csv'}; samples: {samples}; figures: {figures[0].parent}")
    print(f"{record['models_trained']} models trained now; this run {record['wall_seconds']:.1f} s, all runs "
          f"{wall_time(args.out, 'lm'):.1f} s ({args.out / RUN_LOG})")
    if remaining:
        print(resume_message(remaining, planned, limits, plan=True) + paused_note)
    return status


def plan_text(plan, out) -> str:
    """What ``rnnviz lm ... --plan`` prints (:meth:`rnnviz.study.LMPreset.plan` of the folder ``out``):
    the models done and to train, then one line per model to train in the order it would start, with
    the comparisons it serves and the checkpoint it resumes from."""
    models = plan.drop_duplicates("run_id")
    served = plan.groupby("run_id", sort=False)["comparison"].agg(", ".join)
    done = int((models["status"] == "done").sum())
    todo = models[models["status"].isin(["to train", "resumes"])]
    clash = models[models["status"] == "other settings"]
    resumed = int((todo["status"] == "resumes").sum())
    steps = plan.attrs["steps"]
    lines = [f"rnnviz lm --plan: {len(models)} models in the preset ({len(plan)} rows), {done} done in {out}, "
             f"{len(todo)} to train" + (f" ({resumed} resume from a checkpoint)" if resumed else "")
             + (", in the order they would start:" if len(todo) else "")]
    if len(todo):
        shown = pd.DataFrame({"model": todo["run_id"], "compared at": [served[r] for r in todo["run_id"]],
                              "checkpoint": [f"step {a} of {steps}" if a else "-" for a in todo["resumes_at"]]})
        lines.append(shown.to_string(index=False))
    if len(clash):
        lines.append(f"{out} holds {', '.join(clash['run_id'])} trained with other settings: the study stops "
                     "with an error there (use another --out, or delete their checkpoints to retrain them)")
    lines.append("nothing trained (--plan); run the command without --plan to train")
    return "\n".join(lines)


def write_summaries(results, out: Path) -> list[Path]:
    """``out/lm_summary.csv`` (seed means with 95 % intervals) and ``out/lm_differences.csv`` (each
    cell minus GRU and minus LSTM, paired by seed); returns the written files."""
    summary = out / "lm_summary.csv"
    write_text_atomically(summary, summarize_lm(results).to_csv(index=False))
    differences = out / "lm_differences.csv"
    frames = [lm_differences(results, reference=ref) for ref in ("gru", "lstm") if ref in set(results["cell"])]
    table = pd.concat(frames, ignore_index=True) if frames else lm_differences(results.iloc[:0])
    write_text_atomically(differences, table.to_csv(index=False))
    return [summary, differences]


def run_pilot(chosen, args: argparse.Namespace, time_limit: float | None) -> int:
    """``rnnviz lm --pilot``: the preset's learning-rate pilot; prints each cell's rates and its choice."""
    fields = {"command": "lm --pilot", "preset": args.preset, "device": args.device,
              "device_name": describe_device(args.device), "threads": torch.get_num_threads(),
              "cells": list(chosen.cells), "time_limit_minutes": args.time_limit,
              "models_planned": len(chosen.cells) * len(chosen.pilot_lrs)}
    with logged_invocation(args.out / RUN_LOG, **fields) as record:
        rows = chosen.pilot(args.out, device=args.device, progress=not args.quiet, time_limit=time_limit)
        record["models_finished"] = len(rows)
        remaining = fields["models_planned"] - len(rows)
        record["exit_status"] = status = INCOMPLETE if remaining else 0
    table = rows.pivot(index="cell", columns="lr", values="best_valid_bpc")
    print("best valid bits per character, per cell (rows) and learning rate (columns):")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    rates = rows.attrs["learning_rates"]
    if rates is not None:
        print("chosen: " + ", ".join(f"{cell}: {lr:g}" for cell, lr in rates.items()))
    print(f"pilot table: {args.out / 'lm_pilot.csv'}")
    if remaining:
        print(resume_message(remaining, fields["models_planned"]))
    return status


def register(subparsers) -> None:
    """Hook for :mod:`rnnviz.cli`: adds ``rnnviz lm``."""
    add_lm_parser(subparsers)
