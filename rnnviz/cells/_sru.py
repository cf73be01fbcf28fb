"""Simple Recurrent Unit (SRU) and its input-residual (IRC) variant."""

from __future__ import annotations

import math

import torch

from .._checks import check_bool, check_int, check_number
from ._base import RecurrentCell, require_square
from ._layout import GateLayout
from ._ops import blend, linear, per_unit


class SRU(RecurrentCell):
    r"""Simple Recurrent Unit (Lei et al. 2018), laid out as the reference ``sru`` package.

    One matrix product for all time steps, then an elementwise recurrence:

    .. math::
        [\tilde x_t, \hat f_t, \hat r_t] &= W x_t \\
        f_t &= \sigma(\hat f_t + v_f \odot c_{t-1} + b_f) \\
        c_t &= f_t \odot c_{t-1} + (1 - f_t) \odot \tilde x_t \\
        r_t &= \sigma(\hat r_t + v_r \odot c_{t-1} + b_r) \\
        h_t &= r_t \odot c_t + (1 - r_t) \odot x'_t

    with the highway input :math:`x'_t = \alpha x_t` when m = n, else :math:`W' x_t` (a fourth block of
    W, no bias); :math:`\alpha = \sqrt{1 + 2 e^{b_r^{init}}}` with ``rescale=True`` (else 1).
    ``version=1`` drops :math:`v_f, v_r` (gates depend on x only). ``highway=False`` drops the skip
    term: :math:`h_t = r_t \odot c_t`. ``irc=True`` (rnnviz's reconstruction of Kuo et al. 2020, see
    cells.md) removes the candidate block: :math:`c_t = f_t \odot c_{t-1} + (1 - f_t) \odot x_t`
    (needs m = n).

    Equivalent loop::

        U = x @ weight.T                                # (T, B, k·n), blocks [x̃; f̂; r̂; (x')]
        for t in range(T):
            f = sigmoid(U[t, :, n:2n] + v_f * c + b_f)
            r = sigmoid(U[t, :, 2n:3n] + v_r * c + b_r)
            c = f * c + (1 - f) * U[t, :, :n]
            y[t] = r * c + (1 - r) * alpha * x[t]

    Shapes: x ``(T, B, m)``, y ``(T, B, n)``; the flat state is c ``(B, n)`` (as the reference returns).
    Gates: "forget", "reset".
    Parameters: ``weight (k·n, m)`` with k = 3 (4 with the projection when m ≠ n and highway is on;
    2 with IRC), ``weight_c (2n)`` = [v_f; v_r] (version 2 only), ``bias (2n)`` = [b_f; b_r]:
    3mn + 4n, 4mn + 4n with the projection, 2mn + 4n with IRC; version 1 has 2n fewer.
    """

    base_kind = "sru"
    gate_names = ("forget", "reset")

    def __init__(self, input_size: int, hidden_size: int, *, version: int = 2, highway: bool = True,
                 rescale: bool = True, highway_bias: float = -2.0, irc: bool = False, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        self.version = check_int("version", version, 1, 2)
        self.highway = check_bool("highway", highway)
        self.rescale = check_bool("rescale", rescale)
        self.highway_bias = check_number("highway_bias", highway_bias, high=700.0)  # e^700 still fits a float
        self.irc = check_bool("irc", irc)
        if self.irc:
            require_square(self, "IRC-SRU")
        n, m = hidden_size, input_size
        self.projection = self.highway and m != n
        self.alpha = math.sqrt(1 + 2 * math.exp(self.highway_bias)) if self.rescale else 1.0
        blocks = 2 + (0 if self.irc else 1) + (1 if self.projection else 0)
        self.weight = self._new_parameter(blocks * n, m)
        self.weight_c = self._new_parameter(2 * n) if version == 2 else None
        self.bias = self._new_parameter(2 * n)
        self.reset_parameters(self._construction_generator())

    @property
    def gate_layout(self) -> GateLayout:
        """Blocks of ``weight``: [candidate;] forget; reset[; projection] (no candidate with IRC: x is it)."""
        blocks = (() if self.irc else ("candidate",)) + ("forget", "reset") + (("projection",) if self.projection else ())
        return GateLayout(blocks, state=("c",))

    def _options(self) -> dict:
        return {"version": self.version, "highway": self.highway, "rescale": self.rescale,
                "highway_bias": self.highway_bias, "irc": self.irc}

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """The reference package's init: W ~ U(±√(3/m)) with the gate rows scaled by √0.5,
        v ~ U(±√3)·√0.5, b_f = 0, b_r = highway_bias (drawn from ``generator`` if given)."""
        n, m = self.hidden_size, self.input_size
        gate_rows = slice(0, 2 * n) if self.irc else slice(n, 3 * n)
        with torch.no_grad():
            self.weight.uniform_(-math.sqrt(3 / m), math.sqrt(3 / m), generator=generator)
            self.weight[..., gate_rows, :].mul_(math.sqrt(0.5))
            if self.weight_c is not None:
                self.weight_c.uniform_(-math.sqrt(3), math.sqrt(3), generator=generator).mul_(math.sqrt(0.5))
            self.bias[..., :n].zero_()
            self.bias[..., n:].fill_(self.highway_bias)

    def _project_input(self, x):
        return linear(x, self.weight)

    def _step(self, xp_t, x_t, c):
        n = self.hidden_size
        if self.irc:
            cand, f_in, r_in, proj = x_t, xp_t[..., :n], xp_t[..., n: 2 * n], None
        else:
            cand, f_in, r_in = xp_t[..., :n], xp_t[..., n: 2 * n], xp_t[..., 2 * n: 3 * n]
            proj = xp_t[..., 3 * n:] if self.projection else None
        b_f, b_r = per_unit(self.bias[..., :n]), per_unit(self.bias[..., n:])
        if self.weight_c is not None:
            f_in = f_in + per_unit(self.weight_c[..., :n]) * c
            r_in = r_in + per_unit(self.weight_c[..., n:]) * c
        f = torch.sigmoid(f_in + b_f)
        r = torch.sigmoid(r_in + b_r)
        c_next = blend(f, c, cand)
        if not self.highway:
            h = r * c_next
        else:
            skip = proj if proj is not None else self.alpha * x_t
            h = blend(r, c_next, skip)
        return c_next, h, {"forget": f, "reset": r}
