"""Provenance of results: library and GPU-stack versions, and a per-invocation run log (JSON lines).

- :func:`versions`: what can change a result (rnnviz, torch, numpy, Python, Triton, CUDA, cuDNN,
  GPU driver); recorded with every capacity model and every language model.
- :func:`logged_invocation`: appends one JSON line per command invocation (start and end in UTC, wall
  seconds, versions, and what the caller adds), also when the invocation stops early or fails.
- :func:`read_run_log`, :func:`wall_seconds`, :func:`wall_time`: read such a log back and sum its wall
  time, so a study resumed over several invocations (``--time-limit``, a lent GPU) reports its total cost.
- :func:`resolve_device`, :func:`device_name`: the one device naming of both studies (``"auto"`` is
  CUDA when available, else the CPU; results record ``"cuda:<GPU model>"`` or ``"cpu:<processor>"``);
  :func:`processor_name`: the CPU's model, so that times measured on different machines can be told apart.
"""

from __future__ import annotations

import functools
import json
import platform
import re
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from .._version import __version__

# Distributions that provide the ``triton`` module (the ROCm and nightly builds are renamed).
_TRITON_DISTRIBUTIONS = ("triton", "pytorch-triton", "pytorch-triton-rocm", "triton-rocm")


def versions() -> dict:
    """Versions that can change results, as a JSON-serialisable dict.

    Always: ``rnnviz``, ``torch``, ``numpy``, ``python``, ``cuda`` (``torch.version.cuda``: the CUDA
    torch was built with, None for a CPU build). When installed: ``triton``. When CUDA is available:
    ``cudnn`` (``torch.backends.cudnn.version()``), ``gpu_driver`` (the NVIDIA driver, from
    ``nvidia-smi``) and ``cuda_driver_api`` (the CUDA version the driver supports), each left out
    when it cannot be read.
    """
    out = {
        "rnnviz": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
    }
    triton = _triton_version()
    if triton is not None:
        out["triton"] = triton
    if torch.cuda.is_available():
        out.update(_gpu_versions())
    return out


@functools.lru_cache(maxsize=1)
def _triton_version() -> str | None:
    """The installed Triton's version (read from its metadata: importing Triton is slow), or None."""
    for name in _TRITON_DISTRIBUTIONS:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.lru_cache(maxsize=1)
def _gpu_versions() -> dict:
    """cuDNN, NVIDIA driver and driver CUDA API versions; what cannot be read is left out."""
    out = {}
    try:
        cudnn = torch.backends.cudnn.version()
    except RuntimeError:
        cudnn = None
    if cudnn is not None:
        out["cudnn"] = int(cudnn)
    driver = nvidia_driver_version()
    if driver is not None:
        out["gpu_driver"] = driver
    api = getattr(torch._C, "_cuda_getDriverVersion", None)  # e.g. 12040 for CUDA 12.4
    if api is not None:
        try:
            value = int(api())
        except (RuntimeError, TypeError, ValueError):
            value = 0
        if value > 0:
            out["cuda_driver_api"] = f"{value // 1000}.{value % 1000 // 10}"
    return out


