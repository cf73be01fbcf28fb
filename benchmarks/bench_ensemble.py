"""Training many small models at once: one rnnviz ensemble vs one cuDNN model after another.

E models, each a recurrent layer (input 10, hidden H) and a linear classifier (8 classes) on the last
step, each with its own data batch; one step = forward + backward + Adam for all E models.

Contenders, in this order (each recorded on its own; one failing does not stop the others):

* rnnviz: one ensemble cell (``n_models=E``, backend "triton") and a batched head; every member's
  loss is its own mean cross-entropy, so each member gets exactly the gradient and the Adam update it
  would get alone (Adam is elementwise). Checked first against a float64 copy on the reference loop.
* sequential: E separate torch.nn.GRU/LSTM (cuDNN) + nn.Linear + Adam, stepped one after another.
* CUDA graphs (CUDA only, ``--no-graphs`` to leave out): the rnnviz step, then the whole sequential
  step (E models in one graph), both with ``Adam(capturable=True)``.
* optionally (``--with-reference``) the rnnviz ensemble on the reference loop (plain PyTorch).

    python benchmarks/bench_ensemble.py              # GPU: E = 256, (T, B, H) = (100, 256, 32)
    python benchmarks/bench_ensemble.py --quick      # tiny, CPU ok (proves the script runs)

Results: benchmarks/results/bench_ensemble-*.json (rewritten after every contender) and a markdown
table on stdout. ``throughput_vs_sequential`` = eager sequential time / this contender's time.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # _common, also when this file is imported from elsewhere (tests)
from _common import (  # noqa: E402
    Interrupted,
    ResultFile,
    Skip,
    environment,
    markdown_table,
    print_row,
    run_contender,
    set_tf32,
    stop_on_sigterm,
    timing_settings,
    warm_up_device,
)

N_IN, N_CLASSES = 10, 8


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (CPU ok)")
    p.add_argument("--device", default=None)
    p.add_argument("--cell", default="gru", choices=["gru", "lstm"], help="cell (cuDNN has gru, lstm)")
    p.add_argument("--models", type=int, default=None, help="E (default 256; quick: 2)")
    p.add_argument("--T", type=int, default=None)
    p.add_argument("--B", type=int, default=None)
    p.add_argument("--H", type=int, default=None)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--tf32", type=int, default=0, choices=[0, 1])
    p.add_argument("--with-reference", action="store_true", help="also time the plain-PyTorch ensemble")
    p.add_argument("--no-graphs", action="store_true", help="no CUDA-graph rows")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds after which no new contender starts (the rest are recorded as skipped)")
    p.add_argument("--min-reps", type=int, default=None)
    p.add_argument("--max-reps", type=int, default=None)
    p.add_argument("--budget", type=float, default=None)
    p.add_argument("--out", default=None)
    return p.parse_args(argv)


class EnsembleClassifier(torch.nn.Module):
    """E independent (cell → linear head on the last step) models in one module."""

    def __init__(self, cell_name, E, H, dev, dtype):
        super().__init__()
        from rnnviz import cells

        self.cell = cells.make(cell_name, N_IN, H, n_models=E, device=dev, dtype=dtype)
        bound = H ** -0.5
        self.head_w = torch.nn.Parameter(torch.empty(E, N_CLASSES, H, device=dev, dtype=dtype).uniform_(-bound, bound))
        self.head_b = torch.nn.Parameter(torch.empty(E, N_CLASSES, device=dev, dtype=dtype).uniform_(-bound, bound))

    def forward(self, x, backend):
        """x (E, T, B, 10) → logits (E, B, 8) and the cell's outputs (E, T, B, H)."""
        y, _ = self.cell(x, backend=backend)
        return torch.baddbmm(self.head_b.unsqueeze(1), y[:, -1], self.head_w.transpose(1, 2)), y

    def loss(self, x, target, backend):
        """x (E, T, B, 10), target (E, B) → Σ_e mean_b CE: each member's own loss, summed."""
        return loss_from_logits(self(x, backend)[0], target)


