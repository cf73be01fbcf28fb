"""Benchmark: rnnviz.probes.fixed_points against Adam loops that read convergence on the host every iteration.

Trained 3-bit flip-flop tanh RNNs (16 and 64 units), 1024 initial states sampled from visited
states with noise σ = 0.5, zero held input, one tolerance ``--tol`` on q = ½‖F(s) − s‖² for every
method. Four methods, all from the same initial states:

- ``usual``: the usual practice (FixedPointFinder's style): ``torch.optim.Adam`` on the states
  minimising the mean of q, reading ``q.max().item()`` on the host every iteration and stopping when
  every point's *current* q is below tol (or at ``--max-iter``). Its points are its final states.
  Also recorded: how many points were below tol at *some* iteration (``n_ever_below_tol``).
- ``host_adam``: rnnviz's own Adam loop, re-implemented with one host read per iteration: the same
  objective (the sum of q), update, eps placement, best state kept per point, converged points
  frozen, the same stall test every ``check_every`` iterations; it stops as soon as every point's
  best q is below tol. It differs from ``rnnviz_adam`` only in when it synchronises with the host
  (checked before timing: both give the same states).
- ``rnnviz_adam``: :func:`rnnviz.probes.fixed_points` with ``newton_steps=0`` and the same lr:
  the same Adam, convergence tested on the device with one read-back every 100 iterations.
- ``rnnviz``: :func:`rnnviz.probes.fixed_points` with its defaults (Adam at lr 0.05 down to
  q < 1e-4, then float64 Newton).

Counting is the same for all and inside the timer: each method's time runs from the initial states
to a :class:`FixedPoints` (state and input Jacobians, eigenvalues, outliers dropped, duplicates
closer than 1e-3 merged, converged points split from slow points). ``fixed_points`` does this itself;
for the two baselines the same code (``step_jacobians`` and ``_select``) runs after their loop,
exactly what ``fixed_points`` runs when ``newton_steps=0``. The counts are read from that result.

Each method is timed ``--repeats`` times, in alternating order (forward, then reversed, …) after an
untimed warm-up; the JSON holds every repeat, the median, min and max. Both TF32 flags are set to
``--tf32`` and recorded with the GPU, driver, torch, triton, CUDA and cuDNN versions.

Writes ``benchmarks/results/fixed_points_<device>.json`` (``…_quick.json`` with ``--quick``, git-ignored)
after each network, so an interrupted run keeps what it finished. Usage::

    PYTHONPATH=. python benchmarks/bench_fixed_points.py            # on a GPU machine (a few minutes)
    PYTHONPATH=. python benchmarks/bench_fixed_points.py --quick    # a small CPU check (< 1 minute)
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import re
import statistics
import time
from pathlib import Path

import torch
from _common import Interrupted, ResultFile, environment, markdown_table, set_tf32, stop_on_sigterm
from flipflop import flipflop_batch, train_flipflop

import rnnviz
from rnnviz import cells
from rnnviz.probes import fixed_points, sample_initial_states
from rnnviz.probes._fixed_points import _adam, _select, _speed
from rnnviz.probes._jacobians import held_input, state_and_input_jacobians

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("usual", "host_adam", "rnnviz_adam", "rnnviz")
# fixed_points' defaults, used by every method's post-processing and by host_adam's loop
OUTLIER_SCALE, DEDUP_DISTANCE, CHECK_EVERY, STALL_RTOL, BETAS, EPS = 10.0, 1e-3, 100, 1e-4, (0.9, 0.999), 1e-8
COUNTING = ("inside the timer, the same for every method: the time runs from the initial states to a "
            "FixedPoints (state and input Jacobians, eigenvalues, outliers beyond 10x the initial states' "
            "mean distance to their centroid dropped, duplicates closer than 1e-3 merged keeping the lowest q, "
            "converged points split from slow points); fixed_points does this itself, the baselines run "
            "the same code (step_jacobians + _select) after their loop. Counts are read from that result.")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------- the two baselines
def usual_loop(cell, xs, s0, *, tol: float, max_iter: int, lr: float):
    """The usual practice: torch.optim.Adam on mean q, ``q.max().item()`` read every iteration.

    Returns (final states, their q, iterations, per-point minimum of q over the run).
    """
    s = torch.nn.Parameter(s0.detach().clone())
    opt = torch.optim.Adam([s], lr=lr, betas=BETAS, eps=EPS)
    q_min = torch.full(s0.shape[:-1], math.inf, device=s0.device, dtype=s0.dtype)
    it = 0
    while it < max_iter:
        it += 1
        q = _speed(cell, xs, s)
        q_min = torch.minimum(q_min, q.detach())
        if q.max().item() < tol:  # host synchronisation every iteration
            break
        opt.zero_grad()
        q.mean().backward()
        opt.step()
    with torch.no_grad():  # the final states (moved by the last step unless the loop broke)
        q = _speed(cell, xs, s)
    return s.detach(), q, it, torch.minimum(q_min, q)


def host_adam(cell, xs, s0, *, tol: float, max_iter: int, lr: float, check_every: int = CHECK_EVERY,
              stall_rtol: float = STALL_RTOL):
    """rnnviz's Adam loop (``rnnviz.probes._fixed_points._adam`` with lr_decay 1 and no clipping)
    with convergence read on the host every iteration. Returns (best states, best q, iterations)."""
    b1, b2 = BETAS
    s = s0.detach().clone()
    m = torch.zeros_like(s)
    v = torch.zeros_like(s)
    with torch.no_grad():
        q_best = _speed(cell, xs, s)
    s_best = s.clone()
    q_check = q_best.clone()
    it = 0
    while it < max_iter:
        it += 1
        s.requires_grad_(True)
        with torch.enable_grad():
            q = _speed(cell, xs, s)
            (g,) = torch.autograd.grad(q.sum(), s)
        s = s.detach()
        q = q.detach()
        better = q < q_best
        q_best = torch.where(better, q, q_best)
        s_best = torch.where(better.unsqueeze(-1), s, s_best)
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        step_lr = lr * math.sqrt(1 - b2**it) / (1 - b1**it)
        active = (q_best >= tol).unsqueeze(-1)
        s = torch.where(active, s - step_lr * m / (v.sqrt() + EPS), s)
        if bool((q_best < tol).all()):  # host synchronisation every iteration
            break
        if it % check_every == 0:  # rnnviz's stall test, at the same iterations
            improving = ((q_check - q_best) > stall_rtol * q_check) & (q_best >= tol)
            q_check = q_best.clone()
            if not bool(improving.any()):
                break
    return s_best, q_best, it


def _post(cell, xs, s, q, s0, tol: float, info: dict):
    """What fixed_points(newton_steps=0) does after its Adam loop."""
    J, K = state_and_input_jacobians(cell, xs, s)
    return _select(s, xs, q, J, K, s0, tol_q=tol, outlier_scale=OUTLIER_SCALE, dedup_distance=DEDUP_DISTANCE,
                   info=info)


# ---------------------------------------------------------------------- one timed run per method
def run_method(name: str, cell, x, s0, args) -> dict:
    """Run one method from s0 to a FixedPoints; returns its timing and counts."""
    device = s0.device
    xs = held_input(x, s0.shape[:-1], cell.input_size)
    extra = {}
    _sync(device)
    t0 = time.perf_counter()
    if name == "usual":
        s, q, iterations, q_min = usual_loop(cell, xs, s0, tol=args.tol, max_iter=args.max_iter, lr=args.lr)
        _sync(device)
        loop_seconds = time.perf_counter() - t0
        fps = _post(cell, xs, s, q, s0, args.tol, {"iterations": iterations})
    elif name == "host_adam":
        s, q, iterations = host_adam(cell, xs, s0, tol=args.tol, max_iter=args.max_iter, lr=args.lr)
        _sync(device)
        loop_seconds = time.perf_counter() - t0
        fps = _post(cell, xs, s, q, s0, args.tol, {"iterations": iterations})
    else:
        kw = {"newton_steps": 0, "lr": args.lr} if name == "rnnviz_adam" else {}
        fps = fixed_points(cell, x, s0, tol_q=args.tol, max_iter=args.max_iter, outlier_scale=OUTLIER_SCALE,
                           dedup_distance=DEDUP_DISTANCE, **kw)
    _sync(device)
    seconds = time.perf_counter() - t0
    if name in ("rnnviz_adam", "rnnviz"):
        iterations, loop_seconds = fps.info["iterations"], fps.info["adam_seconds"]
    if name == "usual":
        extra = {"n_ever_below_tol": int((q_min < args.tol).sum()),
                 "hit_max_iter": iterations >= args.max_iter and bool((q >= args.tol).any())}
    return {
        "seconds": seconds, "iterations": iterations, "seconds_per_iteration": seconds / iterations,
        "loop_seconds": loop_seconds, "loop_seconds_per_iteration": loop_seconds / iterations,
        "n_initial": fps.info["n_initial"], "n_converged": fps.info["n_converged"],
        "n_unique": len(fps), "n_stable": int(fps.is_stable.sum()), "n_saddles": int((fps.n_unstable >= 1).sum()),
        "n_slow": len(fps.slow_points), "n_outliers": fps.info["n_outliers"],
        "n_duplicates": fps.info["n_duplicates"], "max_q": float(fps.q.max()) if len(fps) else None,
        "dtype": str(fps.states.dtype).replace("torch.", ""), **extra,
    }


def check_host_adam(cell, x, s0, args) -> dict:
    """host_adam and rnnviz's _adam must make the same moves: compare them over a fixed number of steps."""
    n, steps = min(64, len(s0)), 2 * CHECK_EVERY
    xs = held_input(x, (n,), cell.input_size)
    a_s, a_q, a_it = host_adam(cell, xs, s0[:n], tol=1e-300, max_iter=steps, lr=args.lr, stall_rtol=-1.0)
    b_s, b_q, b_it = _adam(cell, xs, s0[:n], tol=1e-300, max_iter=steps, lr=args.lr, betas=BETAS, eps=EPS,
                           lr_decay=1.0, clip_norm=None, check_every=CHECK_EVERY, stall_rtol=-1.0, progress=False)
    diff = float((a_s - b_s).abs().max())
    return {"points": n, "iterations": [a_it, b_it], "max_abs_diff_states": diff,
            "max_abs_diff_q": float((a_q - b_q).abs().max()), "identical": diff == 0.0}


