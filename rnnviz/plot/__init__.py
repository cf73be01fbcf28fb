"""Figures: a package style (``with rnnviz.plot.style("paper"):``), sizes, palette, saving, and plots.

Every plot function takes ``ax=None`` and returns what it drew; none calls ``plt.show()``.
"""

from ._capacity import (
    METRICS,
    capacity_figures,
    plot_accuracy_heatmap,
    plot_bits_per_parameter,
    plot_capacity_vs_hidden_size,
    plot_interference_effect,
)
from ._cells import plot_cell_responses
from ._decoding import plot_decoding
from ._explorers import (
    plot_benchmarks,
    plot_capacity_view,
    plot_energy_steps,
    plot_model_frame,
    plot_phase_plane,
    plot_summary_metric,
    plot_training_history,
    saved_figure,
)
from ._lm import plot_bpc_comparison, plot_learning_curves
from ._probes import (
    plot_eigenvalues,
    plot_energy_landscape,
    plot_gate_activity,
    plot_gate_histograms,
    plot_saturation,
    plot_states_by_label,
    plot_trajectories,
)
from ._style import PALETTE, STYLES, figsize, save, style

__all__ = ["PALETTE", "STYLES", "figsize", "save", "style", "plot_cell_responses",
           "plot_trajectories", "plot_saturation", "plot_gate_histograms", "plot_energy_landscape",
           "plot_eigenvalues", "plot_states_by_label", "plot_gate_activity", "plot_bpc_comparison", "plot_learning_curves"]
__all__ += ["METRICS", "capacity_figures", "plot_accuracy_heatmap", "plot_bits_per_parameter",
            "plot_capacity_vs_hidden_size", "plot_interference_effect"]
__all__ += ["plot_phase_plane", "plot_model_frame", "plot_summary_metric", "plot_capacity_view",
            "plot_training_history", "plot_energy_steps", "plot_benchmarks", "saved_figure"]
__all__ += ["plot_decoding"]
