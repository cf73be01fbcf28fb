"""Benchmark: rnnviz.probes.fixed_points against the usual host-synchronised Adam loop.

For trained 3-bit flip-flop tanh RNNs (16 and 64 units), 1024 initial states sampled from visited
states with noise σ = 0.5, under zero input, three methods are timed to the same tolerance on q:

- ``baseline``: the usual practice (FixedPointFinder's PyTorch port): ``torch.optim.Adam`` on the
  states, reading ``q.max().item()`` on the host every iteration to test convergence;
- ``rnnviz_adam``: :func:`rnnviz.probes.fixed_points` with ``newton_steps=0`` (same Adam, checks on
  the device every 100 iterations): isolates the cost of host synchronisation;
- ``rnnviz``: :func:`rnnviz.probes.fixed_points` with its defaults (Adam at lr 0.05 to q < 1e-4, then
  float64 Newton).

Writes ``benchmarks/results/fixed_points_<device>.json`` (``…_quick.json`` with ``--quick``).
Usage::

    PYTHONPATH=. python benchmarks/bench_fixed_points.py            # on a GPU machine
    PYTHONPATH=. python benchmarks/bench_fixed_points.py --quick    # a small CPU check
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path

import torch
from flipflop import flipflop_batch, train_flipflop

import rnnviz
from rnnviz import cells
from rnnviz.probes import FixedPoints, fixed_points, sample_initial_states
from rnnviz.probes._fixed_points import _deduplicate

RESULTS = Path(__file__).parent / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def baseline(cell, x, s0, *, tol: float, max_iter: int, lr: float):
    """Adam on all states with a host read of max q every iteration (the usual practice)."""
    s = torch.nn.Parameter(s0.clone())
    opt = torch.optim.Adam([s], lr=lr)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        q = 0.5 * (cell.step(x, s) - s).pow(2).sum(-1)
        if q.max().item() < tol:  # host synchronisation every iteration
            break
        opt.zero_grad()
        q.mean().backward()
        opt.step()
    with torch.no_grad():
        q = 0.5 * (cell.step(x, s) - s).pow(2).sum(-1)
    return s.detach(), q, it


def count_points(cell, states, q, x, tol: float) -> dict:
    """Converged, unique (de-duplicated at 1e-3) and stable fixed points among candidate states."""
    conv = q < tol
    s = states[conv]
    kept = _deduplicate(s, q[conv], 1e-3)
    unique = s[torch.as_tensor(kept, device=s.device, dtype=torch.long)]
    fps = FixedPoints.at(cell, unique, x[: len(unique)] if x.dim() > 1 else x)
    return {"all_converged": bool(conv.all()), "n_converged": int(conv.sum()), "n_unique": len(unique), "n_stable": int(fps.is_stable.sum()),
            "max_q_converged": float(q[conv].max()) if conv.any() else None}


def device_tag(device: torch.device) -> str:
    if device.type == "cuda":
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return "cpu"


def run(args) -> dict:
    device = torch.device(args.device)
    results = {}
    for n in args.sizes:
        t0 = time.perf_counter()
        rnn, readout, loss = train_flipflop(n, steps=args.train_steps, device=str(device), seed=args.seed)
        train_s = time.perf_counter() - t0
        cell = cells.RNN.from_torch(rnn.cpu()).to(device)
        g = torch.Generator().manual_seed(args.seed)
        xs, _ = flipflop_batch(64, 200, generator=g)
        with torch.no_grad():
            tr = cell.trace(xs.to(device))
        s0 = sample_initial_states(tr.to("cpu"), args.n_init, noise=0.5, generator=g).to(device)
        x = torch.zeros(3, device=device)
        entry = {"hidden_size": n, "train_loss": loss, "train_seconds": train_s, "methods": {}}
        # warm-up (kernels, allocator) on a few points, not timed
        fixed_points(cell, x, s0[:8], max_iter=10, check_every=5, newton_steps=1)
        baseline(cell, x.expand(8, 3), s0[:8], tol=args.tol, max_iter=10, lr=args.lr)

        _sync(device)
        t = time.perf_counter()
        s_b, q_b, it_b = baseline(cell, x.expand(len(s0), 3), s0, tol=args.tol, max_iter=args.max_iter, lr=args.lr)
        _sync(device)
        entry["methods"]["baseline"] = {"seconds": time.perf_counter() - t, "iterations": it_b,
                                        **count_points(cell, s_b, q_b, x, args.tol)}
        # rnnviz_adam: the baseline's optimiser and lr, checked on the device; rnnviz: library defaults
        for name, kw in (("rnnviz_adam", {"newton_steps": 0, "lr": args.lr}), ("rnnviz", {})):
            _sync(device)
            t = time.perf_counter()
            fps = fixed_points(cell, x, s0, tol_q=args.tol, max_iter=args.max_iter, **kw)
            _sync(device)
            seconds = time.perf_counter() - t
            entry["methods"][name] = {"seconds": seconds, "iterations": fps.info["iterations"],
                                      "all_converged": len(fps.slow_points) == 0, "n_unique": len(fps),
                                      "n_stable": int(fps.is_stable.sum()), "n_slow": len(fps.slow_points),
                                      "max_q_converged": float(fps.q.max()) if len(fps) else None}
        entry["methods"]["baseline"]["hit_max_iter"] = it_b >= args.max_iter and not entry["methods"]["baseline"][
            "all_converged"]  # then its time, and so every speedup, is a lower bound
        base = entry["methods"]["baseline"]["seconds"]
        for m in entry["methods"].values():
            m["speedup_vs_baseline"] = base / m["seconds"]
        results[f"rnn{n}"] = entry
        print(json.dumps({f"rnn{n}": entry}, indent=1))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small CPU-sized run: 128 states, 16 units, short training")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=None)
    p.add_argument("--n-init", type=int, default=None)
    p.add_argument("--tol", type=float, default=1e-10)
    p.add_argument("--lr", type=float, default=1e-2, help="Adam lr of the baseline and of rnnviz_adam")
    p.add_argument("--max-iter", type=int, default=None)
    p.add_argument("--train-steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    args.sizes = args.sizes or ([16] if args.quick else [16, 64])
    args.n_init = args.n_init or (128 if args.quick else 1024)
    args.max_iter = args.max_iter or (3000 if args.quick else 10000)
    args.train_steps = args.train_steps or (400 if args.quick else 3000)
    device = torch.device(args.device)
    results = run(args)
    tag = device_tag(device) + ("_quick" if args.quick else "")
    out = Path(args.out) if args.out else RESULTS / f"fixed_points_{tag}.json"
    record = {
        "benchmark": "fixed_points", "device": device_tag(device), "device_type": device.type,
        "quick": args.quick,
        "note": ("CPU run: not the GPU measurement the issue asks for" if device.type == "cpu" else ""),
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "rnnviz": rnnviz.__version__,
                     "cuda": torch.version.cuda, "platform": platform.platform(),
                     "cpu_threads": torch.get_num_threads()},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
