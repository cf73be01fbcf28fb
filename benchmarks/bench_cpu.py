"""CPU speed of rnnviz's cells: the "cpu" backend (numba kernels + BLAS) against torch.nn and the reference loop.

Two sections, each at every thread count of ``--threads`` (default 1 and 2):

* **cells**: forward + backward (gradients of every parameter; the loss is the sum of the outputs
  and the final state) of one layer, input size = H, time-major, at (T, B, H) = (100, 64, 128),
  (200, 32, 256) and (100, 64, 32): every rnnviz cell on ``backend="auto"`` (which is "cpu" here),
  ``torch.nn.GRU`` and ``torch.nn.LSTM``, and the reference loop of ``--reference-cells``;
* **ensemble**: one training step (forward, backward, Adam) of E = 64 models (T 65, B 32, H 16,
  6 inputs, 5 classes, cross-entropy at every step: the capacity study's shape) for GRU, LSTM, PRU
  and SRU: the rnnviz ensemble (``rnnviz.train.SequenceModel``, its loss the capacity study's own,
  the sum over members of each member's mean cross-entropy, ``rnnviz.tasks._base.masked_cross_entropy``)
  on the "cpu" backend with the training loops' Adam (``rnnviz.train._loop.adam``: fused, stepped
  directly) and on the reference loop with torch's default Adam (rnnviz 0.1's step; the same loss),
  and the same 64 models one after another (``torch.nn.GRU``/``LSTM`` + ``Linear``
  for GRU and LSTM; for PRU and SRU, which torch.nn lacks, single rnnviz models on the reference
  loop). Also the step's matrix-product FLOPs and the "arithmetic floor": those FLOPs at the rate
  this machine reaches in the step's own small batched products (and in one large sgemm).

Timing: every contender's first call is timed alone (``first_call_ms``: numba compiles here, or
loads its on-disk cache); then one warm-up call each, then ``--repeats`` rounds in which every
contender of the section runs once, interleaved, so that load from other processes hits all
alike; reported: median, min, max. The load average before and after each section is recorded.
The compile / cache-load time of each kernel is in ``compile_seconds``.

    python benchmarks/bench_cpu.py            # ~2-3 minutes on a quiet 2-core machine
    python benchmarks/bench_cpu.py --quick    # tiny shapes, < 1 minute: proves the script runs

Results: ``benchmarks/results/bench_cpu-<cpu>-<time>.json`` (rewritten after every section; quick
runs ``bench_cpu-quick-<time>.json``, git-ignored) and a summary on stdout.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))  # this checkout's rnnviz when run as a script

import rnnviz  # noqa: E402
from rnnviz import cells  # noqa: E402
from rnnviz._files import write_atomically  # noqa: E402
from rnnviz.cells import _cpu  # noqa: E402
from rnnviz.study import processor_name  # noqa: E402
from rnnviz.tasks._base import masked_cross_entropy  # noqa: E402
from rnnviz.train import SequenceModel, TrainConfig  # noqa: E402
from rnnviz.train._loop import adam  # noqa: E402

CELL_SHAPES = ((100, 64, 128), (200, 32, 256), (100, 64, 32))
ENSEMBLE = {"E": 64, "T": 65, "B": 32, "H": 16, "m": 6, "C": 5}
QUICK_CELL_SHAPES = ((6, 4, 8), (4, 3, 6))
QUICK_ENSEMBLE = {"E": 3, "T": 5, "B": 4, "H": 4, "m": 3, "C": 2}
ENSEMBLE_CELLS = ("gru", "lstm", "pru", "sru")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny shapes, 2 repeats: proves the script runs")
    p.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated (default 1,2)")
    p.add_argument("--shapes", default=None, help='cells section shapes "T,B,H;T,B,H"')
    p.add_argument("--cells", default=None, help="rnnviz cells of the cells section (default: all)")
    p.add_argument("--reference-cells", default="gru,lstm,pru,sru",
                   help="cells also timed on the reference loop in the cells section ('' for none)")
    p.add_argument("--ensemble-cells", default=",".join(ENSEMBLE_CELLS))
    p.add_argument("--no-sequential", action="store_true", help="skip the one-model-after-another rows")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5; quick 2)")
    p.add_argument("--time-limit", type=float, default=480.0,
                   help="seconds after which no new section starts (the rest are recorded as skipped)")
    p.add_argument("--out", default=None, help="result file (default benchmarks/results/bench_cpu-...json)")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------- environment


def environment() -> dict:
    def version(module):
        try:
            return __import__(module).__version__
        except Exception:  # not installed, or broken
            return None

    return {
        "cpu": processor_name(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": version("numba"),
        "llvmlite": version("llvmlite"),
        "numpy": version("numpy"),
        "rnnviz": rnnviz.__version__,
        "torch_parallel_info": torch.__config__.parallel_info().splitlines()[:6],
        "mkldnn": torch.backends.mkldnn.is_available(),
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):  # not available (Windows)
        return None


# ------------------------------------------------------------------------------------------ timing


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def run_interleaved(contenders: list[tuple[str, dict, object]], repeats: int) -> list[dict]:
    """First call of each (alone), one warm-up each, then ``repeats`` interleaved rounds."""
    rows = []
    for label, meta, fn in contenders:
        row = {"contender": label, **meta}
        try:
            row["first_call_ms"] = round(timed(fn), 3)
            fn()
            row["_fn"] = fn
        except Exception as exc:  # one failing contender is recorded; the others go on
            row["error"] = f"{type(exc).__name__}: {exc}"[:600]
        rows.append(row)
    samples = {id(r): [] for r in rows}
    for _ in range(repeats):
        for r in rows:
            if "_fn" in r:
                samples[id(r)].append(timed(r["_fn"]))
    for r in rows:
        fn = r.pop("_fn", None)
        if fn is not None:
            s = samples[id(r)]
            r.update(median_ms=round(statistics.median(s), 3), min_ms=round(min(s), 3),
                     max_ms=round(max(s), 3), n_runs=len(s))
    return rows


# ----------------------------------------------------------------------------------- cells section


def cell_contenders(T, B, H, names, reference_cells):
    """(label, meta, fn) for every contender at (T, B, H): forward + backward of one layer."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, H, generator=gen)
    out = []

    def torch_fn(module):
        def fn():
            for p in module.parameters():
                p.grad = None
            y, _ = module(x)
            y.sum().backward()
        return fn

    def rnnviz_fn(cell, backend):
        def fn():
            for p in cell.parameters():
                p.grad = None
            y, s = cell(x, backend=backend)
            (y.sum() + s.sum()).backward()
        return fn

    torch.manual_seed(0)
    out.append(("torch.nn.GRU", {"backend": "torch"}, torch_fn(torch.nn.GRU(H, H))))
    out.append(("torch.nn.LSTM", {"backend": "torch"}, torch_fn(torch.nn.LSTM(H, H))))
    for name in names:
        cell = cells.make(name, H, H)
        backend = cells.resolve_backend(cell, x)
        out.append((f"rnnviz {name}", {"cell": name, "backend": backend}, rnnviz_fn(cell, "auto")))
    for name in reference_cells:
        cell = cells.make(name, H, H)
        out.append((f"rnnviz {name} reference loop", {"cell": name, "backend": "reference"},
                    rnnviz_fn(cell, "reference")))
    return out


