"""Deprecated: moved to :mod:`rnnviz.train` in 0.2.0 (see CHANGELOG.md)."""

from ._moved import moved

__getattr__ = moved(__name__, {"SequenceModel": "rnnviz.train"})
