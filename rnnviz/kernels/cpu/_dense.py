"""The recurrence of the dense cells (GRU, LSTM, IHC-LSTM, PRU, Elman RNN, FastGRNN) on CPU, forward and
backward, for one model or an ensemble.

Per step, forward::

    g = W_hh h                         torch.bmm: one BLAS call for all E models
    s' = pointwise(xp_t, g + b, s)     one numba kernel (rnnviz.kernels.cpu._dense_steps)

and backward, in reverse time::

    dxp_t, dg_t, ds = pointwise_backward(ds + dy_t, saved_t)   one numba kernel
    ds[:n] += W_hhᵀ dg_t                                        torch.baddbmm_

with ``dW_hh += dg_t h_{t−1}ᵀ`` accumulated in place (BLAS) and ``db += Σ_b dg_t`` by the kernels
(in float64). Where each product is small (:func:`products_in_kernel`: up to
:data:`MAX_IN_KERNEL_MATRIX` multiply-adds, e.g. up to 32 units at a batch of 32) the kernels do them
too, in loops or through BLAS calls of their own, and one kernel call runs all T steps with no return
to Python. The autograd graph has one node for the whole recurrence (no per-op overhead), every step's pointwise
work is a single pass over memory with no allocation, and the larger matrix products stay in
torch's BLAS (MKL / OpenBLAS / Accelerate, with torch's thread setting).

Memory: the states (T+1)·B·S and the saved gates T·B·K (K = 4n GRU, 5n LSTM, 2n PRU/FastGRNN, 0 RNN);
in the backward the gradients of the projections; less than the reference loop's autograd graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import _dense_steps as steps
from . import _workspace as workspace
from ._autograd import as_numpy, check_dtypes, empty_sequence, features_first_layout, first_order, sequence
from ._threads import run_rows

# The kernels do the recurrent products themselves, and one kernel call runs all T steps (no return to
# Python between steps), unless a product is large (products_in_kernel): up to _dense_steps.LOOP_HIDDEN
# units in loops; above, through BLAS calls of their own (np.dot: scipy's OpenBLAS, which runs a product
# of up to 4·65536 multiply-adds on one thread: each must stay under MAX_IN_KERNEL_MATRIX, so that a study
# worker's single thread stays single, and larger products are where torch's BLAS per step pays anyway).
# Measured (B = 32, forward + backward; benchmarks/in_kernel_products.py): 1.05-1.9x at one thread and
# 1.2-3.6x at two, from 4 models of 16 units to 64 of 16 and one of 32; 0.97-1.0x at its worst
# (128 GRUs of 16 units, 9 of 48 units at two threads) (docs/kernels.md, "In-kernel products").
MAX_IN_KERNEL_MATRIX = 1 << 18
# with several torch threads, the all-steps calls (products in the kernels) split the models between threads
# from this many (model, step, batch, unit) values per thread (so do threads lent by a study's idle
# workers). One step at a time (the BLAS path) is never split: a hand-over per step, next to torch's
# spinning OpenMP threads, cost more than it saved (2 threads, 64 GRUs of n = 16: 49 ms split, 43 ms
# not); and splitting it by models, each lent thread running every step of its models, products
# included, cost more too (LSTM n = 64, 9 models, one lent thread: 30.7-31.6 s → 36.2-36.8 s for 200
# steps of a paper-cosine group; benchmarks/results/lend-ab-cpu-20261202.jsonl)
MIN_THREAD_WORK = 1 << 18


@dataclass(frozen=True)
class Kind:
    """A dense cell's shape of work: P = ``blocks``·n pre-activations, S = ``state``·n, K = ``saved``·n,
    and ``bias_blocks``·n biases (GRU: 4, the candidate's input bias apart)."""

    blocks: int
    state: int
    saved: int
    forward: object
    backward: object
    bias_blocks: int = 0

    @property
    def biases(self) -> int:
        return self.bias_blocks or self.blocks


KINDS = {
    "gru": Kind(3, 1, 4, steps.gru_forward, steps.gru_backward, bias_blocks=4),
    "lstm": Kind(4, 2, 5, steps.lstm_forward, steps.lstm_backward),
    "pru": Kind(2, 1, 2, steps.pru_forward, steps.pru_backward),
    "rnn_tanh": Kind(1, 1, 0, steps.rnn_tanh_forward, steps.rnn_tanh_backward),
    "rnn_relu": Kind(1, 1, 0, steps.rnn_relu_forward, steps.rnn_relu_backward),
    "fastgrnn": Kind(1, 1, 2, steps.fastgrnn_forward, steps.fastgrnn_backward),
}


def dense_recurrence(kind: str, xp, w_hh, b_hh, s0, *, x=None, par=None, lengths=None):
    """Run a dense cell's recurrence over all steps (differentiable in every tensor argument).

    Args:
        kind: one of :data:`KINDS` ("gru" also serves IRC-GRU, "lstm" IRC- and IHC-LSTM: their
            difference is in the input projection, or in ``x``).
        xp: ``(T, E, B, P)`` the input projections of every step (P = blocks·n, the cell's layout),
            read without a copy in any permuted layout: features first ``(E, P, T, B)`` as the input
            GEMM ``W_ih xᵀ`` over all steps writes it for an ensemble, or rows ``(E, T, B, P)``
            (:mod:`._dense_steps`); y and the gradients come back in xp's layout.
        w_hh: ``(E, P, n)``.
        b_hh: ``(E, P)``, the biases added to the step's pre-activations: b_hh, plus b_ih when xp
            lacks it (then the input GEMM skips writing a broadcast bias into its large output);
            GRU ``(E, 4n)`` = [b_r; b_z; b_hn; b_xn] with b_xn the candidate's input bias (b_in, or
            0 when xp holds it); None for FastGRNN.
        s0: ``(E, B, S)`` the initial flat state (LSTM: [h; c]).
        x: ``(T, E, B, n)`` the inputs, for IHC-LSTM's highway only.
        par: FastGRNN only, ``(E, 2n + 2)`` = [b_z; b_h; ζ; ν].
        lengths: None, or ``(E,)`` ints in [1, T] (a sequence or a tensor): model e's sequences end at
            step ``lengths[e]`` (a padded ensemble of tasks of different lengths). Its outputs from
            there on are zeros, its final state is its state after step ``lengths[e]``, and the
            kernels neither compute nor read its padding (they carry its state past its end).

    Returns:
        ``(y, s)``: the outputs h_t ``(T, E, B, n)`` and the final flat state ``(E, B, S)``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    check_dtypes(xp=xp, w_hh=w_hh, b_hh=b_hh, s0=s0, x=x, par=par)
    spec = KINDS[kind]
    T, E, B, P = xp.shape
    n = w_hh.shape[-1]
    given = {"xp": xp, "w_hh": w_hh, "s0": s0, "b_hh": b_hh, "x": x, "par": par}
    expected = {"xp": (T, E, B, spec.blocks * n), "w_hh": (E, spec.blocks * n, n), "s0": (E, B, spec.state * n),
                "b_hh": (E, spec.biases * n), "x": (T, E, B, n), "par": (E, 2 * n + 2)}
    for name, shape in expected.items():
        if given[name] is not None and tuple(given[name].shape) != shape:
            raise ValueError(f"{name}: expected shape {shape} for kind {kind!r} with n={n}, "
                             f"got {tuple(given[name].shape)}")
    if (kind == "fastgrnn") != (par is not None) or (kind == "fastgrnn") == (b_hh is not None):
        raise ValueError("FastGRNN takes par and no b_hh; every other kind takes b_hh and no par")
    if x is not None and kind != "lstm":
        raise ValueError(f"x (the highway input) is for kind 'lstm' (IHC) only, got kind {kind!r}")
    ends = model_ends(lengths, E, T)
    return DenseRecurrence.apply(kind, xp, w_hh, b_hh, s0, x, par, ends)


def model_ends(lengths, E: int, T: int) -> np.ndarray:
    """The kernels' ``ends (E,)`` (int64): the step at which each model's sequence ends, T for every
    model when ``lengths`` is None (ints in [1, T], a sequence or a tensor; a ValueError otherwise)."""
    if lengths is None:
        return np.full(E, T, dtype=np.int64)
    values = lengths.tolist() if isinstance(lengths, torch.Tensor) else list(lengths)
    if len(values) != E or not all(type(v) is int and 1 <= v <= T for v in values):  # the cells check for users
        raise ValueError(f"lengths must be {E} ints in [1, {T}], got {values}")
    return np.array(values, dtype=np.int64)


def products_in_kernel(E: int, P: int, n: int, B: int) -> bool:
    """Whether the kernels do the recurrent products ``W_hh h`` (``(E, P, n) @ (E, n, B)``) themselves,
    one kernel call running all T steps, rather than torch's BLAS between per-step kernel calls: in
    loops up to ``_dense_steps.LOOP_HIDDEN`` units, else while one product ``P·n·B`` is at most
    :data:`MAX_IN_KERNEL_MATRIX` multiply-adds (whatever the number of models E)."""
    return n <= steps.LOOP_HIDDEN or P * n * B <= MAX_IN_KERNEL_MATRIX


def _fastgrnn_par(par: torch.Tensor, n: int) -> torch.Tensor:
    """[b_z; b_h; ζ; ν] → [b_z; b_h; σ(ζ); σ(ν)], what the kernels read."""
    return torch.cat((par[:, : 2 * n], torch.sigmoid(par[:, 2 * n:])), dim=1)


class DenseRecurrence(torch.autograd.Function):
    """Autograd Function of :func:`dense_recurrence` (one graph node for all T steps)."""

    @staticmethod
    def forward(ctx, kind, xp, w_hh, b_hh, s0, x, par, ends):
        spec = KINDS[kind]
        T, E, B, P = xp.shape
        n = w_hh.shape[-1]
        S = spec.state * n
        dt = xp.dtype
        W = w_hh.detach().contiguous()
        st = workspace.empty((T + 1, E, S, B), dt)  # pooled: they live until the backward
        st[0] = s0.detach().transpose(1, 2)
        sv = workspace.empty((T, E, spec.saved * n, B), dt)
        g = torch.empty(E, P, B, dtype=dt)
        xk = None if x is None else x.detach()
        park = None if par is None else _fastgrnn_par(par.detach(), n).contiguous()
        ctx.features_first = features_first_layout(xp)  # the outputs and gradients follow xp's layout
        y = empty_sequence(T, E, B, n, dt, ctx.features_first)
        in_kernel = products_in_kernel(E, P, n, B)  # the kernels do the recurrent products themselves
        args = (sequence(xp, xp), g.numpy(), as_numpy(b_hh, xp, 2), st.numpy(), sv.numpy(),
                sequence(xk, xp), as_numpy(park, xp, 2), sequence(y, xp), W.numpy() if in_kernel else as_numpy(None, xp, 3),
                ends)
        if in_kernel:  # all steps in one call
            run_rows(spec.forward, E, T * B * n, *args, 0, T, min_work=MIN_THREAD_WORK)
        for t in range(0 if in_kernel else T):
            torch.bmm(W, st[t, :, :n], out=g)  # (E, P, n) @ (E, n, B)
            spec.forward(*args, t, t + 1, 0, E)
        ctx.kind = kind
        ctx.ends = ends
        ctx.save_for_backward(W, st, sv, xk, park)
        return y, st[T].transpose(1, 2).contiguous()  # a model past its end carried its state to T

    @staticmethod
    @first_order
    def backward(ctx, dy, ds_final):
        W, st, sv, xk, park = ctx.saved_tensors
        spec = KINDS[ctx.kind]
        T1, E, S, B = st.shape
        T, n = T1 - 1, W.shape[-1]
        P = spec.blocks * n
        dt = st.dtype
        dy = torch.zeros(T, E, B, n, dtype=dt) if dy is None else dy
        ds = torch.zeros(E, S, B, dtype=dt) if ds_final is None else ds_final.transpose(1, 2).contiguous()
        dxp = empty_sequence(T, E, B, P, dt, ctx.features_first)
        dg = torch.empty(E, P, B, dtype=dt)  # this step's gradients of the recurrent products, reused
        dx = None if xk is None else empty_sequence(T, E, B, n, dt, ctx.features_first)
        acc = None if park is None else torch.zeros(E, 2 * n + 2, B, dtype=torch.float64)
        in_kernel = products_in_kernel(E, P, n, B)
        need = ctx.needs_input_grad  # (kind, xp, w_hh, b_hh, s0, x, par)
        # the kernels sum db (float64) as they go, and for small products do the products and sum dW_hh
        d_b64 = torch.zeros((E, spec.biases * n) if need[3] else (0, 0), dtype=torch.float64)
        d_w64 = torch.zeros((E, P, n) if in_kernel else (0, 0, 0), dtype=torch.float64)
        w_kernel = W.numpy() if in_kernel else as_numpy(None, st, 3)
        args = (ds.numpy(), sequence(dy, st), sv.numpy(), st.numpy(), sequence(xk, st), as_numpy(park, st, 2),
                sequence(dxp, st), dg.numpy(), sequence(dx, st),
                acc.numpy() if acc is not None else np.empty((0, 0, 0)), w_kernel, d_w64.numpy(), d_b64.numpy(), ctx.ends)
        WT = None if in_kernel else W.transpose(1, 2).contiguous()  # (E, n, P), for the per-step products
        dh = ds[:, :n]  # (E, n, B), a view: the kernels and the product below update it in place
        # LSTM's state [h; c]: dh is strided in ds, and MKL's baddbmm_ into a strided output costs twice a
        # product into a contiguous one and an add (24 models of n = 16: 49 µs against 25 µs)
        wt_dg = torch.empty(E, n, B, dtype=dt) if S > n and not in_kernel else None
        d_w = torch.zeros_like(W) if need[2] and not in_kernel else None
        if in_kernel:  # all steps in one call
            run_rows(spec.backward, E, T * B * n, *args, 0, T, min_work=MIN_THREAD_WORK)
        for t in range(-1 if in_kernel else T - 1, -1, -1):
            spec.backward(*args, t, t + 1, 0, E)
            if d_w is not None:  # Σ_t dg_t h_{t−1}ᵀ, accumulated in place
                d_w.baddbmm_(dg, st[t, :, :n].transpose(1, 2))
            if wt_dg is None:
                dh.baddbmm_(WT, dg)
            else:
                dh.add_(torch.bmm(WT, dg, out=wt_dg))
        if in_kernel:
            d_w = d_w64.to(dt) if need[2] else None
        d_b = d_b64.to(dt) if need[3] else None
        d_par = None
        if acc is not None and need[6]:
            sums = acc.sum(-1)  # (E, 2n + 2) float64
            sig = park[:, 2 * n:].double()
            sums[:, 2 * n:] *= sig * (1.0 - sig)  # σ'(ζ), σ'(ν)
            d_par = sums.to(dt)
        return None, dxp, d_w, d_b, ds.transpose(1, 2), dx, d_par, None
