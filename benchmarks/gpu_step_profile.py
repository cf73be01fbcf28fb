"""Where a capacity group's training step goes: a short, prepared check for a GPU session.

The second GPU session (2026-11-30, docs/gpu.md) measured about 18 ms per training step for the
capacity ``gpu`` preset's SRU n = 256 group at 256 targeted bits (9 models, sequences of 266 steps,
batch 64), with three processes sharing the H200, and its GRU/LSTM groups took longer still: too slow
for the preset to fit the sessions it gets. This script says where that time goes, for a few groups of
a preset, each trained as the study trains it (``rnnviz.study._run.train_group``: the same models,
tasks, curriculum, loss, Adam and evaluations) but for ``--steps`` steps:

1. ``sampler_ms``: drawing one training batch (the curriculum's sampler, on the CPU, then moved);
2. ``step_ms``: one training step, the evaluations every 100 steps included: the difference of the
   group trained for ``--steps`` and for a tenth of them, divided by the difference in steps (so the
   group's fixed costs, building it and scoring each model on its held-out set, cancel); None, with a
   ``note``, when that difference is not positive (timing noise larger than the steps' time);
3. ``profile``: the top operators of ``--profile-steps`` more steps under ``torch.profiler`` (CPU and,
   on a GPU, CUDA time: self times, calls), as text.

    python benchmarks/gpu_step_profile.py                     # on a GPU: ~2 minutes (three groups)
    python benchmarks/gpu_step_profile.py --quick --device cpu   # anywhere: tiny, proves the script runs

Results: ``benchmarks/results/gpu_step_profile-<device>-<time>.json``, rewritten after every group
(``RNNVIZ_BENCH_MIRROR=DIR`` keeps a copy there too: ``benchmarks/gpu_session.sh profile``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ResultFile, environment, stop_on_sigterm  # noqa: E402

from rnnviz.study import capacity_preset  # noqa: E402
from rnnviz.study._run import group_specs, train_group  # noqa: E402
from rnnviz.train import TrainConfig  # noqa: E402
from rnnviz.train._fit import _batch_sampler  # noqa: E402

#: cell:hidden size:targeted bits of the gpu preset's longest groups (all three doses, three seeds each)
DEFAULT_GROUPS = ("sru:256:256", "gru:256:256", "lstm:256:256")


def group_of(preset: str, label: str) -> list:
    """The specs of one group of ``preset``, ``label`` = "cell:hidden size:targeted bits"."""
    try:
        cell, n, bits = label.split(":")
        n, bits = int(n), float(bits)
    except ValueError:
        raise SystemExit(f"gpu_step_profile: --groups takes cell:hidden_size:bits entries, got {label!r}") from None
    specs = [s for s in capacity_preset(preset).specs()
             if s.cell == cell and s.hidden_size == n and s.task().targeted_bits == bits]
    groups = group_specs(specs)
    if len(groups) != 1:
        raise SystemExit(f"gpu_step_profile: {preset} {label} is {len(groups)} groups, expected one")
    return groups[0]


def with_steps(specs, steps: int, eval_every: int) -> list[dict]:
    """The specs as ``train_group`` takes them, trained for ``steps`` steps (no plateau can end them
    earlier: its minimum steps are kept above ``steps``)."""
    out = []
    for s in specs:
        d = s.as_dict()
        train = TrainConfig(**d["train"])
        d["train"] = {**d["train"], "steps": steps, "eval_every": min(eval_every, steps),
                      "plateau_min_steps": max(train.plateau_min_steps, steps + 1)}
        out.append(d)
    return out


def sampler_ms(specs, device: torch.device, repeats: int) -> float:
    """One training batch of the group's curriculum, drawn on the CPU and moved to ``device``, in ms."""
    train = TrainConfig(**specs[0].train)
    tasks = [s.task() for s in specs]
    draw = _batch_sampler(tasks, train.batch_size, device, torch.float32, True, train.curriculum)
    gens = [torch.Generator().manual_seed(i) for i in range(len(tasks))]
    draw(gens)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        draw(gens)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / repeats * 1e3


def profile_table(payload: list[dict], device: torch.device, rows: int) -> str:
    """The top ``rows`` operators of one ``train_group`` call under torch.profiler, by self time."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        train_group(payload, device, 1)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    by_cpu = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
    if device.type != "cuda":
        return by_cpu
    return by_cpu + "\n" + prof.key_averages().table(sort_by=key, row_limit=rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="gpu")
    p.add_argument("--groups", nargs="+", default=list(DEFAULT_GROUPS), metavar="CELL:N:BITS")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=300, help="steps of the timed run (default 300)")
    p.add_argument("--profile-steps", type=int, default=60, help="steps under the profiler (default 60)")
    p.add_argument("--quick", action="store_true", help="tiny: the smoke-sized check that the script runs")
    p.add_argument("--out", default=None, help="result file (default: benchmarks/results/...)")
    args = p.parse_args(argv)
    stop_on_sigterm()
    device = torch.device(args.device)
    torch.set_num_threads(1)  # as a study worker trains
    steps, profile_steps, repeats = (args.steps, args.profile_steps, 20)
    if args.quick:
        steps, profile_steps, repeats = 6, 2, 2
    if steps < 2:
        raise SystemExit(f"gpu_step_profile: --steps must be at least 2, got {steps}")
    payload = {"benchmark": "gpu_step_profile", "environment": environment(device),
               "settings": {"preset": args.preset, "groups": args.groups, "steps": steps,
                            "profile_steps": profile_steps, "quick": args.quick, "threads": 1},
               "groups": []}
    result = ResultFile("gpu_step_profile", payload, args.out)
    for label in args.groups:
        specs = group_of(args.preset, label)
        if args.quick:  # the same code on a tiny version of the group
            specs = [replace(s, hidden_size=4, n_targets=2) for s in specs[:2]]
        entry = {"group": label, "models": len(specs), "length": specs[0].task().length,
                 "batch_size": TrainConfig(**specs[0].train).batch_size}
        entry["sampler_ms"] = round(sampler_ms(specs, device, repeats), 3)
        train_group(with_steps(specs, 2, 2), device, 1)  # compile / warm up: kernels, caches
        # a group's fixed costs (building, the last evaluation, scoring every member on its held-out
        # set) cancel in the difference of a short and a long run
        short = max(1, steps // 10)
        start = time.perf_counter()
        train_group(with_steps(specs, short, 100), device, 1)
        middle = time.perf_counter()
        train_group(with_steps(specs, steps, 100), device, 1)
        end = time.perf_counter()
        entry["group_seconds"] = {str(short): round(middle - start, 3), str(steps): round(end - middle, 3)}
        per_step = ((end - middle) - (middle - start)) / (steps - short)
        # timing noise larger than the steps' difference (a tiny --quick group on a busy CPU) would give
        # a meaningless, even negative, time per step: it is recorded as unmeasured instead
        entry["step_ms"] = round(per_step * 1e3, 3) if per_step > 0 else None
        if per_step <= 0:
            entry["note"] = (f"the {steps}- and {short}-step runs differ by less than their timing noise: "
                             "step_ms not measured (use more --steps)")
        entry["profile"] = profile_table(with_steps(specs, profile_steps, 10 ** 9), device, 25)
        payload["groups"].append(entry)
        step = "not measured" if entry["step_ms"] is None else f"{entry['step_ms']} ms"
        print(f"{label}: sampler {entry['sampler_ms']} ms, step {step} ({steps} steps)", flush=True)
        print(entry["profile"], flush=True)
        print(f"wrote {result.save()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
