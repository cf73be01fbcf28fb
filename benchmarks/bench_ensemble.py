"""Training many small models at once: one rnnviz ensemble vs one cuDNN model after another.

E models, each a recurrent layer (input 10, hidden H) and a linear classifier (8 classes) on the last
step, each with its own data batch; one step = forward + backward + Adam for all E models.

* rnnviz: one ensemble cell (``n_models=E``, backend "auto": the Triton kernels on CUDA) and a
  batched head; every member's loss is its own mean cross-entropy, so each member gets exactly the
  gradient and the Adam update it would get alone (Adam is elementwise).
* sequential: E separate torch.nn.GRU/LSTM (cuDNN) + nn.Linear + Adam, stepped one after another.
* optionally (``--with-reference``) the rnnviz ensemble on the reference loop (plain PyTorch).

    python benchmarks/bench_ensemble.py              # GPU: E = 256, (T, B, H) = (100, 256, 32)
    python benchmarks/bench_ensemble.py --quick      # tiny, CPU ok (proves the script runs)

Results: benchmarks/results/bench_ensemble-*.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.nn.functional as F

N_IN, N_CLASSES = 10, 8


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (CPU ok)")
    p.add_argument("--device", default=None)
    p.add_argument("--cell", default="gru", choices=["gru", "lstm"], help="cell (cuDNN has gru, lstm)")
    p.add_argument("--models", type=int, default=None, help="E (default 256; quick: 4)")
    p.add_argument("--T", type=int, default=None)
    p.add_argument("--B", type=int, default=None)
    p.add_argument("--H", type=int, default=None)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--tf32", type=int, default=0, choices=[0, 1])
    p.add_argument("--with-reference", action="store_true", help="also time the plain-PyTorch ensemble")
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

    def loss(self, x, target, backend):
        """x (E, T, B, 10), target (E, B) → Σ_e mean_b CE: each member's own loss, summed."""
        y, _ = self.cell(x, backend=backend)  # (E, T, B, H)
        logits = torch.baddbmm(self.head_b.unsqueeze(1), y[:, -1], self.head_w.transpose(1, 2))  # (E, B, 8)
        E, B, C = logits.shape
        return F.cross_entropy(logits.reshape(E * B, C).float(), target.reshape(-1), reduction="sum") / B


def main(argv=None):
    args = parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cpu" and args.quick:
        os.environ.setdefault("TRITON_INTERPRET", "1")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import environment, markdown_table, peak_memory_mib, save, set_tf32, time_ms

    set_tf32(bool(args.tf32))
    dtype = getattr(torch, args.dtype)
    quick = args.quick
    E = args.models or (4 if quick else 256)
    T = args.T or (5 if quick else 100)
    B = args.B or (8 if quick else 256)
    H = args.H or (8 if quick else 32)
    torch.manual_seed(0)
    x = torch.randn(E, T, B, N_IN, device=dev, dtype=dtype)
    target = torch.randint(0, N_CLASSES, (E, B), device=dev)
    reps = 3 if quick else 10
    rows = []

    # rnnviz ensemble, Triton kernels (backend "triton" on CPU needs the interpreter: quick mode)
    backends = ["triton"] + (["reference"] if args.with_reference else [])
    ens = EnsembleClassifier(args.cell, E, H, dev, dtype)
    with torch.no_grad():
        l_t = ens.loss(x, target, "triton").item()
        l_r = ens.loss(x, target, "reference").item()
    for backend in backends:
        model = EnsembleClassifier(args.cell, E, H, dev, dtype)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(model=model, opt=opt, backend=backend):
            opt.zero_grad(set_to_none=True)
            model.loss(x, target, backend).backward()
            opt.step()

        t = time_ms(step, dev, reps=reps, warmup=1)
        rows.append({"contender": f"rnnviz {args.cell} ensemble ({backend})", **t,
                     "per_model_ms": t["median_ms"] / E, "peak_mib": peak_memory_mib(step, dev)})
        print(rows[-1], flush=True)

    # one cuDNN model after another
    cls = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[args.cell]
    rnns = [cls(N_IN, H, device=dev, dtype=dtype) for _ in range(E)]
    heads = [torch.nn.Linear(H, N_CLASSES, device=dev, dtype=dtype) for _ in range(E)]
    opts = [torch.optim.Adam([*r.parameters(), *h.parameters()], lr=1e-3) for r, h in zip(rnns, heads, strict=True)]

    def sequential_step():
        for i in range(E):
            opts[i].zero_grad(set_to_none=True)
            y, _ = rnns[i](x[i])  # (T, B, H)
            F.cross_entropy(heads[i](y[-1]).float(), target[i]).backward()
            opts[i].step()

    t = time_ms(sequential_step, dev, reps=reps, warmup=1)
    label = ("cuDNN " if dev.type == "cuda" else "torch.nn ") + f"{cls.__name__} one after another"
    rows.append({"contender": label, **t, "per_model_ms": t["median_ms"] / E,
                 "peak_mib": peak_memory_mib(sequential_step, dev)})
    print(rows[-1], flush=True)
    seq = rows[-1]["median_ms"]
    for r in rows:
        r["throughput_vs_sequential"] = seq / r["median_ms"]

    payload = {
        "benchmark": "bench_ensemble",
        "what": "E models, one forward+backward+Adam step each; time for all E",
        "settings": {"quick": quick, "cell": args.cell, "E": E, "T": T, "B": B, "H": H, "inputs": N_IN,
                     "classes": N_CLASSES, "dtype": args.dtype, "tf32": bool(args.tf32)},
        "check": {"ensemble_loss_triton": l_t, "ensemble_loss_reference": l_r,
                  "abs_diff": abs(l_t - l_r)},
        "environment": environment(dev),
        "results": rows,
    }
    path = save("bench_ensemble", payload, args.out)
    print()
    print(markdown_table(rows, [("contender", "contender"), ("median_ms", "median ms (all E)"),
                                ("p20_ms", "p20"), ("p80_ms", "p80"), ("per_model_ms", "ms per model"),
                                ("throughput_vs_sequential", "× sequential"), ("peak_mib", "peak MiB")]))
    print(f"\nwrote {path}")
    return payload


if __name__ == "__main__":
    main()
