"""Memorization-capacity studies: sweeps over cells, state sizes, targeted and interfering information.

- :func:`capacity`: train a sweep (resumable, SQLite store, optional Dask), one row per model.
- :func:`summarize`: capacity per (cell, state size): bits, bits per unit and per parameter.
- :data:`PRESETS`: the ``smoke``, ``demo`` and ``paper`` sweeps of ``rnnviz capacity``.
- :func:`wall_time`: total wall seconds of every ``rnnviz capacity`` invocation on an output folder.
"""

from ._command import wall_time
from ._presets import PRESETS, Preset, run_preset
from ._run import capacity, group_specs, sweep_specs, train_group
from ._spec import ModelSpec
from ._store import Store
from ._summary import summarize


def __getattr__(name):
    # language_model (character-level language modelling) lives in rnnviz.lm; loaded on first use.
    if name == "language_model":
        from ..lm import language_model

        return language_model
    raise AttributeError(f"module 'rnnviz.study' has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "language_model",
    "ModelSpec",
    "Preset",
    "Store",
    "capacity",
    "group_specs",
    "run_preset",
    "summarize",
    "sweep_specs",
    "train_group",
    "wall_time",
]
