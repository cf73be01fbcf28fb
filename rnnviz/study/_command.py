"""``rnnviz capacity``: run or resume a preset capacity sweep."""

from __future__ import annotations

import os
import time

from ._presets import PRESETS

INCOMPLETE = 3  # exit status when --time-limit stopped the sweep before its end


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "capacity",
        help="memorization-capacity sweep (resumable)",
        description="Train a preset memorization-capacity sweep and write OUT/capacity.sqlite, "
        "OUT/capacity.csv, OUT/capacity_summary.csv and figures. Run again to resume.",
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
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="start no new group after this many minutes; what finished is written, and the exit "
        "status is 3 when models remain (run the same command again to resume)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from ._presets import run_preset

    if args.time_limit is not None and not args.time_limit > 0:
        raise ValueError(f"--time-limit must be a positive number of minutes, got {args.time_limit}")
    start = time.perf_counter()
    rows, summary = run_preset(
        args.preset,
        args.out,
        device=args.device,
        scheduler=args.scheduler,
        threads=args.threads,
        workers=args.workers if args.workers is not None else _default_workers(args.device),
        progress=not args.quiet,
        figures=not args.no_figures,
        time_limit=None if args.time_limit is None else 60 * args.time_limit,
    )
    cols = [
        "cell",
        "state_size",
        "interference",
        "capacity_bits",
        "bits_per_unit",
        "bits_per_parameter",
        "max_targeted_bits_99",
    ]
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{len(rows)} models in {args.out}/capacity.sqlite; {time.perf_counter() - start:.1f} s")
    remaining = rows.attrs["n_planned"] - len(rows)
    if remaining:
        print(f"stopped by --time-limit with {remaining} of {rows.attrs['n_planned']} models still to "
              "train: run the same command again to resume")
        return INCOMPLETE
    return 0


def _default_workers(device: str) -> int:
    """One process per core when training on the CPU (each with ``--threads`` threads), else 1."""
    return max(1, os.cpu_count() or 1) if device == "cpu" else 1
