"""The base class every rnnviz cell derives from: input checking, layouts, ``step``, ``trace``.

A cell defines its math through three hooks, all written for one time step or for all steps at
once and for a single model or an ensemble alike (see :mod:`rnnviz.cells._ops`):

- ``_project_input(x)``: the input-only part of every step, for all steps at once (one GEMM);
- ``_step(xp_t, x_t, s) -> (s_next, h_t, gates)``: one step on the flat state;
- ``_readout(h)``: the output map applied to all pre-outputs at once (identity by default).

The reference implementation is the plain loop in :func:`reference_forward`; fast backends register
in :mod:`rnnviz.cells._backends` and are tested against it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_bool, check_int
from . import _backends
from ._layout import GateLayout
from ._lengths import checked_lengths, run_with_lengths, zero_past
from ._ops import linear, member_map, residual_projection
from ._params import count_parameters
from ._trace import Trace


def require_square(cell: RecurrentCell, variant: str) -> None:
    """IRC/IHC feed x into the state's coordinates, so they need input_size == hidden_size."""
    if cell.input_size != cell.hidden_size:
        raise ValueError(f"{variant} needs input_size == hidden_size (the input is added to the state's "
                         f"coordinates), got input_size={cell.input_size}, hidden_size={cell.hidden_size}")


