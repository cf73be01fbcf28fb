import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("RNNVIZ_SMOKE", "1")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # Triton kernels run in the interpreter on CPU

# The loops under test run thousands of tiny ops: one thread per pytest worker avoids OpenMP
# spin-waits on a busy 2-core machine (pytest -n 2 already uses both cores).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def resumed_from(monkeypatch):
    """A list that records, for each study group trained from here on, whether its checkpoint existed
    when its training started (True: resumed from it), by wrapping the ``fit`` that
    ``rnnviz.study._checkpoints.fit_group`` calls."""
    from rnnviz.study import _checkpoints
    from rnnviz.train._checkpoint import checkpoint_exists

    seen, fit = [], _checkpoints.fit

    def spy(model, tasks, config, **kw):
        seen.append(checkpoint_exists(kw["checkpoint"]))
        return fit(model, tasks, config, **kw)

    monkeypatch.setattr(_checkpoints, "fit", spy)
    return seen
