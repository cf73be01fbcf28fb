"""FastGRNN."""

from __future__ import annotations

import torch

from ._base import RecurrentCell, uniform_bound
from ._layout import GateLayout
from ._ops import linear, per_unit


class FastGRNN(RecurrentCell):
    r"""FastGRNN (Kusupati et al. 2018): one shared pre-activation for the gate and the candidate.

    .. math::
        a_t &= W x_t + U h_{t-1} \\
        z_t &= \sigma(a_t + b_z), \qquad \tilde h_t = \tanh(a_t + b_h) \\
        h_t &= (\sigma(\zeta)(1 - z_t) + \sigma(\nu)) \odot \tilde h_t + z_t \odot h_{t-1}

    with scalars ζ (init 1) and ν (init −4).

    Equivalent loop::

        for t in range(T):
            a = x[t] @ weight_ih.T + h @ weight_hh.T
            z, cand = sigmoid(a + bias_z), tanh(a + bias_h)
            h = (sigmoid(zeta) * (1 - z) + sigmoid(nu)) * cand + z * h;  y[t] = h

    Shapes: x ``(T, B, m)``, y ``(T, B, n)``, flat state h ``(B, n)``. Gates: "update" (z).
    Parameters: ``weight_ih (n, m)``, ``weight_hh (n, n)``, ``bias_z (n)``, ``bias_h (n)``,
    ``zeta (1)``, ``nu (1)``: n(m+n) + 2n + 2.
    """

    base_kind = "fastgrnn"
    gate_names = ("update",)
    gate_layout = GateLayout(("preactivation",))  # one block, shared by the gate and the candidate

    def __init__(self, input_size: int, hidden_size: int, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        n, m = hidden_size, input_size
        self.weight_ih = self._new_parameter(n, m)
        self.weight_hh = self._new_parameter(n, n)
        self.bias_z = self._new_parameter(n)
        self.bias_h = self._new_parameter(n)
        self.zeta = self._new_parameter(1)
        self.nu = self._new_parameter(1)
        self.reset_parameters(self._construction_generator())

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """W, U ~ U(±1/√n); b_z = 1 (gate leaning to keep), b_h = 0; ζ = 1, ν = −4 (the paper's init)."""
        self._init_uniform(uniform_bound(self.hidden_size), self.weight_ih, self.weight_hh, generator=generator)
        with torch.no_grad():
            self.bias_z.fill_(1.0)
            self.bias_h.zero_()
            self.zeta.fill_(1.0)
            self.nu.fill_(-4.0)

    def _project_input(self, x):
        return linear(x, self.weight_ih)

    def _step(self, xp_t, x_t, h):
        a = xp_t + linear(h, self.weight_hh)
        z = torch.sigmoid(a + per_unit(self.bias_z))
        cand = torch.tanh(a + per_unit(self.bias_h))
        scale = torch.sigmoid(per_unit(self.zeta)) * (1 - z) + torch.sigmoid(per_unit(self.nu))
        h_next = scale * cand + z * h
        return h_next, h_next, {"update": z}
