"""Registry of implementations ("backends") that run a cell over a sequence.

A backend is a function ``fn(cell, x, s0) -> (y, s_final)`` on the canonical layout: x ``(T, B, m)``
(ensembles ``(E, T, B, m)``), s0 ``(B, S)`` (``(E, B, S)``), always given. ``"reference"`` is the
plain loop in :mod:`rnnviz.cells._base`; faster backends register here and are tested against it.
"""

from __future__ import annotations

from collections.abc import Callable

_BACKENDS: dict[str, Callable] = {}


def register_backend(name: str, fn: Callable) -> None:
    """Make ``fn`` available as ``cell(x, s0, backend=name)``."""
    if not isinstance(name, str) or not name or name == "auto":
        raise ValueError(f"backend name must be a non-empty string other than 'auto', got {name!r}")
    _BACKENDS[name] = fn


def available_backends() -> tuple[str, ...]:
    """Names accepted by ``backend=`` (besides "auto")."""
    return tuple(sorted(_BACKENDS))


def resolve_backend(cell, x) -> str:
    """The backend "auto" picks for this cell and input (canonical layout).

    "triton" when x is on a CUDA device, triton imports and the kernels support the cell and dtype;
    "reference" otherwise (always on CPU). The rule lives in :mod:`rnnviz.kernels._dispatch`.
    """
    from ..kernels._dispatch import auto_backend

    return auto_backend(cell, x)


def get(name: str, cell, x) -> Callable:
    """The backend function for ``name`` ("auto" resolves by :func:`resolve_backend`)."""
    if name == "auto":
        name = resolve_backend(cell, x)
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f"backend must be 'auto' or one of {list(available_backends())}, "
                         f"got {name!r}") from None
