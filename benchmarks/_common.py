"""Shared helpers of the benchmark scripts: precision settings, timing, peak memory, metadata, output.

Follows the checklist of shared/reference/performance.md:

1. the same fp32 numerics for every contender: :func:`set_tf32` sets cuBLAS matmuls, cuDNN RNNs (and
   convolutions) and so the Triton kernels' ``tl.dot`` alike, with torch's new ``fp32_precision`` API
   where it exists (torch >= 2.9) and the legacy ``allow_tf32`` flags on older torch, and records
   what it set (:func:`precision_flags`);
2. GPU times from CUDA events, one pair per run, over a fixed number of runs (at least
   ``min_reps``; more while a time budget lasts) with the L2 cache flushed and the device idle before
   each run; the median and the spread (20/80 % quantiles, min, max, number of runs) are reported;
3. CUDA-graph timings (:func:`capture_cuda_graph`) are separate rows beside the eager ones;
4. the first call (JIT compile, cuDNN plan, allocations) is timed on its own, before anything else;
6. GPU, driver, torch, triton, CUDA and cuDNN versions go into every file (:func:`environment`).

Result files are rewritten atomically after every contender (:class:`ResultFile`), so a crash or a
time limit keeps everything measured so far; ``RNNVIZ_BENCH_MIRROR=DIR`` also keeps a copy in DIR.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import signal
import statistics
import time
import traceback
import warnings
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
L2_FLUSH_BYTES = 256 * 2**20  # larger than any GPU's L2 (H100: 50 MB), as triton.testing.do_bench

# the leaves of torch's new precision API that decide what the contenders compute with
_NEW_API = (("cuda.matmul", ("cuda", "matmul")), ("cudnn.rnn", ("cudnn", "rnn")), ("cudnn.conv", ("cudnn", "conv")))


class Interrupted(BaseException):  # noqa: N818 - not an error: the time limit (SIGTERM) stops the run
    """Raised by the SIGTERM handler of :func:`stop_on_sigterm` (not an Exception: nothing swallows it)."""


def stop_on_sigterm() -> None:
    """Turn SIGTERM (``timeout``'s signal) into :class:`Interrupted`, so the scripts save what they have."""
    def handler(signum, frame):
        raise Interrupted(f"signal {signum} (time limit)")

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, handler)


# ----------------------------------------------------------------------------------------- precision
def _obj(path: tuple[str, ...]):
    obj = torch.backends
    for part in path:
        obj = getattr(obj, part)
    return obj


def new_precision_api() -> bool:
    """Whether this torch has ``torch.backends.cuda.matmul.fp32_precision`` (torch >= 2.9)."""
    try:
        return isinstance(torch.backends.cuda.matmul.fp32_precision, str)
    except (AttributeError, RuntimeError):
        return False


