"""The one home of rnnviz's argument checks: every error names the argument, the value and what was
expected. Imports nothing from rnnviz, so any module may use it.

>>> check_int("hidden_size", 0)
Traceback (most recent call last):
ValueError: hidden_size must be an integer >= 1, got 0
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Iterable


def check_int(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` when it is an integer (a Python or NumPy integer, not a bool, never
    a float such as 0.4 or 2.0) in ``[minimum, maximum]``; otherwise a TypeError (not an integer) or
    ValueError (out of range) that names ``name``, the value and the range."""
    want = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {want}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` when it is ``True`` or ``False``; otherwise a TypeError naming ``name`` and the
    value (a string such as ``"no"`` would otherwise count as true)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def check_optional_int(name: str, value, minimum: int = 1) -> int | None:
    """:func:`check_int`, or None."""
    return None if value is None else check_int(name, value, minimum)


def check_choice(name: str, value, choices: Iterable):
    """Return ``value`` when it is one of ``choices``; otherwise a ValueError listing them."""
    choices = list(choices)
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a set-like container
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_number(name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Return ``float(value)`` when it is a finite real number within the bounds (open or closed);
    otherwise a TypeError/ValueError naming ``name``, the value and the interval."""
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number in {interval}, got {value!r} ({type(value).__name__})")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def check_positive(name: str, value) -> float:
    """A finite number > 0."""
    return check_number(name, value, low=0.0, low_open=True)


def check_probability(name: str, value, *, open_low: bool = False) -> float:
    """A number in [0, 1] (``(0, 1]`` with ``open_low``)."""
    return check_number(name, value, low=0.0, high=1.0, low_open=open_low)


def check_lengths(name: str, lengths, count: int, longest: int) -> list[int]:
    """``lengths`` (a sequence of ints, or a 1-D integer tensor or array) as a list of ``count`` ints in
    ``[1, longest]``: the sequence lengths of an ensemble's models, one each; otherwise a ValueError
    that names ``name``, the values and what was expected."""
    values = lengths.tolist() if hasattr(lengths, "tolist") else lengths
    want = f"{count} integers in [1, {longest}] (one per model, at most the sequence length)"
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be {want}, got {values!r}")
    values = list(values)
    integers = (all(type(v) is int for v in values)  # the common case first: isinstance on an ABC is slow
                or all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values))
    if len(values) != count or not count or not integers or not 1 <= min(values) <= max(values) <= longest:
        raise ValueError(f"{name} must be {want}, got {values!r}")
    return [int(v) for v in values]


def check_time_limit(time_limit) -> float | None:
    """``time_limit`` in seconds: None (no limit) or a positive finite number."""
    if time_limit is None:
        return None
    return check_positive("time_limit (seconds)", time_limit)


def check_limits(time_limit, hard_limit) -> tuple[float | None, float | None]:
    """A long run's two limits, in seconds: ``time_limit`` (no new work starts after it) and
    ``hard_limit`` (the work in flight stops too, at its next checkpoint), each None or a positive
    finite number, the hard one at least the other. Returns both, ``time_limit`` defaulting to
    ``hard_limit``."""
    check_time_limit(time_limit)
    if hard_limit is None:
        return time_limit, None
    check_positive("hard_limit (seconds)", hard_limit)
    if time_limit is not None and hard_limit < time_limit:
        raise ValueError(f"hard_limit must be at least time_limit ({time_limit} s), got {hard_limit}")
    return (hard_limit if time_limit is None else time_limit), hard_limit


class EnvironmentVariableError(ValueError):
    """An environment variable that rnnviz reads (``RNNVIZ_BACKEND``, ``RNNVIZ_START_METHOD``) holds a
    value it does not take: a user error, which the ``rnnviz`` command answers in one line."""


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def require(module: str, extra: str, purpose: str):
    """Import ``module`` (e.g. ``"dask.distributed"``) for ``purpose``, or raise :class:`MissingDependency`
    naming the ``pip install 'rnnviz[extra]'`` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependency(
            f"{purpose} needs {module}, which is not installed: pip install 'rnnviz[{extra}]' ({err})"
        ) from err
