"""A sequence model: input map → recurrent cell(s) → linear readout, for one model or an ensemble.

::

    e_t = W_e x_t                      (embedding; skipped when the cell reads x_t directly)
    y^1_t, s^1 = cell_1(e_{1..T});  y^l_t = cell_l(y^{l-1}_{1..T})   (n_layers cells)
    o_t = W_o y^L_t + b_o              (linear readout: logits or regression outputs)

With ``n_models=E`` every parameter carries a leading E axis and the E members are independent
models evaluated together (one batched matmul per step): inputs ``(E, T, B, m)``, or ``(T, B, m)``
broadcast to every member; outputs ``(E, T, B, output_size)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import cells as _cells
from .._checks import check_int
from ..cells import Trace, count_parameters, resolve_backend
from ..cells._lengths import checked_lengths, skips_padding, zero_past
from ..cells._ops import member_map


class SequenceModel(nn.Module):
    """Input map → ``n_layers`` cells → linear readout.

    Args:
        cell: a name from ``rnnviz.cells.names()``.
        input_size: m, features per input step (the one-hot width for symbol tasks).
        hidden_size: n, units per cell.
        output_size: outputs per step (classes for classification).
        n_layers: stacked cells; layer l > 1 reads the outputs of layer l − 1.
        embedding: ``True``: a learned ``n × m`` input map (an embedding lookup for one-hot inputs),
            ``False``: the cell reads x directly; ``None`` (default): only where the cell needs
            its input in state coordinates (the IRC/IHC variants need m = n).
        n_models: None for one model or E for an ensemble of E independent models.
        cell_options: extra options for ``rnnviz.cells.make`` (e.g. ``{"output_map": False}``).
        device, dtype: where and in what precision to create the parameters.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        n_layers: int = 1,
        embedding: bool | None = None,
        n_models: int | None = None,
        cell_options: dict | None = None,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if cell not in _cells.names():
            raise ValueError(f"cell must be one of {list(_cells.names())}, got {cell!r}")
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("output_size", output_size),
            ("n_layers", n_layers),
        ):
            check_int(name, value)
        self.cell_name = cell
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.n_layers, self.n_models = n_layers, n_models
        self.cell_options = dict(cell_options or {})
        needs_square = _cells.needs_square_input(cell)
        self.embedding = (
            (needs_square and input_size != hidden_size) if embedding is None else bool(embedding)
        )
        factory = {"device": device, "dtype": dtype}
        lead = () if n_models is None else (n_models,)
        if self.embedding:
            # N(0, 1) like nn.Embedding: for one-hot x, W_e x is the embedding of the symbol.
            self.embedding_weight = nn.Parameter(torch.randn(*lead, hidden_size, input_size, **factory))
        width = hidden_size if self.embedding else input_size
        layers = []
        for _ in range(n_layers):
            layer = _cells.make(cell, width, hidden_size, n_models=n_models, **factory, **self.cell_options)
            layers.append(layer)
            width = layer.output_size
        self.cells = nn.ModuleList(layers)
        bound = 1.0 / math.sqrt(width)  # nn.Linear's init
        self.readout_weight = nn.Parameter(
            torch.empty(*lead, output_size, width, **factory).uniform_(-bound, bound)
        )
        self.readout_bias = nn.Parameter(torch.empty(*lead, output_size, **factory).uniform_(-bound, bound))

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        """Outputs for inputs x: ``(T, B, m) → (T, B, output_size)``; ensembles ``(E, T, B, m)`` (or a
        shared ``(T, B, m)``) ``→ (E, T, B, output_size)``.

        ``lengths`` (ensembles): E ints in [1, T], member e's sequences end at step ``lengths[e]``
        and are padded after it (as :meth:`rnnviz.tasks.Task.ensemble_sampler` pads tasks of
        different lengths). Its outputs from there on are zeros, and where the backend can (the CPU
        kernels of the dense cells) its padding steps are not computed at all."""
        h = self._layout(x)
        if lengths is not None:
            lengths = checked_lengths(self.cells[0], h, lengths)
        for i, layer in enumerate(self.cells):
            # the embedding is the first cell's input map: the CPU kernels fold it into the cell's own
            # input weights (fewer products when m < n); elsewhere the cell embeds first
            mapped = {"input_map": self.embedding_weight} if i == 0 and self.embedding else {}
            if lengths is None:
                h, _ = layer(h, **mapped)
                continue
            # the backend is resolved once; one that cannot skip the padding runs it (the outputs are
            # masked below), so that no prefix is rerun for final states that are discarded here
            backend = resolve_backend(layer, h)
            h, _ = layer(h, backend=backend, lengths=lengths if skips_padding(layer, h, backend) else None,
                         **mapped)
        y = self.read_out(h)
        return y if lengths is None else zero_past(y, lengths)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The first cell's inputs: ``W_e x`` with the embedding, else x itself (``(…, T, B, ·)``)."""
        return member_map(x, self.embedding_weight) if self.embedding else x

    def read_out(self, y: torch.Tensor) -> torch.Tensor:
        """The readout ``W_o y + b_o`` of the last cell's outputs: ``(…, T, B, out)``."""
        return member_map(y, self.readout_weight, self.readout_bias)

    def trace(self, x: torch.Tensor, *, layers: int | None = None) -> list[Trace]:
        """Run a single model on inputs x ``(T, B, m)`` and return one :class:`rnnviz.Trace` per layer
        (no gradients).

        Each trace holds the states ``(T+1, B, S)``, the outputs and the gates of its cell, and the
        inputs ``(T, B, cell.input_size)`` it read. ``layers``: trace only the first ``layers`` layers.
        """
        if self.n_models is not None:
            raise ValueError("trace needs a single model; for an ensemble use model.member(i).trace(x)")
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must be a tensor (T, B, {self.input_size}), got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        n = len(self.cells) if layers is None else layers
        check_int("layers", n, 1, len(self.cells))
        traces = []
        with torch.no_grad():
            h = self.embed(self._layout(x))
            for cell in list(self.cells)[:n]:
                traces.append(cell.trace(h))
                h = traces[-1].outputs
        return traces

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"x has {x.shape[-1]} features on its last axis, expected input_size={self.input_size}"
            )
        p = self.readout_weight
        x = x.to(p.dtype)
        if self.n_models is None:
            if x.dim() != 3:
                raise ValueError(f"x must have shape (T, B, input_size), got {tuple(x.shape)}")
            return x
        if x.dim() == 3:
            return x.unsqueeze(0).expand(self.n_models, *x.shape)  # (E, T, B, m): the same batch for all
        if x.dim() != 4 or x.shape[0] != self.n_models:
            raise ValueError(
                f"x must have shape (E={self.n_models}, T, B, input_size) or (T, B, input_size), "
                f"got {tuple(x.shape)}"
            )
        return x

    # ------------------------------------------------------------------ sizes
    @property
    def cell_parameters(self) -> int:
        """Parameters of the recurrent cell(s) of one member (no input map, no readout)."""
        return sum(count_parameters(c) for c in self.cells)

    @property
    def input_and_cell_parameters(self) -> int:
        """Parameters of one member's maps from the input to the state: the input map ``W_e`` (n × m,
        when the model has one: the IRC/IHC cells' embedding) and the cell(s). Only the readout
        ``W_o, b_o`` is left out (it is in :attr:`total_parameters`); the capacity study's
        ``n_parameters``."""
        return self.cell_parameters + (self.hidden_size * self.input_size if self.embedding else 0)

    @property
    def total_parameters(self) -> int:
        """All parameters of one member: input map, cell(s) and readout."""
        return count_parameters(self)

    def config(self) -> dict:
        """JSON-serialisable constructor arguments (without device and dtype)."""
        return {
            "cell": self.cell_name,
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "n_layers": self.n_layers,
            "embedding": self.embedding,
            "n_models": self.n_models,
            "cell_options": self.cell_options,
        }

    # ------------------------------------------------------------------ ensembles
    def member(self, i: int) -> SequenceModel:
        """Member ``i`` of an ensemble as a single model with a copy of its weights."""
        if self.n_models is None:
            raise ValueError("member() needs an ensemble (a model built with n_models=E)")
        if not -self.n_models <= i < self.n_models:
            raise IndexError(f"member index {i} out of range for n_models={self.n_models}")
        p = self.readout_weight
        single = SequenceModel(**{**self.config(), "n_models": None}, device=p.device, dtype=p.dtype)
        with torch.no_grad():
            for dst, src in zip(single.parameters(), self.parameters(), strict=True):
                dst.copy_(src[i])
        return single

    def select(self, members: Sequence[int]) -> SequenceModel:
        """An ensemble of the given members of this one, in that order, with copies of their weights.

        It leaves torch's random generator where it was (built on the CPU inside
        ``torch.random.fork_rng``, then filled and moved), so it can run in the middle of a seeded
        computation: :func:`~rnnviz.train.fit` sets members that have stopped aside with it. (Not on
        the meta device: ``to_empty`` imports sympy, about half a second in every fresh process.)"""
        if self.n_models is None:
            raise ValueError("select() needs an ensemble (a model built with n_models=E)")
        chosen = [int(i) for i in members]
        if not chosen or any(not 0 <= i < self.n_models for i in chosen):
            raise ValueError(f"members must be a non-empty sequence of indices in [0, {self.n_models}), got {chosen}")
        p = self.readout_weight
        with torch.random.fork_rng(devices=[]):  # the CPU generator only: the model is built there
            picked = SequenceModel(**{**self.config(), "n_models": len(chosen)}, dtype=p.dtype).to(p.device)
        index = torch.tensor(chosen, device=p.device)
        with torch.no_grad():
            for dst, src in zip(picked.parameters(), self.parameters(), strict=True):
                dst.copy_(src.index_select(0, index))
                dst.requires_grad_(src.requires_grad)
        picked.train(self.training)
        return picked

    @staticmethod
    def stack(models: Sequence[SequenceModel]) -> SequenceModel:
        """One ensemble whose member i has the weights of ``models[i]`` (single models, same config)."""
        models = list(models)
        if not models:
            raise ValueError("models must be a non-empty sequence of single models, got an empty one")
        first = models[0].config()
        for i, m in enumerate(models):
            if not isinstance(m, SequenceModel) or m.n_models is not None:
                raise ValueError(f"models[{i}] must be a single SequenceModel")
            if m.config() != first:
                raise ValueError(f"models[{i}] has config {m.config()}, expected {first}")
        p = models[0].readout_weight
        ens = SequenceModel(**{**first, "n_models": len(models)}, device=p.device, dtype=p.dtype)
        with torch.no_grad():
            for name, dst in ens.named_parameters():
                dst.copy_(torch.stack([dict(m.named_parameters())[name] for m in models]))
        return ens


def trace_model(model: SequenceModel, x: torch.Tensor, *, layers: int | None = None) -> list[Trace]:
    """:meth:`SequenceModel.trace` as a function: one :class:`rnnviz.Trace` per layer of a single model."""
    if not isinstance(model, SequenceModel):
        raise TypeError(f"model must be a rnnviz.train.SequenceModel, got {type(model).__name__}")
    return model.trace(x, layers=layers)
