"""Cells by name: ``make("irc_gru", 32, 32)`` and ``names()``."""

from __future__ import annotations

import inspect

from ._base import RecurrentCell
from ._elman import RNN
from ._fastgrnn import FastGRNN
from ._gru import GRU
from ._lstm import LSTM
from ._pru import PRU
from ._sru import SRU
from ._trnn import TRNN

# name -> (class, options that define the variant)
_CELLS: dict[str, tuple[type[RecurrentCell], dict]] = {
    "pru": (PRU, {}),
    "sru": (SRU, {}),
    "gru": (GRU, {}),
    "lstm": (LSTM, {}),
    "rnn": (RNN, {}),
    "fastgrnn": (FastGRNN, {}),
    "trnn": (TRNN, {}),
    "irc_gru": (GRU, {"irc": True}),
    "irc_lstm": (LSTM, {"irc": True}),
    "ihc_lstm": (LSTM, {"ihc": True}),
    "irc_sru": (SRU, {"irc": True}),
    "irc_trnn": (TRNN, {"irc": True}),
}
_COMMON = {"batch_first", "n_models", "device", "dtype", "generator"}


def names() -> tuple[str, ...]:
    """Every name :func:`make` accepts."""
    return tuple(_CELLS)


def allowed_options(name: str) -> tuple[str, ...]:
    """Options :func:`make` accepts for ``name`` (besides the sizes)."""
    cls, fixed = _lookup(name)
    params = inspect.signature(cls.__init__).parameters
    own = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
    return tuple(sorted((own | _COMMON) - set(fixed)))


def needs_square_input(name: str) -> bool:
    """Whether the cell registered as ``name`` adds its input to the state (the IRC/IHC variants), so
    that :func:`make` needs ``input_size == hidden_size``."""
    _, fixed = _lookup(name)
    return bool(fixed.get("irc") or fixed.get("ihc"))


def _lookup(name: str):
    if not isinstance(name, str) or name not in _CELLS:
        raise ValueError(f"name must be one of {list(_CELLS)}, got {name!r}")
    return _CELLS[name]


def make(name: str, input_size: int, hidden_size: int, **options) -> RecurrentCell:
    """Build the cell registered as ``name`` (see :func:`names`).

    Options are the class's keyword options (e.g. ``output_map`` for "pru", ``version`` for "sru")
    plus ``batch_first``, ``n_models``, ``device``, ``dtype`` and ``generator`` (for the initial
    weights). Variant names fix their own options
    ("irc_gru" is ``GRU(irc=True)``), so those can't be passed again.
    """
    cls, fixed = _lookup(name)
    allowed = allowed_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for cell {name!r}; expected some of {list(allowed)}")
    return cls(input_size, hidden_size, **fixed, **options)
