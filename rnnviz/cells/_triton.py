"""The "triton" backend of rnnviz cells: the adapter from a cell to the pure-tensor Triton kernels of
:mod:`rnnviz.kernels`, and when ``backend="auto"`` picks it.

This module does not import triton at import time (the reference cells must work without it, and
tests must set ``TRITON_INTERPRET`` before triton is first imported); the kernels load on first use.

Dispatch rules (docs/kernels.md):

* ``auto`` → "triton" when x is on a CUDA device, triton imports and the cell/dtype combination is
  supported. On a CPU "auto" never picks Triton (the interpreter is for tests): the CPU backend
  (:mod:`rnnviz.cells._cpu`) or the reference runs there.
* ``triton`` forced: needs a CUDA tensor, or ``TRITON_INTERPRET=1`` in the environment for CPU tensors;
  dtype float32, float16 or bfloat16 (the state is always accumulated in fp32). Anything else raises
  a ValueError/TypeError that names what was received and what to use instead.
* SRU family (sru, irc_sru, trnn, irc_trnn): one GEMM + the fused elementwise recurrence (_sru.py).
* Dense cells (pru, gru, irc_gru, lstm, irc_lstm, ihc_lstm, rnn, fastgrnn): one GEMM + the persistent
  recurrence kernel (_dense.py) for hidden sizes ≤ ``MAX_PERSISTENT_HIDDEN``; above it, the per-step
  path (cuBLAS GEMM per step + fused pointwise kernel). The threshold (128) is measured: on an H200
  at T = 266, B = 576 the persistent kernel wins at H = 64 (11x) and 128 (2.4-4x) and loses at
  H = 256 (1.1x GRU, 1.5x LSTM); every H in 129-256 pads to 256 (docs/kernels.md).
* Within the persistent kernel, hidden sizes ≤ 32 (padded) keep U in registers for the whole time
  loop (``rnnviz.kernels._dense.RESIDENT_MAX_PAD``); larger ones re-read it every step. That
  crossover is unmeasured too: set it from GPU measurements (``RESIDENT_MAX_PAD = 0`` times the
  streamed variant at every size).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import torch

from ._backends import register_backend
from ._input_map import folded_input_weight, folds_input_map
from ._layout import KERNEL_BLOCKS, member_params
from ._ops import linear, member_map

SRU_FAMILY = ("sru", "irc_sru", "trnn", "irc_trnn")
DENSE = ("pru", "gru", "irc_gru", "lstm", "irc_lstm", "ihc_lstm", "rnn", "fastgrnn")
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# Above this hidden size (padded to 256 or more) the per-step path (cuBLAS over the whole GPU + the
# fused pointwise kernel) is faster: measured on an H200 (benchmarks/results/bench_cells-NVIDIA_H200-
# 20261130T211614Z.json; docs/kernels.md, "Per-step path and the crossover").
MAX_PERSISTENT_HIDDEN = 128


def triton_available() -> bool:
    """Whether the ``triton`` package can be imported (without importing it)."""
    return importlib.util.find_spec("triton") is not None


def interpreter_enabled() -> bool:
    """Whether Triton's CPU interpreter is requested (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


_KERNEL_MODULES = (("_sru", "_sru_fwd_kernel"), ("_dense", "_dense_fwd_kernel"))


def kernels_compiled_for_gpu() -> bool:
    """Whether kernels were already decorated for the GPU (TRITON_INTERPRET was not "1" when
    rnnviz.kernels._sru or ._dense was first imported); they then cannot run on CPU tensors in this
    process."""
    for module_name, kernel in _KERNEL_MODULES:
        module = sys.modules.get(f"rnnviz.kernels.{module_name}")
        if module is not None and type(getattr(module, kernel)).__name__ != "InterpretedFunction":
            return True
    return False


def unsupported_reason(cell, x: torch.Tensor) -> str | None:
    """Why the Triton backend cannot run ``cell`` on ``x`` (canonical layout), or None when it can."""
    if not triton_available():
        return "the triton package is not installed (pip install 'rnnviz[gpu]')"
    if cell.kind not in SRU_FAMILY + DENSE:
        return f"no Triton kernel for cell kind {cell.kind!r}; kernels exist for {list(SRU_FAMILY + DENSE)}"
    if x.dtype not in SUPPORTED_DTYPES:
        return (f"dtype {x.dtype} is not supported by the Triton kernels (expected float32, float16 or "
                f"bfloat16); use backend='reference' for {x.dtype}")
    if x.device.type != "cuda" and not (x.device.type == "cpu" and interpreter_enabled()):
        return (f"x is on device {x.device}; the Triton backend needs a CUDA device, or CPU tensors with "
                f"the environment variable TRITON_INTERPRET=1 (slow, for tests)")
    if x.device.type == "cpu" and kernels_compiled_for_gpu():
        return ("the kernels were loaded for the GPU before TRITON_INTERPRET=1 was set; set it before "
                "the first use of backend='triton' in this process to run on CPU")
    return None


def auto_backend(cell, x: torch.Tensor) -> str:
    """What ``backend="auto"`` picks between this backend and the reference: "triton" on CUDA when
    supported, else "reference"."""
    return "triton" if _auto_when(cell, x) else "reference"


def _auto_when(cell, x: torch.Tensor) -> bool:
    return x.device.type == "cuda" and unsupported_reason(cell, x) is None


