"""Probes: what a recurrent network does inside.

- :func:`trajectories`: PCA of visited states, projected trajectories, projection of other points.
- :func:`discriminant_projection`: the plane in which labelled states separate (Fisher LDA).
- :func:`gate_saturation`: per gate and unit, how often it is below ``low`` / above ``high``.
- :func:`fixed_points`: fixed and slow points under a held input, batched on the cell's device,
  with Jacobians, eigenvalues and stability (:class:`FixedPoints`); :func:`sample_initial_states`.
- Energy: :func:`hopfield_reading` (which matrix plays U, which term the current I, per cell),
  :func:`energy`, :func:`energy_gradient`, :func:`energy_diagnostics`, :func:`energy_landscape`.
- :func:`pulse_response`: how long a single input pulse stays in the state (memory time scale).
- :func:`lyapunov_spectrum`: Lyapunov exponents along a driven trajectory (float64, QR method).
- :func:`iterated`: the k-step map of a cell, whose fixed points are its period-k points (2-cycles).
- :func:`step_jacobians`, :func:`input_jacobians`: batched ∂F/∂s and ∂F/∂x of one cell step.
- :func:`decoding`: cross-validated linear decoders of each stored symbol from the state at every
  step: accuracy and decoded bits with intervals (:class:`Decoding`).

What they return (the rule, with every function listed, is in docs/api.md):

- a *tensor function* evaluates a formula at points the caller gives, or draws such points, and
  returns ONE tensor of a documented shape (energy, gradients, Jacobians, descent condition, gate
  values, initial states);
- a *probe* that summarises what a cell did returns a pandas DataFrame when its result is one table
  (:func:`gate_saturation`), otherwise a frozen dataclass with documented fields and shapes and a
  ``to_frame()`` (:class:`Trajectories`, :class:`FixedPoints`, :class:`EnergyDiagnostics`,
  :class:`EnergyLandscape`, :class:`LyapunovSpectrum`); :func:`hopfield_reading` describes a cell
  (:class:`HopfieldReading`, frozen, no per-item values and so no ``to_frame()``).

Ensembles: probes that read a trace take ``(E, …)`` tensors. A probe returns a list with one result
per member when members cannot share arrays (their own PCA basis, number of fixed points or Hopfield
reading: :func:`trajectories`, :func:`fixed_points`, :func:`energy_diagnostics`), otherwise one result
with a leading E axis or a ``member`` column (:func:`lyapunov_spectrum`, :func:`gate_saturation`,
:func:`step_jacobians`). :func:`fixed_points` and :func:`lyapunov_spectrum` run all members together
along the E axis; the energy probes go through ``cell.member(i)``.
"""

from ._decoding import Decoding, decoding
from ._energy import (
    EnergyDiagnostics,
    EnergyLandscape,
    HopfieldReading,
    descent_condition,
    energy,
    energy_diagnostics,
    energy_gradient,
    energy_landscape,
    hopfield_energy,
    hopfield_energy_gradient,
    hopfield_reading,
)
from ._fixed_points import FixedPoints, fixed_points
from ._initial_states import sample_initial_states
from ._iterated import iterated
from ._jacobians import input_jacobians, step_jacobians
from ._lyapunov import LyapunovSpectrum, lyapunov_spectrum
from ._projections import Discriminant, discriminant_projection
from ._pulse import PulseResponse, pulse_response
from ._saturation import gate_saturation, gate_values
from ._trajectories import Trajectories, trajectories

__all__ = [
    "trajectories", "Trajectories", "discriminant_projection", "Discriminant",
    "gate_saturation", "gate_values",
    "fixed_points", "FixedPoints", "sample_initial_states", "step_jacobians", "input_jacobians",
    "lyapunov_spectrum", "LyapunovSpectrum", "pulse_response", "PulseResponse",
    "hopfield_reading", "HopfieldReading", "hopfield_energy", "hopfield_energy_gradient", "energy",
    "energy_gradient", "descent_condition", "energy_diagnostics", "EnergyDiagnostics", "energy_landscape",
    "EnergyLandscape",
]
__all__ += ["decoding", "Decoding", "iterated"]
