"""The options shared by the long commands (``rnnviz capacity``, ``rnnviz lm``), with one meaning each,
and their checks.

- ``--out DIR``: the results folder; created when missing, refused when it is a file, empty or
  cannot be written (:func:`output_folder`).
- ``--device``: ``auto`` (the default: CUDA when available, else the CPU), ``cpu``, ``cuda``, …;
  resolved and named by :func:`rnnviz.study.resolve_device` and :func:`rnnviz.study.device_name`; a
  device this machine does not have is refused before anything runs (:func:`device_option`).
- ``--threads N``: torch CPU threads of each training process, a positive integer (default 1).
- ``--time-limit MINUTES``: no new training starts after the limit, what finished is written, and the
  command exits with :data:`INCOMPLETE` while models remain; running the same command again resumes.

Every check raises :class:`OptionError`, which :func:`rnnviz.cli.main` prints in one line (exit
status 2). Each command checks all its options before it runs anything.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from .._checks import check_int
from ..study import device_name
from ..study._provenance import available_device

INCOMPLETE = 3  # exit status when --time-limit stopped a run before its end


class OptionError(Exception):
    """A command-line option whose value the command cannot use (the message names the option, the
    value and what is expected). :func:`rnnviz.cli.main` prints it in one line and exits with status 2."""


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` and ``--threads``."""
    parser.add_argument("--device", default="auto",
                        help="'auto' (default: CUDA when available, else the CPU), 'cpu', 'cuda', 'cuda:1', ...")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="torch CPU threads of each training process, a positive integer (default 1: a "
                             "recurrent step's small matrix products run fastest on one thread)")


def threads(value: int) -> int:
    """``--threads``, checked: an :class:`OptionError` naming the option unless it is a positive integer."""
    return _checked(check_int, "--threads", value)


def positive_int(option: str, value: int | None) -> int | None:
    """An optional integer option (``--workers``), None or >= 1."""
    return None if value is None else _checked(check_int, option, value)


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers`` (read it with :func:`workers_option`)."""
    parser.add_argument("--workers", type=int, default=None,
                        help="local processes training groups in parallel (default: CPU count on the CPU, "
                             "1 otherwise)")


def workers_option(workers: int | None, device: str) -> int:
    """``--workers``, checked (an :class:`OptionError` unless a positive integer), or when not given one
    process per core when training on the CPU (each with ``--threads`` threads), else 1."""
    import os

    from ..study import resolve_device

    if positive_int("--workers", workers) is not None:
        return workers
    try:
        on_cpu = resolve_device(device).type == "cpu"
    except ValueError:
        on_cpu = False  # an unknown device: the run itself reports it
    return max(1, os.cpu_count() or 1) if on_cpu else 1


def device_option(device: str, *, local: bool = True) -> str:
    """``--device``, checked: an :class:`OptionError` unless it names a device; with ``local`` (the
    training runs in this process or its workers) also unless this machine has it."""
    from ..study import resolve_device

    check = available_device if local else resolve_device
    try:
        check(device)
    except ValueError as err:
        raise OptionError(f"--device: {err}") from None
    return device


def output_folder(value: str) -> Path:
    """``--out``, checked and created: an :class:`OptionError` when it is empty, names a file, or is a
    folder that cannot be created or written (a test file is created and removed in it)."""
    if not str(value).strip():
        raise OptionError(f"--out must name a folder, got {str(value)!r}")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise OptionError(f"--out {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise OptionError(f"--out {str(path)!r} cannot be written ({err.strerror or err})") from None
    return path


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


def add_hard_limit_argument(parser: argparse.ArgumentParser, in_flight: str) -> None:
    """Add ``--hard-limit MINUTES``; ``in_flight``: what stops at its next checkpoint, and where."""
    parser.add_argument(
        "--hard-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help=f"after this many minutes stop {in_flight} too, and exit as --time-limit does; the same "
        "command resumes from there. At least --time-limit, which defaults to it",
    )


def hard_limit_seconds(args, time_limit: float | None) -> float | None:
    """``--hard-limit`` in seconds (None: none), checked like ``--time-limit`` and against it (``time_limit``:
    ``--time-limit`` in seconds); an :class:`OptionError` otherwise."""
    hard_limit = time_limit_seconds(args.hard_limit, "--hard-limit")
    if hard_limit is not None and time_limit is not None and hard_limit < time_limit:
        raise OptionError(f"--hard-limit must be at least --time-limit ({args.time_limit} minutes), "
                          f"got {args.hard_limit}")
    return hard_limit


def time_limit_seconds(minutes: float | None, option: str = "--time-limit") -> float | None:
    """``option`` (minutes) in seconds (None: no limit); an :class:`OptionError` unless it is a
    positive, finite number of minutes."""
    if minutes is None:
        return None
    if not (math.isfinite(minutes) and minutes > 0):
        raise OptionError(f"{option} must be a positive number of minutes, got {minutes}")
    return 60 * minutes


def long_run_options(args, *, local: bool = True) -> tuple[int, float | None]:
    """The long commands' shared start: figures drawn off-screen (matplotlib's Agg), then
    ``--threads``, ``--time-limit`` and ``--device`` checked before anything runs (an
    :class:`OptionError` names the first bad one). Returns ``(threads, time limit in seconds or None)``."""
    import matplotlib

    matplotlib.use("Agg")
    n_threads = threads(args.threads)
    time_limit = time_limit_seconds(args.time_limit)
    device_option(args.device, local=local)
    return n_threads, time_limit


def typed_options(given) -> str:
    """``given``, pairs ``(option, values or None)``, as they would be typed: ``" --cells gru pru --steps
    4"`` (a leading space; the pairs whose values are None left out; empty when all are)."""
    return "".join(f" {option} {' '.join(map(str, values))}" for option, values in given if values is not None)


