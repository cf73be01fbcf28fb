"""Dense recurrences (RNN, GRU, LSTM, PRU, FastGRNN, IRC/IHC variants) over raw tensors: the public
functions :func:`dense_recurrence` (one persistent kernel launch for all T steps) and
:func:`dense_recurrence_stepwise` (per-step fallback for large H: cuBLAS for ``h_{t-1} U^T`` + the
fused pointwise kernel), their autograd Functions, the cell-kind constants, and the launch
configuration (tile sizes, the register-resident variant, the dot precision).

The kernels themselves and their design notes are in :mod:`._dense_kernels` (re-exported here as
``_dense_fwd_kernel`` / ``_dense_bwd_kernel``: the cells' adapter checks whether they were decorated
for the interpreter), the pointwise math of each cell in :mod:`._dense_math`. Shapes: E ensemble
members, T steps, B batch rows, H hidden units, G gate blocks of the kind (:data:`GATES`).
"""

from __future__ import annotations

import torch
import triton

from ._common import FP_FUSION, first_order, on_device, padded_size
from ._dense_kernels import _dense_bwd_kernel, _dense_fwd_kernel

# cell kinds understood by the kernels: name -> (constexpr id, number of gate blocks G); the ids are
# the ``KIND`` values the jit code in _dense_math / _dense_kernels compares against
RNN_TANH, RNN_RELU, GRU, LSTM, PRU, FASTGRNN = range(6)
# FastGRNN's gate and candidate share a = Wx + Uh: one block, with two biases (see bias_blocks)
GATES = {RNN_TANH: 1, RNN_RELU: 1, GRU: 3, LSTM: 4, PRU: 2, FASTGRNN: 1}
BATCH_BLOCK = 16  # rows per program; ≥ 16 because tl.dot needs M ≥ 16


def _tiles(H: int) -> tuple[int, int, int]:
    """(HP, BN, BK): the padded hidden size, the output-column chunk and the reduction chunk."""
    hp = padded_size(H)
    return hp, min(hp, 32), min(hp, 64)


# Largest padded hidden size for which the persistent kernels keep U in registers (RESIDENT): the
# whole hidden vector is one tile (HP == BN == BK) and U's G blocks (G·HP² fp32, ≤ 16 KiB for an LSTM
# at HP = 32, ≤ 32 registers per thread with 4 warps) fit in registers. The register/spill counts
# come from ptxas (python benchmarks/compile_check.py --ptxas-info); the speed-up over the
# streamed variant (U re-read from L1/L2 each step, h round-tripped through memory with a barrier)
# is NOT measured: set this from GPU measurements (0 disables the resident variant).
RESIDENT_MAX_PAD = 32


def resident(hp: int) -> bool:
    """Whether the persistent kernels run their register-resident variant for the padded size hp."""
    return hp <= RESIDENT_MAX_PAD and hp == min(hp, 32) == min(hp, 64)


def _precision() -> str:
    """tl.dot precision following torch's fp32 matmul precision, so that contenders are timed alike.

    torch ≥ 2.9 has ``torch.backends.cuda.matmul.fp32_precision`` ("tf32", "ieee" or "none" =
    inherit ``torch.backends.fp32_precision``); reading the legacy ``allow_tf32`` flag there warns or,
    after the new API was used, raises, so the legacy flag is read only on older torch.
    """
    matmul = torch.backends.cuda.matmul
    try:
        prec = matmul.fp32_precision
    except AttributeError:  # torch < 2.9: only the legacy flag exists
        return "tf32" if matmul.allow_tf32 else "ieee"
    if prec == "none":
        prec = getattr(torch.backends, "fp32_precision", "ieee")
    return "tf32" if prec == "tf32" else "ieee"


def bias_blocks(kind: int) -> int:
    """Number of H-sized blocks in b_hh: G, except FastGRNN's (b_z; b_h) on its one shared block."""
    return 2 if kind == FASTGRNN else GATES[kind]


def _dense_blocks(t: torch.Tensor) -> torch.Tensor:
    """``t`` (E, T, B, K) or one time step (E, B, K) as it is when every (B, K) block is dense (the
    kernels take member and time strides: the time-major GEMM output of an ensemble, viewed as
    (E, T, B, K), and time slices qualify), else a contiguous copy."""
    B, K = t.shape[-2:]
    return t if t.stride(-1) == 1 and (t.stride(-2) == K or B == 1) else t.contiguous()


