"""``rnnviz capacity``: run or resume a preset capacity sweep."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

from .._checks import require
from ..study import PRESETS, capacity_preset
from ..study._checkpoints import check_folder
from ..study._provenance import RUN_LOGS, logged_invocation, wall_time
from ..tasks import CURRICULA
from ..tasks._memorization import DOSE_PROTOCOLS
from ._options import (
    INCOMPLETE,
    OptionError,
    add_device_arguments,
    add_hard_limit_argument,
    add_time_limit_argument,
    add_workers_argument,
    describe_device,
    hard_limit_seconds,
    limits_given,
    long_run_options,
    output_folder,
    plan_folder,
    plan_text,
    resume_message,
    typed_options,
    workers_option,
)

RUN_LOG = RUN_LOGS["capacity"]  # one JSON line per invocation of ``rnnviz capacity`` in OUT


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "capacity",
        help="memorization-capacity sweep (resumable)",
        description="Train a preset memorization-capacity sweep and write OUT/capacity.sqlite, "
        "OUT/capacity.csv, OUT/capacity_summary.csv, OUT/capacity_seed_means.csv, "
        "OUT/capacity_effects.csv and figures (with several alphabets, OUT/capacity_alphabet.csv and its "
        "figure: the alphabet-size control); each invocation appends a line "
        "(wall time, device, versions) to OUT/capacity_runs.jsonl. Run again to resume.",
    )
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="smoke",
        help="; ".join(f"{k}: {v.description} ({v.n_models} models)" for k, v in PRESETS.items()),
    )
    p.add_argument("--out", required=True, help="output directory")
    add_device_arguments(p)
    p.add_argument(
        "--scheduler", default=None, help="dask.distributed scheduler address (default: run locally)"
    )
    add_workers_argument(p)
    p.add_argument("--cells", nargs="+", default=None, metavar="CELL",
                   help="train only these of the preset's cells (default: all of them)")
    p.add_argument("--hidden-sizes", nargs="+", type=int, default=None, metavar="N",
                   help="train these hidden sizes (default: the preset's), e.g. the small sizes first so that "
                        "their curves are complete; a preset's own size gives the same models as the whole preset "
                        "(same store keys), so running without --cells/--hidden-sizes into the same --out later "
                        "trains only what is left; a size the preset lacks extends its grid (new models, their own "
                        "keys, the preset's training settings)")
    p.add_argument("--targeted-bits", nargs="+", type=float, default=None, metavar="BITS",
                   help="train these targeted amounts, in bits, multiples of log2 of the alphabet (e.g. "
                        "--targeted-bits 2 4 8: the cheaper, shorter sequences first); like --hidden-sizes, the "
                        "preset's own amounts keep their store keys and others extend the grid")
    p.add_argument("--doses", nargs="+", default=None, metavar="L:R",
                   help="train these interference settings, each written L:R (a delay of L steps, R of them "
                        "random symbols; protocol-1 presets: L:blank or L:random), e.g. --doses 8:4; like "
                        "--hidden-sizes, the preset's own doses keep their store keys and others extend the grid")
    p.add_argument("--protocol", type=int, default=None, choices=DOSE_PROTOCOLS,
                   help="a variant of the preset: its grid under this protocol (2, or 3: cued recall, the position "
                        "to recall named at every recall step), for presets of protocol 2 or 3; different models "
                        "from the preset's own (their own store keys)")
    p.add_argument("--curriculum", default=None, choices=[*CURRICULA, "none"],
                   help="a variant of the preset: its training with this curriculum ('none': on the task itself; "
                        "docs/capacity.md, \"Training\"); different models from the preset's own (their own store keys)")
    p.add_argument("--hold", type=int, default=None, metavar="STEPS",
                   help="a variant of the preset: every target held STEPS steps between its store and its recall "
                        "at every targeted amount (each dose keeps its R random symbols and takes the delay "
                        "L = STEPS - K - 2), for presets of protocol 2 or 3, so that a curve is read at one hold "
                        "(docs/capacity_runs.md, \"The hold-time pilot\"); a model whose delay comes out as the "
                        "preset's own is the preset's model (same store key)")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="a variant of the preset: its training with a budget of N optimizer steps per model "
                        "(the learning-rate schedule stretched over them, the plateau rule unchanged), e.g. "
                        "three times the budget to see whether more training lifts a curve; different models "
                        "from the preset's own (their own store keys)")
    add_time_limit_argument(p)
    add_hard_limit_argument(p, "the groups in flight, each at its next checkpoint (at most 2,000 steps later; "
                               "OUT/capacity.sqlite.checkpoints/, or --checkpoints; with --scheduler only "
                               "with --checkpoints),")
    p.add_argument("--checkpoints", default=None, metavar="DIR",
                   help="folder of the checkpoints of the groups in flight (default: OUT/capacity.sqlite.checkpoints "
                        "when training locally; none on a Dask cluster, whose workers may not see OUT): with "
                        "--scheduler, a folder every worker can read and write (a shared file system), so that "
                        "a group Dask retries on another worker resumes from its checkpoint and --hard-limit works")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--pilot", action="store_true",
                   help="run the preset's learning-rate pilot (OUT/capacity_pilot.csv) instead of the sweep")
    p.add_argument("--plan", action="store_true",
                   help="train nothing: print what the same command without --plan would still train (the "
                        "models in the store, the groups left in the order they would start, which resume from "
                        "a checkpoint at which step, each one's share of the cost left) and exit")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..study import summarize

    # Every option is checked before anything runs (OptionError: one line, exit status 2).
    if args.plan and args.pilot:
        raise OptionError("--plan shows a sweep's plan and does not go with --pilot (the learning-rate pilot)")
    n_threads, time_limit = long_run_options(args, local=args.scheduler is None)
    hard_limit = hard_limit_seconds(args, time_limit)
    if hard_limit is not None and args.scheduler is not None and args.checkpoints is None:
        raise OptionError("--hard-limit with --scheduler needs --checkpoints DIR (a folder every Dask worker "
                          "shares): groups stopped in flight resume from their checkpoints")
    try:
        check_folder("--checkpoints", args.checkpoints)
    except ValueError as err:
        raise OptionError(str(err)) from None
    if args.scheduler is not None:
        require("dask.distributed", "dist", "--scheduler (a Dask cluster)")
    workers = workers_option(args.workers, args.device)
    whole = PRESETS[args.preset]
    chosen = capacity_preset(args.preset, **preset_part(whole, args.cells, args.hidden_sizes, args.doses,
                                                              args.targeted_bits),
                             **preset_variant(whole, args.protocol, args.curriculum, args.hold, args.steps))
    check_grid(chosen, args)
    if args.pilot and not chosen.pilot_lrs:
        raise OptionError(f"--pilot needs a preset with a learning-rate pilot, and {args.preset!r} has none "
                          f"(these have one: {[k for k, p in PRESETS.items() if p.pilot_lrs]})")
    if args.plan:  # before --out is created: a plan writes nothing
        return print_plan(chosen, args, workers)
    args.out = str(output_folder(args.out))
    if args.pilot:
        return run_pilot(chosen, args, n_threads, workers)
    fields = {
        "command": "capacity",
        "preset": args.preset,
        "device": args.device,
        "device_name": None if args.scheduler is not None else describe_device(args.device),  # workers resolve it
        "workers": workers,
        "threads": n_threads,
        "scheduler": args.scheduler,
        "time_limit_minutes": args.time_limit,
        "hard_limit_minutes": args.hard_limit,
        "checkpoints": args.checkpoints,
        "models_planned": chosen.n_models,
        "cells": list(chosen.cells),
        "hidden_sizes": list(chosen.hidden_sizes),
        "targeted_bits": list(chosen.targeted_bits),
        "doses": [list(dose) for dose in chosen.interfering],
        "protocol": chosen.protocol,
        "curriculum": chosen.train.curriculum,
        "hold": chosen.hold,
        "steps": chosen.train.steps,
    }
    client = None if args.scheduler is None else connect_scheduler(args.scheduler)
    with contextlib.closing(client) if client is not None else contextlib.nullcontext(), \
            logged_invocation(Path(args.out) / RUN_LOG, **fields) as record:
        record["models_trained"] = 0

        def count(rows):
            record["models_trained"] += len(rows)

        rows = chosen.run(
            args.out,
            device=args.device,
            client=client,
            threads=n_threads,
            workers=workers,
            progress=not args.quiet,
            on_trained=count,
            time_limit=time_limit,
            hard_limit=hard_limit,
            checkpoints=args.checkpoints,
        )
        analysed = chosen.analysed(rows)  # a fixed-hold sweep's settings are its holds (--hold)
        summary = summarize(analysed)
        if not args.no_figures and len(rows):
            from ..plot import capacity_figures
            from ..study import per_targeted_bits

            capacity_figures(per_targeted_bits(analysed), summary, args.out)
        write_effects(analysed, Path(args.out), figure=not args.no_figures,
                      report={"n_planned": rows.attrs["n_planned"],
                              "command": f"rnnviz capacity --preset {args.preset} --out {args.out}"
                                         + part_options(args)})
        write_alphabet_control(analysed, Path(args.out), figure=not args.no_figures)
        record["models_finished"] = len(rows)
        remaining = rows.attrs["n_planned"] - len(rows)
        record["exit_status"] = status = INCOMPLETE if remaining else 0
        several = "alphabet" in summary.columns and summary["alphabet"].nunique() > 1
        cols = [
            "cell",
            "hidden_size",
            *(["alphabet"] if several else []),
            "interference",
            "capacity_bits",
            "bits_per_unit",
            "bits_per_parameter",
            "max_targeted_bits_99",
        ]
        print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    total = wall_time(args.out, "capacity")
    print(
        f"{len(rows)} models in {args.out}/capacity.sqlite ({record['models_trained']} trained now); "
        f"this run {record['wall_seconds']:.1f} s, all runs {total:.1f} s ({args.out}/{RUN_LOG})"
    )
    if remaining:
        print(resume_message(remaining, rows.attrs["n_planned"], limits_given(args), plan=True))
    return status


def connect_scheduler(address: str):
    """``--scheduler``, connected before anything runs (:func:`rnnviz.study._dask.connect_scheduler`): an
    :class:`OptionError` naming the address when no scheduler can be reached there."""
    from ..study._dask import connect_scheduler as connect

    try:
        return connect(address)
    except ConnectionError as err:
        raise OptionError(f"--scheduler: {err}") from None


def preset_part(whole, cells: list[str] | None, hidden_sizes: list[int] | None,
                doses: list[str] | None = None, targeted_bits: list[float] | None = None) -> dict:
    """The preset fields that ``--cells``, ``--hidden-sizes``, ``--doses`` and ``--targeted-bits``
    replace, repeats dropped. The preset's own values (in its order) give the same models as the whole
    preset, under the same store keys: a part. Hidden sizes, doses and targeted bits the preset lacks
    follow (in the order given) and extend its grid: new models, with keys of their own, trained with
    the preset's settings (the study checks them: :func:`check_grid`). Cells must be the preset's (its
    learning rates are chosen per cell): an :class:`OptionError` names the others."""
    if targeted_bits is not None and not whole.targeted_bits:
        raise OptionError(f"--targeted-bits needs a preset whose targeted amounts are given in bits, and this one "
                          f"gives them in symbols (n_targets {list(whole.n_targets)} at alphabets {list(whole.alphabets)})")
    changes = {}
    settings = None if doses is None else [read_dose(d) for d in doses]
    for field, values in (("cells", cells), ("hidden_sizes", hidden_sizes), ("interfering", settings),
                          ("targeted_bits", targeted_bits)):
        if values is None:
            continue
        own = getattr(whole, field)
        extra = list(dict.fromkeys(v for v in values if v not in own))
        if extra and field == "cells":
            raise OptionError(f"--cells must be among the preset's {list(own)} (its learning rates are chosen per "
                              f"cell), got {extra}")
        changes[field] = (*(v for v in own if v in values), *extra)
    return changes


def check_grid(chosen, args) -> None:
    """The study's own checks of every model the options list (a targeted amount a whole number of
    symbols, a dose the delay can hold, a hold long enough, a warm start under protocol 2), before
    anything runs: an :class:`OptionError` naming the options that chose the grid."""
    try:
        chosen.specs()
    except ValueError as err:
        raise OptionError(f"{part_options(args).strip() or f'--preset {args.preset}'}: {err}") from None


def read_dose(text: str) -> tuple:
    """``L:R`` → ``(L, R)`` (R an integer: a protocol-2/3 dose) or ``(L, "blank"|"random")`` (protocol 1);
    an :class:`OptionError` for anything else."""
    delay, sep, rest = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(delay), (rest if rest in ("blank", "random") else int(rest))
    except ValueError:
        raise OptionError(f"--doses takes L:R (delay L, R random symbols; or L:blank, L:random), got {text!r}") from None


def preset_variant(whole, protocol: int | None, curriculum: str | None, hold: int | None = None,
                   steps: int | None = None) -> dict:
    """The preset fields that ``--protocol``, ``--curriculum``, ``--hold`` and ``--steps`` replace: a
    variant of the preset, whose models differ from its own (other store keys; under ``--hold``, all but
    those whose delay comes out as the preset's; under ``--steps``, all unless N is the preset's budget).
    ``--protocol`` and ``--hold`` need a preset whose doses they read the same way (protocol 2 or 3), an
    :class:`OptionError` otherwise; what else the variant's models need (a warm start: protocol 2; a hold
    long enough for every K) the study checks when they are listed."""
    changes = {}
    train = whole.train
    if hold is not None:
        if whole.protocol not in DOSE_PROTOCOLS:
            raise OptionError(f"--hold {hold} needs a preset of protocol {' or '.join(map(str, DOSE_PROTOCOLS))} "
                              f"(doses of random symbols at a delay the hold sets), and this preset is of "
                              f"protocol {whole.protocol}")
        changes["hold"] = hold
    if protocol is not None and protocol != whole.protocol:
        if whole.protocol not in DOSE_PROTOCOLS:
            raise OptionError(f"--protocol {protocol} needs a preset of protocol {' or '.join(map(str, DOSE_PROTOCOLS))} "
                              f"(doses of random symbols), and this preset is of protocol {whole.protocol}")
        changes["protocol"] = protocol
    if curriculum is not None:
        train = replace(train, curriculum=None if curriculum == "none" else curriculum)
    if steps is not None:
        try:
            train = replace(train, steps=steps)  # TrainConfig checks it (a positive integer)
        except (TypeError, ValueError) as err:
            raise OptionError(f"--steps {steps}: {err}") from None
    if train is not whole.train:
        changes["train"] = train
    return changes


def part_options(args) -> str:
    """The options of an invocation that choose its part or variant of the preset (``--cells``,
    ``--hidden-sizes``, ``--doses``, ``--targeted-bits``, ``--protocol``, ``--curriculum``, ``--hold``,
    ``--steps``), as they would be typed (empty without them)."""
    given = (("--cells", args.cells), ("--hidden-sizes", args.hidden_sizes), ("--doses", args.doses),
             ("--targeted-bits", None if args.targeted_bits is None else [f"{b:g}" for b in args.targeted_bits]),
             ("--protocol", None if args.protocol is None else [args.protocol]),
             ("--curriculum", None if args.curriculum is None else [args.curriculum]),
             ("--hold", None if args.hold is None else [args.hold]),
             ("--steps", None if args.steps is None else [args.steps]))
    return typed_options(given)


def print_plan(chosen, args, workers: int) -> int:
    """``rnnviz capacity --plan``: what the command would still train (:meth:`rnnviz.study.Preset.plan`),
    printed; trains and writes nothing (the store is read, if there is one)."""
    out = plan_folder(args.out)
    plan = chosen.plan(out, workers=workers, distributed=args.scheduler is not None, checkpoints=args.checkpoints)
    print(plan_text("capacity", plan, out / "capacity.sqlite"))
    return 0


def run_pilot(chosen, args, n_threads: int, workers: int) -> int:
    """``rnnviz capacity --pilot``: the preset's learning-rate pilot; prints the table and the choice."""
    fields = {"command": "capacity --pilot", "preset": args.preset, "device": args.device,
              "device_name": describe_device(args.device), "workers": workers, "threads": n_threads,
              "models_planned": len(chosen.cells) * len(chosen.pilot_lrs) * len(chosen.pilot_points)
              * len(chosen.pilot_interfering) * len(chosen.pilot_seeds)}
    with logged_invocation(Path(args.out) / RUN_LOG, **fields) as record:
        table = chosen.pilot(args.out, device=args.device, threads=n_threads, workers=workers,
                             progress=not args.quiet)
        record["exit_status"] = 0
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("chosen: " + ", ".join(f"{cell}: {lr:g}" for cell, lr in table.attrs["best"].items()))
    print(f"pilot table: {Path(args.out) / 'capacity_pilot.csv'}; store: {Path(args.out) / 'capacity_pilot.sqlite'}")
    return 0


