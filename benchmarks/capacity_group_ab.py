"""Train one group (ensemble) of a capacity preset, timed, with whichever rnnviz is first on sys.path,
so that two checkouts can be compared on one machine in one sitting (run them alternately). One
thread, as a study worker trains. Prints one JSON line: the version, the group, its wall time,
each member's steps and stop reason, and its scores (to check that both versions train the same
models).

    git worktree add /tmp/rnnviz-before <commit>
    PYTHONPATH=/tmp/rnnviz-before python benchmarks/capacity_group_ab.py paper-combined pru 16 8
    PYTHONPATH=. python benchmarks/capacity_group_ab.py paper-combined pru 16 8

Arguments: preset, cell, hidden size, targeted bits (the group is every model of the preset with
that cell, size and amount: its doses and seeds).
"""

import json
import sys
import time

import torch

import rnnviz
from rnnviz.study import capacity_preset
from rnnviz.study._run import group_specs, train_group


def main(preset: str, cell: str, hidden_size: int, bits: float) -> dict:
    specs = [s for s in capacity_preset(preset).specs()
             if s.cell == cell and s.hidden_size == hidden_size and s.task().targeted_bits == bits]
    groups = group_specs(specs)
    if len(groups) != 1:
        raise SystemExit(f"capacity_group_ab: {preset} {cell} n={hidden_size} {bits} bits is {len(groups)} "
                         f"groups, expected one")
    start = time.perf_counter()
    rows = train_group([s.as_dict() for s in groups[0]], "cpu", 1)
    seconds = time.perf_counter() - start
    return {"rnnviz": rnnviz.__version__, "file": rnnviz.__file__, "threads": torch.get_num_threads(),
            "preset": preset, "cell": cell, "hidden_size": hidden_size, "targeted_bits": bits,
            "models": len(rows), "wall_seconds": round(seconds, 2),
            "steps": [r["steps"] for r in rows], "stop_reason": [r["stop_reason"] for r in rows],
            "recalled_bits": [r["recalled_bits"] for r in rows]}


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
