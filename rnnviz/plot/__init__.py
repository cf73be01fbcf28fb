"""Figures: a package style (``with rnnviz.plot.style("paper"):``), sizes, palette, saving, and plots.

Every plot function takes ``ax=None`` and returns what it drew; none calls ``plt.show()``.
"""

from ._cells import plot_cell_responses
from ._style import PALETTE, STYLES, figsize, save, style

__all__ = ["PALETTE", "STYLES", "figsize", "save", "style", "plot_cell_responses"]
from ._capacity import (
    capacity_figures,
    plot_accuracy_heatmap,
    plot_bits_per_parameter,
    plot_capacity_vs_state_size,
    plot_interference_effect,
)

__all__ += ["capacity_figures", "plot_accuracy_heatmap", "plot_bits_per_parameter",
            "plot_capacity_vs_state_size", "plot_interference_effect"]
