"""Prototypical Recurrent Unit (PRU)."""

from __future__ import annotations

import torch

from .._checks import check_bool
from ._base import TorchLayoutCell
from ._layout import GateLayout
from ._ops import blend, linear


class PRU(TorchLayoutCell):
    r"""Prototypical Recurrent Unit (Long, Zhang, Mao 2016/2018): a state transition F and an output map G.

    .. math::
        u_t &= \tanh(W_u x_t + b_{iu} + U_u s_{t-1} + b_{hu})            && \text{candidate} \\
        c_t &= \sigma(W_c x_t + b_{ic} + U_c s_{t-1} + b_{hc})            && \text{coupled update gate} \\
        s_t &= c_t \odot s_{t-1} + (1 - c_t) \odot u_t                    && F \\
        y_t &= \tanh(W_y s_t + b_y) \quad (\text{or } y_t = s_t \text{ with } \texttt{output\_map=False}) && G

    F is Collins et al.'s UGRNN update. The equations follow the public implementations that cite the
    paper (only its abstract is available), as cells.md records.

    Equivalent loop::

        for t in range(T):
            g = x[t] @ weight_ih.T + bias_ih + s @ weight_hh.T + bias_hh      # blocks [c; u]
            c, u = sigmoid(g[:, :n]), tanh(g[:, n:])
            s = c * s + (1 - c) * u
            y[t] = tanh(s @ weight_out.T + bias_out)                          # or s

    Shapes: x ``(T, B, m)``, y ``(T, B, n)``, flat state s ``(B, n)``. Gates: "update" (c).
    Parameters: ``weight_ih (2n, m)``, ``weight_hh (2n, n)``, ``bias_ih (2n)``, ``bias_hh (2n)``
    (blocks [update gate c; candidate u]): 2[n(m+n) + 2n]; the output map adds ``weight_out (n, n)``,
    ``bias_out (n)``: n² + n.
    """

    base_kind = "pru"
    gate_names = ("update",)
    gate_layout = GateLayout(("update", "candidate"))

    def __init__(self, input_size: int, hidden_size: int, *, output_map: bool = True, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        self.output_map = check_bool("output_map", output_map)
        n, m = hidden_size, input_size
        self.weight_ih = self._new_parameter(2 * n, m)
        self.weight_hh = self._new_parameter(2 * n, n)
        self.bias_ih = self._new_parameter(2 * n)
        self.bias_hh = self._new_parameter(2 * n)
        if self.output_map:
            self.weight_out = self._new_parameter(n, n)
            self.bias_out = self._new_parameter(n)
        self.reset_parameters(self._construction_generator())

    def _options(self) -> dict:
        return {"output_map": self.output_map}

    def _step(self, xp_t, x_t, s):
        pre = xp_t + linear(s, self.weight_hh, self.bias_hh)
        c_pre, u_pre = pre.chunk(2, dim=-1)
        c = torch.sigmoid(c_pre)
        s_next = blend(c, s, torch.tanh(u_pre))
        return s_next, s_next, {"update": c}

    def _readout(self, h, tanh=torch.tanh):
        """G on all steps at once: ``tanh(W_y h + b_y)`` (``tanh``: the CPU backend passes its kernels')."""
        if not self.output_map:
            return h
        return tanh(linear(h, self.weight_out, self.bias_out))
