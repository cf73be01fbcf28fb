"""Forward+backward time and peak memory of one recurrent layer: rnnviz's Triton kernels vs the rest.

Contenders at each (T, B, H) (input size = H): rnnviz cells with backend="triton" (dense cells on both
the persistent and the per-step path, to locate the crossover), the rnnviz reference loop, cuDNN
(torch.nn.LSTM / GRU), and the ``sru`` package when it imports. Every rnnviz contender's output is
first checked against the float64 reference loop (max abs error recorded).

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
import os
import sys

import torch

SHAPES = [(256, 32, 512), (1000, 128, 128), (100, 256, 32), (512, 64, 1024)]
QUICK_SHAPES = [(6, 4, 16), (4, 3, 24)]
CELLS = ["sru", "gru", "lstm", "pru", "irc_gru", "ihc_lstm", "trnn"]
QUICK_CELLS = ["sru", "gru", "lstm"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny shapes and few repetitions (CPU ok)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--tf32", type=int, default=0, choices=[0, 1],
                   help="value of both torch TF32 flags for every contender (default 0: strict fp32)")
    p.add_argument("--cells", default=None, help="comma-separated rnnviz cell names")
    p.add_argument("--shapes", default=None, help="semicolon-separated T,B,H triples, e.g. '256,32,512;100,256,32'")
    p.add_argument("--no-reference", action="store_true", help="skip the (slow) reference loop")
    p.add_argument("--out", default=None, help="result file (default: benchmarks/results/…json)")
    return p.parse_args(argv)


@contextlib.contextmanager
def dense_path(path: str | None):
    """Force the dense cells' persistent or per-step path (None: the dispatch default)."""
    from rnnviz.kernels import _dispatch

    saved = _dispatch.MAX_PERSISTENT_HIDDEN
    if path == "persistent":
        _dispatch.MAX_PERSISTENT_HIDDEN = 1 << 30
    elif path == "stepwise":
        _dispatch.MAX_PERSISTENT_HIDDEN = 0
    try:
        yield
    finally:
        _dispatch.MAX_PERSISTENT_HIDDEN = saved


def _loss(out):
    """Sum of everything a layer returns (y and its final state(s)), in fp32."""
    y, s = out
    if isinstance(s, tuple):  # torch.nn.LSTM: (h, c)
        s = s[0].float().sum() + s[1].float().sum()
    else:
        s = s.float().sum()
    return y.float().sum() + s


def rnnviz_contenders(names, T, B, H, dev, dtype, with_reference):
    from rnnviz import cells
    from rnnviz.kernels import _dispatch

    for name in names:
        cell = cells.make(name, H, H, device=dev, dtype=dtype)
        x = torch.randn(T, B, H, device=dev, dtype=dtype)
        paths = ["persistent", "stepwise"] if name in _dispatch.DENSE else [None]
        for path in paths:
            label = f"rnnviz {name} triton" + (f" ({path})" if path else "")
            reason = _dispatch.unsupported_reason(cell, x)
            yield label, cell, x, ("triton", path), reason
        if with_reference:
            yield f"rnnviz {name} reference loop", cell, x, ("reference", None), None


def max_error_vs_float64(cell, x, backend, path) -> float:
    ref = copy.deepcopy(cell).double()
    with torch.no_grad(), dense_path(path):
        y64, _ = ref(x.double(), backend="reference")
        y, _ = cell(x, backend=backend)
    return (y.double() - y64).abs().max().item()


def torch_contenders(T, B, H, dev, dtype):
    for cls in (torch.nn.LSTM, torch.nn.GRU):
        label = ("cuDNN " if dev.type == "cuda" else "torch.nn ") + cls.__name__
        m = cls(H, H, device=dev, dtype=dtype)
        yield label, m, torch.randn(T, B, H, device=dev, dtype=dtype), None
    label = "sru package"
    if importlib.util.find_spec("sru") is None:
        yield label, None, None, "the sru package is not installed"
        return
    try:
        from sru import SRU as PackageSRU

        m = PackageSRU(H, H, num_layers=1).to(device=dev, dtype=dtype)
        yield label, m, torch.randn(T, B, H, device=dev, dtype=dtype), None
    except Exception as exc:  # the package compiles C++/CUDA at import and often fails to build
        yield label, None, None, f"sru package failed to import or build: {type(exc).__name__}: {exc}"


def run_one(label, fn, params, dev, quick, extra):
    from _common import peak_memory_mib, time_ms

    reps = 3 if quick else 20
    timing = time_ms(fn, dev, grad_to_none=params, reps=reps, warmup=1 if quick else 3)
    row = {"contender": label, **timing, "peak_mib": peak_memory_mib(fn, dev), **extra}
    print(f"  {label:42s} {row['median_ms']:10.3f} ms  (first call {row['first_call_ms']:.1f} ms)", flush=True)
    return row


def main(argv=None):
    args = parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cpu" and args.quick:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before the kernels are first imported
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import environment, markdown_table, save, set_tf32

    dtype = getattr(torch, args.dtype)
    set_tf32(bool(args.tf32))
    torch.manual_seed(0)
    shapes = ([tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")] if args.shapes
              else QUICK_SHAPES if args.quick else SHAPES)
    names = args.cells.split(",") if args.cells else (QUICK_CELLS if args.quick else CELLS)
    rows = []
    for T, B, H in shapes:
        print(f"(T, B, H) = ({T}, {B}, {H})", flush=True)
        shape = {"T": T, "B": B, "H": H}
        for label, cell, x, (backend, path), reason in rnnviz_contenders(
                names, T, B, H, dev, dtype, not args.no_reference):
            if reason is not None:
                rows.append({"contender": label, **shape, "skipped": reason})
                print(f"  {label:42s} skipped: {reason}")
                continue
            err = max_error_vs_float64(cell, x, backend, path)
            params = list(cell.parameters())

            def fb(cell=cell, x=x, backend=backend, path=path):
                with dense_path(path):
                    _loss(cell(x, backend=backend)).backward()

            rows.append(run_one(label, fb, params, dev, args.quick,
                                {**shape, "max_abs_err_vs_fp64": err, "path": path}))
        for label, m, x, reason in torch_contenders(T, B, H, dev, dtype):
            if reason is not None:
                rows.append({"contender": label, **shape, "skipped": reason})
                print(f"  {label:42s} skipped: {reason}")
                continue
            params = list(m.parameters())

            def fb(m=m, x=x):
                _loss(m(x)).backward()

            rows.append(run_one(label, fb, params, dev, args.quick, shape))
    payload = {
        "benchmark": "bench_cells",
        "what": "one layer, forward + backward (loss = sum of outputs and final state), training mode, eager",
        "settings": {"quick": args.quick, "dtype": args.dtype, "tf32": bool(args.tf32), "shapes": shapes,
                     "cells": names, "input_size": "= H"},
        "environment": environment(dev),
        "results": rows,
    }
    path = save("bench_cells", payload, args.out)
    timed = [r for r in rows if "median_ms" in r]
    print()
    print(markdown_table(timed, [("T", "T"), ("B", "B"), ("H", "H"), ("contender", "contender"),
                                 ("median_ms", "median ms"), ("p20_ms", "p20"), ("p80_ms", "p80"),
                                 ("peak_mib", "peak MiB"), ("max_abs_err_vs_fp64", "max err vs fp64")]))
    print(f"\nwrote {path}")
    return payload


if __name__ == "__main__":
    main()