def nvidia_driver_version() -> str | None:
    """The NVIDIA driver version reported by ``nvidia-smi`` (all GPUs, distinct values joined), or None."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = list(dict.fromkeys(line.strip() for line in done.stdout.splitlines() if line.strip()))
    return ",".join(found) or None


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second (``2026-01-31T12:00:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def logged_invocation(path: str | Path, **fields) -> Iterator[dict]:
    """Append one JSON line describing this invocation to ``path`` when the block ends.

    Yields a dict the block fills with what it learns (models trained, exit status, …). The line
    holds ``start``, ``end`` (UTC), ``wall_seconds``, the given ``fields``, what the block added and
    ``versions()``; it is written whether the block returns or raises (then ``error`` names the
    exception), so a run stopped by a time limit or interrupted still counts its time. After the
    block the yielded dict holds the whole line.
    """
    path = Path(path)
    record: dict = {}
    start, clock = utc_now(), time.perf_counter()
    error = None
    try:
        yield record
    except BaseException as err:
        error = f"{type(err).__name__}: {err}"
        raise
    finally:
        line = {"start": start, "end": utc_now(), "wall_seconds": round(time.perf_counter() - clock, 3)}
        line.update(fields)
        line.update(record)
        if error is not None:
            line["error"] = error
        line["versions"] = versions()
        record.update(line)  # the caller can read start, end and wall_seconds after the block
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=False, default=str) + "\n")


def read_run_log(path: str | Path) -> list[dict]:
    """The records of a run log written by :func:`logged_invocation` ([] when it does not exist).

    A line that is not valid JSON (an invocation killed while writing) is skipped with a warning.
    """
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            warnings.warn(f"{path}:{number} is not a JSON record; skipped", RuntimeWarning, stacklevel=2)
    return records


def wall_seconds(path: str | Path) -> float:
    """Total wall time (seconds) of every invocation recorded in the run log at ``path`` (0 if none)."""
    return float(sum(r.get("wall_seconds", 0.0) for r in read_run_log(path)))


#: The run log of each study in its output folder: one JSON line per invocation of its command.
RUN_LOGS = {"capacity": "capacity_runs.jsonl", "lm": "lm_runs.jsonl", "adding": "adding_runs.jsonl"}


def run_log(out: str | Path, study: str) -> Path:
    """The run log of ``study`` ("capacity", "lm" or "adding") in the output folder ``out``."""
    if study not in RUN_LOGS:
        raise ValueError(f"study must be one of {list(RUN_LOGS)}, got {study!r}")
    return Path(out) / RUN_LOGS[study]


def wall_time(out: str | Path, study: str = "capacity") -> float:
    """Wall seconds of every ``rnnviz capacity`` (or ``rnnviz lm``, ``study="lm"``; ``rnnviz adding``,
    ``study="adding"``) invocation on the
    folder ``out`` (a resumed study's total cost), summed from its run log; 0 when there is none.

    Each line of the log is one invocation: ``start``/``end`` (UTC), ``wall_seconds``, ``device``,
    ``models_trained`` (this invocation), ``models_finished`` (all), ``models_planned``,
    ``exit_status`` and ``versions``; ``pandas.read_json(path, lines=True)`` reads it as a table.
    """
    return wall_seconds(run_log(out, study))


def resolve_device(device) -> torch.device:
    """``"auto"`` (or None) → CUDA when available, else the CPU; anything else as ``torch.device``."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto' or a torch device such as 'cpu' or 'cuda', got {device!r}") from err


def available_device(device) -> torch.device:
    """:func:`resolve_device`, and a ValueError naming the device unless it can be used in this process
    (a CUDA device needs a CUDA build of torch, a visible GPU and an index below their count)."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            build = "this torch has no CUDA support" if torch.version.cuda is None else "no GPU is visible"
            raise ValueError(f"device {device!r} is not available: {build} (torch.cuda.is_available() is "
                             "False); use 'cpu' or 'auto'")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(f"device {device!r} is not available: {count} GPU(s) visible (cuda:0 to cuda:{count - 1})")
    elif resolved.type not in ("cpu", "meta"):
        backend = getattr(torch, resolved.type, None)
        is_available = getattr(backend, "is_available", None)
        if callable(is_available) and not is_available():
            raise ValueError(f"device {device!r} is not available in this torch build or machine; use 'cpu' or 'auto'")
    return resolved


def device_name(device) -> str:
    """What a result records as its device: ``"cuda:<GPU model>"`` or ``"cpu:<processor>"``."""
    device = resolve_device(device)
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"{device.type}:{processor_name()}"


@functools.cache
def processor_name() -> str:
    """The CPU's model as the operating system names it (Linux: ``model name`` in /proc/cpuinfo, e.g.
    ``"AMD EPYC 7B13"``), else ``platform.processor()``, else the architecture (``"x86_64"``). Results
    written before this was read record the architecture only."""
    try:
        found = cpuinfo_model(Path("/proc/cpuinfo").read_text())
    except OSError:
        found = None
    return found or platform.processor() or platform.machine()


def cpuinfo_model(text: str) -> str | None:
    """The first ``model name`` of a /proc/cpuinfo text (None when it has none, as on some ARM machines)."""
    found = re.search(r"^model name\s*:[ \t]*(\S.*)$", text, re.MULTILINE)
    return found.group(1).strip() if found else None
