"""GRU and its input-residual (IRC) variant."""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_bool
from ._base import TorchLayoutCell, require_square
from ._layout import GateLayout
from ._ops import blend, linear
from ._torch_compat import cell_from_torch


class GRU(TorchLayoutCell):
    r"""Gated recurrent unit with torch.nn.GRU's parameters, gate order (r, z, n) and results.

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    ``irc=True`` (input residual connection, rnnviz's reconstruction of Kuo et al. 2020 from its
    abstract, see cells.md): the candidate's input projection is replaced by the input itself,
    :math:`n_t = \tanh(x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))`; needs m = n.
    Read with r = 1 and x held, the update is a forward-Euler step of the Hopfield dynamics
    dh/dt = z ⊙ (−h + tanh(W_hn h + I)) with external current I = W_in x + b_in (+ b_hn).

    Equivalent loop::

        for t in range(T):
            gi = x[t] @ weight_ih.T + bias_ih          # IRC: [x W_ir.T, x W_iz.T, x] + bias_ih
            gh = h @ weight_hh.T + bias_hh
            r = sigmoid(gi[:, :n] + gh[:, :n]);  z = sigmoid(gi[:, n:2n] + gh[:, n:2n])
            cand = tanh(gi[:, 2n:] + r * gh[:, 2n:])
            h = (1 - z) * cand + z * h;  y[t] = h

    Shapes: x ``(T, B, m)``, y ``(T, B, n)``, flat state h ``(B, n)``. Gates: "reset", "update".
    Parameters: ``weight_ih (3n, m)`` (IRC: ``(2n, m)``, rows [r; z]), ``weight_hh (3n, n)``,
    ``bias_ih (3n)``, ``bias_hh (3n)``: 3[n(m+n) + 2n] (IRC: n·m fewer).
    """

    base_kind = "gru"
    gate_names = ("reset", "update")
    gate_layout = GateLayout(("reset", "update", "candidate"))

    def __init__(self, input_size: int, hidden_size: int, *, irc: bool = False, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        self.irc = check_bool("irc", irc)
        if self.irc:
            require_square(self, "IRC-GRU")
        n, m = hidden_size, input_size
        self.weight_ih = self._new_parameter((2 if self.irc else 3) * n, m)
        self.weight_hh = self._new_parameter(3 * n, n)
        self.bias_ih = self._new_parameter(3 * n)
        self.bias_hh = self._new_parameter(3 * n)
        self.reset_parameters(self._construction_generator())

    def _options(self) -> dict:
        return {"irc": self.irc}

    def _step(self, xp_t, x_t, s):
        gh = linear(s, self.weight_hh, self.bias_hh)
        xr, xz, xn = xp_t.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        cand = torch.tanh(xn + r * hn)
        h = blend(z, s, cand)
        return h, h, {"reset": r, "update": z}

    @classmethod
    def from_torch(cls, m: nn.GRU) -> GRU:
        """An rnnviz GRU with exactly the weights of a single-layer ``torch.nn.GRU``."""
        return cell_from_torch(cls, m, nn.GRU)

