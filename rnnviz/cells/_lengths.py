"""Ensembles of sequences of different lengths: model e reads only the first ``lengths[e]`` steps.

An ensemble that trains models on tasks of different lengths (the capacity study's protocol 1, say)
pads each model's sequences after their end to the longest. ``cell(x, lengths=...)`` then means,
for every backend:

- model e's outputs at steps ``t ≥ lengths[e]`` are zeros (so a loss there carries no gradient);
- its final state is its state after step ``lengths[e]``, as if its sequence had ended there (like
  ``torch.nn.utils.rnn.pack_padded_sequence``): its padding never reaches the state.

A backend that skips the padding itself registers where it does (``lengths=`` of
:func:`~rnnviz.cells.register_backend`): the CPU kernels of the dense cells run each model over its
own steps only. Elsewhere :func:`run_with_lengths` runs the whole padded sequence, zeroes the outputs
past each length, and reruns the shorter prefixes for the final states: the same numbers, at more
cost (:class:`~rnnviz.train.SequenceModel`, which discards the states, asks :func:`skips_padding` and
masks its outputs instead).
"""

from __future__ import annotations

import functools

import torch

from .._checks import check_lengths
from . import _backends


def checked_lengths(cell, x: torch.Tensor, lengths) -> list[int] | None:
    """``lengths`` for the canonical ``x (E, T, B, m)`` of an ensemble ``cell`` as E ints in [1, T],
    or None when every model runs all T steps; a ValueError names what is wrong."""
    if not cell.is_ensemble:
        raise ValueError(f"lengths is for an ensemble (one sequence length per model); this "
                         f"{cell.kind!r} cell is a single model: pass x[:length] instead")
    T = x.shape[-3]
    values = check_lengths("lengths", lengths, cell.n_models, T)
    return None if all(v == T for v in values) else values


def skips_padding(cell, x: torch.Tensor, backend: str = "auto") -> bool:
    """Whether ``backend`` runs ``cell`` on ``x`` (canonical layout) over each model's own steps
    only, skipping the padding, when given ``lengths``."""
    return _backends.takes_lengths(backend, cell, x)


def zero_past(y: torch.Tensor, lengths) -> torch.Tensor:
    """``y (E, T, …)`` with ``y[e, t] = 0`` for ``t ≥ lengths[e]`` (a new tensor; gradients flow
    through the kept entries only)."""
    keep = _keep(tuple(lengths), y.shape[1], y.dim(), y.device, y.dtype)
    return y * keep


@functools.lru_cache(maxsize=64)
def _keep(lengths: tuple[int, ...], T: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The mask of :func:`zero_past`, ``(E, T, 1, …)`` of ``dtype``: 1 before each length, 0 from it on
    (cached: a training loop asks for the same one at every step)."""
    ends = torch.tensor(lengths, device=device)
    keep = torch.arange(T, device=device) < ends[:, None]  # (E, T)
    return keep.view(*keep.shape, *(1,) * (dim - 2)).to(dtype)


def run_with_lengths(cell, chosen: _backends.Backend, x: torch.Tensor, s0: torch.Tensor, lengths: list[int],
                     **options):
    """``(y, s)`` of ``cell`` on the canonical ``x (E, T, B, m)``, ``s0 (E, B, S)``, model e ending
    at step ``lengths[e]`` (see the module docstring), by the backend ``chosen``; ``options`` (its
    ``input_map``, say) go to each of its calls."""
    fn = chosen.fn
    if chosen.skips_padding(cell, x):
        return fn(cell, x, s0, lengths=lengths, **options)
    y, s = fn(cell, x, s0, **options)  # the whole padded sequences, then each model's own end
    ends = torch.as_tensor(lengths, device=s.device)
    for L in sorted(set(lengths) - {x.shape[-3]}):
        _, s_at = fn(cell, x[:, :L], s0, **options)
        s = torch.where((ends == L).view(-1, 1, 1), s_at, s)
    return zero_past(y, lengths), s
