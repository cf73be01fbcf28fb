"""Deprecated: moved to :mod:`rnnviz.study` in 0.2.0 (see CHANGELOG.md)."""

from ._moved import moved

__getattr__ = moved(__name__, dict.fromkeys((
    "repository_root", "find_capacity_results", "load_capacity_results", "find_lm_results", "load_lm_results",
    "load_benchmarks", "load_fixed_point_benchmarks"), "rnnviz.study"))
