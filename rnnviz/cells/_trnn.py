"""Strongly-Typed RNN (T-RNN) and its input-residual (IRC) variant."""

from __future__ import annotations

import math

import torch

from .._checks import check_bool
from ._base import RecurrentCell, require_square
from ._layout import GateLayout
from ._ops import blend, linear, per_unit


class TRNN(RecurrentCell):
    r"""Strongly-Typed RNN (Balduzzi & Ghifary 2016): no matrix acts on the state.

    .. math::
        z_t = W x_t, \qquad f_t = \sigma(V x_t + b), \qquad h_t = f_t \odot h_{t-1} + (1 - f_t) \odot z_t

    ``irc=True`` (rnnviz's reconstruction of Kuo et al. 2020, see cells.md): :math:`z_t = x_t` (m = n).

    Equivalent loop::

        for t in range(T):
            z = x[t] @ weight[:n].T                  # IRC: z = x[t]
            f = sigmoid(x[t] @ weight[n:].T + bias)  # IRC: weight is V alone
            h = f * h + (1 - f) * z;  y[t] = h

    Shapes: x ``(T, B, m)``, y ``(T, B, n)``, flat state h ``(B, n)``. Gates: "forget".
    Parameters: ``weight (2n, m)`` = [W; V] (IRC: ``(n, m)`` = V), ``bias (n)``: 2mn + n (IRC: mn + n).
    """

    base_kind = "trnn"
    gate_names = ("forget",)

    def __init__(self, input_size: int, hidden_size: int, *, irc: bool = False, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        self.irc = check_bool("irc", irc)
        if self.irc:
            require_square(self, "IRC-T-RNN")
        n, m = hidden_size, input_size
        self.weight = self._new_parameter((1 if self.irc else 2) * n, m)
        self.bias = self._new_parameter(n)
        self.reset_parameters(self._construction_generator())

    @property
    def gate_layout(self) -> GateLayout:
        """Blocks of ``weight``: [candidate z;] forget (no candidate with IRC: x is it)."""
        return GateLayout((() if self.irc else ("candidate",)) + ("forget",))

    def _options(self) -> dict:
        return {"irc": self.irc}

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """W, V ~ U(±√(3/m)) (unit-variance projections of unit-variance inputs); b = 0."""
        bound = math.sqrt(3 / self.input_size)
        self._init_uniform(bound, self.weight, generator=generator)
        with torch.no_grad():
            self.bias.zero_()

    def _project_input(self, x):
        return linear(x, self.weight)

    def _step(self, xp_t, x_t, h):
        n = self.hidden_size
        z, f_in = (x_t, xp_t) if self.irc else (xp_t[..., :n], xp_t[..., n:])
        f = torch.sigmoid(f_in + per_unit(self.bias))
        h_next = blend(f, h, z)
        return h_next, h_next, {"forget": f}