def _strides(t: torch.Tensor) -> tuple[int, int]:
    """(member, time) strides in elements of a (E, T, B, K) tensor or of one step (E, B, K)."""
    return (t.stride(0), t.stride(1)) if t.dim() == 4 else (t.stride(0), 0)


class DenseRecurrence(torch.autograd.Function):
    """Autograd wrapper of the persistent dense recurrence over raw tensors.

    Inputs: kind (int, module constant), xp (E,T,B,G·H) input projections incl. input biases,
    w_hh (E,G·H,H), b_hh (E,G·H) (FastGRNN: (E,2H) = (b_z; b_h)), h0, c0 (E,B,H) (c0 used by LSTM
    only), xhw (E,T,B,H) highway input (IHC-LSTM only, else None), par (E,2) raw (ζ, ν) (FastGRNN
    only, else None), highway: bool.
    Returns hs, cs (E,T+1,B,H) fp32: the state sequences with h0 / c0 first (cs is a 0-d placeholder
    except for LSTM).

    Saved for backward: hs (and cs for LSTM), the weights, and xp except for the RNN kinds, whose
    derivative comes from h_t alone (1 − h_t² or [h_t > 0]); the other kinds recompute their gates
    from xp and h_{t-1} instead of keeping T·B·G·H gate activations.
    """

    @staticmethod
    def forward(ctx, kind, xp, w_hh, b_hh, h0, c0, xhw, par, highway):
        E, T, B, GH = xp.shape
        H = h0.shape[-1]
        G = GATES[kind]
        dev = xp.device
        xp, w_hh, b_hh = _dense_blocks(xp), w_hh.contiguous(), b_hh.contiguous()
        hs = torch.empty((E, T + 1, B, H), device=dev, dtype=torch.float32)
        hs[:, 0] = h0
        if kind == LSTM:
            cs = torch.empty_like(hs)
            cs[:, 0] = c0
        else:
            cs = hs  # unused by the kernel
        xhw_k = _dense_blocks(xhw) if highway else xp
        par_k = par.contiguous() if kind == FASTGRNN else b_hh
        HP, BN, BK = _tiles(H)
        grid = (triton.cdiv(B, BATCH_BLOCK), E)
        with on_device(hs):  # launch on the tensors' GPU, not the current one
            _dense_fwd_kernel[grid](
                xp, w_hh, b_hh, xp, xhw_k, par_k, hs, cs, hs, cs, T, B, H, *_strides(xp), *_strides(xhw_k),
                KIND=kind, G=G, HIGHWAY=bool(highway), HP_GIVEN=False,
                HP=HP, BB=BATCH_BLOCK, BN=BN, BK=BK, PREC=_precision(), RESIDENT=resident(HP),
                enable_fp_fusion=FP_FUSION,
            )
        rnn = kind in (RNN_TANH, RNN_RELU)
        ctx.save_for_backward(None if rnn else xp, w_hh, b_hh, xhw_k if highway else None,
                              par_k if kind == FASTGRNN else None, hs, cs if kind == LSTM else None)
        ctx.opts = (kind, bool(highway), xp.dtype, h0.dtype, c0.dtype if c0 is not None else None)
        if kind != LSTM:
            no_c = torch.zeros((), device=dev)
            ctx.mark_non_differentiable(no_c)
            return hs, no_c
        return hs, cs

    @staticmethod
    @first_order  # the kernels build no graph: create_graph / double backward raises
    def backward(ctx, dhs, dcs):
        xp, w_hh, b_hh, xhw, par, hs, cs = ctx.saved_tensors
        kind, highway, xp_dtype, h_dtype, c_dtype = ctx.opts
        E, T1, B, H = hs.shape
        T, G = T1 - 1, GATES[kind]
        dev = hs.device
        dhs = torch.zeros_like(hs) if dhs is None else dhs.float().contiguous()
        if kind == LSTM:
            dcs = torch.zeros_like(cs) if dcs is None else dcs.float().contiguous()
        else:
            cs = dcs = dhs  # placeholders the kernel does not read
        dxp = torch.empty((E, T, B, G * H), device=dev, dtype=torch.float32)
        dhpn = torch.empty((E, T, B, H), device=dev, dtype=torch.float32) if kind == GRU else dxp
        dxhw = torch.empty((E, T, B, H), device=dev, dtype=torch.float32) if highway else dxp
        dh = torch.zeros((E, B, H), device=dev, dtype=torch.float32)
        dc = torch.zeros_like(dh) if kind == LSTM else dh
        acc = torch.zeros((E, 4, B, H), device=dev, dtype=torch.float32) if kind == FASTGRNN else dh
        xp_k = hs if xp is None else xp  # RNN kinds: not read
        xhw_k = dxp if xhw is None else xhw
        HP, BN, BK = _tiles(H)
        grid = (triton.cdiv(B, BATCH_BLOCK), E)
        with on_device(hs):  # launch on the tensors' GPU, not the current one
            _dense_bwd_kernel[grid](
                xp_k, w_hh, b_hh, xp_k, xhw_k, b_hh if par is None else par,
                hs, cs, hs, cs, dhs, dcs, dxp, dhpn, dxhw, dh, dc, acc, T, B, H, *_strides(xp_k), *_strides(xhw_k),
                KIND=kind, G=G, HIGHWAY=highway, HP_GIVEN=False,
                HP=HP, BB=BATCH_BLOCK, BN=BN, BK=BK, PREC=_precision(), RESIDENT=resident(HP),
                enable_fp_fusion=FP_FUSION,
            )
        h_prev = hs[:, :T].reshape(E, T * B, H)  # (E, T·B, H)
        dxp_rows = dxp.view(E, T * B, G * H)
        if kind == GRU:
            dhpn_rows = dhpn.view(E, T * B, H)
            dw = torch.cat((dxp_rows[..., : 2 * H].transpose(1, 2) @ h_prev,
                            dhpn_rows.transpose(1, 2) @ h_prev), dim=1)  # (E, 3H, H)
            db = torch.cat((dxp_rows[..., : 2 * H].sum(1), dhpn_rows.sum(1)), dim=1)
        else:
            dw = dxp_rows.transpose(1, 2) @ h_prev  # (E, G·H, H)
            db = acc[:, 2:].sum(2).reshape(E, 2 * H) if kind == FASTGRNN else dxp_rows.sum(1)
        dh0 = dh + dhs[:, 0]
        dc0 = (dc + dcs[:, 0]).to(c_dtype) if kind == LSTM else None
        dpar = _fastgrnn_dpar(acc, par) if kind == FASTGRNN else None
        return (
            None, dxp.to(xp_dtype), dw.to(w_hh.dtype), db.to(b_hh.dtype), dh0.to(h_dtype), dc0,
            dxhw.to(xhw.dtype) if highway else None, dpar, None,
        )


