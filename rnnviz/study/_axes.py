"""Reading one axis of a study's grid (cells, hidden sizes, lengths, seeds): any iterable, read once,
each entry checked, repeated entries merged with a warning."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable


def read_axis(name: str, values, read: Callable, *, warn: bool = True, stacklevel: int = 3,
              show: Callable | None = None) -> tuple:
    """The entries of ``values`` as a tuple without repeats, each passed through ``read(label, entry)``.

    ``values`` may be any iterable (a list, a tuple, a range, a generator: read once) but not a string,
    bytes or a dict, and must not be empty. ``read`` checks one entry and returns its canonical value;
    ``label`` is ``name[i]``, so an error names the axis, the entry's index and (``read``'s message) the
    value. Entries with the same canonical value name the same models: they are merged (first
    occurrence kept), with a UserWarning when ``warn`` that lists them (each through ``show`` when
    given, e.g. a number of symbols shown as bits).
    """
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a non-empty iterable (a list, a tuple, ...) of entries, got {values!r}")
    entries = [read(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if not entries:
        raise ValueError(f"{name} must be a non-empty iterable of entries, got an empty one")
    unique = tuple(dict.fromkeys(entries))
    if warn and len(unique) < len(entries):
        repeated = [e if show is None else show(e) for e in unique if entries.count(e) > 1]
        warnings.warn(f"{name} names the same models more than once ({repeated}): each is trained and counted once "
                      f"({len(unique)} distinct entries of {len(entries)})", UserWarning, stacklevel=stacklevel)
    return unique
