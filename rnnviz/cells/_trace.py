"""The record of one run of a cell: states, outputs and gate activations at every step."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Trace:
    """States, outputs and gates recorded while a cell reads a sequence.

    Shapes (single cell; an ensemble of E models puts E in front of each):

    - ``states``  ``(T + 1, B, state_size)``: the flat state, ``s0`` first, then one per step.
    - ``outputs`` ``(T, B, output_size)``: what the cell emits at each step.
    - ``gates``   ``{name: (T, B, hidden_size)}``: sigmoid gate activations, one entry per name in
      ``cell.gate_names``.
    - ``inputs``  ``(T, B, input_size)``: the inputs that produced the trace.
    """

    states: torch.Tensor
    outputs: torch.Tensor
    gates: dict[str, torch.Tensor] = field(default_factory=dict)
    inputs: torch.Tensor | None = None

    @property
    def final_state(self) -> torch.Tensor:
        """The last state, ``(B, state_size)``."""
        return self.states[..., -1, :, :]

    def detach(self) -> Trace:
        """A copy with every tensor detached from the autograd graph."""
        return self._map(lambda t: t.detach())

    def to(self, *args, **kwargs) -> Trace:
        """A copy with every tensor moved or cast, as ``torch.Tensor.to``."""
        return self._map(lambda t: t.to(*args, **kwargs))

    def _map(self, fn) -> Trace:
        return Trace(
            states=fn(self.states),
            outputs=fn(self.outputs),
            gates={name: fn(g) for name, g in self.gates.items()},
            inputs=None if self.inputs is None else fn(self.inputs),
        )
