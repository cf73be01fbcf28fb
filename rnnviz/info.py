"""Deprecated: moved to :mod:`rnnviz.tasks` in 0.2.0 (see CHANGELOG.md)."""

from ._moved import moved

__getattr__ = moved(__name__, dict.fromkeys(
    ("confusion_counts", "mutual_information", "recalled_information", "entropy"), "rnnviz.tasks"))
