"""rnnviz: see inside recurrent networks.

- :mod:`rnnviz.cells`: PRU, SRU, GRU, LSTM, RNN, FastGRNN, T-RNN and the IRC/IHC variants.
- :mod:`rnnviz.probes`: trajectories, gate saturation, Hopfield-style energy, fixed points, Lyapunov.
- :mod:`rnnviz.plot`: the package style and every figure.

Submodules other than ``cells`` load on first use (``rnnviz.probes`` works after ``import rnnviz``).
"""

import importlib

from . import cells
from ._params import count_parameters
from ._trace import Trace

__version__ = "0.1.0"
__all__ = ["cells", "count_parameters", "Trace", "__version__"]

_LAZY = {"probes", "plot", "tasks", "models", "train", "study", "widgets", "lm", "info", "kernels"}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rnnviz' has no attribute {name!r}")
