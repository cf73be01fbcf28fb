"""Train one group (ensemble) of a capacity preset, timed, with whichever rnnviz is first on sys.path,
so that two checkouts can be compared on one machine in one sitting (run them alternately). One
thread, as a study worker trains. Prints one JSON line: the version, the group, its wall time,
each member's steps and stop reason, and its scores (to check that both versions train the same
models). ``cpu_seconds`` (this process's CPU time over the group) moves less than the wall time when
other processes share the cores.

    git worktree add /tmp/rnnviz-before <commit>
    PYTHONPATH=/tmp/rnnviz-before python benchmarks/capacity_group_ab.py paper-combined pru 16 8
    PYTHONPATH=. python benchmarks/capacity_group_ab.py paper-combined pru 16 8

Arguments: preset, cell, hidden size, targeted bits (the group is every model of the preset with
that cell, size and amount: its doses and seeds); then optionally ``--lent N``: N threads lent to the
CPU kernels, as a sweep's idle workers lend theirs (``rnnviz.kernels.cpu._threads.lend_threads``), and
``--steps N``: train N steps instead of the preset's budget (a slice of a long group).

    python benchmarks/capacity_group_ab.py paper-cosine gru 32 32 --steps 600 --lent 1
"""

import argparse
import array
import json
import time
from dataclasses import replace

import torch

import rnnviz
from rnnviz.kernels.cpu._threads import lend_threads
from rnnviz.study import capacity_preset
from rnnviz.study._run import group_specs, train_group


def main(preset: str, cell: str, hidden_size: int, bits: float, lent: int = 0, steps: int | None = None) -> dict:
    chosen = capacity_preset(preset)
    if steps is not None:
        chosen = replace(chosen, train=replace(chosen.train, steps=steps))
    specs = [s for s in chosen.specs()
             if s.cell == cell and s.hidden_size == hidden_size and s.task().targeted_bits == bits]
    groups = group_specs(specs)
    if len(groups) != 1:
        raise SystemExit(f"capacity_group_ab: {preset} {cell} n={hidden_size} {bits} bits is {len(groups)} "
                         f"groups, expected one")
    lend_threads(array.array("i", [lent]) if lent else None)
    start, cpu_start = time.perf_counter(), time.process_time()
    rows = train_group([s.as_dict() for s in groups[0]], "cpu", 1)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    lend_threads()
    return {"rnnviz": rnnviz.__version__, "file": rnnviz.__file__, "threads": torch.get_num_threads(),
            "lent_threads": lent, "steps_budget": steps,
            "preset": preset, "cell": cell, "hidden_size": hidden_size, "targeted_bits": bits,
            "models": len(rows), "wall_seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
            "steps": [r["steps"] for r in rows], "stop_reason": [r["stop_reason"] for r in rows],
            "recalled_bits": [r["recalled_bits"] for r in rows]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset")
    parser.add_argument("cell")
    parser.add_argument("hidden_size", type=int)
    parser.add_argument("targeted_bits", type=float)
    parser.add_argument("--lent", type=int, default=0, help="threads lent to the CPU kernels (default 0)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    a = parser.parse_args()
    print(json.dumps(main(a.preset, a.cell, a.hidden_size, a.targeted_bits, a.lent, a.steps)))
