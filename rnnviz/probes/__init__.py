"""Probes: what a recurrent network does inside.

- :func:`trajectories`: PCA of visited states, projected trajectories, projection of other points.
- :func:`gate_saturation`: per gate and unit, how often it is below ``low`` / above ``high``.
- :func:`fixed_points`: fixed and slow points under a held input, batched on the cell's device,
  with Jacobians, eigenvalues and stability (:class:`FixedPoints`); :func:`sample_initial_states`.
- Energy: :func:`hopfield_reading` (which matrix plays U, which term the current I, per cell),
  :func:`energy`, :func:`energy_gradient`, :func:`energy_diagnostics`, :func:`energy_landscape`.
- :func:`lyapunov_spectrum`: Lyapunov exponents along a driven trajectory (float64, QR method).
- :func:`step_jacobians`: batched ∂F/∂s (and ∂F/∂x) of one cell step.
- :func:`decoding`: cross-validated linear decoders of each stored symbol from the state at every
  step: accuracy and decoded bits with intervals (:class:`Decoding`).

Ensembles: probes that read a trace take ``(E, …)`` tensors and treat members separately
(:func:`gate_saturation` adds a ``member`` column, :func:`trajectories` returns one PCA per member);
:func:`fixed_points` and :func:`lyapunov_spectrum` run all members together along the E axis
(a list of :class:`FixedPoints`, exponents ``(E, B, k)``); the energy probes use ``cell.member(i)``.
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
from ._jacobians import step_jacobians
from ._lyapunov import lyapunov_spectrum
from ._saturation import gate_saturation, gate_values
from ._trajectories import Trajectories, trajectories

__all__ = [
    "trajectories", "Trajectories",
    "gate_saturation", "gate_values",
    "fixed_points", "FixedPoints", "sample_initial_states", "step_jacobians",
    "lyapunov_spectrum",
    "hopfield_reading", "HopfieldReading", "hopfield_energy", "hopfield_energy_gradient", "energy",
    "energy_gradient", "descent_condition", "energy_diagnostics", "EnergyDiagnostics", "energy_landscape",
    "EnergyLandscape",
]
__all__ += ["decoding", "Decoding"]
