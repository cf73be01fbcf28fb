"""Where a cell keeps its gates: the one declaration of a cell's packed block layout.

Every cell packs the pre-activations of one step into n-wide blocks: GRU ``[reset; update;
candidate]`` (torch.nn's order), LSTM ``[input; forget; candidate; output]``, SRU ``[candidate;
forget; reset]`` of its input projection, and so on. The cell class declares that order once as
``gate_layout`` (a :class:`GateLayout`); everything that must know it reads it from there: the
Triton adapter (:mod:`rnnviz.cells._triton`), the Hopfield reading of the energy probe
(:func:`rnnviz.probes.hopfield_reading`) and the phase-plane explorer (:mod:`rnnviz.widgets`).

Block ``k`` of a packed tensor ``(…, len(blocks)·n)`` is ``t[..., k·n:(k+1)·n]``; for the recurrent
weights ``(len(blocks)·n, n)`` it is rows ``k·n:(k+1)·n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GateLayout:
    """A cell's packed blocks, in order, and the parts of its flat state.

    Attributes:
        blocks: names of the n-wide blocks of the step's pre-activation, in packed order: the rows
            of ``weight_hh`` and ``bias_hh`` for the torch-layout cells (RNN, GRU, PRU, LSTM), of the
            input projection ``weight`` for the SRU family (no recurrent matrix), and the columns of
            ``cell._project_input(x)`` for every cell. Gate blocks carry the gate's name (as in
            ``cell.gate_names``); ``"candidate"`` is the block the state moves towards;
            ``"projection"`` is the SRU's highway projection; ``"preactivation"`` is FastGRNN's
            block shared by its gate and candidate.
        state: names of the n-wide parts of the flat state, in order (``("h", "c")`` for the LSTM).
    """

    blocks: tuple[str, ...]
    state: tuple[str, ...] = ("h",)

    def __post_init__(self):
        for name, names in (("blocks", self.blocks), ("state", self.state)):
            if not names or len(set(names)) != len(names):
                raise ValueError(f"{name} must be distinct names, got {names!r}")

    def has(self, block: str) -> bool:
        return block in self.blocks

    def index(self, block: str) -> int:
        """Position of ``block`` among the packed blocks."""
        if block not in self.blocks:
            raise ValueError(f"block must be one of {list(self.blocks)}, got {block!r}")
        return self.blocks.index(block)

    def rows(self, block: str, n: int) -> slice:
        """The rows (or last-axis entries) of ``block`` in a packed tensor of n-wide blocks."""
        k = self.index(block)
        return slice(k * n, (k + 1) * n)

    def part(self, t: torch.Tensor, block: str) -> torch.Tensor:
        """Block ``block`` of ``t`` along its last axis (``t`` holds every block)."""
        n = t.shape[-1] // len(self.blocks)
        return t[..., self.rows(block, n)]

    def state_rows(self, part: str, n: int) -> slice:
        """The entries of state part ``part`` (e.g. ``"h"``) in the flat state."""
        if part not in self.state:
            raise ValueError(f"part must be one of {list(self.state)}, got {part!r}")
        k = self.state.index(part)
        return slice(k * n, (k + 1) * n)

    def gate_blocks(self, gates) -> dict[str, int]:
        """``{gate: block index}`` for each of ``gates`` that has a block of its own."""
        return {g: self.blocks.index(g) for g in gates if g in self.blocks}

    def reorder(self, t: torch.Tensor, order: tuple[str, ...], dim: int = -1) -> torch.Tensor:
        """``t`` (packed in this layout along ``dim``) with its blocks in ``order`` instead; ``t``
        itself when the orders agree (no copy)."""
        if tuple(order) == self.blocks:
            return t
        n = t.shape[dim] // len(self.blocks)
        return torch.cat([t.narrow(dim, self.index(b) * n, n) for b in order], dim=dim)


# The block order rnnviz's dense kernels (Triton and CPU) index, per base kind: torch.nn's gate order.
# A kernel adapter permutes a cell's declared ``gate_layout`` into it with :meth:`GateLayout.reorder`
# (no copy when they agree, as they do today).
KERNEL_BLOCKS = {
    "rnn": ("candidate",),
    "gru": ("reset", "update", "candidate"),
    "pru": ("update", "candidate"),
    "lstm": ("input", "forget", "candidate", "output"),
    "fastgrnn": ("preactivation",),
}


def member_params(cell, *names: str) -> list[torch.Tensor]:
    """The cell's parameters ``names`` with a leading E axis (a single cell's get E = 1): the form the
    kernels take for single models and ensembles alike."""
    return [getattr(cell, name) if cell.is_ensemble else getattr(cell, name).unsqueeze(0) for name in names]
