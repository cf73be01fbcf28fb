"""A table of every registered cell: parameters, state size, gates."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from ._params import count_parameters
from ._registry import make, names, needs_square_input


def summary_table(input_size: int, hidden_size: int, cell_names=None) -> pd.DataFrame:
    """One row per cell built with these sizes: cell, parameters, state_size, output_size, gates.

    IRC/IHC variants need ``input_size == hidden_size``; with other sizes they are left out.
    """
    rows = []
    for name in cell_names or names():
        if needs_square_input(name) and input_size != hidden_size:
            continue
        cell = make(name, input_size, hidden_size, device="meta")
        rows.append({"cell": name, "parameters": count_parameters(cell), "state_size": cell.state_size,
                     "output_size": cell.output_size, "gates": ", ".join(cell.gate_names) or "-"})
    import pandas as pd  # here, not at import: `import rnnviz` (and every study worker) needs no pandas

    return pd.DataFrame(rows)