def write_effects(rows, out: Path, *, figure: bool = True, report: dict | None = None) -> list[Path]:
    """The seed statistics of a sweep, written under ``out``: ``capacity_effects.csv``
    (:func:`rnnviz.study.capacity_effects`), ``capacity_seed_means.csv`` (:func:`rnnviz.study.capacity_table`:
    capacity per setting, seed mean and 95 % interval), ``capacity_curve_shapes.csv``
    (:func:`rnnviz.study.curve_shapes`: one row per seed's curve), ``capacity_curve_falls.csv``
    (:func:`rnnviz.study.curve_falls`: one row per cell and n), ``capacity_mean_curves.csv``
    (:func:`rnnviz.study.mean_curves`: the mean curves, per cell, n and targeted amount, with intervals), ``capacity_equal_parameters.csv``
    (:func:`rnnviz.study.equal_parameter_capacity`, when the sweep holds an IRC/IHC cell and its
    baseline), ``capacity_report.md`` (:func:`rnnviz.study.capacity_report`, with ``report``'s keyword
    arguments) and, with ``figure``, ``capacity_effects.{pdf,png}`` (:func:`rnnviz.plot.plot_effects`) and
    the interval figures of :func:`rnnviz.plot.capacity_interval_figures`; nothing while no model has a
    score. Returns the written paths."""
    from .._files import write_text_atomically
    from ..study import capacity_report
    from ..study._report import capacity_tables

    if not len(rows) or not rows["recalled_bits"].notna().any():
        return []
    computed = capacity_tables(rows)  # once: the CSV files, the report and the figures share them
    effects, table, equal = computed["effects"], computed["seed_means"], computed["equal_parameters"]
    files = {"capacity_effects.csv": effects, "capacity_seed_means.csv": table,
             "capacity_curve_shapes.csv": computed["curve_shapes"], "capacity_curve_falls.csv": computed["curve_falls"],
             "capacity_mean_curves.csv": computed["mean_curves"]}
    if len(equal):
        files["capacity_equal_parameters.csv"] = equal
    written = []
    for name, frame in files.items():
        write_text_atomically(out / name, frame.to_csv(index=False))
        written.append(out / name)
    report_text = capacity_report(rows, tables=computed, **(report or {}))
    write_text_atomically(out / "capacity_report.md", report_text + "\n")
    written.append(out / "capacity_report.md")
    if figure:
        import matplotlib.pyplot as plt

        from .. import plot as rplot

        with rplot.style("paper"):
            drawn = rplot.plot_effects(effects)
            written += rplot.save(drawn.figure, out / "capacity_effects")
            plt.close(drawn.figure)
        written += rplot.capacity_interval_figures(table, equal, out)
    return written


