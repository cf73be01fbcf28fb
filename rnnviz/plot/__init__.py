"""Figures: a package style (``with rnnviz.plot.style("paper"):``), sizes, palette, saving, and plots.

Every plot function (``plot_*``) draws into the Axes it is given or onto a new figure: ``ax=None``
when it draws one panel, ``axes=None`` (a documented number of Axes) when it draws several. It
returns a :class:`Drawn` (the panels, and its artists by documented name) and never calls
``plt.show()``. The rule and the table of every function: docs/api.md.
"""

from ._capacity import (
    METRICS,
    capacity_figures,
    plot_accuracy_heatmap,
    plot_bits_per_parameter,
    plot_capacity_view,
    plot_capacity_vs_hidden_size,
    plot_interference_effect,
    plot_summary_metric,
)
from ._capacity_seeds import (
    capacity_interval_figures,
    plot_capacity_intervals,
    plot_capacity_runs,
    plot_equal_parameters,
    plot_position_profile,
    plot_recall_by_hold,
    plot_recall_curves,
)
from ._cells import plot_cell_responses
from ._decoding import plot_decoding
from ._explorers import plot_model_frame, plot_phase_plane
from ._lm import plot_bpc_comparison, plot_bpc_intervals, plot_learning_curves
from ._memory import plot_memory_states
from ._probes import (
    plot_eigenvalues,
    plot_energy_landscape,
    plot_energy_steps,
    plot_gate_activity,
    plot_gate_histograms,
    plot_saturation,
    plot_states_by_label,
    plot_trajectories,
)
from ._studies import plot_adding, plot_alphabet_control, plot_effects
from ._style import PALETTE, STYLES, Drawn, figsize, save, saved_figure, shared_legend, style
from ._tour import plot_gate_distributions, plot_pulse_responses
from ._training import plot_benchmarks, plot_training_history

__all__ = ["PALETTE", "STYLES", "Drawn", "figsize", "save", "saved_figure", "shared_legend", "style", "plot_cell_responses",
           "plot_trajectories", "plot_saturation", "plot_gate_histograms", "plot_energy_landscape",
           "plot_eigenvalues", "plot_states_by_label", "plot_gate_activity", "plot_energy_steps",
           "plot_bpc_comparison", "plot_bpc_intervals", "plot_learning_curves", "plot_memory_states",
           "plot_pulse_responses", "plot_gate_distributions"]
__all__ += ["METRICS", "capacity_figures", "plot_accuracy_heatmap", "plot_bits_per_parameter",
            "plot_capacity_vs_hidden_size", "plot_interference_effect", "plot_summary_metric", "plot_capacity_view"]
__all__ += ["plot_phase_plane", "plot_model_frame", "plot_training_history", "plot_benchmarks"]
__all__ += ["plot_decoding"]
__all__ += ["plot_adding", "plot_effects", "plot_alphabet_control"]
__all__ += ["capacity_interval_figures", "plot_capacity_intervals", "plot_capacity_runs", "plot_equal_parameters",
            "plot_recall_by_hold", "plot_recall_curves", "plot_position_profile"]