def _read(getter):
    """``getter()``, or a string saying why it could not be read (raised or warned: torch >= 2.9
    raises when legacy and new TF32 settings are mixed, and may warn on legacy reads)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = getter()
        except Exception as exc:  # noqa: BLE001 - recorded, never fatal
            return f"unreadable: {type(exc).__name__}: {str(exc)[:160]}"
    if caught:
        return {"value": value, "warning": str(caught[0].message)[:160]}
    return value


def set_tf32(enabled: bool) -> dict:
    """Let every fp32 contender use TF32 (``enabled``) or strict IEEE fp32 (not), alike.

    torch >= 2.9: ``torch.backends.cuda.matmul.fp32_precision``, ``torch.backends.cudnn.rnn`` and
    ``.conv.fp32_precision`` = "tf32" / "ieee". rnnviz's Triton kernels pick ``tl.dot``'s precision
    from the legacy ``torch.backends.cuda.matmul.allow_tf32``; when that cannot be read back or
    disagrees after the new API was used, the legacy matmul flag is set to the same value too (on
    torch 2.13 that is what makes it readable again), and the record says so.
    Older torch: both legacy flags (``cuda.matmul.allow_tf32``, ``cudnn.allow_tf32``).
    Returns :func:`precision_flags` plus what was set.
    """
    enabled = bool(enabled)
    value = "tf32" if enabled else "ieee"
    notes = []
    if new_precision_api():
        api = "new (fp32_precision)"
        for _, path in _NEW_API:
            with contextlib.suppress(AttributeError):  # a leaf this torch lacks
                _obj(path).fp32_precision = value
        legacy = _read(lambda: torch.backends.cuda.matmul.allow_tf32)
        if legacy is not enabled:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch may warn that the legacy setter is deprecated
                torch.backends.cuda.matmul.allow_tf32 = enabled
            notes.append(f"torch.backends.cuda.matmul.allow_tf32 (read by rnnviz's Triton kernels) read "
                         f"{legacy!r} after the new API was set; set it to {enabled} as well")
        kernels = _read(_rnnviz_dot_precision)
        if kernels != value:  # still not what the kernels see: the legacy API alone (consistent on 2.13)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.backends.cuda.matmul.allow_tf32 = enabled
                torch.backends.cudnn.allow_tf32 = enabled
            api = "legacy (allow_tf32), after the new API left rnnviz's kernels unable to read it"
            notes.append(f"rnnviz's kernels read {kernels!r} after the new API; fell back to the legacy flags")
    else:
        api = "legacy (allow_tf32)"
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled
    return {"requested_tf32": enabled, "api": api, "notes": notes, **precision_flags()}


@contextlib.contextmanager
def restored_precision():
    """Give torch's fp32 precision settings back on exit (for a benchmark run inside another process,
    e.g. a test: :func:`set_tf32` changes process-wide state)."""
    if new_precision_api():
        saved = {path: _obj(path).fp32_precision for _, path in _NEW_API}
    else:
        saved = {"legacy": (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)}
    try:
        yield
    finally:
        for path, value in saved.items():
            if path == "legacy":
                torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = value
            else:
                _obj(path).fp32_precision = value


def precision_flags() -> dict:
    """What every precision setting reads now (a value, or why it cannot be read)."""
    flags = {}
    if new_precision_api():
        flags["fp32_precision (global)"] = _read(lambda: torch.backends.fp32_precision)
        for name, path in (*_NEW_API, ("cudnn", ("cudnn",))):
            flags[f"{name}.fp32_precision"] = _read(lambda path=path: _obj(path).fp32_precision)
    flags["cuda.matmul.allow_tf32 (legacy)"] = _read(lambda: torch.backends.cuda.matmul.allow_tf32)
    flags["cudnn.allow_tf32 (legacy)"] = _read(lambda: torch.backends.cudnn.allow_tf32)
    flags["float32_matmul_precision (legacy)"] = _read(torch.get_float32_matmul_precision)
    flags["rnnviz triton tl.dot precision"] = _read(_rnnviz_dot_precision)
    return flags


def _rnnviz_dot_precision():
    from rnnviz.kernels import _dense  # imports triton: callers set TRITON_INTERPRET first on CPU

    return _dense._precision()


# ----------------------------------------------------------------------------------------- metadata
def environment(device: torch.device) -> dict:
    """Versions and hardware: everything a result file needs to be compared with another."""
    from rnnviz.study import processor_name

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
        "cpu": processor_name(),
        "cpu_count": os.cpu_count(),
        "cpu_threads": torch.get_num_threads(),
        "triton_interpret": os.environ.get("TRITON_INTERPRET", "0"),
        "precision": precision_flags(),
    }
    if device.type == "cuda":
        from rnnviz.study._provenance import nvidia_driver_version

        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   gpu_capability=f"{props.major}.{props.minor}", driver=nvidia_driver_version())
    return env


# ----------------------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up_device(device: torch.device) -> None:
    """Create the CUDA context, cuBLAS and cuDNN handles once, so that no contender's first call
    pays for library start-up (only for what is its own: JIT compiles, cuDNN plans, allocations)."""
    if device.type != "cuda":
        return
    rnn = torch.nn.GRU(8, 8, device=device)
    y, _ = rnn(torch.randn(3, 2, 8, device=device))
    (y.sum() + (torch.randn(8, 8, device=device) @ torch.randn(8, 8, device=device)).sum()).backward()
    sync(device)


def _clear_grads(params) -> None:
    for p in params or ():
        p.grad = None


def first_call_ms(fn, device: torch.device, params=None) -> float:
    """Wall time of one ``fn()`` until the device is done, in ms: the first call (JIT compile …)."""
    _clear_grads(params)
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return (time.perf_counter() - t0) * 1e3


_L2_BUFFER: dict = {}


def _flush_l2(device: torch.device) -> None:
    buf = _L2_BUFFER.get(device)
    if buf is None:
        buf = _L2_BUFFER[device] = torch.empty(L2_FLUSH_BYTES, dtype=torch.int8, device=device)
    buf.zero_()


def timing_settings(quick: bool) -> dict:
    """The run counts and budget of :func:`measure` (the defaults of the scripts)."""
    if quick:  # proves the scripts run (CPU, Triton interpreter); numbers mean nothing
        return {"min_reps": 2, "max_reps": 2, "budget_s": 0.0, "warmup": 0}
    return {"min_reps": 10, "max_reps": 50, "budget_s": 0.5, "warmup": 2}


def measure(fn, device: torch.device, *, params=None, min_reps: int = 10, max_reps: int = 50,
            budget_s: float = 0.5, warmup: int = 2, flush_l2: bool = True) -> dict:
    """Median and spread of ``fn()``'s run time in ms over a fixed number of runs.

    ``warmup`` untimed runs (their wall time estimates one run) fix the number of timed runs:
    as many as fit ``budget_s``, at least ``min_reps`` and at most ``max_reps``. CUDA: before each
    run the gradients of ``params`` are set to None, the L2 cache is flushed and the device is
    synchronised (so a run's time includes its own launch overhead, as a notebook user sees it);
    the run is timed by a pair of CUDA events. CPU: wall clock. Returns median_ms, p20_ms, p80_ms,
    min_ms, max_ms, n_runs and the seconds spent.
    """
    t_start = time.perf_counter()
    estimate = None
    for _ in range(warmup):
        _clear_grads(params)
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        ms = (time.perf_counter() - t) * 1e3
        estimate = ms if estimate is None else min(estimate, ms)
    reps = max_reps if estimate is None else int(budget_s * 1e3 / max(estimate, 1e-3))
    reps = max(min_reps, min(max_reps, reps))
    samples = []
    if device.type == "cuda":
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
        for start, end in events:
            _clear_grads(params)
            if flush_l2:
                _flush_l2(device)
            torch.cuda.synchronize(device)
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(device)
        samples = [start.elapsed_time(end) for start, end in events]
        method = "cuda_events" + ("+l2_flush" if flush_l2 else "")
    else:
        for _ in range(reps):
            _clear_grads(params)
            t = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t) * 1e3)
        method = "wall_clock"
    return {**summarize(samples), "timing": method, "timing_s": round(time.perf_counter() - t_start, 3)}


def summarize(samples: list[float]) -> dict:
    """median, 20/80 % quantiles (inclusive), min, max and count of ``samples`` (ms)."""
    q = statistics.quantiles(samples, n=5, method="inclusive") if len(samples) > 1 else samples * 4
    return {"median_ms": statistics.median(samples), "p20_ms": q[0], "p80_ms": q[-1],
            "min_ms": min(samples), "max_ms": max(samples), "n_runs": len(samples)}


def peak_memory_mib(fn, device: torch.device, params=None) -> float | None:
    """Peak GPU memory allocated during one ``fn()`` (gradients included) beyond what was allocated
    before, in MiB; None off CUDA."""
    if device.type != "cuda":
        return None
    _clear_grads(params)
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def capture_cuda_graph(fn, device: torch.device, params=None, warmup: int = 3):
    """Capture ``fn()`` (forward + backward, or a whole optimizer step) in a CUDA graph.

    Warm-up runs on a side stream first (as torch's docs prescribe); gradients are None before the
    capture, so the graph's backward writes them into its own pool on every replay. Returns
    ``(graph, capture_ms)``; ``graph.replay`` is what gets timed.
    """
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            _clear_grads(params)
            fn()
    torch.cuda.current_stream(device).wait_stream(stream)
    torch.cuda.synchronize(device)
    _clear_grads(params)
    graph = torch.cuda.CUDAGraph()
    t0 = time.perf_counter()
    with torch.cuda.graph(graph):
        fn()
    torch.cuda.synchronize(device)
    capture_ms = (time.perf_counter() - t0) * 1e3
    graph.replay()
    torch.cuda.synchronize(device)
    return graph, capture_ms


def release_memory(device: torch.device) -> None:
    """Drop what a finished (or failed) contender left behind."""
    gc.collect()
    if device.type == "cuda":
        with contextlib.suppress(Exception):
            torch.cuda.synchronize(device)
        with contextlib.suppress(Exception):
            torch.cuda.empty_cache()


def error_text(exc: BaseException, limit: int = 600) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Skip(Exception):  # noqa: N818 - a reason to record, not an error
    """A contender that cannot run here (recorded as "skipped": reason)."""


def run_contender(label: str, meta: dict, build, device: torch.device, timing: dict) -> dict:
    """Build, check and time one contender; never raises (but :class:`Interrupted` passes through).

    ``build()`` returns ``(fn, params, check)``: ``fn()`` is the timed work (forward + backward, or
    an optimizer step), ``params`` the tensors whose gradients are set to None before each run,
    ``check()`` (or None) the max error against a float64 reference. ``meta["mode"]`` "eager": the
    first call is timed before anything else (it includes JIT compiles), then the check, the timed
    runs and the peak memory of one more run. "cuda_graph": ``fn`` is captured in a CUDA graph and
    its replay timed. Failures are recorded as "error", :class:`Skip` as "skipped"; the row always
    gets ``elapsed_s``, the wall time spent on it.
    """
    row = {"contender": label, **meta}
    t0 = time.perf_counter()
    fn = params = graph = None
    try:
        fn, params, check = build()
        if meta.get("mode") == "cuda_graph":
            if device.type != "cuda":
                raise Skip("CUDA graphs need a CUDA device")
            graph, row["capture_ms"] = capture_cuda_graph(fn, device, params)
            row.update(measure(graph.replay, device, **timing))
        else:
            row["first_call_ms"] = first_call_ms(fn, device, params)  # before anything else: incl. compiles
            if check is not None:
                try:
                    row.update(check_fields(check()))
                except Exception as exc:  # noqa: BLE001 - a failing check must not lose the timing
                    row["check_error"] = error_text(exc)
            row.update(measure(fn, device, params=params, **timing))
            row["peak_mib"] = peak_memory_mib(fn, device, params)
    except Skip as reason:
        row["skipped"] = str(reason)
    except Exception as exc:  # noqa: BLE001 - one failing contender is recorded, the others go on
        row["error"] = error_text(exc)
        traceback.print_exc(limit=4)
    finally:
        fn = params = graph = None  # noqa: F841 - drop the references before freeing memory
        release_memory(device)
    row["elapsed_s"] = round(time.perf_counter() - t0, 3)
    print_row(row)
    return row


def check_fields(value) -> dict:
    """A check's result as row fields: a number is ``max_abs_err_vs_fp64``; a dict is taken as is."""
    return dict(value) if isinstance(value, dict) else {"max_abs_err_vs_fp64": value}


def print_row(row: dict, width: int = 52) -> None:
    label = str(row["contender"])
    if "median_ms" in row:
        extra = (f"first call {row['first_call_ms']:.1f} ms" if "first_call_ms" in row
                 else f"capture {row.get('capture_ms', float('nan')):.1f} ms")
        print(f"  {label:{width}s} {row['median_ms']:10.3f} ms [{row['p20_ms']:.3f}–{row['p80_ms']:.3f}] "
              f"n={row['n_runs']}  ({extra}; {row.get('elapsed_s', 0):.1f} s)", flush=True)
    elif "skipped" in row:
        print(f"  {label:{width}s} skipped: {row['skipped']}", flush=True)
    else:
        print(f"  {label:{width}s} ERROR ({row.get('elapsed_s', 0):.1f} s): {row.get('error')}", flush=True)


# ----------------------------------------------------------------------------------------- output
def default_path(name: str, payload: dict) -> Path:
    """benchmarks/results/<name>[-quick]-<device>-<time>.json"""
    env = payload["environment"]
    tag = (env.get("gpu") or env["device"]).replace(" ", "_").replace("/", "_")
    # 20261129T230009Z: no ':' or '+' (file names some job runners refuse to return)
    stamp = env["timestamp_utc"].replace(":", "").replace("-", "").replace("+0000", "Z").replace("+", "p")
    quick = "-quick" if payload.get("settings", {}).get("quick") else ""
    return RESULTS / f"{name}{quick}-{tag}-{stamp}.json"


def write_json_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, path)


class ResultFile:
    """A result file rewritten atomically by every :meth:`save` (after each contender).

    With ``RNNVIZ_BENCH_MIRROR=DIR`` in the environment each save also writes a copy to DIR (the GPU
    session points it at the folder that comes back even when the job is cut off).
    """

    def __init__(self, name: str, payload: dict, out: str | None = None):
        self.payload = payload
        self.path = Path(out) if out else default_path(name, payload)
        mirror = os.environ.get("RNNVIZ_BENCH_MIRROR")
        self.mirror = Path(mirror) / self.path.name if mirror else None

    def save(self) -> Path:
        write_json_atomic(self.path, self.payload)
        if self.mirror is not None:
            try:
                write_json_atomic(self.mirror, self.payload)
            except OSError as exc:  # the mirror is a convenience; the result file is what counts
                print(f"could not mirror to {self.mirror}: {exc}", flush=True)
        return self.path


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
