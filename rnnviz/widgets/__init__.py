"""Interactive explorers for notebooks: a pure function that computes, and a thin builder of controls.

- Cell explorer: :func:`phase_plane` (pure) and :func:`cell_explorer` (sliders for the held input,
  the recurrent weight scale and the gate biases of a 2-unit cell; phase plane with trajectories,
  fixed points and the energy E_S).
- Trained-model explorer: :func:`record_model`, :func:`model_frame` (pure) and :func:`model_explorer`
  (time, unit and sequence sliders: input symbol, state projection, the unit's gates).
- Capacity explorer: :func:`capacity_view` (pure) and :func:`capacity_explorer` (cell, interference
  setting and metric over a sweep's results).

The builders import ipywidgets (and ipympl) when called; this module itself does not.
"""

from ._builders import Explorer, capacity_explorer, cell_explorer, model_explorer
from ._capacity_view import METRICS, CapacityView, capacity_options, capacity_view
from ._model_view import ModelFrame, ModelRecording, memorization_symbol_names, model_frame, record_model
from ._phase_plane import EXPLORER_CELLS, PhasePlane, default_gate_biases, explorer_cell, phase_plane

__all__ = [
    "Explorer", "cell_explorer", "model_explorer", "capacity_explorer",
    "PhasePlane", "phase_plane", "explorer_cell", "default_gate_biases", "EXPLORER_CELLS",
    "ModelRecording", "ModelFrame", "record_model", "model_frame", "memorization_symbol_names",
    "CapacityView", "capacity_view", "capacity_options", "METRICS",
]
