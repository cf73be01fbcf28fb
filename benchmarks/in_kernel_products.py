"""Where the CPU dense kernels should do the recurrent products themselves: forward + backward of
``rnnviz.kernels.cpu._dense.dense_recurrence`` with the products per step in torch's BLAS (a
``torch.bmm`` and a kernel call per step) against one kernel call whose own ``np.dot`` calls do them
(docs/kernels.md, "In-kernel products"). Both ways on every shape, whatever
``products_in_kernel`` picks (the row records what it picks), alternating, median of the rounds; at 1
and 2 torch threads; float32, B = 32.

    python benchmarks/in_kernel_products.py            # ~1-2 minutes on a quiet 2-core machine
    python benchmarks/in_kernel_products.py --quick    # tiny, proves the script runs; numbers mean nothing

Results: ``benchmarks/results/in_kernel_products-<cpu>-<time>.json``, rewritten after every shape.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ResultFile, environment  # noqa: E402

from rnnviz.kernels import cpu as kernels_cpu  # noqa: E402

# (kind, models E, hidden size n, steps T): the capacity study's groups (E 4-24, T 21-40), one model of
# 32 units, and the larger steps that decided the rule (9 x 32 units, 24 and 64 x 16: the first version
# of the in-kernel products left them to the per-step path)
SHAPES = [("gru", 4, 16, 21), ("lstm", 4, 16, 21), ("pru", 4, 16, 21), ("gru", 9, 16, 40),
          ("lstm", 9, 16, 40), ("gru", 1, 32, 100), ("pru", 1, 32, 100), ("gru", 9, 32, 72),
          ("gru", 24, 16, 40), ("gru", 64, 16, 65)]
B = 32
#: MAX_IN_KERNEL_MATRIX for each way: 0 leaves every n > LOOP_HIDDEN to the per-step path; 2^40 takes
#: every shape into the kernel
WAYS = {"per_step": 0, "in_kernel": 1 << 40}


def time_shape(dense, kind: str, E: int, n: int, T: int, rounds: int, reps: int) -> dict:
    """Median ms of forward + backward each way, and the largest difference of outputs and of W_hh's
    gradient between them (float32 rounding: the products are summed in another order)."""
    spec = dense.KINDS[kind]
    P = spec.blocks * n
    g = torch.Generator().manual_seed(0)
    xp = torch.randn(E, P, T, B, generator=g).permute(2, 0, 3, 1).requires_grad_()  # features first
    w = (torch.randn(E, P, n, generator=g) / n ** 0.5).requires_grad_()
    b = torch.randn(E, spec.biases * n, generator=g).requires_grad_()
    s0 = torch.zeros(E, B, spec.state * n).requires_grad_()

    def step():
        y, s = dense.dense_recurrence(kind, xp, w, b, s0)
        (y.sum() + s.sum()).backward()
        return y.detach()

    default = dense.MAX_IN_KERNEL_MATRIX
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    results = {}
    try:
        for way, work in WAYS.items():  # warm up, and the numbers each way gives
            dense.MAX_IN_KERNEL_MATRIX = work
            w.grad = None
            results[way] = (step(), w.grad.clone())
            for _ in range(2):
                step()
        for _ in range(rounds):
            for way, work in WAYS.items():
                dense.MAX_IN_KERNEL_MATRIX = work
                start = time.perf_counter()
                for _ in range(reps):
                    step()
                times[way].append((time.perf_counter() - start) / reps * 1e3)
    finally:
        dense.MAX_IN_KERNEL_MATRIX = default
    (ya, ga), (yb, gb) = results["per_step"], results["in_kernel"]
    row = {"kind": kind, "E": E, "n": n, "T": T, "B": B, "work_per_step": E * P * n * B,
           "taken_in_kernel": dense.products_in_kernel(E, P, n, B)}
    for way in WAYS:
        row[f"{way}_ms"] = round(statistics.median(times[way]), 4)
    row["per_step_over_in_kernel"] = round(row["per_step_ms"] / row["in_kernel_ms"], 3)
    row["max_abs_output_difference"] = float((ya - yb).abs().max())
    row["max_rel_weight_gradient_difference"] = float((ga - gb).abs().max() / ga.abs().max())
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="tiny shapes and few rounds: proves the script runs")
    p.add_argument("--out", default=None, help="result file (default: benchmarks/results/...)")
    args = p.parse_args(argv)
    dense, _ = kernels_cpu.load()
    shapes = [(k, min(E, 2), 12, 5) for k, E, _, _ in SHAPES[:3]] if args.quick else SHAPES
    rounds, reps = (2, 2) if args.quick else (args.rounds, 20)
    payload = {"benchmark": "in_kernel_products", "environment": environment(torch.device("cpu")),
               "settings": {"threads": args.threads, "rounds": rounds, "reps": reps, "quick": args.quick,
                            "max_in_kernel_matrix": dense.MAX_IN_KERNEL_MATRIX,
                            "loop_hidden": dense.steps.LOOP_HIDDEN},
               "rows": []}
    result = ResultFile("in_kernel_products", payload, args.out)
    before = torch.get_num_threads()
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for kind, E, n, T in shapes:
                row = {"threads": threads, **time_shape(dense, kind, E, n, T, rounds, reps)}
                payload["rows"].append(row)
                result.save()
                print(f"[{threads} thr] {kind:4s} E={E:3d} n={n:3d} T={T:3d}  per step {row['per_step_ms']:8.3f} ms"
                      f"  in kernel {row['in_kernel_ms']:8.3f} ms  ({row['per_step_over_in_kernel']:.2f}x; "
                      f"rule: {'in kernel' if row['taken_in_kernel'] else 'per step'})", flush=True)
    finally:
        torch.set_num_threads(before)
    print(f"wrote {result.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
