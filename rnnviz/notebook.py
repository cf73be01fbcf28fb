"""The notebooks' one helper: the run mode every notebook's ``parameters`` cell reads.

``mode = run_mode()`` is ``"smoke"`` when ``RNNVIZ_SMOKE=1`` (CI: seconds per notebook), else
``RNNVIZ_MODE``: ``"demo"`` (default: minutes on a laptop CPU, meaningful figures) or ``"full"``
(the sizes of the write-up). ``by_mode(mode, smoke=…, demo=…, full=…)`` picks a value per mode, and
``figures_dir()`` is where a notebook saves its figures (``RNNVIZ_OUT``). Every notebook's
``parameters`` cell reads::

    from rnnviz.notebook import by_mode, figures_dir, run_mode

    MODE = run_mode()
    OUT = figures_dir()
"""

from __future__ import annotations

import os

MODES = ("smoke", "demo", "full")


def run_mode(environ=None) -> str:
    """The notebooks' run mode (``smoke``, ``demo`` or ``full``) from the environment.

    Raises ValueError naming ``RNNVIZ_MODE`` for any other value.
    """
    environ = os.environ if environ is None else environ
    if environ.get("RNNVIZ_SMOKE", "0") == "1":
        return "smoke"
    mode = environ.get("RNNVIZ_MODE", "demo")
    if mode not in MODES:
        raise ValueError(f"RNNVIZ_MODE must be one of {list(MODES)}, got {mode!r}")
    return mode


def figures_dir(environ=None) -> str:
    """Where a notebook saves its figures: ``RNNVIZ_OUT``, else ``../out/figures`` (the repository's
    ``out/figures`` seen from ``notebooks/``)."""
    environ = os.environ if environ is None else environ
    return environ.get("RNNVIZ_OUT", "../out/figures")


def by_mode(mode: str, smoke, demo, full):
    """The value for ``mode`` among ``smoke``, ``demo`` and ``full``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    return {"smoke": smoke, "demo": demo, "full": full}[mode]


__all__ = ["MODES", "by_mode", "figures_dir", "run_mode"]
