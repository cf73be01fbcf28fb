"""Elman RNN."""

from __future__ import annotations

import torch
from torch import nn

from ._base import TorchLayoutCell
from ._layout import GateLayout
from ._ops import linear
from ._torch_compat import cell_from_torch

_NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class RNN(TorchLayoutCell):
    r"""Elman recurrent network, with torch.nn.RNN's parameters and results.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \quad \phi = \tanh \text{ or relu}

    Equivalent loop::

        for t in range(T):
            h = tanh(x[t] @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
            y[t] = h

    Shapes: x ``(T, B, m)``, y ``(T, B, n)``, flat state h ``(B, n)``.
    Parameters: ``weight_ih (n, m)``, ``weight_hh (n, n)``, ``bias_ih (n)``, ``bias_hh (n)``:
    n(m + n) + 2n in all (cells.md: n(m+n)+n with one bias vector). No gates.
    """

    base_kind = "rnn"
    gate_names = ()
    gate_layout = GateLayout(("candidate",))

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh", **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {list(_NONLINEARITIES)}, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        n, m = hidden_size, input_size
        self.weight_ih = self._new_parameter(n, m)
        self.weight_hh = self._new_parameter(n, n)
        self.bias_ih = self._new_parameter(n)
        self.bias_hh = self._new_parameter(n)
        self.reset_parameters(self._construction_generator())

    def _options(self) -> dict:
        return {"nonlinearity": self.nonlinearity}

    def _step(self, xp_t, x_t, s):
        h = _NONLINEARITIES[self.nonlinearity](xp_t + linear(s, self.weight_hh, self.bias_hh))
        return h, h, {}

    @classmethod
    def from_torch(cls, m: nn.RNN) -> RNN:
        """An rnnviz RNN with exactly the weights of a single-layer ``torch.nn.RNN``."""
        # getattr: a wrong module type must reach the clear type check in cell_from_torch
        return cell_from_torch(cls, m, nn.RNN, nonlinearity=getattr(m, "nonlinearity", "tanh"))
