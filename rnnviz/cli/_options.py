"""The options shared by the long commands (``rnnviz capacity``, ``rnnviz lm``), with one meaning each.

- ``--device``: ``auto`` (the default: CUDA when available, else the CPU), ``cpu``, ``cuda``, …;
  resolved and named by :func:`rnnviz.study.resolve_device` and :func:`rnnviz.study.device_name`.
- ``--threads N``: torch CPU threads of each training process, a positive integer (default 1).
- ``--time-limit MINUTES``: no new training starts after the limit, what finished is written, and the
  command exits with :data:`INCOMPLETE` while models remain; running the same command again resumes.
"""

from __future__ import annotations

import argparse

from .._checks import check_int
from ..study import device_name

INCOMPLETE = 3  # exit status when --time-limit stopped a run before its end


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` and ``--threads``."""
    parser.add_argument("--device", default="auto",
                        help="'auto' (default: CUDA when available, else the CPU), 'cpu', 'cuda', 'cuda:1', ...")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch CPU threads of each training process, a positive integer (default 1: a "
                             "recurrent step's small matrix products run fastest on one thread)")


def threads(value: int) -> int:
    """``--threads``, checked: a ValueError naming the option unless it is a positive integer."""
    return check_int("--threads", value)


def describe_device(device: str) -> str | None:
    """What ``--device`` resolves to in this process (``"cuda:<GPU model>"``, ``"cpu:<processor>"``),
    or None when it cannot be read."""
    try:
        return device_name(device)
    except (RuntimeError, AssertionError, ValueError):
        return None


def add_time_limit_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--time-limit MINUTES``."""
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