def write_alphabet_control(rows, out: Path, *, figure: bool = True) -> list[Path]:
    """With rows of more than one alphabet (the ``alphabet`` preset): ``out/capacity_alphabet.csv``
    (:func:`rnnviz.study.alphabet_control`: recalled bits per (cell, n, K, A), seed mean and 95 %
    interval) and, with ``figure``, ``out/capacity_alphabet.{pdf,png}``
    (:func:`rnnviz.plot.plot_alphabet_control`; one figure per interference dose,
    ``capacity_alphabet_L<L>_r<n_random>``, when the rows hold several). Nothing for one alphabet or
    while no model has a score. Returns the written paths."""
    from .._files import write_text_atomically
    from ..study import alphabet_control

    if not len(rows) or rows["alphabet"].nunique() < 2 or not rows["recalled_bits"].notna().any():
        return []
    table = alphabet_control(rows)
    written = [out / "capacity_alphabet.csv"]
    write_text_atomically(written[0], table.to_csv(index=False))
    if figure:
        import matplotlib.pyplot as plt

        from .. import plot as rplot

        doses = table[["n_interfering", "n_random"]].drop_duplicates().sort_values(["n_interfering", "n_random"])
        for L, r in doses.itertuples(index=False):
            name = "capacity_alphabet" if len(doses) == 1 else f"capacity_alphabet_L{L}_r{r}"
            with rplot.style("paper"):
                drawn = rplot.plot_alphabet_control(table[(table["n_interfering"] == L) & (table["n_random"] == r)])
                written += rplot.save(drawn.figure, out / name)
                plt.close(drawn.figure)
    return written


