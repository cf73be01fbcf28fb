"""rnnviz: see inside recurrent networks.

- :mod:`rnnviz.cells`: PRU, SRU, GRU, LSTM, RNN, FastGRNN, T-RNN and the IRC/IHC variants.
"""

from ._params import count_parameters
from ._trace import Trace
from . import cells

__version__ = "0.1.0"
__all__ = ["cells", "count_parameters", "Trace", "__version__"]
