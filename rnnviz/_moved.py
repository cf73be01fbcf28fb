"""Old import paths that keep working for one release (0.2.x), with a DeprecationWarning naming the
new home. Each old module is a few lines: ``__getattr__ = moved(__name__, {name: "new.module"})``.
Nothing in rnnviz imports an old path; CHANGELOG.md lists every move."""

from __future__ import annotations

import importlib
import warnings


def moved(old: str, homes: dict[str, str]):
    """A module ``__getattr__`` that serves each name in ``homes`` from its new module, warning once
    per access with the new path."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {old!r} has no attribute {name!r} (rnnviz 0.2.0 moved it: see CHANGELOG.md)")
        new = homes[name]
        warnings.warn(f"{old}.{name} moved to {new}.{name} in rnnviz 0.2.0; the old path goes in 0.3.0",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new), name)

    return __getattr__
