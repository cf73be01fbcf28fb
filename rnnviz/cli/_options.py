"""The ``--time-limit MINUTES`` option shared by the long commands (``rnnviz capacity``, ``rnnviz lm``):
no new training starts after the limit, what finished is written, and the command exits with
:data:`INCOMPLETE` while models remain; running the same command again resumes."""

from __future__ import annotations

import argparse

INCOMPLETE = 3  # exit status when --time-limit stopped a run before its end


def add_time_limit_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="start no new training after this many minutes; what finished is written, and the exit "
        f"status is {INCOMPLETE} when models remain (run the same command again to resume)",
    )


def time_limit_seconds(minutes: float | None) -> float | None:
    """``--time-limit`` in seconds (None: no limit); a clear error unless it is positive."""
    if minutes is None:
        return None
    if not minutes > 0:
        raise ValueError(f"--time-limit must be a positive number of minutes, got {minutes}")
    return 60 * minutes


def resume_message(remaining: int, planned: int) -> str:
    return (f"stopped by --time-limit with {remaining} of {planned} models still to train: run the same "
            "command again to resume")
