"""Recurrent cells: one reference implementation of each cell's math.

Every cell is a ``torch.nn.Module`` called as ``y, s = cell(x, s0=None)``, with ``cell.step`` for
one differentiable step on the flat state and ``cell.trace`` to record states and gates.
"""

from ._backends import available_backends, register_backend, resolve_backend
from ._base import RecurrentCell, reference_forward, reference_loop
from ._elman import RNN
from ._ensemble import Ensemble, stack_cells
from ._fastgrnn import FastGRNN
from ._gru import GRU
from ._layout import GateLayout
from ._lstm import LSTM
from ._params import count_parameters
from ._pru import PRU
from ._registry import allowed_options, make, names, needs_square_input
from ._sru import SRU
from ._summary import summary_table
from ._trace import Trace
from ._trnn import TRNN

__all__ = [
    "PRU", "SRU", "GRU", "LSTM", "RNN", "FastGRNN", "TRNN", "RecurrentCell", "Ensemble", "stack_cells",
    "make", "names", "allowed_options", "needs_square_input", "summary_table", "register_backend", "available_backends", "resolve_backend",
    "reference_forward", "reference_loop", "Trace", "count_parameters", "GateLayout",
]

from . import _cpu as _cpu_backend  # noqa: E402,F401  (registers backend "cpu"; numba loads on first use)

# registers backend "triton" (imports no triton until the backend is used)
from . import _triton as _triton_backend  # noqa: E402,F401
