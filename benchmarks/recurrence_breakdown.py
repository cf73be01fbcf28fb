"""Where the CPU recurrence of a large ensemble spends its time: the matrix products against the rest.

At the sizes the capacity study's longest groups train (``paper-cosine`` at n = 64: 9 models, batch 64,
T = 74 steps at 64 targeted bits) the dense kernels take the per-step path: torch's BLAS does each
step's recurrent products between numba calls that do the step's pointwise work
(``rnnviz.kernels.cpu._dense``). This times, on one thread, one forward and one forward + backward of
``dense_recurrence`` for each kind, and the same recurrent products alone (forward ``W h`` per step;
backward ``dW += dg hᵀ`` and ``dh += Wᵀ dg`` per step, as the backward runs them); the difference is
what the kernels and the Python around them cost (meaningful on the per-step path only, which each
row records: for small products the kernels do them themselves). Best of 7 runs each, after one
warm-up run. Writes one JSON file (machine, versions, settings, ms per part).

    python benchmarks/recurrence_breakdown.py                     # n = 64, E 9, B 64, T 74: ~1 minute
    python benchmarks/recurrence_breakdown.py --hidden 32 --kinds gru pru
"""

import argparse
import datetime as _dt
import json
import platform
import time
from pathlib import Path

import torch

import rnnviz
from rnnviz.kernels.cpu._dense import KINDS, dense_recurrence, products_in_kernel
from rnnviz.study import device_name

RESULTS = Path(__file__).resolve().parent / "results"


def best_ms(fn, runs: int = 7) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def breakdown(kind: str, E: int, n: int, B: int, T: int) -> dict:
    """ms of the forward, the forward + backward, and their recurrent products alone, for ``kind``."""
    spec = KINDS[kind]
    P = spec.blocks * n
    xp = torch.randn(E, P, T, B).permute(2, 0, 3, 1).requires_grad_()  # features first, as an ensemble's GEMM writes it
    w = (torch.randn(E, P, n) * 0.1).requires_grad_()
    b = torch.zeros(E, spec.biases * n, requires_grad=True)
    s0 = torch.zeros(E, B, spec.state * n, requires_grad=True)

    def forward():
        with torch.no_grad():
            dense_recurrence(kind, xp, w, b, s0)

    def forward_backward():
        y, s = dense_recurrence(kind, xp, w, b, s0)
        (y.sum() + s.sum()).backward()

    W = torch.randn(E, P, n)
    WT = W.transpose(1, 2).contiguous()
    h = torch.randn(T + 1, E, n, B)
    g = torch.empty(E, P, B)
    dw, dh = torch.zeros(E, P, n), torch.zeros(E, n, B)

    def products_forward():
        for t in range(T):
            torch.bmm(W, h[t], out=g)

    def products_backward():
        for t in range(T):
            dw.baddbmm_(g, h[t].transpose(1, 2))
            dh.baddbmm_(WT, g)

    row = {"kind": kind, "per_step_path": not products_in_kernel(E, P, n, B), "forward_ms": best_ms(forward), "forward_backward_ms": best_ms(forward_backward),
           "products_forward_ms": best_ms(products_forward), "products_backward_ms": best_ms(products_backward)}
    row["rest_ms"] = row["forward_backward_ms"] - row["products_forward_ms"] - row["products_backward_ms"]
    gflop = 2 * 3 * E * P * n * B * T / 1e9
    row["products_gflop"] = round(gflop, 3)
    row["products_gflop_per_s"] = round(gflop / (row["products_forward_ms"] + row["products_backward_ms"]) * 1e3, 1)
    row["products_share"] = round(1 - row["rest_ms"] / row["forward_backward_ms"], 3)
    return {k: round(v, 1) if isinstance(v, float) and k.endswith("_ms") else v for k, v in row.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="+", default=["lstm", "gru", "pru"], choices=list(KINDS))
    parser.add_argument("--models", type=int, default=9)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=74)
    parser.add_argument("--out", default=None, help="JSON file (default: benchmarks/results/recurrence-breakdown-…)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for kind in args.kinds:
        rows.append(breakdown(kind, args.models, args.hidden, args.batch, args.steps))
        print(json.dumps(rows[-1]), flush=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else RESULTS / f"recurrence-breakdown-cpu-{stamp}.json"
    payload = {"benchmark": "recurrence_breakdown", "time": stamp, "machine": device_name("cpu"),
               "python": platform.python_version(), "torch": torch.__version__, "rnnviz": rnnviz.__version__,
               "threads": 1, "settings": {"models": args.models, "hidden": args.hidden, "batch": args.batch,
                                          "steps": args.steps, "dtype": "float32", "runs": "best of 7"},
               "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
