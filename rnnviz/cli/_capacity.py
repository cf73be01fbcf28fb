"""``rnnviz capacity``: run or resume a preset capacity sweep."""

from __future__ import annotations

import os
from pathlib import Path

from ..study import PRESETS
from ..study._provenance import RUN_LOGS, device_name, logged_invocation, wall_time
from ._time_limit import INCOMPLETE, add_time_limit_argument, resume_message, time_limit_seconds

RUN_LOG = RUN_LOGS["capacity"]  # one JSON line per invocation of ``rnnviz capacity`` in OUT


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "capacity",
        help="memorization-capacity sweep (resumable)",
        description="Train a preset memorization-capacity sweep and write OUT/capacity.sqlite, "
        "OUT/capacity.csv, OUT/capacity_summary.csv and figures; each invocation appends a line "
        "(wall time, device, versions) to OUT/capacity_runs.jsonl. Run again to resume.",
    )
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="smoke",
        help="; ".join(f"{k}: {v.description} ({v.n_models} models)" for k, v in PRESETS.items()),
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument(
        "--scheduler", default=None, help="dask.distributed scheduler address (default: run locally)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per group (default: 1)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local processes training groups in parallel (default: CPU count on cpu, 1 otherwise)",
    )
    add_time_limit_argument(p)
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from ..study import run_preset

    time_limit = time_limit_seconds(args.time_limit)
    workers = args.workers if args.workers is not None else _default_workers(args.device)
    fields = {
        "command": "capacity",
        "preset": args.preset,
        "device": args.device,
        "device_name": _describe_device(args.device, args.scheduler),
        "workers": workers,
        "threads": args.threads,
        "scheduler": args.scheduler,
        "time_limit_minutes": args.time_limit,
        "models_planned": PRESETS[args.preset].n_models,
    }
    with logged_invocation(Path(args.out) / RUN_LOG, **fields) as record:
        record["models_trained"] = 0

        def count(rows):
            record["models_trained"] += len(rows)

        rows, summary = run_preset(
            args.preset,
            args.out,
            device=args.device,
            scheduler=args.scheduler,
            threads=args.threads,
            workers=workers,
            progress=not args.quiet,
            on_group=count,
            time_limit=time_limit,
        )
        if not args.no_figures and len(rows):
            from ..plot import capacity_figures
            from ..study import per_targeted_bits

            capacity_figures(per_targeted_bits(rows), summary, args.out)
        record["models_finished"] = len(rows)
        remaining = rows.attrs["n_planned"] - len(rows)
        record["exit_status"] = status = INCOMPLETE if remaining else 0
        cols = [
            "cell",
            "hidden_size",
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
        print(resume_message(remaining, rows.attrs["n_planned"]))
    return status


def _describe_device(device: str, scheduler: str | None) -> str | None:
    """This process's name for ``device`` (GPU model, CPU); None with a scheduler (the workers run it)
    or when it cannot be read."""
    if scheduler is not None:
        return None
    try:
        return device_name(device)
    except (RuntimeError, AssertionError, ValueError):
        return None


def _default_workers(device: str) -> int:
    """One process per core when training on the CPU (each with ``--threads`` threads), else 1."""
    return max(1, os.cpu_count() or 1) if device == "cpu" else 1