def summarise(reps: list[dict]) -> dict:
    """Median, min and max of the timings over repeats; counts from the first repeat (flagged if they vary)."""
    out = dict(reps[0])
    for key in ("seconds", "seconds_per_iteration", "loop_seconds", "loop_seconds_per_iteration"):
        vals = [r[key] for r in reps]
        out[key] = statistics.median(vals)
        out[key + "_min"], out[key + "_max"] = min(vals), max(vals)
    out["seconds_all"] = [r["seconds"] for r in reps]
    varying = sorted({k for r in reps for k, v in r.items()
                      if not k.startswith(("seconds", "loop_seconds")) and v != reps[0][k]})
    out["same_counts_in_every_repeat"] = not varying
    if varying:
        out["varying_across_repeats"] = {k: [r[k] for r in reps] for k in varying}
    return out


# ---------------------------------------------------------------------- the benchmark
def device_tag(device: torch.device) -> str:
    if device.type == "cuda":
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return "cpu"


def run_size(n: int, args, device: torch.device) -> dict:
    t0 = time.perf_counter()
    rnn, _, loss = train_flipflop(n, steps=args.train_steps, device=str(device), seed=args.seed)
    _sync(device)
    train_s = time.perf_counter() - t0
    cell_cpu = cells.RNN.from_torch(rnn.cpu())
    g = torch.Generator().manual_seed(args.seed)
    inputs, _ = flipflop_batch(64, 200, generator=g)
    with torch.no_grad():
        tr = cell_cpu.trace(inputs)  # on the CPU: the states to sample from, not part of any timing
    s0 = sample_initial_states(tr, args.n_init, noise=0.5, generator=g).to(device)
    cell = cell_cpu.to(device)
    x = torch.zeros(3, device=device)

    check = check_host_adam(cell, x, s0, args)
    print(f"rnn{n}: trained in {train_s:.1f} s (loss {loss:.2e}); host_adam vs rnnviz's _adam: {check}", flush=True)
    for name in METHODS:  # warm-up on the full set: kernels, allocator, cuBLAS handles
        warm = argparse.Namespace(**{**vars(args), "max_iter": 20})
        run_method(name, cell, x, s0, warm)
    reps: dict[str, list] = {m: [] for m in METHODS}
    for r in range(args.repeats):
        for name in (METHODS if r % 2 == 0 else METHODS[::-1]):
            gc.collect()
            res = run_method(name, cell, x, s0, args)
            reps[name].append(res)
            print(f"rnn{n} repeat {r}: {name:<11} {res['seconds']:8.3f} s {res['iterations']:6d} it "
                  f"{res['n_converged']}/{res['n_initial']} converged, {res['n_unique']} unique", flush=True)
    methods = {m: summarise(v) for m, v in reps.items()}
    for m in methods.values():
        m["speedup_vs_usual"] = methods["usual"]["seconds"] / m["seconds"]
        m["speedup_vs_host_adam"] = methods["host_adam"]["seconds"] / m["seconds"]
    return {"hidden_size": n, "train_loss": loss, "train_seconds": train_s, "n_init": len(s0),
            "check_host_adam_vs_rnnviz_adam": check, "methods": methods,
            "speedup_vs_usual_is_lower_bound": methods["usual"].get("hit_max_iter", False)}