# -------------------------------------------------------------------------------- ensemble section


def step_flop(cell_name: str, E, T, B, H, m, C) -> float:
    """Matrix-product FLOPs of one training step (forward + backward: 3 products each)."""
    probe = cells.make(cell_name, m, H)
    k = {"gru": 3, "lstm": 4, "pru": 2}.get(cell_name)
    if k is not None:
        macs = m * k * H + H * k * H + (H * H if cell_name == "pru" else 0)  # input, recurrent, output map
    else:  # SRU: one input GEMM of weight's rows, no recurrent product
        macs = m * probe.weight.shape[0]
    macs += H * C  # readout
    return 2.0 * 3 * macs * E * T * B


def gemm_rates(E, B, H, P) -> dict:
    """GFLOP/s of one large sgemm and of the step's own small batched product (E, B, H) @ (E, H, P)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    big = min(timed(lambda: torch.mm(a, b)) for _ in range(5))
    h, w = torch.randn(E, B, H), torch.randn(E, H, P)
    torch.bmm(h, w)
    reps = 50
    small = min(timed(lambda: [torch.bmm(h, w) for _ in range(reps)]) for _ in range(5)) / reps
    return {"large_sgemm_gflops": round(2 * 1024**3 / big / 1e6, 1),
            "step_bmm_gflops": round(2 * E * B * H * P / small / 1e6, 1)}


def ensemble_contenders(cell_name, E, T, B, H, m, C, sequential: bool):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(E, T, B, m, generator=gen)
    target = torch.randint(0, C, (E, T, B), generator=gen)
    out = []

    def ensemble_fn(backend):
        torch.manual_seed(0)
        model = SequenceModel(cell_name, m, H, C, n_models=E)
        # the fast path steps the training loops' own Adam (rnnviz.train._loop.adam: fused, stepped
        # directly); the reference loop, rnnviz 0.1's step, torch's default Adam (foreach)
        opt = (adam(list(model.parameters()), TrainConfig(lr=1e-3))[0] if backend == "auto"
               else torch.optim.Adam(model.parameters(), lr=1e-3))

        def fn():
            h = model.embed(x)
            for layer in model.cells:
                h, _ = layer(h, backend=backend)
            logits = model.read_out(h)  # (E, T, B, C)
            # the study's loss: the sum over members of each member's mean cross-entropy (each gets its
            # own gradient), read in read_out's layout (on a CPU the fused loss kernel, when numba is there)
            loss = masked_cross_entropy(logits, target, None).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return fn

    probe = cells.make(cell_name, m, H, n_models=E)
    backend = cells.resolve_backend(probe, x)
    out.append((f"rnnviz ensemble {cell_name} ({backend})", {"cell": cell_name, "backend": backend},
                ensemble_fn("auto")))
    out.append((f"rnnviz ensemble {cell_name} (reference loop)", {"cell": cell_name, "backend": "reference"},
                ensemble_fn("reference")))
    if not sequential:
        return out
    torch.manual_seed(0)
    if cell_name in ("gru", "lstm"):
        rnn_cls = torch.nn.GRU if cell_name == "gru" else torch.nn.LSTM
        label, kind = f"{E} torch.nn.{rnn_cls.__name__} one after another", "torch"
        models = [torch.nn.ModuleDict({"rnn": rnn_cls(m, H), "head": torch.nn.Linear(H, C)}) for _ in range(E)]

        def run(model, xi):
            return model["head"](model["rnn"](xi)[0])
    else:
        label, kind = f"{E} rnnviz {cell_name} (reference loop) one after another", "reference"
        models = [torch.nn.ModuleDict({"rnn": cells.make(cell_name, m, H), "head": torch.nn.Linear(H, C)})
                  for _ in range(E)]

        def run(model, xi):
            return model["head"](model["rnn"](xi, backend="reference")[0])
    opts = [torch.optim.Adam(mod.parameters(), lr=1e-3) for mod in models]

    def sequential_fn():
        for i, (mod, opt) in enumerate(zip(models, opts, strict=True)):
            logits = run(mod, x[i])
            loss = F.cross_entropy(logits.reshape(-1, C), target[i].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    out.append((label, {"cell": cell_name, "backend": kind, "sequential": True}, sequential_fn))
    return out


# ------------------------------------------------------------------------------------------- main


def _find(rows, **match):
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()) and "median_ms" in r:
            return r["median_ms"]
    return None


def targets(rows: list[dict], threads: int, shapes) -> list[dict]:
    """The issue's targets, read off the rows measured at ``threads`` threads."""
    out = []

    def add(name, value, want, ok):
        out.append({"threads": threads, "target": name, "measured": None if value is None else round(value, 3),
                    "want": want, "met": None if value is None else bool(ok(value))})

    mine = [r for r in rows if r.get("threads") == threads]
    for cell in ENSEMBLE_CELLS:
        fast = _find(mine, section="ensemble", cell=cell, backend="cpu")
        ref = _find(mine, section="ensemble", cell=cell, backend="reference", sequential=None)
        add(f"ensemble step {cell}: reference ÷ cpu", ref / fast if fast and ref else None, ">= 4",
            lambda v: v >= 4)
    seq = _find(mine, section="ensemble", cell="gru", backend="torch")
    fast = _find(mine, section="ensemble", cell="gru", backend="cpu")
    add("ensemble step gru: torch.nn one after another ÷ cpu", seq / fast if seq and fast else None, ">= 28",
        lambda v: v >= 28)
    for T, B, H in shapes:
        at = {"section": "cells", "T": T, "B": B, "H": H}
        nn_gru, nn_lstm = (_find(mine, contender=f"torch.nn.{k}", **at) for k in ("GRU", "LSTM"))
        for cell, base, want, bound in (("gru", nn_gru, "<= 1", 1.0), ("lstm", nn_lstm, "<= 1", 1.0),
                                        ("pru", nn_gru, "<= 0.8", 0.8)):
            t = _find(mine, contender=f"rnnviz {cell}", **at)
            ratio = t / base if t and base else None
            add(f"({T},{B},{H}) rnnviz {cell} ÷ torch.nn.{'LSTM' if cell == 'lstm' else 'GRU'}", ratio, want,
                lambda v, bound=bound: v <= bound)
    return out