class RecurrentCell(nn.Module):
    """Base class of rnnviz cells. Subclasses set ``base_kind``, ``gate_names``, ``gate_layout`` (where
    each gate and the candidate sit in the packed parameters, :class:`~rnnviz.cells.GateLayout`) and
    the math hooks.

    Args:
        input_size: m, features of each input step.
        hidden_size: n, units of the cell.
        batch_first: inputs and outputs are ``(B, T, ·)`` instead of ``(T, B, ·)``.
        n_models: None for one model, or E for an ensemble of E independent models whose
            parameters carry a leading E axis; inputs are then ``(E, T, B, m)``.
        device, dtype: where and in what precision to create the parameters.
        generator: a ``torch.Generator`` (on ``device``) for the initial weights; None draws from
            torch's global generator. The same seed gives the same weights, and torch's global
            random state is left untouched.
    """

    base_kind: str = ""
    gate_names: tuple[str, ...] = ()
    gate_layout: GateLayout  # declared by every cell class (a property where options change it)

    def __init__(self, input_size: int, hidden_size: int, *, batch_first: bool = False,
                 n_models: int | None = None, device=None, dtype=None,
                 generator: torch.Generator | None = None):
        super().__init__()
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self._init_generator = generator  # used once by the subclass's first reset_parameters()
        self.input_size = check_int("input_size", input_size)
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.batch_first = check_bool("batch_first", batch_first)
        self.n_models = None if n_models is None else check_int("n_models", n_models)
        self._factory = {"device": device, "dtype": dtype}
        if dtype is not None and not torch.empty((), dtype=dtype).is_floating_point():
            raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")

    # ----------------------------------------------------------------- construction helpers
    def _options(self) -> dict:
        """The cell-specific constructor options (besides sizes, batch_first and n_models)."""
        return {}

    def _new_parameter(self, *shape: int) -> nn.Parameter:
        lead = () if self.n_models is None else (self.n_models,)
        return nn.Parameter(torch.empty(*lead, *shape, **self._factory))

    def _construction_generator(self) -> torch.Generator | None:
        """The ``generator`` given to the constructor, handed out once (the cell keeps no reference)."""
        return self.__dict__.pop("_init_generator", None)

    def _init_uniform(self, bound: float, *params: torch.Tensor, generator: torch.Generator | None = None) -> None:
        with torch.no_grad():
            for p in params:
                p.uniform_(-bound, bound, generator=generator)

    @property
    def kind(self) -> str:
        """The registry name of this cell: "gru", "irc_gru", "ihc_lstm", … (see ``rnnviz.cells.names()``)."""
        if getattr(self, "ihc", False):
            return "ihc_" + self.base_kind
        if getattr(self, "irc", False):
            return "irc_" + self.base_kind
        return self.base_kind

    @property
    def state_size(self) -> int:
        """Size of the flat state s (n; LSTM: 2n for [h; c])."""
        return self.hidden_size

    @property
    def output_size(self) -> int:
        """Size of each output y_t."""
        return self.hidden_size

    @property
    def is_ensemble(self) -> bool:
        return self.n_models is not None

    def _first_parameter(self) -> torch.Tensor:
        return next(self.parameters())

    # ----------------------------------------------------------------- math hooks
    def _project_input(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _step(self, xp_t: torch.Tensor, x_t: torch.Tensor, s: torch.Tensor):
        raise NotImplementedError

    def _readout(self, h: torch.Tensor) -> torch.Tensor:
        return h

    # ----------------------------------------------------------------- input checking
    def _check_tensor(self, name: str, t) -> None:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        p = self._first_parameter()
        if t.device != p.device:
            raise ValueError(f"{name} is on device {t.device} but the cell's parameters are on "
                             f"{p.device}; move one of them with .to(device)")
        if t.dtype != p.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but the cell's parameters are {p.dtype}; "
                            f"convert with cell.to({t.dtype}) or {name}.to({p.dtype})")

    def _sequence_layout(self, x, features: int | None = None) -> tuple[torch.Tensor, bool]:
        """Check x and return it in canonical layout (T, B, m) / (E, T, B, m), and whether it was unbatched.
        ``features``: the k features x has when it is read through an input map (else input_size)."""
        self._check_tensor("x", x)
        order = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
        if self.is_ensemble:
            E = self.n_models
            if x.dim() != 4:
                want = "(E, B, T, input_size)" if self.batch_first else "(E, T, B, input_size)"
                raise ValueError(f"x must have 4 dimensions {want} for an ensemble of {E} models, "
                                 f"got shape {tuple(x.shape)}")
            if x.shape[0] != E:
                raise ValueError(f"x has {x.shape[0]} models on its first axis, expected n_models={E}")
        elif x.dim() not in (2, 3):
            raise ValueError(f"x must have 3 dimensions {order} or 2 (T, input_size) for an unbatched "
                             f"sequence, got shape {tuple(x.shape)}")
        if features is not None and x.shape[-1] != features:
            raise ValueError(f"x has {x.shape[-1]} features on its last axis, expected the {features} "
                             f"columns of input_map")
        if features is None and x.shape[-1] != self.input_size:
            raise ValueError(f"x has {x.shape[-1]} features on its last axis, expected "
                             f"input_size={self.input_size}")
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)  # (T, 1, m)
        elif self.batch_first:
            x = x.transpose(-3, -2)  # (..., B, T, m) -> (..., T, B, m)
        if x.shape[-3] == 0:
            raise ValueError("x must contain at least one time step, got length 0")
        return x, unbatched

    def _input_map_features(self, input_map) -> int:
        """Check an input map (``(input_size, k)``; an ensemble's ``(E, input_size, k)``) and return k."""
        self._check_tensor("input_map", input_map)
        want = (self.input_size,) if not self.is_ensemble else (self.n_models, self.input_size)
        names = "(input_size, k)" if not self.is_ensemble else "(E, input_size, k)"
        if input_map.dim() != len(want) + 1 or tuple(input_map.shape[:-1]) != want or input_map.shape[-1] < 1:
            raise ValueError(f"input_map must have shape {names} = {(*want, 'k')} with k ≥ 1, "
                             f"got {tuple(input_map.shape)}")
        return input_map.shape[-1]

    def _state_layout(self, name: str, s, batch: int, unbatched: bool) -> torch.Tensor:
        """Check a flat state against the batch and return it as (B, S) / (E, B, S)."""
        self._check_tensor(name, s)
        S = self.state_size
        if unbatched:
            if s.shape != (S,):
                raise ValueError(f"{name} must have shape ({S},) for an unbatched input, got {tuple(s.shape)}")
            return s.unsqueeze(0)
        want = (batch, S) if not self.is_ensemble else (self.n_models, batch, S)
        if tuple(s.shape) != want:
            names = "(B, state_size)" if not self.is_ensemble else "(E, B, state_size)"
            raise ValueError(f"{name} must have shape {names} = {want}, got {tuple(s.shape)}")
        return s

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """Zeros of shape ``(B, state_size)`` (``(E, B, state_size)`` for an ensemble)."""
        p = self._first_parameter()
        lead = () if self.n_models is None else (self.n_models,)
        return torch.zeros(*lead, batch_size, self.state_size, device=p.device, dtype=p.dtype)

    def _prepare(self, x, s0, input_map=None):
        x, unbatched = self._sequence_layout(x, None if input_map is None else self._input_map_features(input_map))
        B = x.shape[-2]
        s0 = self.initial_state(B) if s0 is None else self._state_layout("s0", s0, B, unbatched)
        return x, s0, unbatched

    def _restore_layout(self, y: torch.Tensor, unbatched: bool) -> torch.Tensor:
        """(…, T, B, ·) back to the caller's layout."""
        if unbatched:
            return y.squeeze(-2)
        return y.transpose(-3, -2) if self.batch_first else y

    # ----------------------------------------------------------------- public API
    def forward(self, x: torch.Tensor, s0: torch.Tensor | None = None, *, backend: str = "auto",
                lengths=None, input_map: torch.Tensor | None = None):
        """Run the cell over a sequence.

        Args:
            x: ``(T, B, input_size)`` (``(B, T, ·)`` with batch_first; ``(T, input_size)`` unbatched;
                ensembles ``(E, T, B, input_size)``).
            s0: initial flat state ``(B, state_size)`` (``(E, B, ·)``, or ``(state_size,)`` unbatched);
                zeros when None.
            backend: "auto", "reference", or a registered fast backend.
            lengths: ensembles only, E ints in [1, T] (a list or an integer tensor): model e's
                sequences end at step ``lengths[e]`` and are padded after it. Its outputs from there
                on are zeros and ``s`` holds its state after step ``lengths[e]``
                (:mod:`rnnviz.cells._lengths`; the CPU kernels skip the padding).
            input_map: None, or a matrix W ``(input_size, k)`` (ensembles ``(E, input_size, k)``)
                through which the cell reads its inputs: x then has k features and the cell runs on
                ``W x_t``, exactly ``cell(x @ Wᵀ)`` (a :class:`~rnnviz.train.SequenceModel`'s
                embedding), differentiable in W too. A backend that can folds W into its own input
                projection, ``(W_ih W) x_t`` for ``W_ih (W x_t)``: for k ≤ input_size never more
                multiply-adds over all steps, and fewer calls and copies (the CPU kernels, ensembles
                of dense cells: :func:`rnnviz.cells._input_map.folds_input_map`); the others compute
                ``W x`` first.

        Returns:
            ``(y, s)``: outputs ``(T, B, output_size)`` in the input's layout and the final flat state
            ``(B, state_size)``.
        """
        x, s0, unbatched = self._prepare(x, s0, input_map)
        lengths = None if lengths is None else checked_lengths(self, x, lengths)
        chosen = _backends.lookup(backend, self, x)
        options = {}
        if input_map is not None:
            if chosen.folds_input_map(self, x):
                options["input_map"] = input_map
            else:
                x = member_map(x, input_map)
        if lengths is None:
            y, s = chosen.fn(self, x, s0, **options)
        else:
            y, s = run_with_lengths(self, chosen, x, s0, lengths, **options)
        s = s.squeeze(0) if unbatched else s
        return self._restore_layout(y, unbatched), s

    def step(self, x_t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """One differentiable step on the flat state: ``(B, input_size), (B, state_size) → (B, state_size)``.

        Ensembles: ``(E, B, ·)``. Unbatched ``(input_size,), (state_size,)`` also works.
        """
        self._check_tensor("x_t", x_t)
        lead = 1 if self.is_ensemble else 0
        if x_t.dim() not in (lead + 1, lead + 2) or x_t.shape[-1] != self.input_size:
            want = "(E, B, input_size)" if self.is_ensemble else "(B, input_size) or (input_size,)"
            raise ValueError(f"x_t must have shape {want} with input_size={self.input_size}, "
                             f"got {tuple(x_t.shape)}")
        unbatched = x_t.dim() == lead + 1 and not self.is_ensemble
        x_b = x_t.unsqueeze(0) if unbatched else x_t
        s_b = self._state_layout("s", s, x_b.shape[-2], unbatched)
        s_next = self._step(self._project_input(x_b), x_b, s_b)[0]
        return s_next.squeeze(0) if unbatched else s_next

    def trace(self, x: torch.Tensor, s0: torch.Tensor | None = None) -> Trace:
        """Run the reference loop and record every state, output and gate (see :class:`rnnviz.Trace`)."""
        x_c, s0_c, unbatched = self._prepare(x, s0)
        y, _, states, gates = reference_loop(self, x_c, s0_c, record=True)
        states = torch.cat([s0_c.unsqueeze(-3), states], dim=-3)  # (…, T+1, B, S)
        fix = (lambda t: self._restore_layout(t, unbatched)) if unbatched else (lambda t: t)
        return Trace(
            states=fix(states),
            outputs=fix(y),
            gates={k: fix(v) for k, v in gates.items()},
            inputs=fix(x_c),
        )

    # ----------------------------------------------------------------- ensembles
    def member(self, i: int) -> RecurrentCell:
        """Model ``i`` of an ensemble as a single cell with a copy of its weights."""
        if not self.is_ensemble:
            raise ValueError("member() needs an ensemble (a cell built with n_models=E)")
        if not -self.n_models <= i < self.n_models:
            raise IndexError(f"member index {i} out of range for n_models={self.n_models}")
        single = self._sibling(n_models=None)
        with torch.no_grad():
            for dst, src in zip(single.parameters(), self.parameters(), strict=True):
                dst.copy_(src[i])
        return single

    def _sibling(self, n_models: int | None) -> RecurrentCell:
        """A cell of the same class, sizes and options, on the same device and dtype, with *uninitialised*
        parameters (built on the meta device: no draw from the global random generator) to copy into."""
        p = self._first_parameter()
        cell = type(self)(self.input_size, self.hidden_size, batch_first=self.batch_first, n_models=n_models,
                          device="meta", dtype=p.dtype, **self._options())
        return cell.to_empty(device=p.device)

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        parts += [f"{k}={v!r}" for k, v in self._options().items()]
        if self.batch_first:
            parts.append("batch_first=True")
        if self.is_ensemble:
            parts.append(f"n_models={self.n_models}")
        parts.append(f"parameters={count_parameters(self)}")
        return ", ".join(parts)


class TorchLayoutCell(RecurrentCell):
    """A cell laid out like torch.nn's: ``weight_ih``/``bias_ih`` project the input for every block, and
    every parameter starts ~ U(−1/√n, 1/√n) (torch.nn.RNN/GRU/LSTM's init). RNN, PRU, GRU and LSTM.

    With ``irc`` set, the candidate block of the projection is the input itself (see
    :func:`rnnviz.cells._ops.residual_projection`); ``weight_ih`` then lacks that block's rows.
    """

    irc: bool = False

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """torch.nn's RNN init: every parameter ~ U(−1/√n, 1/√n) (drawn from ``generator`` if given)."""
        self._init_uniform(uniform_bound(self.hidden_size), *self.parameters(), generator=generator)

    def _project_input(self, x):
        if not self.irc:
            return linear(x, self.weight_ih, self.bias_ih)
        block = self.gate_layout.index("candidate")
        return residual_projection(x, self.weight_ih, self.bias_ih, block=block, n=self.hidden_size)


def reference_loop(cell: RecurrentCell, x: torch.Tensor, s0: torch.Tensor, *, record: bool = False,
                   lengths: list[int] | None = None):
    """The reference implementation: a plain loop over time steps.

    Args:
        x: canonical layout ``(T, B, m)`` or ``(E, T, B, m)``; s0: ``(B, S)`` or ``(E, B, S)``.
        lengths: an ensemble's E sequence lengths in [1, T] (checked by the caller), or None: model
            e's state stops changing after step ``lengths[e]`` and its outputs from there on are zeros.

    Returns:
        ``(y, s_final, states, gates)`` with y ``(T, B, out)`` / ``(E, T, B, out)``; when ``record`` is set,
        states ``(T, B, S)`` after each step and gates ``{name: (T, B, n)}`` (ensembles: E first),
        else None for both.
    """
    ens = cell.is_ensemble
    xt = x.transpose(0, 1) if ens else x  # (T, [E,] B, m)
    xp = cell._project_input(xt)  # (T, [E,] B, P): the input GEMM for every step at once
    s = s0
    hs, states, gates = [], [], {name: [] for name in cell.gate_names}
    # unbind, not xp[t]: the backward of T separate index ops would write T full-size gradients
    # (quadratic in T); unbind's backward stacks the per-step gradients once.
    ends = None if lengths is None else torch.as_tensor(lengths, device=x.device).view(-1, 1, 1)
    for t, (xp_t, x_t) in enumerate(zip(xp.unbind(0), xt.unbind(0), strict=True)):
        s_next, h, g = cell._step(xp_t, x_t, s)
        s = s_next if ends is None else torch.where(t < ends, s_next, s)
        hs.append(h)
        if record:
            states.append(s)
            for name in cell.gate_names:
                gates[name].append(g[name])
    y = cell._readout(torch.stack(hs))  # (T, [E,] B, out)

    def time_major_to_canonical(seq):
        return seq.transpose(0, 1) if ens else seq

    y = time_major_to_canonical(y)
    if lengths is not None:
        y = zero_past(y, lengths)
    if not record:
        return y, s, None, None
    return (y, s, time_major_to_canonical(torch.stack(states)),
            {k: time_major_to_canonical(torch.stack(v)) for k, v in gates.items()})


def reference_forward(cell: RecurrentCell, x: torch.Tensor, s0: torch.Tensor, *, lengths: list[int] | None = None):
    """Backend function for ``backend="reference"``: ``(y, s_final)`` (``lengths``: see :func:`reference_loop`)."""
    y, s, _, _ = reference_loop(cell, x, s0, lengths=lengths)
    return y, s


def uniform_bound(fan: int) -> float:
    """PyTorch's default RNN init bound, 1/sqrt(fan)."""
    return 1.0 / math.sqrt(fan)


_backends.register_backend("reference", reference_forward, lengths=lambda cell, x: True)
