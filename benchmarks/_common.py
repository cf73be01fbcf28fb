"""Shared helpers of the benchmark scripts: precision settings, timing, peak memory, metadata, output.

Follows the checklist of shared/reference/performance.md: both TF32 flags set alike for every
contender and recorded; GPU times from CUDA events via ``triton.testing.do_bench`` with
``return_mode``/quantiles giving the median and spread; the first call (JIT compile, cuDNN plan) timed
separately from the steady state; GPU, driver, torch, triton, CUDA and cuDNN versions in every file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def set_tf32(enabled: bool) -> dict:
    """Set torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 to the same value."""
    torch.backends.cuda.matmul.allow_tf32 = bool(enabled)
    torch.backends.cudnn.allow_tf32 = bool(enabled)
    return precision_flags()


def precision_flags() -> dict:
    return {
        "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def _driver_version() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True)
        return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def environment(device: torch.device) -> dict:
    """Versions and hardware: everything a result file needs to be compared with another."""
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    env = {
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": str(device),
        "torch": torch.__version__,
        "triton": triton_version,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "triton_interpret": os.environ.get("TRITON_INTERPRET", "0"),
        "precision": precision_flags(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   driver=_driver_version())
    return env


def time_ms(fn, device: torch.device, *, grad_to_none=None, reps: int = 20, warmup: int = 3) -> dict:
    """Median and 20/80 % quantiles of ``fn()``'s run time in ms, plus the first call (compile) time.

    CUDA: ``triton.testing.do_bench`` (CUDA events, L2 flushed between runs). CPU: wall clock.
    """
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    first = (time.perf_counter() - t0) * 1e3
    if device.type == "cuda":
        from triton.testing import do_bench

        p20, med, p80 = do_bench(fn, warmup=25, rep=200, grad_to_none=grad_to_none, quantiles=[0.2, 0.5, 0.8])
        return {"median_ms": med, "p20_ms": p20, "p80_ms": p80, "first_call_ms": first}
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        if grad_to_none:
            for p in grad_to_none:
                p.grad = None
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    q = statistics.quantiles(samples, n=5, method="inclusive") if len(samples) > 1 else samples * 4
    return {"median_ms": statistics.median(samples), "p20_ms": q[0], "p80_ms": q[-1], "first_call_ms": first}


def peak_memory_mib(fn, device: torch.device) -> float | None:
    """Peak GPU memory allocated during one ``fn()`` beyond what was allocated before, in MiB."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def save(name: str, payload: dict, out: str | None = None) -> Path:
    """Write ``payload`` as JSON to ``out`` or benchmarks/results/<name>-<device>-<time>.json."""
    if out is None:
        env = payload["environment"]
        tag = (env.get("gpu") or env["device"]).replace(" ", "_").replace("/", "_")
        stamp = env["timestamp_utc"].replace(":", "").replace("-", "")
        quick = "-quick" if payload.get("settings", {}).get("quick") else ""
        path = RESULTS / f"{name}{quick}-{tag}-{stamp}.json"
    else:
        path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A markdown table of ``rows`` with (key, header) ``columns``; floats to 3 significant digits."""
    def fmt(v):
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v)

    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])
