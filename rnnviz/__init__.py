"""rnnviz: see inside recurrent networks.

- :mod:`rnnviz.cells`: PRU, SRU, GRU, LSTM, RNN, FastGRNN, T-RNN and the IRC/IHC variants
  (:func:`make`, :class:`Trace`, :func:`count_parameters` are also here at the top).
- :mod:`rnnviz.tasks`: memorization, copy, adding, flip-flop, memory capacity, character corpora.
- :mod:`rnnviz.train`: sequence models, character language models and their training.
- :mod:`rnnviz.study`: the capacity and language-model studies (they compute and write tables).
- :mod:`rnnviz.probes`: trajectories, gate saturation, Hopfield-style energy, fixed points, Lyapunov.
- :mod:`rnnviz.plot`: the package style and every figure; :mod:`rnnviz.widgets`: notebook explorers.
- :mod:`rnnviz.notebook`: the notebooks' run mode; :mod:`rnnviz.cli`: the ``rnnviz`` command.

Submodules other than ``cells`` load on first use (``rnnviz.probes`` works after ``import rnnviz``).
"""

import importlib

from . import cells
from ._version import __version__
from .cells import Trace, count_parameters, make

__all__ = ["cells", "make", "count_parameters", "Trace", "__version__"]

_LAZY = ("tasks", "train", "study", "probes", "plot", "widgets", "notebook", "kernels", "cli")
_MOVED = ("models", "lm", "info", "results", "examples")  # old homes, kept for 0.2.x (see CHANGELOG.md)


def __getattr__(name):
    if name in _LAZY or name in _MOVED:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rnnviz' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