def table(results: dict) -> str:
    rows = []
    for key, entry in results.items():
        for name, m in entry["methods"].items():
            rows.append({"net": key, "method": name, "s": m["seconds"], "min": m["seconds_min"],
                         "max": m["seconds_max"], "it": m["iterations"],
                         "ms/it": 1e3 * m["loop_seconds_per_iteration"],
                         "conv": f"{m['n_converged']}/{m['n_initial']}", "ever": m.get("n_ever_below_tol"),
                         "unique": m["n_unique"], "stable": m["n_stable"], "slow": m["n_slow"],
                         "x usual": m["speedup_vs_usual"], "x host": m["speedup_vs_host_adam"]})
    return markdown_table(rows, [("net", "net"), ("method", "method"), ("s", "median s"), ("min", "min"),
                                 ("max", "max"), ("it", "iterations"), ("ms/it", "loop ms/it"),
                                 ("conv", "converged"), ("ever", "ever < tol"), ("unique", "unique"),
                                 ("stable", "stable"), ("slow", "slow"), ("x usual", "× usual"),
                                 ("x host", "× host_adam")])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="small CPU-sized run: 64 states, 16 units, 800 iterations, short training")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="hidden sizes (default 16 64; quick: 16)")
    p.add_argument("--n-init", type=int, default=None, help="initial states (default 1024; quick: 64)")
    p.add_argument("--tol", type=float, default=1e-10, help="q tolerance, the same for every method")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam lr of usual, host_adam and rnnviz_adam")
    p.add_argument("--max-iter", type=int, default=None, help="default 10000; quick: 800")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per method (default 5; quick: 3)")
    p.add_argument("--train-steps", type=int, default=None, help="default 3000; quick: 400")
    p.add_argument("--tf32", type=int, choices=(0, 1), default=0, help="both TF32 flags (default 0: strict fp32)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    args.sizes = args.sizes or ([16] if args.quick else [16, 64])
    args.n_init = args.n_init or (64 if args.quick else 1024)
    args.max_iter = args.max_iter or (800 if args.quick else 10000)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.train_steps = args.train_steps or (400 if args.quick else 3000)
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    set_tf32(bool(args.tf32))
    tag = device_tag(device) + ("_quick" if args.quick else "")
    out = Path(args.out) if args.out else RESULTS / f"fixed_points_{tag}.json"
    record = {
        "benchmark": "fixed_points", "device": device_tag(device), "device_type": device.type,
        "quick": args.quick,
        "note": ("CPU run: not the GPU measurement the issue asks for" if device.type == "cpu" else ""),
        "methods": {
            "usual": "torch.optim.Adam on mean q, host read of q.max() every iteration, stops when every "
                     "current q < tol; points = final states",
            "host_adam": "rnnviz's Adam loop (sum of q, best state per point, converged points frozen, stall "
                         "test every 100 iterations) with a host read every iteration",
            "rnnviz_adam": "fixed_points(newton_steps=0, lr=--lr): the same loop, one device read-back per "
                           "100 iterations",
            "rnnviz": "fixed_points with its defaults (Adam lr 0.05 to q < 1e-4, then float64 Newton)",
        },
        "counting": COUNTING,
        "timing": ("wall clock around each method, synchronised before and after; repeats in alternating "
                   "order (forward, reversed, ...) after an untimed warm-up of 20 iterations per method; "
                   "seconds = median, with _min and _max; loop_seconds = the optimisation loop alone"),
        "versions": {**environment(device), "rnnviz": rnnviz.__version__, "platform": platform.platform()},
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "results": {},
    }
    result = ResultFile("fixed_points", record, str(out))  # atomic, mirrored to $RNNVIZ_BENCH_MIRROR
    stop_on_sigterm()
    try:
        for n in args.sizes:
            record["results"][f"rnn{n}"] = run_size(n, args, device)
            result.save()  # after each network: a cut-off run keeps the networks it finished
            print(table({f"rnn{n}": record["results"][f"rnn{n}"]}), flush=True)
    except Interrupted:
        record["stopped"] = "SIGTERM (time limit) before every network was measured"
        result.save()
        print(f"stopped early; wrote {out}")
        raise SystemExit(3) from None
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