def loss_from_logits(logits, target):
    E, B, C = logits.shape
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # fp16/bf16 → fp32; fp64 stays
    return F.cross_entropy(logits.reshape(E * B, C), target.reshape(-1), reduction="sum") / B


def warm_up_optimizer(dev) -> None:
    """One tiny Adam step: the first optimizer step of a process imports torch._dynamo (seconds),
    which is nobody's first-call time."""
    p = torch.nn.Parameter(torch.zeros(2, device=dev))
    opt = torch.optim.Adam([p], lr=1e-3)
    p.sum().backward()
    opt.step()


def ensemble_build(args, E, H, x, target, dev, dtype, backend, capturable=False):
    def build():
        from rnnviz.cells import _triton

        torch.manual_seed(0)
        model = EnsembleClassifier(args.cell, E, H, dev, dtype)
        if backend == "triton":
            reason = _triton.unsupported_reason(model.cell, x[0])
            if reason is not None:
                raise Skip(reason)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=capturable)

        def step():
            opt.zero_grad(set_to_none=True)
            model.loss(x, target, backend).backward()
            opt.step()

        def check():
            ref = copy.deepcopy(model).double()
            with torch.no_grad():
                logits64, y64 = ref(x.double(), "reference")
                logits, y = model(x, backend)
                loss64 = loss_from_logits(logits64, target).item()
                loss = loss_from_logits(logits, target).item()
            return {"max_abs_err_vs_fp64": (y.double() - y64).abs().max().item(),
                    "max_abs_err_logits_vs_fp64": (logits.double() - logits64).abs().max().item(),
                    "loss": loss, "loss_fp64": loss64}

        return step, list(model.parameters()), check

    return build


def sequential_build(args, E, H, x, target, dev, dtype, capturable=False):
    def build():
        torch.manual_seed(0)
        cls = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[args.cell]
        rnns = [cls(N_IN, H, device=dev, dtype=dtype) for _ in range(E)]
        heads = [torch.nn.Linear(H, N_CLASSES, device=dev, dtype=dtype) for _ in range(E)]
        params = [[*r.parameters(), *h.parameters()] for r, h in zip(rnns, heads, strict=True)]
        opts = [torch.optim.Adam(p, lr=1e-3, capturable=capturable) for p in params]

        def step():
            for i in range(E):
                opts[i].zero_grad(set_to_none=True)
                y, _ = rnns[i](x[i])  # (T, B, H)
                F.cross_entropy(heads[i](y[-1]).float(), target[i]).backward()
                opts[i].step()

        return step, [p for group in params for p in group], None

    return build


