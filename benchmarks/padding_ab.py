"""A/B in one process: a capacity-demo group trained with its padding skipped (``fit`` passes the
members' lengths, the default) and run (lengths withheld, as before), alternating.

The demo's groups hold every K of a (cell, n): sequences of 7 to 21 steps, padded to 21. Each round
trains the whole group (``rnnviz.study._run.train_group``, one thread, as a study worker does) once
each way; the models are the same either way (tests/test_lengths.py), only the time differs.

    python benchmarks/padding_ab.py                       # gru:2 gru:16 lstm:8, 5 rounds (~3 minutes)
    python benchmarks/padding_ab.py --groups pru:16 --rounds 3

Results: ``benchmarks/results/padding_ab-cpu-<time>.json`` (every round, medians, the environment).
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

from rnnviz.study import capacity_preset  # noqa: E402
from rnnviz.study._run import group_specs, train_group  # noqa: E402
from rnnviz.train import _fit  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=["gru:2", "gru:16", "lstm:8"], help="cell:hidden_size of the demo")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    withheld = {"on": False}
    original = _fit._Working.__init__

    def init(self, *a, **k):
        original(self, *a, **k)
        if withheld["on"]:
            self.lengths = None

    _fit._Working.__init__ = init
    result = {"benchmark": "padding_ab", "environment": environment(torch.device("cpu")), "settings": vars(args), "groups": {}}
    out = ResultFile("padding_ab", result)
    for label in args.groups:
        cell, n = label.split(":")
        specs = [s for s in capacity_preset("demo").specs() if s.cell == cell and s.hidden_size == int(n)]
        payload = [s.as_dict() for s in group_specs(specs)[0]]
        train_group(payload[:2], "cpu", 1)  # numba's kernels loaded before the first timed round
        times = {"padding run": [], "padding skipped": []}
        for _ in range(args.rounds):
            for name, off in (("padding run", True), ("padding skipped", False)):
                withheld["on"] = off
                t0 = time.perf_counter()
                train_group(payload, "cpu", 1)
                times[name].append(round(time.perf_counter() - t0, 3))
        medians = {k: statistics.median(v) for k, v in times.items()}
        result["groups"][label] = {"models": len(payload), "seconds": times, "median_s": medians,
                                   "speedup": round(medians["padding run"] / medians["padding skipped"], 3)}
        print(label, result["groups"][label])
        path = out.save()
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
