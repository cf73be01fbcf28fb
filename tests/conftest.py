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
