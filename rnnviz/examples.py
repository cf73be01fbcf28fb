"""Deprecated: moved in 0.2.0 (see CHANGELOG.md): run modes to :mod:`rnnviz.notebook`, trained
examples and ``trace_model`` to :mod:`rnnviz.train`, ``PrimedFlipFlop`` to :mod:`rnnviz.tasks`."""

from ._moved import moved

__getattr__ = moved(__name__, {
    "MODES": "rnnviz.notebook", "run_mode": "rnnviz.notebook", "by_mode": "rnnviz.notebook",
    "TrainedExample": "rnnviz.train", "train_memorization": "rnnviz.train", "train_flipflop": "rnnviz.train",
    "trace_model": "rnnviz.train", "PrimedFlipFlop": "rnnviz.tasks",
})