def _fastgrnn_dpar(acc, par):
    """Gradient of FastGRNN's raw (ζ, ν) (E, 2) from the kernel's running sums acc (E, 4, B, H)."""
    s = torch.sigmoid(par.float())  # (E, 2)
    return (acc[:, :2].sum(dim=(2, 3)) * s * (1 - s)).to(par.dtype)


def dense_recurrence(kind, xp, w_hh, b_hh, h0, c0=None, *, xhw=None, par=None):
    """Run a dense recurrence with the persistent kernel.

    kind: one of RNN_TANH, RNN_RELU, GRU, LSTM, PRU, FASTGRNN (module constants).
    xp (E,T,B,G·H): input projections for all steps, input biases included, gate blocks in the
    cell's order; w_hh (E,G·H,H); b_hh (E,G·H); h0 (E,B,H); c0 (E,B,H) for LSTM; xhw (E,T,B,H): the
    highway input of IHC-LSTM; par (E,2): FastGRNN's raw (ζ, ν). FastGRNN has G = 1 (a = Wx + Uh is
    shared by gate and candidate) and b_hh (E,2H) = (b_z; b_h).
    Returns (hs, cs): fp32 state sequences (E,T+1,B,H) with the initial state first; cs is only
    meaningful for LSTM. Differentiable with respect to every tensor argument.
    """
    _check_dense_args("dense_recurrence", kind, xp, w_hh, b_hh, h0, c0, par)
    return DenseRecurrence.apply(kind, xp, w_hh, b_hh, h0, c0, xhw, par, xhw is not None)


