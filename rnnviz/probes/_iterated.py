"""The k-step map of a cell under a held input, as a cell the probes accept: its fixed points are the
cell's period-k points.

A memory held as a 2-cycle (the state flips between two points at every step of the delay, as a
trained GRU's often does under a held blank) is no fixed point of one step ``s ↦ F(x, s)``, but both
of its points are fixed points of two steps ``s ↦ F(x, F(x, s))``:

    fps = probes.fixed_points(probes.iterated(cell, 2), x_blank, initial_states)

Jacobians, eigenvalues and stability are then those of the k-step map (the product of the k
one-step Jacobians along the cycle): a stable 2-cycle has every eigenvalue inside the unit circle.
"""

from __future__ import annotations

import torch

from .._checks import check_int


class IteratedMap(torch.nn.Module):
    """``step(x, s) = F(x, F(x, … F(x, s)))`` (``steps`` times) of a single cell; the sizes are the cell's."""

    def __init__(self, cell: torch.nn.Module, steps: int = 2):
        super().__init__()
        if getattr(cell, "n_models", None) is not None:
            raise ValueError("iterated needs a single cell; for an ensemble use cell.member(i)")
        if not callable(getattr(cell, "step", None)):
            raise TypeError(f"cell must be an rnnviz cell (with .step), got {type(cell).__name__}")
        self.cell = cell
        self.steps = check_int("steps", steps, 1)
        self.input_size, self.hidden_size, self.state_size = cell.input_size, cell.hidden_size, cell.state_size
        self.n_models = None

    def step(self, x_t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        for _ in range(self.steps):
            s = self.cell.step(x_t, s)
        return s

    def extra_repr(self) -> str:
        return f"steps={self.steps}"


def iterated(cell: torch.nn.Module, steps: int = 2) -> IteratedMap:
    """The ``steps``-step map of ``cell`` (see the module docstring): pass it to
    :func:`rnnviz.probes.fixed_points` to find period-``steps`` points."""
    return IteratedMap(cell, steps)
