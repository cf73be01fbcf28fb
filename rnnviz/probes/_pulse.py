"""How long a cell remembers: the response of its state to a single input pulse."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._checks import check_int, check_number
from ._jacobians import cell_device_dtype, ensemble_size


@dataclass(frozen=True, eq=False)
class PulseResponse:
    """The trace a single input pulse leaves in a cell's state, and the time it takes to fade.

    A pulse ``x_0`` (random, one per sequence) is read at step 0, then the input is zero; the same
    cell also runs on zero input throughout. ``d_t = ‖s_t(pulse) − s_t(no pulse)‖`` is the pulse's
    trace in the state at step t (``d_0 = 0``).

    Attributes (T steps, B pulses; ensembles have a leading E axis):
        distances: ``(T+1, B)`` (``(E, T+1, B)``) the distances ``d_t``.
        response: ``(T+1,)`` (``(E, T+1)``) ``mean_b d_t / mean_b d_1``: 1 right after the pulse.
        steps: T.

    :attr:`memory_time` is the step at which ``response`` first falls below 1/e (interpolated
    log-linearly between steps; ``inf`` when it does not within T steps). :meth:`to_frame` gives one
    row per step: ``[member], step, response``; :meth:`members_mean` averages an ensemble.
    """

    distances: torch.Tensor
    response: torch.Tensor
    steps: int

    @property
    def memory_time(self) -> torch.Tensor:
        """``()`` (``(E,)``) float64: steps until the response falls below 1/e (``inf``: not within T)."""
        r = self.response.detach().cpu().double()
        flat = r.reshape(-1, r.shape[-1])
        times = []
        for row in flat:
            below = (row[1:] < math.exp(-1)).nonzero()
            if not len(below):
                times.append(math.inf)
                continue
            t = int(below[0]) + 1  # first step t >= 1 below 1/e; row[t - 1] >= 1/e
            hi, lo = math.log(max(float(row[t - 1]), 1e-300)), math.log(max(float(row[t]), 1e-300))
            times.append(t - 1 + (hi + 1.0) / (hi - lo) if hi > lo else float(t))
        return torch.tensor(times, dtype=torch.float64).reshape(r.shape[:-1])

    def members_mean(self) -> PulseResponse:
        """An ensemble's response averaged over its members (``distances`` ``(T+1, B)``, ``response``
        the normalised mean); a single cell's response unchanged."""
        if self.response.dim() == 1:
            return self
        distances = self.distances.mean(0)
        mean = distances.mean(-1)
        return PulseResponse(distances=distances, response=mean / mean[1:2].clamp_min(1e-300), steps=self.steps)

    def to_frame(self) -> pd.DataFrame:
        """One row per step (and member): ``[member], step, response``."""
        r = self.response.detach().cpu().double().numpy()
        if r.ndim == 1:
            return pd.DataFrame({"step": np.arange(len(r)), "response": r})
        member, step = np.indices(r.shape).reshape(2, -1)
        return pd.DataFrame({"member": member, "step": step, "response": r.reshape(-1)})


def pulse_response(cell, *, steps: int = 50, n_pulses: int = 32, scale: float = 1.0,
                   generator: torch.Generator | None = None) -> PulseResponse:
    """Read one random pulse, then zeros, and measure how long the pulse's trace stays in the state.

    Args:
        cell: a rnnviz cell (an ensemble gives one response per member, the same pulses for all).
        steps: T, steps run after the pulse (the pulse is step 0's input).
        n_pulses: B, random pulses ``x_0 ~ scale · N(0, I)`` averaged over.
        scale: size of the pulse per input coordinate.
        generator: random generator of the pulses (CPU).

    Returns:
        :class:`PulseResponse`.
    """
    check_int("steps", steps)
    check_int("n_pulses", n_pulses)
    check_number("scale", scale, low=0.0, low_open=True)
    device, dtype = cell_device_dtype(cell)
    pulses = scale * torch.randn(n_pulses, cell.input_size, generator=generator)
    x = torch.zeros(steps, n_pulses, cell.input_size)
    x[0] = pulses
    x = x.to(device=device, dtype=dtype)
    E = ensemble_size(cell)
    if E is not None:
        x = x.expand(E, *x.shape)
    with torch.no_grad():
        driven = cell.trace(x).states  # (…, T+1, B, S)
        quiet = cell.trace(torch.zeros_like(x)).states
    distances = (driven - quiet).double().norm(dim=-1)  # (…, T+1, B)
    mean = distances.mean(-1)  # (…, T+1)
    response = mean / mean[..., 1:2].clamp_min(1e-300)
    return PulseResponse(distances=distances.cpu(), response=response.cpu(), steps=steps)
