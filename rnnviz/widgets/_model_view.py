"""The trained-model explorer's computation: one time step of a recorded sequence.

:func:`record_model` runs a trained model once on a batch; :func:`model_frame` then slices out what
the explorer shows at time t (plain Python, tested directly).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_int
from ..cells import Trace
from ..probes import Trajectories, trajectories
from ..train import trace_model


@dataclass(frozen=True)
class ModelRecording:
    """A model's first-layer trace on a batch, with the PCA of its visited states.

    Attributes (T steps, B sequences):
        trace: the :class:`rnnviz.Trace` of the first cell (states ``(T+1, B, S)``, gates ``(T, B, n)``).
        symbols: ``(T, B)`` int64 input symbol at each step (argmax of one-hot inputs).
        symbol_names: a name per symbol id (e.g. ``["0", "1", "2", "3", "_", "?"]``).
        pca: :class:`rnnviz.probes.Trajectories` with two components, fitted on all visited states.
    """

    trace: Trace
    symbols: torch.Tensor
    symbol_names: list[str]
    pca: Trajectories

    @property
    def length(self) -> int:
        """T, the number of steps."""
        return self.symbols.shape[0]

    @property
    def batch_size(self) -> int:
        """B, the number of recorded sequences."""
        return self.symbols.shape[1]

    @property
    def hidden_size(self) -> int:
        """n, units of the cell (the range of the unit selector)."""
        return next(iter(self.trace.gates.values())).shape[-1] if self.trace.gates else self.trace.states.shape[-1]


def memorization_symbol_names(alphabet: int) -> list[str]:
    """Names of :class:`rnnviz.tasks.Memorization`'s tokens: the A data symbols, blank ``_``, marker ``?``."""
    return [str(i) for i in range(alphabet)] + ["_", "?"]


def record_model(model, inputs: torch.Tensor, symbol_names=None) -> ModelRecording:
    """Record a single :class:`~rnnviz.train.SequenceModel` on one-hot ``inputs (T, B, m)``.

    ``symbol_names``: one name per input channel (default ``"0" … "m-1"``).
    """
    trace = trace_model(model, inputs, layers=1)[0]
    names = [str(i) for i in range(inputs.shape[-1])] if symbol_names is None else list(symbol_names)
    if len(names) != inputs.shape[-1]:
        raise ValueError(f"symbol_names must name each of the {inputs.shape[-1]} input channels, got {len(names)}")
    return ModelRecording(trace=trace, symbols=inputs.argmax(-1), symbol_names=names,
                          pca=trajectories(trace, n_components=2))


@dataclass(frozen=True)
class ModelFrame:
    """What the explorer shows at step t of one sequence.

    Attributes:
        t: the step (0 ≤ t < T); the state shown is the one *after* reading input t.
        sequence, unit: the chosen sequence of the batch and unit of the cell.
        symbols: names of the inputs read so far, ``t + 1`` of them; ``symbol`` is the last one.
        path: ``(t + 2, 2)`` the projected states from s_0 up to s_{t+1}.
        point: ``(2,)`` the projected state s_{t+1}.
        gates: gate name → ``(T,)`` that unit's activation over the whole sequence.
        gates_now: gate name → its activation at step t.
        state_now: that unit's state coordinate at s_{t+1}.
    """

    t: int
    sequence: int
    unit: int
    symbols: list[str]
    path: torch.Tensor
    point: torch.Tensor
    gates: dict[str, torch.Tensor]
    gates_now: dict[str, float]
    state_now: float

    @property
    def symbol(self) -> str:
        """The input read at step t."""
        return self.symbols[-1]


def _check_index(name: str, value, size: int) -> int:
    return check_int(name, value, 0, size - 1)


def model_frame(recording: ModelRecording, t: int, unit: int = 0, sequence: int = 0) -> ModelFrame:
    """The explorer's content at step ``t`` for ``unit`` of the cell on sequence ``sequence``."""
    _check_index("t", t, recording.length)
    _check_index("sequence", sequence, recording.batch_size)
    _check_index("unit", unit, recording.hidden_size)
    projected = recording.pca.projected[:, sequence]  # (T+1, 2)
    gates = {name: g[:, sequence, unit].detach().double() for name, g in recording.trace.gates.items()}  # (T,)
    names = [recording.symbol_names[int(i)] for i in recording.symbols[: t + 1, sequence]]
    return ModelFrame(t=t, sequence=sequence, unit=unit, symbols=names, path=projected[: t + 2],
                      point=projected[t + 1], gates=gates,
                      gates_now={name: float(g[t]) for name, g in gates.items()},
                      state_now=float(recording.trace.states[t + 1, sequence, unit]))