def default_path(quick: bool) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = "quick" if quick else re.sub(r"[^A-Za-z0-9]+", "-", processor_name()).strip("-")[:40]
    return HERE / "results" / f"bench_cpu-{slug}-{stamp}.json"


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    repeats = args.repeats or (2 if args.quick else 5)
    threads_list = [int(t) for t in args.threads.split(",") if t.strip()]
    if args.shapes:
        shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";") if s.strip()]
    else:
        shapes = list(QUICK_CELL_SHAPES if args.quick else CELL_SHAPES)
    ens = dict(QUICK_ENSEMBLE if args.quick else ENSEMBLE)
    names = [c for c in (args.cells.split(",") if args.cells else cells.names()) if c]
    reference_cells = [c for c in args.reference_cells.split(",") if c]
    ensemble_cells = [c for c in args.ensemble_cells.split(",") if c]
    path = Path(args.out) if args.out else default_path(args.quick)
    payload = {
        "environment": environment(),
        "settings": {"quick": args.quick, "threads": threads_list, "repeats": repeats,
                     "cell_shapes": [list(s) for s in shapes], "ensemble": ens, "cells": names,
                     "reference_cells": reference_cells, "ensemble_cells": ensemble_cells,
                     "sequential": not args.no_sequential, "time_limit_s": args.time_limit,
                     "timing": "first call alone, 1 warm-up, then interleaved rounds; median/min/max (ms)"},
        "results": [], "sections": [], "skipped": [], "complete": False,
    }

    def save():
        payload["compile_seconds"] = {f"{k[0]}/{k[1]}": round(v, 3) for k, v in _cpu.COMPILE_SECONDS.items()}
        payload["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda f: f.write(json.dumps(payload, indent=1).encode()))

    previous = torch.get_num_threads()
    try:
        for threads in threads_list:
            torch.set_num_threads(threads)
            sections = [("cells", shape) for shape in shapes] + [("ensemble", c) for c in ensemble_cells]
            for kind, what in sections:
                if time.perf_counter() - t_start > args.time_limit:
                    payload["skipped"].append({"threads": threads, "section": kind, "what": str(what),
                                               "reason": "time limit"})
                    continue
                load_before = load_average()
                t0 = time.perf_counter()
                if kind == "cells":
                    T, B, H = what
                    contenders = cell_contenders(T, B, H, names, reference_cells)
                    meta = {"section": "cells", "threads": threads, "T": T, "B": B, "H": H}
                else:
                    contenders = ensemble_contenders(what, **ens, sequential=not args.no_sequential)
                    meta = {"section": "ensemble", "threads": threads, **ens}
                rows = run_interleaved(contenders, repeats)
                for r in rows:
                    r.update(meta)
                if kind == "ensemble":
                    flop = step_flop(what, **ens)
                    k = {"gru": 3, "lstm": 4, "pru": 2}.get(what, 3)
                    rates = gemm_rates(ens["E"], ens["B"], ens["H"], k * ens["H"])
                    for r in rows:
                        r.update(step_gflop=float(f"{flop / 1e9:.4g}"), **rates,
                                 floor_ms=float(f"{flop / rates['step_bmm_gflops'] / 1e6:.4g}"))
                payload["results"].extend(rows)
                payload["sections"].append({"threads": threads, "section": kind, "what": str(what),
                                            "seconds": round(time.perf_counter() - t0, 1),
                                            "load_before": load_before, "load_after": load_average()})
                for r in rows:
                    shown = r.get("median_ms", r.get("error"))
                    print(f"[{threads} thr] {kind:8s} {str(what):16s} {r['contender']:48s} {shown}", flush=True)
                save()
        payload["targets"] = [t for th in threads_list for t in targets(payload["results"], th, shapes)]
        payload["complete"] = True
    finally:
        torch.set_num_threads(previous)
        save()
    for t in payload.get("targets", []):
        print(f"[{t['threads']} thr] {t['target']:58s} {t['measured']} (want {t['want']}): "
              f"{'met' if t['met'] else 'NOT met' if t['met'] is not None else 'not measured'}")
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