def _check_dense_args(fn, kind, xp, w_hh, b_hh, h0, c0, par):
    G, NB = GATES[kind], bias_blocks(kind)
    E, T, B, GH = xp.shape
    H = h0.shape[-1]
    if GH != G * H or tuple(w_hh.shape) != (E, G * H, H) or tuple(b_hh.shape) != (E, NB * H):
        raise ValueError(
            f"{fn}: expected xp (E,T,B,{G}·H), w_hh (E,{G}·H,H), b_hh (E,{NB}·H) with H={H}, "
            f"got xp {tuple(xp.shape)}, w_hh {tuple(w_hh.shape)}, b_hh {tuple(b_hh.shape)}"
        )
    if kind == LSTM and c0 is None:
        raise ValueError(f"{fn}: LSTM needs c0 (E,B,H), got None")
    if kind == FASTGRNN and par is None:
        raise ValueError(f"{fn}: FastGRNN needs par (E,2) = raw (zeta, nu), got None")


class DenseStep(torch.autograd.Function):
    """One step of the per-step fallback path: the fused pointwise update of a dense cell.

    Inputs: kind, xp_t (E,B,G·H), hp_t (E,B,G·H) = h_{t-1} U^T + b_hh (computed by cuBLAS outside;
    FastGRNN: h_{t-1} U^T without bias), h_prev (E,B,H) fp32, c_prev (E,B,H) fp32 or None, xhw_t
    (E,B,H) or None, par (E,2) or None, bias (E,2H) = (b_z; b_h) for FastGRNN or None, highway: bool.
    Returns (h_t, c_t) fp32 (c_t is a 0-d placeholder except for LSTM).
    The same Triton kernels as the persistent path run with T = 1 and ``HP_GIVEN``; they read the
    previous state from h_prev / c_prev and write fresh h_t / c_t, so each step keeps for backward
    only tensors that exist anyway (h_prev is the previous step's output).
    """

    @staticmethod
    def forward(ctx, kind, xp_t, hp_t, h_prev, c_prev, xhw_t, par, bias, highway):
        E, B, GH = xp_t.shape
        H = h_prev.shape[-1]
        G = GATES[kind]
        dev = xp_t.device
        xp_t, hp_t, h_prev = _dense_blocks(xp_t), hp_t.contiguous(), h_prev.contiguous()
        h_new = torch.empty((E, B, H), device=dev, dtype=torch.float32)
        c_new = h_new
        if kind == LSTM:
            c_prev = c_prev.contiguous()
            c_new = torch.empty_like(h_new)
        else:
            c_prev = h_prev  # unused by the kernel
        xhw_k = _dense_blocks(xhw_t) if highway else xp_t
        par_k = par.contiguous() if kind == FASTGRNN else xp_t
        bias_k = bias.contiguous() if kind == FASTGRNN else xp_t
        HP, BN, BK = _tiles(H)
        grid = (triton.cdiv(B, BATCH_BLOCK), E)
        with on_device(h_new):  # launch on the tensors' GPU, not the current one
            _dense_fwd_kernel[grid](
                xp_t, xp_t, bias_k, hp_t, xhw_k, par_k, h_prev, c_prev, h_new, c_new, 1, B, H,
                *_strides(xp_t), *_strides(xhw_k),
                KIND=kind, G=G, HIGHWAY=bool(highway), HP_GIVEN=True,
                HP=HP, BB=BATCH_BLOCK, BN=BN, BK=BK, PREC=_precision(), RESIDENT=False,
                enable_fp_fusion=FP_FUSION,
            )
        lstm, fast, rnn = kind == LSTM, kind == FASTGRNN, kind in (RNN_TANH, RNN_RELU)
        ctx.save_for_backward(None if rnn else xp_t, None if rnn else hp_t, xhw_k if highway else None, par_k if fast else None,
                              bias_k if fast else None, h_prev, c_prev if lstm else None, h_new,
                              c_new if lstm else None)
        ctx.opts = (kind, bool(highway), xp_t.dtype, hp_t.dtype)
        if kind != LSTM:
            no_c = torch.zeros((), device=dev)
            ctx.mark_non_differentiable(no_c)
            return h_new, no_c
        return h_new, c_new

    @staticmethod
    @first_order  # the kernels build no graph: create_graph / double backward raises
    def backward(ctx, dh, dc):
        xp_t, hp_t, xhw, par, bias, h_prev, c_prev, h_new, c_new = ctx.saved_tensors
        kind, highway, xp_dtype, hp_dtype = ctx.opts
        E, B, H = h_new.shape
        G = GATES[kind]
        dev = h_new.device
        dh = torch.zeros_like(h_new) if dh is None else dh.float().contiguous()
        if kind == LSTM:
            dc = torch.zeros_like(c_new) if dc is None else dc.float().contiguous()
        else:
            c_prev = c_new = dc = h_new  # placeholders the kernel does not read
        dxp = torch.empty((E, 1, B, G * H), device=dev, dtype=torch.float32)
        dhpn = torch.empty((E, 1, B, H), device=dev, dtype=torch.float32) if kind == GRU else dxp
        dxhw = torch.empty((E, 1, B, H), device=dev, dtype=torch.float32) if highway else dxp
        dh_prev = torch.zeros((E, B, H), device=dev, dtype=torch.float32)
        dc_prev = torch.zeros_like(dh_prev) if kind == LSTM else dh_prev
        acc = torch.zeros((E, 4, B, H), device=dev, dtype=torch.float32) if kind == FASTGRNN else dh_prev
        if xp_t is None:  # RNN kinds: the kernel reads only h_new
            xp_t = hp_t = h_new
        xhw_k = dxp if xhw is None else xhw
        HP, BN, BK = _tiles(H)
        grid = (triton.cdiv(B, BATCH_BLOCK), E)
        with on_device(h_new):  # launch on the tensors' GPU, not the current one
            _dense_bwd_kernel[grid](
                xp_t, xp_t, xp_t if bias is None else bias, hp_t, xhw_k,
                xp_t if par is None else par, h_prev, c_prev, h_new, c_new, dh, dc,
                dxp, dhpn, dxhw, dh_prev, dc_prev, acc, 1, B, H, *_strides(xp_t), *_strides(xhw_k),
                KIND=kind, G=G, HIGHWAY=highway, HP_GIVEN=True,
                HP=HP, BB=BATCH_BLOCK, BN=BN, BK=BK, PREC=_precision(), RESIDENT=False,
                enable_fp_fusion=FP_FUSION,
            )
        dxp = dxp[:, 0]  # (E, B, G·H)
        dhp = torch.cat((dxp[..., : 2 * H], dhpn[:, 0]), dim=-1) if kind == GRU else dxp
        dpar = dbias = None
        if kind == FASTGRNN:
            dpar = _fastgrnn_dpar(acc, par)
            dbias = acc[:, 2:].sum(2).reshape(E, 2 * H).to(bias.dtype)
        return (
            None, dxp.to(xp_dtype), dhp.to(hp_dtype), dh_prev,
            dc_prev if kind == LSTM else None, dxhw[:, 0].to(xhw.dtype) if highway else None, dpar,
            dbias, None,
        )