def triton_forward(cell, x: torch.Tensor, s0: torch.Tensor, *, input_map: torch.Tensor | None = None):
    """Backend ``"triton"``: ``fn(cell, x, s0) -> (y, s_final)`` on the canonical layout.

    x ``(T, B, m)`` or ``(E, T, B, m)``; s0 ``(B, S)`` or ``(E, B, S)``; returns y ``(T, B, out)`` /
    ``(E, T, B, out)`` in x's dtype and the final flat state ``(B, S)`` / ``(E, B, S)``. ``input_map``
    W ``(E, m, k)`` (x then ``(E, T, B, k)``): the cell reads W x_t, folded into its input GEMM where
    :func:`~rnnviz.cells._input_map.folds_input_map` (elsewhere W x is computed first).
    """
    reason = unsupported_reason(cell, x)
    if reason is not None:
        raise ValueError(f"backend='triton' cannot run {cell.kind!r}: {reason}")
    if input_map is not None and not folds_input_map(cell, x):
        x, input_map = member_map(x, input_map), None
    single = not cell.is_ensemble
    xe = x.unsqueeze(0) if single else x  # (E, T, B, m)
    se = s0.unsqueeze(0) if single else s0  # (E, B, S)
    if input_map is None:  # the cell's own input projection (one GEMM for all steps), for time-major inputs
        xp = cell._project_input(x if single else x.transpose(0, 1))  # (T, [E,] B, P)
        xp = xp.unsqueeze(0) if single else xp.transpose(0, 1)  # (E, T, B, P)
    else:  # an ensemble reading W x_t: one GEMM of its k features by W_ih W, b_ih added (as the cell's own)
        E, T, B, k = x.shape
        (b_ih,) = member_params(cell, "bias_ih")
        xp = linear(x.reshape(E, T * B, k), folded_input_weight(cell, input_map), b_ih).view(E, T, B, -1)
        if getattr(cell, "ihc", False):  # the highway reads the cell's inputs, W x_t
            xe = member_map(x, input_map)
    if cell.kind in SRU_FAMILY:
        y, s = _sru_family(cell, xe, xp, se)
    else:
        y, s = _dense(cell, xe, xp, se)
    return (y[0], s[0]) if single else (y, s)


def _sru_family(cell, x, xp, c0):
    """SRU / IRC-SRU / T-RNN / IRC-T-RNN through the fused recurrence. Shapes (E, T, B, ·); the blocks
    of the input projection ``xp`` are read from ``cell.gate_layout`` (no candidate block with IRC:
    the candidate is x itself)."""
    from ..kernels._sru import sru_recurrence

    layout = cell.gate_layout
    cand = layout.part(xp, "candidate") if layout.has("candidate") else x
    f_in = layout.part(xp, "forget")
    (bias,) = member_params(cell, "bias")
    if cell.base_kind == "trnn":
        return sru_recurrence(cand, f_in, None, None, None, None, bias, None, c0,
                              has_v=False, has_r=False, highway=False)
    n = cell.hidden_size
    r_in = layout.part(xp, "reset")
    proj = layout.part(xp, "projection") if layout.has("projection") else None
    has_v = cell.weight_c is not None
    vf = vr = None
    if has_v:
        (wc,) = member_params(cell, "weight_c")
        vf, vr = wc[..., :n], wc[..., n:]
    skip, alpha = (proj, 1.0) if proj is not None else (x, cell.alpha)
    return sru_recurrence(cand, f_in, r_in, skip if cell.highway else None, vf, vr,
                          bias[..., :n], bias[..., n:], c0, alpha=alpha, has_v=has_v, has_r=True,
                          highway=cell.highway)


def _dense(cell, x, xp, s0):
    """Dense cells through the persistent kernel (or the per-step path for large H)."""
    from ..kernels import _dense as K

    n = cell.hidden_size
    base = cell.base_kind
    layout = cell.gate_layout
    order = KERNEL_BLOCKS[base]
    xp = layout.reorder(xp, order)
    xhw = par = c0 = None
    h0 = s0
    if base == "fastgrnn":
        # gate and candidate share a = Wx + Uh (one block); the kernel adds b_z and b_h itself
        kind = K.FASTGRNN
        w_hh, bz, bh, zeta, nu = member_params(cell, "weight_hh", "bias_z", "bias_h", "zeta", "nu")
        b_hh = torch.cat((bz, bh), dim=-1)  # (E, 2n)
        par = torch.cat((zeta, nu), dim=-1)  # (E, 2)
    else:
        w_hh, b_hh = member_params(cell, "weight_hh", "bias_hh")
        w_hh, b_hh = layout.reorder(w_hh, order, dim=-2), layout.reorder(b_hh, order)
        if base == "rnn":
            kind = K.RNN_TANH if cell.nonlinearity == "tanh" else K.RNN_RELU
        elif base == "lstm":
            kind = K.LSTM
            h0, c0 = s0[..., layout.state_rows("h", n)], s0[..., layout.state_rows("c", n)]
            xhw = x if cell.ihc else None
        else:
            kind = {"gru": K.GRU, "pru": K.PRU}[base]
    run = K.dense_recurrence if n <= MAX_PERSISTENT_HIDDEN else K.dense_recurrence_stepwise
    hs, cs = run(kind, xp, w_hh, b_hh, h0, c0, xhw=xhw, par=par)  # (E, T+1, B, n) fp32
    h_seq = hs[:, 1:].to(x.dtype)  # (E, T, B, n)
    if base == "lstm":
        s = torch.cat((hs[:, -1], cs[:, -1]), dim=-1).to(s0.dtype)  # flat [h; c]
    else:
        s = hs[:, -1].to(s0.dtype, copy=True)  # not a view of y: in-place changes to one keep the other
    # the output map (PRU) is one GEMM over all steps, on the cell's time-major layout
    if cell.is_ensemble:
        y = cell._readout(h_seq.transpose(0, 1)).transpose(0, 1)  # via (T, E, B, n)
    else:
        y = cell._readout(h_seq[0]).unsqueeze(0)  # via (T, B, n)
    return y, s


register_backend("triton", triton_forward, auto_when=_auto_when, priority=10, input_map=folds_input_map)
