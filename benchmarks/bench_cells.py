"""Forward+backward time and peak memory of one recurrent layer: rnnviz's Triton kernels vs the rest.

Contenders at each (T, B, H) (input size = H), in this order:

* rnnviz, backend="triton", every cell of the issue: the SRU family (sru, sru_v1, irc_sru, trnn,
  irc_trnn) and the dense cells (pru, gru, irc_gru, lstm, irc_lstm, ihc_lstm, rnn, fastgrnn) on the
  path the dispatch picks (persistent kernel for H <= MAX_PERSISTENT_HIDDEN, per-step path above);
* cuDNN LSTM and GRU (torch.nn);
* the ``sru`` package (its CUDA kernel), when it imports and runs a first forward+backward; it
  builds that kernel with nvcc at import, so it is first tried in a subprocess with a time limit;
* the rnnviz reference loop, for one representative cell per shape (``--reference-cells``, default
  gru: the loop takes 0.1-0.5 s per call, a loop per cell would not fit the GPU session);
* the other dense path, forced, for gru and lstm (``--alt-path-cells``; the crossover of
  MAX_PERSISTENT_HIDDEN), up to H = 512.

Then CUDA-graph timings (separate rows, ``mode`` "cuda_graph") at ``--graph-shapes`` for rnnviz
sru/gru/lstm and cuDNN (not the sru package: it launches on the legacy default stream, which a capture
cannot record); captured last, so a failed capture can harm nothing else.

Every contender: the first call (fwd+bwd, incl. any JIT compile) timed before anything else, then
max |error| of its output against a float64 reference (rnnviz cells: a float64 copy on the reference
loop; cuDNN: rnnviz GRU/LSTM.from_torch in float64; the sru package: an rnnviz SRU holding its
weights, in float64), then the timed runs and peak memory. One failing contender is recorded
("error") and the rest go on. The result file is rewritten after every contender.

Before timing, ``--prewarm N`` worker processes run every Triton contender once, in parallel, so the
Triton JIT compiles (seconds per kernel specialisation, ~2 per contender) fill Triton's disk cache on
N cores instead of one; their first-call times (incl. compile) are kept as ``prewarm_first_call_ms``.

    python benchmarks/bench_cells.py                    # GPU: the four shapes of issue 3
    python benchmarks/bench_cells.py --tf32 1           # same, TF32 on for every contender
    python benchmarks/bench_cells.py --quick            # tiny shapes, CPU ok (proves the script runs)

Results: benchmarks/results/bench_cells-*.json (see benchmarks/README.md); a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # _common, also when this file is imported from elsewhere (tests)
from _common import (  # noqa: E402
    Interrupted,
    ResultFile,
    Skip,
    environment,
    error_text,
    first_call_ms,
    markdown_table,
    print_row,
    release_memory,
    run_contender,
    set_tf32,
    stop_on_sigterm,
    timing_settings,
    warm_up_device,
)

SHAPES = [(256, 32, 512), (1000, 128, 128), (100, 256, 32), (512, 64, 1024)]
QUICK_SHAPES = [(2, 2, 8), (1, 3, 4)]  # tiny: the Triton interpreter takes ~0.1-0.5 s a call
# benchmark name -> (rnnviz.cells.make name, options)
CELL_SPECS = {
    "sru": ("sru", {}), "sru_v1": ("sru", {"version": 1}), "irc_sru": ("irc_sru", {}),
    "trnn": ("trnn", {}), "irc_trnn": ("irc_trnn", {}),
    "pru": ("pru", {}), "gru": ("gru", {}), "irc_gru": ("irc_gru", {}), "lstm": ("lstm", {}),
    "irc_lstm": ("irc_lstm", {}), "ihc_lstm": ("ihc_lstm", {}), "rnn": ("rnn", {}), "fastgrnn": ("fastgrnn", {}),
}
SRU_FAMILY = ("sru", "sru_v1", "irc_sru", "trnn", "irc_trnn")
DENSE = ("pru", "gru", "irc_gru", "lstm", "irc_lstm", "ihc_lstm", "rnn", "fastgrnn")
CELLS = SRU_FAMILY + DENSE
QUICK_CELLS = ("sru", "gru")
# cells that launch the same Triton kernel specialisations (prewarm gives them to one worker)
KERNEL_VARIANT = {"irc_sru": "sru", "irc_trnn": "trnn", "irc_gru": "gru", "irc_lstm": "lstm"}
ALT_PATH_MAX_H = 512  # forcing the persistent kernel above this only costs time
SRU_PACKAGE_OPTIONS = {"num_layers": 1, "highway_bias": -2.0, "rescale": True}  # = rnnviz SRU defaults


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny shapes and few repetitions (CPU ok)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--tf32", type=int, default=0, choices=[0, 1],
                   help="TF32 for every contender (1) or strict fp32 (0, default)")
    p.add_argument("--cells", default=None, help=f"comma-separated, from {','.join(CELLS)} (default: all)")
    p.add_argument("--shapes", default=None, help="semicolon-separated T,B,H triples, e.g. '256,32,512;100,256,32'")
    p.add_argument("--reference-cells", default="gru",
                   help="cells whose reference loop is timed at every shape (comma-separated; '' for none)")
    p.add_argument("--no-reference", action="store_true", help="time no reference loop")
    p.add_argument("--alt-path-cells", default="gru,lstm",
                   help="dense cells also timed on the path the dispatch does not pick ('' for none)")
    p.add_argument("--graph-shapes", default="100,256,32",
                   help="shapes with CUDA-graph rows (semicolon-separated T,B,H; '' for none; CUDA only)")
    p.add_argument("--no-sru-package", action="store_true", help="leave the sru package out")
    p.add_argument("--sru-package-timeout", type=float, default=150.0,
                   help="seconds for the sru package's first import (it builds its CUDA kernel) and run")
    p.add_argument("--prewarm", type=int, default=None,
                   help="worker processes that run every Triton contender once before timing, to compile in "
                        "parallel (default: min(8, cores - 2) on CUDA, 0 on CPU)")
    p.add_argument("--prewarm-timeout", type=float, default=150.0)
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds after which no new contender starts (the rest are recorded as skipped)")
    p.add_argument("--min-reps", type=int, default=None, help="timed runs at least (default 10; quick 2)")
    p.add_argument("--max-reps", type=int, default=None, help="timed runs at most (default 50; quick 2)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed runs per contender before min/max reps apply (default 0.5)")
    p.add_argument("--out", default=None, help="result file (default: benchmarks/results/…json)")
    p.add_argument("--warm-worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--warm-items", default="", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (text or "").split(",") if v.strip())


def _shapes(text: str) -> list[tuple[int, int, int]]:
    return [tuple(int(v) for v in s.split(",")) for s in text.split(";") if s.strip()]


@contextlib.contextmanager
def dense_path(path: str | None):
    """Force the dense cells' persistent or per-step path, or the persistent kernel's streamed
    variant ("streamed": recurrent weights re-read every step even where they fit in registers);
    None: the dispatch default (nothing is imported, so the reference loop runs without triton)."""
    if path is None:
        yield
        return
    from rnnviz.cells import _triton
    from rnnviz.kernels import _dense

    saved = _triton.MAX_PERSISTENT_HIDDEN, _dense.RESIDENT_MAX_PAD
    if path in ("persistent", "streamed"):
        _triton.MAX_PERSISTENT_HIDDEN = 1 << 30
    elif path == "stepwise":
        _triton.MAX_PERSISTENT_HIDDEN = 0
    if path == "streamed":
        _dense.RESIDENT_MAX_PAD = 0
    try:
        yield
    finally:
        _triton.MAX_PERSISTENT_HIDDEN, _dense.RESIDENT_MAX_PAD = saved


def dispatch_persistent_limit() -> int:
    """The largest hidden size the dispatch runs on the persistent dense kernel."""
    from rnnviz.cells import _triton

    return _triton.MAX_PERSISTENT_HIDDEN


def default_dense_path(H: int) -> str:
    return "persistent" if H <= dispatch_persistent_limit() else "stepwise"


def _loss(out):
    """Sum of everything a layer returns (y and its final state(s)), in fp32."""
    y, s = out
    if isinstance(s, tuple):  # torch.nn.LSTM: (h, c)
        s = s[0].float().sum() + s[1].float().sum()
    else:
        s = s.float().sum()
    return y.float().sum() + s


# ----------------------------------------------------------------------------------------- contenders
@dataclass
class Contender:
    label: str
    meta: dict
    build: object  # () -> (fn, params, check or None)
    triton: bool = False  # runs rnnviz's Triton kernels (prewarmed)
    variant: str | None = None  # cells with the same variant share kernel specialisations


def _rnnviz_cell(name, H, dev, dtype):
    from rnnviz import cells

    reg, opts = CELL_SPECS[name]
    return cells.make(reg, H, H, device=dev, dtype=dtype, **opts)


def max_error_vs_float64(cell, x, backend, path) -> float:
    """max |y - y64| of ``cell`` on ``backend`` against a float64 copy on the reference loop."""
    ref = copy.deepcopy(cell).double()
    with torch.no_grad():
        y64, _ = ref(x.double(), backend="reference")
        with dense_path(path):
            y, _ = cell(x, backend=backend)
    return (y.double() - y64).abs().max().item()


def rnnviz_build(name, T, B, H, dev, dtype, backend, path):
    def build():
        from rnnviz.cells import _triton

        torch.manual_seed(0)
        cell = _rnnviz_cell(name, H, dev, dtype)
        x = torch.randn(T, B, H, device=dev, dtype=dtype)
        if backend == "triton":
            reason = _triton.unsupported_reason(cell, x)
            if reason is not None:
                raise Skip(reason)

        def fb():
            with dense_path(path):
                _loss(cell(x, backend=backend)).backward()

        return fb, list(cell.parameters()), lambda: max_error_vs_float64(cell, x, backend, path)

    return build


def torch_build(cls, T, B, H, dev, dtype):
    def build():
        torch.manual_seed(0)
        m = cls(H, H, device=dev, dtype=dtype)
        x = torch.randn(T, B, H, device=dev, dtype=dtype)

        def fb():
            _loss(m(x)).backward()

        def check():
            from rnnviz import cells

            return max_error_vs_reference(m, getattr(cells, cls.__name__).from_torch(m).double(), x)

        return fb, list(m.parameters()), check

    return build


def max_error_vs_reference(m, ref, x) -> float:
    """Largest |m(x) - ref(x)| where ``ref`` is a float64 rnnviz cell holding m's weights."""
    with torch.no_grad():
        y64, _ = ref(x.double(), backend="reference")
        y, _ = m(x)
    return (y.double() - y64).abs().max().item()