def main(argv=None):
    args = parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cpu":
        os.environ.setdefault("TRITON_INTERPRET", "1")  # the Triton interpreter (quick CPU runs)
    t_start = time.perf_counter()
    precision = set_tf32(bool(args.tf32))
    warm_up_device(dev)
    warm_up_optimizer(dev)
    dtype = getattr(torch, args.dtype)
    quick = args.quick
    E = args.models or (2 if quick else 256)
    T = args.T or (2 if quick else 100)
    B = args.B or (3 if quick else 256)
    H = args.H or (8 if quick else 32)
    timing = timing_settings(quick)
    timing.update({k: v for k, v in (("min_reps", args.min_reps), ("max_reps", args.max_reps),
                                     ("budget_s", args.budget)) if v is not None})
    torch.manual_seed(0)
    x = torch.randn(E, T, B, N_IN, device=dev, dtype=dtype)
    target = torch.randint(0, N_CLASSES, (E, B), device=dev)
    cudnn = "cuDNN" if dev.type == "cuda" else "torch.nn"
    cls_name = {"gru": "GRU", "lstm": "LSTM"}[args.cell]
    shape = {"E": E, "T": T, "B": B, "H": H}

    def meta(impl, mode):
        return {**shape, "impl": impl, "cell": args.cell, "mode": mode}

    contenders = [
        (f"rnnviz {args.cell} ensemble (triton)", meta("rnnviz triton", "eager"),
         ensemble_build(args, E, H, x, target, dev, dtype, "triton")),
        (f"{cudnn} {cls_name} one after another", meta(cudnn, "eager"),
         sequential_build(args, E, H, x, target, dev, dtype)),
    ]
    if dev.type == "cuda" and not args.no_graphs:
        contenders.append((f"rnnviz {args.cell} ensemble (triton) [CUDA graph]", meta("rnnviz triton", "cuda_graph"),
                           ensemble_build(args, E, H, x, target, dev, dtype, "triton", capturable=True)))
    if args.with_reference:
        contenders.append((f"rnnviz {args.cell} ensemble (reference)", meta("rnnviz reference", "eager"),
                           ensemble_build(args, E, H, x, target, dev, dtype, "reference")))
    if dev.type == "cuda" and not args.no_graphs:  # last: the slowest capture (E models in one graph)
        contenders.append((f"{cudnn} {cls_name} one after another [CUDA graph]", meta(cudnn, "cuda_graph"),
                           sequential_build(args, E, H, x, target, dev, dtype, capturable=True)))

    payload = {
        "benchmark": "bench_ensemble",
        "what": "E models, one forward+backward+Adam step each; time for all E",
        "complete": False,
        "settings": {"quick": quick, "cell": args.cell, "E": E, "T": T, "B": B, "H": H, "inputs": N_IN,
                     "classes": N_CLASSES, "dtype": args.dtype, "tf32": bool(args.tf32), "timing": timing,
                     "time_limit_s": args.time_limit,
                     "throughput_vs_sequential": "eager sequential median / this contender's median"},
        "precision": precision,
        "environment": environment(dev),
        "results": [],
    }
    out = ResultFile("bench_ensemble", payload, args.out)
    out.save()  # the settings and versions, before anything can go wrong
    rows = payload["results"]

    def add_throughput():
        seq = next((r["median_ms"] for r in rows if r["impl"] == cudnn and r["mode"] == "eager" and "median_ms" in r),
                   None)
        for r in rows:
            if "median_ms" in r:
                r["per_model_ms"] = r["median_ms"] / E
                r["throughput_vs_sequential"] = seq / r["median_ms"] if seq else None

    print(f"E = {E}, (T, B, H) = ({T}, {B}, {H}), {args.cell}, {args.dtype}", flush=True)
    try:
        for label, m, build in contenders:
            if args.time_limit is not None and time.perf_counter() - t_start > args.time_limit:
                row = {"contender": label, **m, "skipped": f"time limit ({args.time_limit:.0f} s) reached"}
                print_row(row)
            else:
                row = run_contender(label, m, build, dev, timing)
            rows.append(row)
            add_throughput()
            payload["elapsed_s"] = round(time.perf_counter() - t_start, 1)
            out.save()
        payload["complete"] = True
    except (Interrupted, KeyboardInterrupt) as stop:  # the time limit: keep what was measured
        payload["interrupted"] = str(stop) or type(stop).__name__
        print(f"interrupted: {payload['interrupted']}", flush=True)
    add_throughput()
    payload["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    path = out.save()
    print()
    print(markdown_table([r for r in rows if "median_ms" in r],
                         [("contender", "contender"), ("median_ms", "median ms (all E)"), ("p20_ms", "p20"),
                          ("p80_ms", "p80"), ("n_runs", "n"), ("per_model_ms", "ms per model"),
                          ("throughput_vs_sequential", "× sequential"), ("peak_mib", "peak MiB"),
                          ("max_abs_err_vs_fp64", "max err vs fp64")]))
    print(f"\nwrote {path} ({payload['elapsed_s']:.0f} s)")
    return payload


if __name__ == "__main__":
    stop_on_sigterm()  # timeout's SIGTERM → Interrupted: the result file keeps what was measured
    result = main()
    sys.exit(0 if result is None or result.get("complete") else 3)  # 3: stopped early, the file says why