def limits_given(args) -> str:
    """The limit options an invocation gave, as a message names what stopped it: ``"--time-limit"``,
    ``"--hard-limit"`` or ``"--time-limit/--hard-limit"`` (``"--time-limit"`` when neither)."""
    given = [o for o, v in (("--time-limit", args.time_limit), ("--hard-limit", args.hard_limit)) if v is not None]
    return "/".join(given) or "--time-limit"


def plan_text(command: str, plan, where) -> str:
    """What ``rnnviz COMMAND ... --plan`` prints of a sweep's plan (:func:`rnnviz.study._plan.sweep_plan`):
    the models done in ``where`` (the store or results file) and to train, then one line per group in the
    order it would start, with its share of the cost left and the checkpoint it resumes from."""
    n_planned, n_done, n_left = (plan.attrs[k] for k in ("n_planned", "n_done", "n_to_train"))
    resumed = int((plan["resumes_at"] > 0).sum())
    lines = [f"rnnviz {command} --plan: {n_planned} models in the grid, {n_done} in {where}, {n_left} to train in "
             f"{len(plan)} groups" + (f" ({resumed} resume from a checkpoint)" if resumed else "")
             + (", in the order they would start:" if len(plan) else "")]
    if len(plan):
        shown = plan.assign(cost_share=[f"{100 * v:.1f} %" for v in plan["cost_share"]],
                            resumes_at=[f"step {a} of {b}" if a else "-"
                                        for a, b in zip(plan["resumes_at"], plan["steps"], strict=True)])
        lines.append(shown[["group", "cost_share", "resumes_at"]].rename(
            columns={"cost_share": "share of the cost left", "resumes_at": "checkpoint"}).to_string(index=False))
    lines.append("nothing trained (--plan); run the command without --plan to train")
    return "\n".join(lines)


def resume_message(remaining: int, planned: int, option: str = "--time-limit", *, plan: bool = False) -> str:
    """What a run stopped by its time limit says; ``plan``: its command has ``--plan``, and it says so."""
    return (f"stopped by {option} with {remaining} of {planned} models still to train: run the same "
            "command again to resume" + (" (the same command with --plan shows what is left)" if plan else ""))


def plan_folder(value: str) -> Path:
    """``--out`` of a ``--plan``: checked, not created (a plan writes nothing); an :class:`OptionError`
    when it names a file."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise OptionError(f"--out {str(path)!r} is a file, not a folder")
    return path


def _checked(check, option: str, value, *args):
    """``check(option, value, *args)`` with its TypeError/ValueError turned into an OptionError."""
    try:
        return check(option, value, *args)
    except (TypeError, ValueError) as err:
        raise OptionError(str(err)) from None