def rnnviz_sru_from_package(m) -> torch.nn.Module:
    """A float64 rnnviz SRU holding the weights of a one-layer ``sru.SRU`` (package layout: weight
    (m, n·k) interleaved per unit as (m, n, k); rnnviz: blocks [x̃; f̂; r̂; (x')] of n rows)."""
    from rnnviz import cells

    layer = m.rnn_lst[0]
    if (len(m.rnn_lst) != 1 or layer.bidirectional or layer.projection_size or layer.layer_norm is not None
            or layer.activation_type or layer.custom_m is not None):
        raise ValueError("only a one-layer, unidirectional sru.SRU without projection, layer norm or tanh "
                         "maps onto an rnnviz SRU")
    n, k = layer.hidden_size, layer.num_matrices
    w = layer.weight.detach().double()
    m_in = w.shape[0]
    ref = cells.make("sru", m_in, n, version=1 if layer.v1 else 2, highway=bool(layer.has_skip_term),
                     rescale=bool(layer.rescale), highway_bias=float(layer.highway_bias),
                     device=w.device, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(w.view(m_in, n, k).permute(2, 1, 0).reshape(k * n, m_in))
        if ref.weight_c is not None:
            ref.weight_c.copy_(layer.weight_c.detach())
        ref.bias.copy_(layer.bias.detach())
    return ref


def sru_package_build(T, B, H, dev, dtype, status):
    def build():
        if not status.get("ok"):
            raise Skip(status.get("reason", "the sru package is not available"))
        from sru import SRU as PackageSRU

        torch.manual_seed(0)
        m = PackageSRU(H, H, **SRU_PACKAGE_OPTIONS).to(device=dev, dtype=dtype)
        x = torch.randn(T, B, H, device=dev, dtype=dtype)

        def fb():
            _loss(m(x)).backward()

        def check():
            return max_error_vs_reference(m, rnnviz_sru_from_package(m), x)

        return fb, list(m.parameters()), check

    return build


def contenders_at(T, B, H, dev, dtype, args, names, sru_status) -> list[Contender]:
    """The ordered contenders at one shape (deterministic: prewarm workers rebuild the same list)."""
    shape = {"T": T, "B": B, "H": H}
    out = []
    dense_default = default_dense_path(H)
    for name in names:
        family = "sru" if name in SRU_FAMILY else "dense"
        path = dense_default if family == "dense" else None
        # the path the dispatch picks (recorded as "path"; the label does not change with it)
        out.append(Contender(f"rnnviz {name} triton", {**shape, "impl": "rnnviz triton", "cell": name,
                                                       "family": family, "path": path, "forced_path": False,
                                                       "mode": "eager"},
                             rnnviz_build(name, T, B, H, dev, dtype, "triton", None), triton=True,
                             variant=KERNEL_VARIANT.get(name, name)))
    cudnn = "cuDNN" if dev.type == "cuda" else "torch.nn"
    for cls in (torch.nn.LSTM, torch.nn.GRU):
        out.append(Contender(f"{cudnn} {cls.__name__}", {**shape, "impl": cudnn, "cell": cls.__name__.lower(),
                                                          "family": "baseline", "mode": "eager"},
                             torch_build(cls, T, B, H, dev, dtype)))
    if not args.no_sru_package:
        out.append(Contender("sru package", {**shape, "impl": "sru package", "cell": "sru", "family": "baseline",
                                             "mode": "eager"}, sru_package_build(T, B, H, dev, dtype, sru_status)))
    if not args.no_reference:
        for name in _csv(args.reference_cells):
            if name in CELL_SPECS:
                out.append(Contender(f"rnnviz {name} reference loop",
                                     {**shape, "impl": "rnnviz reference", "cell": name,
                                      "family": "sru" if name in SRU_FAMILY else "dense", "mode": "eager"},
                                     rnnviz_build(name, T, B, H, dev, dtype, "reference", None)))
    if H <= ALT_PATH_MAX_H:
        alt = "stepwise" if dense_default == "persistent" else "persistent"
        for name in _csv(args.alt_path_cells):
            if name in DENSE and name in names:
                out.append(Contender(f"rnnviz {name} triton ({alt}, forced)",
                                     {**shape, "impl": "rnnviz triton", "cell": name, "family": "dense", "path": alt,
                                      "forced_path": True, "mode": "eager"},
                                     rnnviz_build(name, T, B, H, dev, dtype, "triton", alt), triton=True,
                                     variant=KERNEL_VARIANT.get(name, name) + "/" + alt))
    if dense_default == "persistent" and H <= 32:  # the register-resident variant's crossover (RESIDENT_MAX_PAD)
        for name in _csv(args.alt_path_cells):
            if name in DENSE and name in names:
                out.append(Contender(f"rnnviz {name} triton (streamed, forced)",
                                     {**shape, "impl": "rnnviz triton", "cell": name, "family": "dense",
                                      "path": "streamed", "forced_path": True, "mode": "eager"},
                                     rnnviz_build(name, T, B, H, dev, dtype, "triton", "streamed"), triton=True,
                                     variant=KERNEL_VARIANT.get(name, name) + "/streamed"))
    return out


def graph_contenders(shapes, dev, dtype, args, names, sru_status) -> list[Contender]:
    out = []
    for T, B, H in shapes:
        for c in contenders_at(T, B, H, dev, dtype, args, names, sru_status):
            m = c.meta
            # not the sru package: it launches its kernels on the legacy default stream (<<<blocks, threads>>>),
            # which a CUDA-graph capture (on a side stream) cannot record
            wanted = ((m["impl"] == "rnnviz triton" and not m["forced_path"] and m["cell"] in ("sru", "gru", "lstm"))
                      or m["impl"] == "cuDNN")
            if wanted:
                out.append(Contender(c.label + " [CUDA graph]", {**m, "mode": "cuda_graph"}, c.build))
    return out


def all_contenders(shapes, dev, dtype, args, names, sru_status) -> list[Contender]:
    return [c for T, B, H in shapes for c in contenders_at(T, B, H, dev, dtype, args, names, sru_status)]


# ----------------------------------------------------------------------------------------- sru package
_SRU_PROBE = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import torch
    from sru import SRU
    import sru
m = SRU(16, 16, **OPTIONS).to(DEVICE)
x = torch.randn(5, 4, 16, device=DEVICE)
h, c = m(x)
(h.sum() + c.sum()).backward()
if DEVICE == "cuda":
    torch.cuda.synchronize()
print("SRU_PROBE " + json.dumps({"ok": True, "seconds": time.perf_counter() - t0,
      "version": getattr(sru, "__version__", None), "warnings": [str(w.message)[:300] for w in caught]}))
"""


def probe_sru_package(dev, timeout: float) -> dict:
    """Import the sru package and run a first forward+backward in a subprocess (it builds its C++/CUDA
    code at import, can hang, and swaps in a dummy op when the CUDA build fails). Returns
    {"ok": bool, "reason"/"seconds"/"version"/"warnings"}; a started process is returned as ``proc``."""
    if importlib.util.find_spec("sru") is None:
        return {"ok": False, "reason": "the sru package is not installed"}
    code = _SRU_PROBE.replace("OPTIONS", repr(SRU_PACKAGE_OPTIONS)).replace("DEVICE", repr(dev.type))
    out = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT, text=True)
    return {"proc": proc, "out": out, "deadline": time.monotonic() + timeout, "timeout": timeout, "device": dev.type}


def finish_sru_probe(probe: dict) -> dict:
    if "proc" not in probe:
        return probe
    proc, out = probe.pop("proc"), probe.pop("out")
    try:
        proc.wait(timeout=max(1.0, probe["deadline"] - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        out.close()
        return {"ok": False, "reason": f"the sru package's import and first run took more than {probe['timeout']:.0f} s "
                                       "(building its kernel?); left out"}
    out.seek(0)
    text = out.read()
    out.close()
    for line in text.splitlines():
        if line.startswith("SRU_PROBE "):
            result = json.loads(line[len("SRU_PROBE "):])
            failed = [w for w in result.get("warnings", []) if "unsuccessful" in w]
            if probe["device"] == "cuda" and failed:  # it ran on a dummy op or a fallback: not its CUDA kernel
                return {"ok": False, "reason": f"the sru package's CUDA kernel did not build: {failed[0][:500]}"}
            return result
    tail = " | ".join(text.strip().splitlines()[-6:])[-800:]
    return {"ok": False, "reason": f"the sru package failed to import, build or run (exit {proc.returncode}): {tail}"}


# ----------------------------------------------------------------------------------------- prewarm
def prewarm_plan(items: list[tuple[int, Contender]], workers: int) -> list[list[int]]:
    """Contender indices per worker: contenders sharing kernels (variant, shape) stay together; groups
    are dealt largest first to the least loaded worker (dense kernels compile longer than SRU ones)."""
    groups: dict = {}
    for i, c in items:
        key = (c.variant, c.meta["T"], c.meta["B"], c.meta["H"])
        groups.setdefault(key, []).append(i)
    cost = {k: (3.0 if k[0].split("/")[0] in DENSE else 1.0) for k in groups}
    plan = [[] for _ in range(workers)]
    load = [0.0] * workers
    for key in sorted(groups, key=lambda k: -cost[k]):
        w = load.index(min(load))
        plan[w].extend(groups[key])
        load[w] += cost[key]
    return [p for p in plan if p]


def _worker_argv(args, k, items) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--warm-worker", str(k), "--warm-items",
            ",".join(map(str, items)), "--dtype", args.dtype, "--tf32", str(args.tf32), "--device", args.device,
            "--cells", ",".join(args.cell_names), "--shapes", ";".join(",".join(map(str, s)) for s in args.shape_list),
            "--alt-path-cells", args.alt_path_cells, "--reference-cells", args.reference_cells]
    # the same flags as this process: the worker rebuilds the same contender list (indices must match)
    flags = (("--quick", args.quick), ("--no-reference", args.no_reference), ("--no-sru-package", args.no_sru_package))
    return argv + [flag for flag, on in flags if on]


def start_prewarm(args, contenders: list[Contender], workers: int) -> dict:
    items = [(i, c) for i, c in enumerate(contenders) if c.triton]
    plan = prewarm_plan(items, workers)
    env = {**os.environ, "OMP_NUM_THREADS": "1",  # the workers compile and launch; no CPU maths worth threads
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    procs = []
    for k, part in enumerate(plan):
        out = tempfile.TemporaryFile(mode="w+")
        procs.append((subprocess.Popen(_worker_argv(args, k, part), stdout=out, stderr=subprocess.STDOUT,
                                       text=True, env=env), out))
    print(f"prewarm: {len(items)} Triton contenders on {len(procs)} worker processes", flush=True)
    return {"procs": procs, "t0": time.perf_counter(), "deadline": time.monotonic() + args.prewarm_timeout,
            "workers": len(procs), "items": len(items)}


def finish_prewarm(state: dict) -> tuple[dict, dict]:
    """Wait for the workers (until the deadline; stragglers are killed). Returns ({index: result}, summary)."""
    results, failures, killed = {}, [], 0
    for proc, out in state["procs"]:
        try:
            proc.wait(timeout=max(0.1, state["deadline"] - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            killed += 1
        out.seek(0)
        text = out.read()
        out.close()
        for line in text.splitlines():
            if line.startswith("WARM "):
                try:
                    r = json.loads(line[5:])
                    results[int(r["index"])] = r
                except (ValueError, KeyError, TypeError):  # a line cut off when the worker was killed
                    continue
        if proc.returncode not in (0, None) and not text.count("WARM "):
            failures.append(" | ".join(text.strip().splitlines()[-4:])[-600:])
    summary = {"workers": state["workers"], "contenders": state["items"], "done": len(results),
               "errors": sum(1 for r in results.values() if "error" in r), "killed_at_timeout": killed,
               "wall_s": round(time.perf_counter() - state["t0"], 1), "worker_failures": failures}
    print(f"prewarm: {summary}", flush=True)
    return results, summary


def warm_worker(args, contenders: list[Contender], dev, timing) -> None:
    """A prewarm worker: the first call of each assigned contender (fills Triton's disk cache)."""
    warm_up_device(dev)
    done_variants = set()
    for i in (int(v) for v in args.warm_items.split(",") if v):
        c = contenders[i]
        r = {"index": i, "label": c.label, "first_of_variant": (c.variant, c.meta["H"]) not in done_variants}
        done_variants.add((c.variant, c.meta["H"]))
        fn = params = None
        try:
            fn, params, _ = c.build()
            r["first_call_ms"] = first_call_ms(fn, dev, params)
        except Skip as reason:
            r["skipped"] = str(reason)
        except Exception as exc:  # noqa: BLE001
            r["error"] = error_text(exc)
        fn = params = None  # noqa: F841
        release_memory(dev)
        print("WARM " + json.dumps(r), flush=True)


# ----------------------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.device = str(dev)
    if dev.type == "cpu":
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before the kernels are first imported
    t_start = time.perf_counter()
    dtype = getattr(torch, args.dtype)
    precision = set_tf32(bool(args.tf32))
    args.shape_list = _shapes(args.shapes) if args.shapes else (QUICK_SHAPES if args.quick else SHAPES)
    args.cell_names = _csv(args.cells) or (QUICK_CELLS if args.quick else CELLS)
    unknown = sorted(set(args.cell_names) - set(CELL_SPECS))
    if unknown:
        raise SystemExit(f"unknown cell(s) {unknown}; expected some of {list(CELL_SPECS)}")
    timing = timing_settings(args.quick)
    timing.update({k: v for k, v in (("min_reps", args.min_reps), ("max_reps", args.max_reps),
                                     ("budget_s", args.budget)) if v is not None})
    names = args.cell_names
    if args.warm_worker is not None:
        warm_worker(args, all_contenders(args.shape_list, dev, dtype, args, names, {}), dev, timing)
        return None

    # subprocesses first (the sru package build, the prewarm compiles), while this process waits
    sru_probe = (probe_sru_package(dev, args.sru_package_timeout) if not args.no_sru_package
                 else {"ok": False, "reason": "left out (--no-sru-package)"})
    listing = all_contenders(args.shape_list, dev, dtype, args, names, {})
    workers = args.prewarm if args.prewarm is not None else (
        min(8, max(1, (os.cpu_count() or 2) - 2)) if dev.type == "cuda" else 0)
    warm = start_prewarm(args, listing, workers) if workers > 0 and any(c.triton for c in listing) else None
    warm_results, warm_summary = finish_prewarm(warm) if warm else ({}, {"workers": 0})
    sru_status = finish_sru_probe(sru_probe)
    print(f"sru package: {sru_status}", flush=True)

    warm_up_device(dev)
    payload = {
        "benchmark": "bench_cells",
        "what": "one layer, forward + backward (loss = sum of outputs and final state; gradients of the "
                "parameters, not of x), training mode; eager rows, then CUDA-graph rows",
        "complete": False,
        "settings": {"quick": args.quick, "dtype": args.dtype, "tf32": bool(args.tf32), "shapes": args.shape_list,
                     "cells": list(names), "input_size": "= H", "reference_cells": list(_csv(args.reference_cells))
                     if not args.no_reference else [], "alt_path_cells": list(_csv(args.alt_path_cells)),
                     "alt_path_max_h": ALT_PATH_MAX_H, "max_persistent_hidden": dispatch_persistent_limit(),
                     "graph_shapes": _shapes(args.graph_shapes or ""),
                     "timing": timing, "time_limit_s": args.time_limit, "sru_package_options": SRU_PACKAGE_OPTIONS,
                     "first_call": "first_call_ms: the first fwd+bwd in this process (Triton kernels come from the "
                                   "disk cache when prewarm ran); prewarm_first_call_ms: the first call in a prewarm "
                                   "worker, incl. the JIT compile when first_of_variant"},
        "precision": precision,
        "environment": environment(dev),
        "prewarm": warm_summary,
        "sru_package": sru_status,
        "results": [],
    }
    out = ResultFile("bench_cells", payload, args.out)
    out.save()  # the settings and versions, before anything can go wrong
    rows = payload["results"]
    contenders = all_contenders(args.shape_list, dev, dtype, args, names, sru_status)
    graph_shapes = [s for s in _shapes(args.graph_shapes or "") if dev.type == "cuda"]
    contenders += graph_contenders(graph_shapes, dev, dtype, args, names, sru_status)
    shape = None
    try:
        for i, c in enumerate(contenders):
            key = (c.meta["T"], c.meta["B"], c.meta["H"], c.meta["mode"])
            if key != shape:
                shape = key
                print(f"(T, B, H) = ({key[0]}, {key[1]}, {key[2]}){' CUDA graphs' if key[3] == 'cuda_graph' else ''}"
                      f"  [{time.perf_counter() - t_start:.0f} s]", flush=True)
            if args.time_limit is not None and time.perf_counter() - t_start > args.time_limit:
                row = {"contender": c.label, **c.meta, "skipped": f"time limit ({args.time_limit:.0f} s) reached"}
                print_row(row)
            else:
                row = run_contender(c.label, c.meta, c.build, dev, timing)
                if i in warm_results and warm_results[i].get("label") == c.label:
                    w = warm_results[i]
                    row["prewarm_first_call_ms"] = w.get("first_call_ms")
                    row["prewarm_first_of_variant"] = w.get("first_of_variant")
                    if "error" in w:
                        row["prewarm_error"] = w["error"]
            rows.append(row)
            payload["elapsed_s"] = round(time.perf_counter() - t_start, 1)
            out.save()
        payload["complete"] = True
    except (Interrupted, KeyboardInterrupt) as stop:  # the time limit: keep what was measured
        payload["interrupted"] = str(stop) or type(stop).__name__
        print(f"interrupted: {payload['interrupted']}", flush=True)
    payload["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    path = out.save()
    timed = [r for r in rows if "median_ms" in r]
    print()
    print(markdown_table(timed, [("T", "T"), ("B", "B"), ("H", "H"), ("contender", "contender"),
                                 ("median_ms", "median ms"), ("p20_ms", "p20"), ("p80_ms", "p80"), ("n_runs", "n"),
                                 ("first_call_ms", "first call ms"), ("peak_mib", "peak MiB"),
                                 ("max_abs_err_vs_fp64", "max err vs fp64")]))
    print(f"\nwrote {path} ({payload['elapsed_s']:.0f} s)")
    return payload


if __name__ == "__main__":
    stop_on_sigterm()  # timeout's SIGTERM → Interrupted: the result file keeps what was measured
    result = main()
    sys.exit(0 if result is None or result.get("complete") else 3)  # 3: stopped early, the file says why
