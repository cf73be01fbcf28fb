import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("RNNVIZ_SMOKE", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
