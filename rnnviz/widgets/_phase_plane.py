"""The cell explorer's computation: a 2-unit cell under a held input, in its phase plane.

Everything here is plain Python and torch (no widgets), so it is tested directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import cells
from .._checks import check_int
from ..probes import EnergyLandscape, FixedPoints, Trajectories, energy_landscape, fixed_points

# The explorer's cells: those whose packed weight_ih / weight_hh / biases hold one n-row block per gate
# and one for the candidate, in the order their class declares (cell.gate_layout).
EXPLORER_CELLS = ("rnn", "gru", "pru", "lstm")
HIDDEN = 2


def default_gate_biases(kind: str) -> dict[str, float]:
    """Zero bias for every gate of ``kind`` (σ(0) = ½: half-open gates)."""
    return {gate: 0.0 for gate in _gate_blocks(kind)}


def _gate_blocks(kind: str) -> dict[str, int]:
    """``{gate: block}`` of an explorer cell, from the gate layout its class declares."""
    _check_kind(kind)
    cell = cells.make(kind, HIDDEN, HIDDEN, device="meta")  # no memory, no random draw
    return cell.gate_layout.gate_blocks(cell.gate_names)


def _check_kind(kind: str) -> None:
    if kind not in EXPLORER_CELLS:
        raise ValueError(f"kind must be one of {EXPLORER_CELLS}, got {kind!r}")


# The recurrent block of the explorer's cells: symmetric part with eigenvalues ≈ 1.15 and 0.45 (at
# weight scale 2 one direction is bistable: 2 memories and a saddle; at 3 both are: 4 memories), and
# a rotation that the "symmetric" switch removes.
SYMMETRIC_BLOCK = ((1.0, 0.3), (0.3, 0.6))
ROTATION_BLOCK = ((0.0, 0.8), (-0.8, 0.0))


def explorer_cell(kind: str = "gru", *, weight_scale: float = 1.5, gate_biases: dict | None = None,
                  symmetric: bool = True) -> torch.nn.Module:
    r"""A float64 2-unit cell with 2 inputs whose weights the explorer's sliders set.

    Every input block is the identity (input i drives unit i, so the held input *is* the external
    current of the candidate). Every recurrent block is ``weight_scale · R`` with
    R = :data:`SYMMETRIC_BLOCK` (+ :data:`ROTATION_BLOCK` unless ``symmetric``): with symmetric R the
    energy E_S is the exact Hopfield energy of the candidate. The candidate's biases are 0 and each
    gate's total bias ``b_ih + b_hh`` is ``gate_biases[gate]`` (e.g. GRU: ``{"reset": 2.0, "update": -1.0}``).
    """
    _check_kind(kind)
    if not math.isfinite(weight_scale):
        raise ValueError(f"weight_scale must be a finite number, got {weight_scale!r}")
    gates = _gate_blocks(kind)
    biases = default_gate_biases(kind)
    unknown = set(gate_biases or {}) - set(gates)
    if unknown:
        raise ValueError(f"gate_biases has gates {sorted(unknown)} that {kind} does not have "
                         f"(its gates: {sorted(gates)})")
    biases.update(gate_biases or {})
    cell = cells.make(kind, HIDDEN, HIDDEN, dtype=torch.float64)
    n_blocks = len(cell.gate_layout.blocks)
    block = torch.tensor(SYMMETRIC_BLOCK, dtype=torch.float64)
    if not symmetric:
        block = block + torch.tensor(ROTATION_BLOCK, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.eye(HIDDEN, dtype=torch.float64).repeat(n_blocks, 1))  # (blocks·n, m)
        cell.weight_hh.copy_(weight_scale * block.repeat(n_blocks, 1))  # (blocks·n, n)
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
        for gate, index in gates.items():
            cell.bias_hh[index * HIDDEN:(index + 1) * HIDDEN] = float(biases[gate])
    return cell


@dataclass(frozen=True)
class PhasePlane:
    """What the cell explorer draws.

    Attributes (B starting states, T steps, S = state size: 2, or 4 for the LSTM's [h; c]):
        cell: the 2-unit cell.
        inputs: ``(2,)`` the held input.
        trajectories: ``(T+1, B, S)`` states from B starting points under the held input.
        plane: the identity "projection" onto the two Hopfield coordinates (h for the LSTM), so
            rnnviz.plot's trajectory and landscape plots draw in the state coordinates themselves.
        fixed_points: the fixed points under the held input (with stability), from
            :func:`rnnviz.probes.fixed_points`.
        landscape: E_S over [−1, 1]² (:func:`rnnviz.probes.energy_landscape`).
    """

    cell: torch.nn.Module
    inputs: torch.Tensor
    trajectories: torch.Tensor
    plane: Trajectories
    fixed_points: FixedPoints
    landscape: EnergyLandscape

    @property
    def n_stable(self) -> int:
        """Number of stable fixed points."""
        return int(self.fixed_points.is_stable.sum()) if len(self.fixed_points) else 0


def _coordinate_plane(states: torch.Tensor, state_size: int) -> Trajectories:
    """A :class:`Trajectories` whose basis picks the first two state coordinates (h), no centring."""
    basis = torch.eye(state_size, dtype=torch.float64)[:, :HIDDEN]  # (S, 2)
    projected = states.double() @ basis  # (T+1, B, 2)
    var = projected.reshape(-1, HIDDEN).var(0)
    total = states.double().reshape(-1, state_size).var(0).sum()
    ratio = var / total if total > 0 else torch.zeros_like(var)
    return Trajectories(mean=torch.zeros(state_size, dtype=torch.float64), basis=basis,
                        explained_variance=var, explained_variance_ratio=ratio, projected=projected)


def ring_states(n: int, state_size: int, radius: float = 0.9) -> torch.Tensor:
    """``(n, S)`` starting states evenly spaced on a circle of ``radius`` in the first two coordinates."""
    angle = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    s = torch.zeros(n, state_size, dtype=torch.float64)
    s[:, 0], s[:, 1] = radius * angle.cos(), radius * angle.sin()
    return s


def phase_plane(kind: str = "gru", *, inputs=(0.0, 0.0), weight_scale: float = 1.5,
                gate_biases: dict | None = None, symmetric: bool = True, steps: int = 40, n_starts: int = 12,
                resolution: int = 61, newton_steps: int = 12) -> PhasePlane:
    """Compute the cell explorer's picture for one setting of its sliders.

    Builds :func:`explorer_cell` (``symmetric`` recurrent blocks by default), holds the input ``inputs`` (2 numbers), runs ``steps`` steps from
    ``n_starts`` states on a circle, finds the fixed points (from those starts, a 5 × 5 grid and the
    trajectory ends; ``newton_steps`` float64 Newton steps) and evaluates E_S on a ``resolution``² grid over the h-plane.
    """
    x = torch.as_tensor(inputs, dtype=torch.float64).reshape(-1)
    if x.shape != (HIDDEN,) or not torch.isfinite(x).all():
        raise ValueError(f"inputs must be 2 finite numbers, got {inputs!r}")
    for name, value, low in (("steps", steps, 1), ("n_starts", n_starts, 1), ("resolution", resolution, 2)):
        check_int(name, value, low)
    cell = explorer_cell(kind, weight_scale=weight_scale, gate_biases=gate_biases, symmetric=symmetric)
    S = cell.state_size
    starts = ring_states(n_starts, S)  # (B, S)
    with torch.no_grad():
        states = cell.trace(x.expand(steps, n_starts, HIDDEN), starts).states  # (T+1, B, S)
    grid = torch.linspace(-0.95, 0.95, 5, dtype=torch.float64)
    lattice = torch.zeros(25, S, dtype=torch.float64)
    lattice[:, :2] = torch.cartesian_prod(grid, grid)
    candidates = torch.cat([starts, lattice, states[-1]])  # (N, S)
    # In two dimensions Newton's method from a dense set of starts finds every fixed point quickly,
    # so Adam only takes one step (an interactive widget cannot wait for thousands of iterations).
    fps = fixed_points(cell, x, candidates, max_iter=1, check_every=1, newton_steps=newton_steps,
                       outlier_scale=None)
    # Far outside the box |h| ≤ 1 that tanh states live in, a saturated gate (z → 1: h' = h) makes
    # spurious "fixed points" that no trajectory reaches: keep the points in the box.
    fps = fps[(fps.states[:, :HIDDEN].abs() <= 1).all(-1)]
    plane = _coordinate_plane(states, S)
    landscape = energy_landscape(cell, x, plane, extent=(-0.999, 0.999, -0.999, 0.999), resolution=resolution)
    return PhasePlane(cell=cell, inputs=x, trajectories=states, plane=plane, fixed_points=fps,
                      landscape=landscape)
