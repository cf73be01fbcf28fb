"""Studies: they compute and write tables (drawing is the command line's job, :mod:`rnnviz.cli`).

Memorization capacity against state size, targeted and interfering information:

- :func:`capacity`: train a sweep (resumable, SQLite store, local worker processes or Dask), one row
  per model; :class:`WorkersFailed`: groups whose worker process died twice.
- :func:`summarize`, :func:`per_targeted_bits`: capacity per (cell, hidden size); the seed-aggregated grid.
- :data:`PRESETS` (:class:`Preset`), :func:`capacity_preset`: the ``smoke``, ``demo``, ``paper``,
  ``alphabet`` and ``gpu`` sweeps of ``rnnviz capacity``; ``capacity_preset("demo").run(out)`` runs one.
- :func:`alphabet_control`: recalled bits at a fixed K as the alphabet varies (the ``alphabet`` preset's
  control: targeted bits at a fixed sequence length).
- :func:`learning_rate_pilot` (:func:`pick_learning_rates`): each cell's learning rate from a small
  grid, for a sweep's per-cell ``lr``.
- :class:`Store`: the sweep's SQLite file (checked before use, read-only for readers, one writer);
  :func:`upgrade_store`, :func:`check_store`: ``rnnviz store upgrade|check`` (docs/store.md).

Character-level language modelling:

- :func:`language_model`: compare cells at equal hidden size, parameter count or state size, over
  seeds; :func:`load_curves`, :func:`load_model`; :func:`summarize_lm` (seed means with confidence
  intervals) and :func:`lm_differences` (paired by seed, against GRU or LSTM).
- :func:`mean_ci`, :func:`paired_difference`: the seed statistics the studies report (home: ``rnnviz._stats``).
- :data:`LM_PRESETS` (:class:`LMPreset`), :func:`lm_preset`: the presets of ``rnnviz lm``, the same
  shape as the capacity presets: ``lm_preset("demo").run(out)``.

The adding problem (:func:`adding`, :data:`ADDING_PRESETS`, :func:`adding_preset`, :func:`adding_summary`) and the
capacity study's effects with confidence intervals (:func:`capacity_table`, :func:`capacity_effects`, :func:`seed_capacity`),
the shapes of its curves (:func:`curve_shapes`, :func:`curve_shape_counts`: saturates, collapses, grows; :func:`curve_summary`: how they end; :func:`compare_curves`: two trainings curve by curve; :func:`compare_points`: two runs point by point, paired by seed; :func:`curve_falls`: whether the mean curve levels off or falls past its peak, tested over seeds; :func:`mean_curves`: the mean curves with their intervals, :func:`mean_curve_columns` as a table to read;
:func:`hold_table`: recall against how long each target is held; :func:`with_hold`: each row's hold as a column; :func:`at_one_hold`: a fixed-hold sweep's rows for the analyses; :func:`position_table`: recall at each target position),
the IRC/IHC cells against their baselines at equal parameter count (:func:`equal_parameter_capacity`),
and all of it as Markdown tables (:func:`capacity_report`).

Shared: :func:`find_capacity_results` / :func:`load_capacity_results` (and the LM and benchmark
equivalents) find and read shipped or local results; :func:`wall_time`, :func:`versions`,
:func:`device_name` and :func:`processor_name` record provenance; :func:`resolve_device` is both studies' device naming
(``"auto"``: CUDA when available, else the CPU).
"""

from .._stats import mean_ci, paired_difference
from ._adding import PRESETS as ADDING_PRESETS
from ._adding import AddingPreset, adding, adding_summary
from ._adding import preset as adding_preset
from ._alphabet import alphabet_control
from ._effects import (
    EFFECTS,
    FALL_VERDICTS,
    SHAPES,
    TIMING_COLUMNS,
    capacity_effects,
    capacity_table,
    compare_curves,
    compare_points,
    curve_falls,
    curve_shape_counts,
    curve_shapes,
    curve_summary,
    mean_curves,
    seed_capacity,
)
from ._equal_parameters import equal_parameter_capacity
from ._hold import at_one_hold, hold_table, with_hold
from ._lm import COMPARISONS, LMPreset, language_model, load_curves, load_model, run_id
from ._lm import PRESETS as LM_PRESETS
from ._lm import preset as lm_preset
from ._lm_summary import lm_differences, summarize_lm
from ._pilot import learning_rate_pilot, pick_learning_rates
from ._positions import position_table
from ._presets import PRESETS, Preset, run_preset
from ._presets import preset as capacity_preset
from ._provenance import device_name, processor_name, resolve_device, versions, wall_time
from ._report import capacity_report, mean_curve_columns
from ._results import (
    find_capacity_results,
    find_lm_results,
    load_benchmarks,
    load_capacity_results,
    load_fixed_point_benchmarks,
    load_lm_results,
    published_capacity_rows,
    repository_root,
)
from ._run import capacity, group_specs, sweep_specs, train_group
from ._spec import ModelSpec
from ._store import Store
from ._store_schema import StoreError
from ._store_tools import StoreReport, check_store, upgrade_store
from ._summary import per_targeted_bits, summarize
from ._workers import WorkersFailed

__all__ = [
    "PRESETS", "Preset", "capacity_preset", "run_preset", "capacity", "learning_rate_pilot", "pick_learning_rates", "group_specs", "sweep_specs", "train_group", "ModelSpec",
    "WorkersFailed", "Store", "StoreError", "StoreReport", "check_store", "upgrade_store", "summarize", "per_targeted_bits",
    "LM_PRESETS", "LMPreset", "lm_preset", "language_model", "load_curves", "load_model", "COMPARISONS", "run_id",
    "summarize_lm", "lm_differences", "mean_ci", "paired_difference",
    "device_name", "processor_name", "resolve_device", "versions", "wall_time",
    "find_capacity_results", "find_lm_results", "load_benchmarks", "load_capacity_results",
    "load_fixed_point_benchmarks", "load_lm_results", "repository_root", "published_capacity_rows",
    "ADDING_PRESETS", "AddingPreset", "adding", "adding_preset", "adding_summary", "EFFECTS", "capacity_effects",
    "capacity_table", "seed_capacity", "SHAPES", "curve_shapes", "curve_shape_counts", "curve_summary", "compare_curves", "compare_points",
    "TIMING_COLUMNS",
    "FALL_VERDICTS", "curve_falls", "mean_curves", "hold_table", "with_hold", "at_one_hold", "position_table", "equal_parameter_capacity",
    "alphabet_control", "capacity_report", "mean_curve_columns",
]
