"""LSTM and its input-residual (IRC) and input-highway (IHC) variants."""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_bool, check_number
from ._base import TorchLayoutCell, require_square
from ._layout import GateLayout
from ._ops import linear
from ._torch_compat import cell_from_torch

#: Largest |forget_bias| accepted: far past where the gate saturates (σ(20) rounds to 1 in float32).
FORGET_BIAS_BOUND = 100.0


def check_forget_bias(forget_bias) -> float | None:
    """``forget_bias`` when it is None or a finite number in [−100, 100]; otherwise an error naming it."""
    if forget_bias is None:
        return None
    return check_number("forget_bias", forget_bias, low=-FORGET_BIAS_BOUND, high=FORGET_BIAS_BOUND)


class LSTM(TorchLayoutCell):
    r"""Long short-term memory with torch.nn.LSTM's parameters, gate order (i, f, g, o) and results.

    .. math::
        i_t, f_t, o_t &= \sigma(W_{i\cdot} x_t + b_{i\cdot} + W_{h\cdot} h_{t-1} + b_{h\cdot}) \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t)

    rnnviz's reconstruction of Kuo et al. (2020) from its abstract (see cells.md):

    - ``irc=True``: the candidate's input projection is the input itself,
      :math:`g_t = \tanh(x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})` (needs m = n);
    - ``ihc=True``: IRC plus an input highway on the output, with the output gate as the highway gate:
      :math:`h_t = o_t \odot \tanh(c_t) + (1 - o_t) \odot x_t`.

    Equivalent loop::

        for t in range(T):
            gates = x[t] @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh   # IRC: x in the g block
            i, f, g, o = sigmoid(gates[:, :n]), sigmoid(gates[:, n:2n]), tanh(gates[:, 2n:3n]), sigmoid(gates[:, 3n:])
            c = f * c + i * g
            h = o * tanh(c)                      # IHC: + (1 - o) * x[t]
            y[t] = h

    Shapes: x ``(T, B, m)``, y ``(T, B, n)``, flat state ``[h; c]`` ``(B, 2n)``.
    Gates: "input", "forget", "output".
    Parameters: ``weight_ih (4n, m)`` (IRC/IHC: ``(3n, m)``, rows [i; f; o]), ``weight_hh (4n, n)``,
    ``bias_ih (4n)``, ``bias_hh (4n)``: 4[n(m+n) + 2n] (IRC/IHC: n·m fewer).

    Initialisation: torch.nn.LSTM's, every parameter ~ U(−1/√n, 1/√n). ``forget_bias=b`` (a number
    in [−100, 100]; None, the default, leaves torch's init alone) then sets the forget gate's bias to b:
    ``bias_ih[n:2n] = b`` and ``bias_hh[n:2n] = 0``, so :math:`b_{if} + b_{hf} = b` exactly and the
    gate starts near σ(b) (b = 1: about 0.73, the usual remedy for gradients that vanish through
    c early in training; Gers et al. 2000, Jozefowicz et al. 2015). The other parameters draw the
    same numbers as without the option.
    """

    base_kind = "lstm"
    gate_names = ("input", "forget", "output")
    gate_layout = GateLayout(("input", "forget", "candidate", "output"), state=("h", "c"))

    def __init__(self, input_size: int, hidden_size: int, *, irc: bool = False, ihc: bool = False,
                 forget_bias: float | None = None, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        self.forget_bias = check_forget_bias(forget_bias)
        self.ihc = check_bool("ihc", ihc)
        self.irc = check_bool("irc", irc) or self.ihc
        if self.irc:
            require_square(self, "IHC-LSTM" if self.ihc else "IRC-LSTM")
        n, m = hidden_size, input_size
        self.weight_ih = self._new_parameter((3 if self.irc else 4) * n, m)
        self.weight_hh = self._new_parameter(4 * n, n)
        self.bias_ih = self._new_parameter(4 * n)
        self.bias_hh = self._new_parameter(4 * n)
        self.reset_parameters(self._construction_generator())

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def _options(self) -> dict:
        options = {"irc": self.irc and not self.ihc, "ihc": self.ihc}
        if self.forget_bias is not None:
            options["forget_bias"] = self.forget_bias
        return options

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """torch.nn.LSTM's init, then the forget gate's bias set to ``forget_bias`` (when given)."""
        super().reset_parameters(generator)
        if self.forget_bias is not None:
            forget = slice(self.hidden_size, 2 * self.hidden_size)  # gate order (i, f, g, o)
            with torch.no_grad():
                self.bias_ih[..., forget] = self.forget_bias
                self.bias_hh[..., forget] = 0.0

    def _step(self, xp_t, x_t, s):
        h, c = s.chunk(2, dim=-1)
        pre = xp_t + linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = pre.chunk(4, dim=-1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        c = f * c + i * torch.tanh(g)
        h = o * torch.tanh(c)
        if self.ihc:
            h = h + (1 - o) * x_t
        return torch.cat([h, c], dim=-1), h, {"input": i, "forget": f, "output": o}

    @classmethod
    def from_torch(cls, m: nn.LSTM) -> LSTM:
        """An rnnviz LSTM with exactly the weights of a single-layer ``torch.nn.LSTM``."""
        return cell_from_torch(cls, m, nn.LSTM)
