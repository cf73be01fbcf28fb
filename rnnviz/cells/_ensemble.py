"""Building ensembles from single cells (and back, with ``cell.member(i)``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._base import RecurrentCell


class Ensemble:
    """Namespace for ensemble construction. An ensemble is an ordinary cell built with ``n_models=E``."""

    @staticmethod
    def stack(cells: Sequence[RecurrentCell]) -> RecurrentCell:
        """One ensemble cell whose member i has the weights of ``cells[i]``.

        All cells must be single (not ensembles) and share class, sizes and options.
        """
        cells = list(cells)
        if not cells:
            raise ValueError("cells must be a non-empty sequence of single cells, got an empty one")
        first = cells[0]
        for i, c in enumerate(cells):
            if not isinstance(c, RecurrentCell):
                raise TypeError(f"cells[{i}] must be an rnnviz cell, got {type(c).__name__}")
            if c.is_ensemble:
                raise ValueError(f"cells[{i}] is already an ensemble (n_models={c.n_models}); stack single cells")
            same = (type(c), c.input_size, c.hidden_size, c._options(), c.batch_first)
            want = (type(first), first.input_size, first.hidden_size, first._options(), first.batch_first)
            if same != want:
                raise ValueError(f"cells[{i}] differs from cells[0]: {same[1:]} vs {want[1:]} "
                                 "(sizes, options, batch_first must match)")
        ens = first._sibling(n_models=len(cells))
        with torch.no_grad():
            for name, dst in ens.named_parameters():
                dst.copy_(torch.stack([dict(c.named_parameters())[name] for c in cells]))
        return ens


stack_cells = Ensemble.stack
