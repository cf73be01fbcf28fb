"""Registry of implementations ("backends") that run a cell over a sequence, and the rule behind
``backend="auto"``.

A backend is a function ``fn(cell, x, s0) -> (y, s_final)`` on the canonical layout: x ``(T, B, m)``
(ensembles ``(E, T, B, m)``), s0 ``(B, S)`` (``(E, B, S)``), always given. ``"reference"`` is the
plain loop in :mod:`rnnviz.cells._base`; faster backends register here and are tested against it.

An ensemble may run models of different sequence lengths (``cell(x, lengths=...)``): a backend that
skips each model's padding itself says where through ``lengths(cell, x) -> bool`` and is then called
as ``fn(cell, x, s0, lengths=[…])``; for the others the cell runs the whole padded sequence and
finishes the job (:meth:`rnnviz.cells.RecurrentCell.forward`).

A cell may read its inputs through a linear map, ``cell(x, input_map=W)`` meaning ``cell(W x)`` (a
:class:`~rnnviz.train.SequenceModel`'s embedding): a backend that folds the map into its own input
projection says where through ``input_map(cell, x) -> bool`` and is then called as
``fn(cell, x, s0, input_map=W)`` with x of the map's k features; for the others the cell maps x
first.

Each backend says what it supports through ``auto_when(cell, x) -> bool``: ``backend="auto"`` picks
the registered backend of highest ``priority`` whose ``auto_when`` accepts the cell and the input,
and the reference otherwise. The environment variable ``RNNVIZ_BACKEND`` (e.g. ``reference``) pins
what ``"auto"`` means for a whole process (every cell, study and notebook), for debugging and for
before/after measurements; a backend asked for by name is not affected. The registry imports no backend: each adapter module (e.g.
:mod:`rnnviz.cells._triton`) registers itself when :mod:`rnnviz.cells` is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._checks import EnvironmentVariableError
from ..kernels.cpu import pinned_backend


@dataclass(frozen=True)
class Backend:
    """A registered backend: its function, when ``"auto"`` may pick it, and its rank among those."""

    name: str
    fn: Callable
    auto_when: Callable | None = None
    priority: int = 0
    lengths: Callable | None = None
    input_map: Callable | None = None

    def skips_padding(self, cell, x) -> bool:
        """Whether ``fn`` runs per-model sequence lengths itself for this cell and input."""
        return self.lengths is not None and bool(self.lengths(cell, x))

    def folds_input_map(self, cell, x) -> bool:
        """Whether ``fn`` folds an input map into its own input projection for this cell and input
        (x with the map's features)."""
        return self.input_map is not None and bool(self.input_map(cell, x))


_BACKENDS: dict[str, Backend] = {}


def register_backend(name: str, fn: Callable, *, auto_when: Callable | None = None, priority: int = 0,
                     lengths: Callable | None = None, input_map: Callable | None = None) -> None:
    """Make ``fn`` available as ``cell(x, s0, backend=name)``.

    ``auto_when(cell, x) -> bool`` (x in canonical layout): whether ``backend="auto"`` may choose this
    backend; None means never (it runs only when asked by name). Among the backends that accept,
    the highest ``priority`` wins. ``lengths(cell, x) -> bool``: whether ``fn`` runs an ensemble's
    per-model sequence lengths itself, as ``fn(cell, x, s0, lengths=[…])`` (E ints in [1, T]; zero
    outputs from each model's length on, and its state after its own last step); None means never.
    ``input_map(cell, x) -> bool`` (x with the map's k features): whether ``fn`` folds a cell's input
    map ``W`` (``cell(x, input_map=W)``) into its own input projection, as ``fn(cell, x, s0,
    input_map=W)``; None means never (the cell applies the map first).
    """
    if not isinstance(name, str) or not name or name == "auto":
        raise ValueError(f"backend name must be a non-empty string other than 'auto', got {name!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    for what, value in (("auto_when", auto_when), ("lengths", lengths), ("input_map", input_map)):
        if value is not None and not callable(value):
            raise TypeError(f"{what} must be callable or None, got {type(value).__name__}")
    _BACKENDS[name] = Backend(name, fn, auto_when, priority, lengths, input_map)


def available_backends() -> tuple[str, ...]:
    """Names accepted by ``backend=`` (besides "auto")."""
    return tuple(sorted(_BACKENDS))


def resolve_backend(cell, x) -> str:
    """The backend ``"auto"`` picks for this cell and input (canonical layout): the accepting backend
    of highest priority ("triton" on CUDA when triton and the kernels support the cell and dtype),
    else "reference"."""
    pinned = pinned_backend()
    if pinned != "auto":
        if pinned not in _BACKENDS:
            raise EnvironmentVariableError(f"the environment variable RNNVIZ_BACKEND must be 'auto' or one of "
                                           f"{list(available_backends())}, got {pinned!r}")
        return pinned
    ranked = sorted(_BACKENDS.values(), key=lambda b: -b.priority)
    for backend in ranked:
        if backend.auto_when is not None and backend.auto_when(cell, x):
            return backend.name
    return "reference"


def get(name: str, cell, x) -> Callable:
    """The backend function for ``name`` ("auto" resolves by :func:`resolve_backend`)."""
    return lookup(name, cell, x).fn


def takes_lengths(name: str, cell, x) -> bool:
    """Whether backend ``name`` ("auto" resolved) skips the padding of an ensemble of sequences of
    different lengths itself for this cell and input (see :func:`register_backend`)."""
    return lookup(name, cell, x).skips_padding(cell, x)


def lookup(name: str, cell, x) -> Backend:
    """The registered :class:`Backend` called ``name`` ("auto" resolved by :func:`resolve_backend`);
    a ValueError lists the names when there is none."""
    if name == "auto":
        name = resolve_backend(cell, x)
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f"backend must be 'auto' or one of {list(available_backends())}, "
                         f"got {name!r}") from None
