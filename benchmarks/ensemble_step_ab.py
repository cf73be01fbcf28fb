"""One Adam step of 64 GRU/LSTM/PRU/SRU SequenceModels (T 65, B 32, H 16, 6 inputs, 5 classes): the
capacity study's ensemble step, timed with whichever rnnviz is first on sys.path, so that two
checkouts (e.g. 0.1 and today) can be compared on one machine in one sitting; median of 15 steps
after 3 warm-up steps, 1 thread. The loss is each version's own capacity-study loss
(``rnnviz.tasks._base.masked_cross_entropy``: 0.1 and later have it), so that each version is timed
on the step its study runs. Prints one JSON line.

    git worktree add /tmp/rnnviz-0.1 d00c09d
    PYTHONPATH=/tmp/rnnviz-0.1 python benchmarks/ensemble_step_ab.py gru lstm pru sru
    PYTHONPATH=. python benchmarks/ensemble_step_ab.py gru lstm pru sru
"""

import json
import statistics
import sys
import time
import warnings

import torch

import rnnviz

warnings.simplefilter("ignore")  # the 0.1 import path warns in 0.2
torch.set_num_threads(1)
from rnnviz.tasks._base import masked_cross_entropy  # noqa: E402

try:
    from rnnviz.train import SequenceModel
except ImportError:
    from rnnviz.models import SequenceModel
E, T, B, M, H, C = 64, 65, 32, 6, 16, 5


def time_step(cell: str) -> dict:
    """Median, min and max ms of one Adam step of E models of ``cell``."""
    torch.manual_seed(0)
    model = SequenceModel(cell, M, H, C, n_models=E)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(E, T, B, M)
    y = torch.randint(0, C, (T, B))  # broadcast over the members

    def step():
        logits = model(x)  # (E, T, B, C)
        loss = masked_cross_entropy(logits, y, None).sum()  # each member its own mean loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        step()
        times.append(1e3 * (time.perf_counter() - t0))
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


if __name__ == "__main__":
    out = {"rnnviz": rnnviz.__version__, "file": rnnviz.__file__, "threads": torch.get_num_threads()}
    for name in sys.argv[1:] or ["gru"]:
        out[name] = time_step(name)
    print(json.dumps(out))