def dense_recurrence_stepwise(kind, xp, w_hh, b_hh, h0, c0=None, *, xhw=None, par=None):
    """Per-step fallback with the same contract as :func:`dense_recurrence`.

    Each step runs ``hp = h_{t-1} U^T + b_hh`` as one cuBLAS batched GEMM over the ensemble and then
    the fused pointwise kernel (:class:`DenseStep`); autograd chains the steps. Used for hidden sizes
    where one program per batch block would leave the GPU idle (see docs/kernels.md).
    """
    _check_dense_args("dense_recurrence_stepwise", kind, xp, w_hh, b_hh, h0, c0, par)
    E, T, B, _ = xp.shape
    w_t = w_hh.float().transpose(1, 2)  # (E, H, G·H)
    fast = kind == FASTGRNN
    bias = b_hh.float().unsqueeze(1)  # (E, 1, G·H); FastGRNN's two biases go to the kernel instead
    h = h0.float()
    c = c0.float() if kind == LSTM else None
    xps = xp.unbind(1)  # unbind: its backward stacks the step gradients once
    xhws = xhw.unbind(1) if xhw is not None else [None] * T
    hs, cs = [h], [c]
    for t in range(T):
        hp = torch.bmm(h, w_t) if fast else torch.baddbmm(bias, h, w_t)  # (E, B, G·H)
        h, c_new = DenseStep.apply(kind, xps[t], hp, h, c, xhws[t], par, b_hh if fast else None,
                                   xhw is not None)
        c = c_new if kind == LSTM else None
        hs.append(h)
        cs.append(c)
    hs_t = torch.stack(hs, 1)  # (E, T+1, B, H)
    cs_t = torch.stack(cs, 1) if kind == LSTM else torch.zeros((), device=xp.device)
    return hs_t, cs_t
