"""Persistent Triton kernels for the dense recurrences (RNN, GRU, LSTM, PRU, FastGRNN, IRC/IHC
variants): ``_dense_fwd_kernel``, ``_dense_bwd_kernel`` and their memory-side jit helpers (loads of
the weights, biases and pre-activations, the recurrent dot). The pointwise cell update they apply is
in :mod:`._dense_math`; the autograd Functions that launch them, the tile sizes and the choice of
variant are in :mod:`._dense`.

Design (see docs/kernels.md):

* The caller computes the input projection for all steps as one GEMM, ``xp = x W_ih^T + b_ih``
  ``(E, T, B, G·H)`` with G gate blocks, so the kernel only runs the recurrence
  ``a_k = xp_k[t] + h_{t-1} U_k^T + b_hh,k`` and the cell's pointwise update.
* One program owns a block of ``BB`` batch rows of one ensemble member (grid ``(cdiv(B, BB), E)``)
  and loops over all T steps inside one launch: no per-step launch overhead.
* Two variants of the time loop (constexpr ``RESIDENT``):
  - register-resident (HP ≤ ``_dense.RESIDENT_MAX_PAD`` = 32, where HP == BN == BK: one tile is
    the whole hidden vector, the capacity study's regime): U's G blocks (both orientations in the backward)
    and the biases are loaded into registers once, before the loop; h (c, dh, dc, FastGRNN's sums)
    are loop variables. A step is G on-chip dots plus the pointwise update; hs / cs are still
    written for the backward pass, but never read back within the loop, and no barrier is needed.
  - streamed (larger H): the recurrent weights of the member (``G·H×H``) are re-read every step
    (from L1/L2 at H ≤ 256) and the new state round-trips through ``hs`` in global memory with a
    block barrier, chunk by chunk.
  Which is faster where is NOT measured (no GPU was available): ptxas reports no spills for the
  resident variant at HP = 32 except 8 bytes for the GRU backward, while the streamed variant spills
  there (LSTM backward ~0.6 KiB); set ``RESIDENT_MAX_PAD`` from GPU timings.
* The hidden dimension is padded to ``HP`` = next power of two ≥ 16 (tl.dot needs tiles ≥ 16) and
  split into output chunks of ``BN`` columns and reduction chunks of ``BK``; every load and store is
  masked, so any H works (non-powers of two included) and padding never leaks into results.
* The new state of a step is written to the state sequence ``hs`` (E, T+1, B, H) (s0 first, fp32),
  and a block-wide barrier makes it visible to all threads of the program before the next step
  reads it back as ``h_{t-1}``. ``hs`` is the cell's output, so no extra memory is used.
* Backward (reverse time, same grid) recomputes the gates from the kept GEMM output xp and the
  stored states (one extra small dot per step instead of keeping T·B·G·H gate activations; the RNN
  kinds need neither: their derivative comes from h_t, so they keep no xp), writes the gradient of
  the pre-activations ``dxp`` (which is the gradient of the input GEMM's output, needed anyway), and
  propagates ``dh_{t-1} = Σ_k dhp_k U_k`` with a second dot. Weight gradients are then one batched
  GEMM over all steps: ``dU = dhp^T h_prev``; bias gradients are sums of ``dhp``.
* FastGRNN's gate and candidate share ``a = Wx + Uh``: one block (G = 1), and the kernels add its two
  biases (b_z; b_h) themselves.
* xp and the highway input are read through member and time strides (each (B, ·) block dense), so
  the time-major GEMM output of an ensemble and per-step slices need no copy.

``HP_GIVEN=True`` turns the kernels into the fused pointwise step of the per-step fallback path
(used when H is too large for one program to own a whole hidden vector efficiently): the recurrent
product ``h_{t-1} U^T + b_hh`` comes precomputed from cuBLAS and no dot runs in the kernel; the
previous state is read from ``HPREV``/``CPREV`` and the new one written to fresh ``HS``/``CS``.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._dense_math import _cell_bwd, _cell_fwd, _fastgrnn_bias


@triton.jit
def _rec_dot(HSt, WHHe, rows, rmask, cols, cmask, k, H, HP: tl.constexpr, BK: tl.constexpr,
             BB: tl.constexpr, BN: tl.constexpr, PREC: tl.constexpr):
    """(BB, BN) chunk of h_{t-1} U_k^T: h rows from HSt (B, H), U_k = rows k·H… of WHHe (G·H, H)."""
    acc = tl.zeros([BB, BN], tl.float32)
    for k0 in range(0, HP, BK):
        kk = k0 + tl.arange(0, BK)
        kmask = kk < H
        h = tl.load(HSt + rows[:, None] * H + kk[None, :], mask=rmask[:, None] & kmask[None, :], other=0.0)
        w = tl.load(WHHe + (k * H + cols[None, :]) * H + kk[:, None],
                    mask=cmask[None, :] & kmask[:, None], other=0.0).to(tl.float32)  # (BK, BN) = U_k^T
        acc += tl.dot(h, w, input_precision=PREC)
    return acc


@triton.jit
def _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, k, H, G: tl.constexpr,
              HP: tl.constexpr, BK: tl.constexpr, BB: tl.constexpr, BN: tl.constexpr,
              PREC: tl.constexpr, HP_GIVEN: tl.constexpr, ADD_BIAS: tl.constexpr):
    """Pre-activation parts of gate block k for a (BB, BN) chunk: (xp_k, hp_k = h U_k^T + b_hh,k).

    ``ADD_BIAS`` False leaves b_hh out (FastGRNN: its two biases share one xp/hp block)."""
    m2 = rmask[:, None] & cmask[None, :]
    off = rows[:, None] * (G * H) + k * H + cols[None, :]
    xp = tl.load(XPt + off, mask=m2, other=0.0).to(tl.float32)
    if HP_GIVEN:
        hp = tl.load(HPGt + off, mask=m2, other=0.0).to(tl.float32)
    else:
        hp = _rec_dot(HSt, WHHe, rows, rmask, cols, cmask, k, H, HP, BK, BB, BN, PREC)
        if ADD_BIAS:
            hp += tl.load(BHHe + k * H + cols, mask=cmask, other=0.0).to(tl.float32)[None, :]
    return xp, hp



@triton.jit
def _weight_block(WHHe, k, H, kk, cols, mask, TRANSPOSED: tl.constexpr):
    """Gate block k of the recurrent weights as an on-chip (HP, HP) tile: U_k^T ([j, n] = U[k·H + n, j])
    for the forward dot h U_k^T, or U_k ([j, n] = U[k·H + j, n]) for the backward dot dpre_k U_k."""
    if TRANSPOSED:
        w = tl.load(WHHe + (k * H + cols[None, :]) * H + kk[:, None], mask=mask, other=0.0)
    else:
        w = tl.load(WHHe + (k * H + kk[:, None]) * H + cols[None, :], mask=mask, other=0.0)
    return w.to(tl.float32)


@triton.jit
def _bias_block(BHHe, k, H, cols, cmask, ADD: tl.constexpr):
    """b_hh of gate block k as a (1, HP) row (zeros when ``ADD`` is False: FastGRNN)."""
    if ADD:
        b = tl.load(BHHe + k * H + cols, mask=cmask, other=0.0).to(tl.float32)[None, :]
    else:
        b = (cols * 0.0)[None, :]
    return b


@triton.jit
def _member_base(WHH, BHH, PAR, e, H, G: tl.constexpr, KIND: tl.constexpr):
    """Member e's recurrent weights and b_hh (FastGRNN: one shared block, two biases b_z; b_h) and
    FastGRNN's (σ(ζ), σ(ν)) (zeros for the other kinds)."""
    WHHe = WHH + e * G * H * H
    if KIND == 5:
        BHHe = BHH + e * 2 * H
    else:
        BHHe = BHH + e * G * H
    sz = 0.0
    sn = 0.0
    if KIND == 5:
        sz = tl.sigmoid(tl.load(PAR + e * 2).to(tl.float32))
        sn = tl.sigmoid(tl.load(PAR + e * 2 + 1).to(tl.float32))
    return WHHe, BHHe, sz, sn


@triton.jit
def _resident_weights(WHHe, H, cols, wmask, G: tl.constexpr, TRANSPOSED: tl.constexpr):
    """The G recurrent blocks as on-chip (HP, HP) tiles (see :func:`_weight_block`); the blocks a
    cell lacks repeat block 0 and are never used."""
    w0 = _weight_block(WHHe, 0, H, cols, cols, wmask, TRANSPOSED)
    w1 = w0
    w2 = w0
    w3 = w0
    if G > 1:
        w1 = _weight_block(WHHe, 1, H, cols, cols, wmask, TRANSPOSED)
    if G > 2:
        w2 = _weight_block(WHHe, 2, H, cols, cols, wmask, TRANSPOSED)
    if G > 3:
        w3 = _weight_block(WHHe, 3, H, cols, cols, wmask, TRANSPOSED)
    return w0, w1, w2, w3


@triton.jit
def _resident_biases(BHHe, H, cols, cmask, G: tl.constexpr, KIND: tl.constexpr):
    """b_hh of the G blocks as (1, HP) rows (zeros for FastGRNN, whose biases enter the pointwise step)."""
    b0 = _bias_block(BHHe, 0, H, cols, cmask, KIND != 5)
    b1 = b0
    b2 = b0
    b3 = b0
    if G > 1:
        b1 = _bias_block(BHHe, 1, H, cols, cmask, True)
    if G > 2:
        b2 = _bias_block(BHHe, 2, H, cols, cmask, True)
    if G > 3:
        b3 = _bias_block(BHHe, 3, H, cols, cmask, True)
    return b0, b1, b2, b3


@triton.jit
def _resident_pre(XPt, go, m2, h, w0, w1, w2, w3, b0, b1, b2, b3, H, G: tl.constexpr, PREC: tl.constexpr):
    """One step's pre-activation parts (xp_k, hp_k = h U_k^T + b_hh,k) of the G blocks, from tiles in
    registers; the blocks a cell lacks repeat block 0."""
    xp0 = tl.load(XPt + go, mask=m2, other=0.0).to(tl.float32)
    hp0 = tl.dot(h, w0, input_precision=PREC) + b0
    xp1 = xp0
    xp2 = xp0
    xp3 = xp0
    hp1 = hp0
    hp2 = hp0
    hp3 = hp0
    if G > 1:
        xp1 = tl.load(XPt + go + H, mask=m2, other=0.0).to(tl.float32)
        hp1 = tl.dot(h, w1, input_precision=PREC) + b1
    if G > 2:
        xp2 = tl.load(XPt + go + 2 * H, mask=m2, other=0.0).to(tl.float32)
        hp2 = tl.dot(h, w2, input_precision=PREC) + b2
    if G > 3:
        xp3 = tl.load(XPt + go + 3 * H, mask=m2, other=0.0).to(tl.float32)
        hp3 = tl.dot(h, w3, input_precision=PREC) + b3
    return xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3


@triton.jit
def _dense_fwd_kernel(
    XP, WHH, BHH, HPG, XHW, PAR, HPREV, CPREV, HS, CS,
    T, B, H, sXPe, sXPt, sXHe, sXHt,  # member and time strides of XP, XHW (their (B, ·) blocks are dense)
    KIND: tl.constexpr, G: tl.constexpr, HIGHWAY: tl.constexpr, HP_GIVEN: tl.constexpr,
    HP: tl.constexpr, BB: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, PREC: tl.constexpr,
    RESIDENT: tl.constexpr,
):
    pid = tl.program_id(0)
    e = tl.program_id(1).to(tl.int64)
    rows = pid * BB + tl.arange(0, BB)
    rmask = rows < B
    WHHe, BHHe, sz, sn = _member_base(WHH, BHH, PAR, e, H, G, KIND)
    if RESIDENT:
        # HP == BN == BK (H ≤ 32): one tile holds a whole hidden vector. U's G blocks and the biases
        # are loaded into registers once; h (and LSTM's c) are carried from step to step as loop
        # variables, so a step is G on-chip dots + the pointwise update, with no reload of U, no
        # read-back of h from memory and no barrier. hs / cs are still written for the backward pass.
        cols = tl.arange(0, HP)
        cmask = cols < H
        m2 = rmask[:, None] & cmask[None, :]
        so = rows[:, None] * H + cols[None, :]
        go = rows[:, None] * (G * H) + cols[None, :]
        wmask = cmask[:, None] & cmask[None, :]
        w0, w1, w2, w3 = _resident_weights(WHHe, H, cols, wmask, G, True)
        b0, b1, b2, b3 = _resident_biases(BHHe, H, cols, cmask, G, KIND)
        bz, bh = _fastgrnn_bias(BHHe, cols, cmask, H, KIND)
        h = tl.load(HS + e * (T + 1) * B * H + so, mask=m2, other=0.0)
        c = h
        if KIND == 3:
            c = tl.load(CS + e * (T + 1) * B * H + so, mask=m2, other=0.0)
        for t in range(T):
            XPt = XP + e * sXPe + t * sXPt
            xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3 = _resident_pre(XPt, go, m2, h, w0, w1, w2, w3,
                                                                   b0, b1, b2, b3, H, G, PREC)
            x_hw = h
            if HIGHWAY:
                x_hw = tl.load(XHW + e * sXHe + t * sXHt + so, mask=m2, other=0.0).to(tl.float32)
            h_new, c_new = _cell_fwd(KIND, HIGHWAY, xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3, h, c, x_hw,
                                     bz, bh, sz, sn)
            h_new = tl.where(m2, h_new, 0.0)  # padding stays exactly zero in the carried state
            slot = (e * (T + 1) + t + 1) * B * H
            tl.store(HS + slot + so, h_new, mask=m2)
            if KIND == 3:
                c_new = tl.where(m2, c_new, 0.0)
                tl.store(CS + slot + so, c_new, mask=m2)
            h = h_new
            c = c_new
    else:
        for t in range(T):
            XPt = XP + e * sXPe + t * sXPt
            XHWt = XHW + e * sXHe + t * sXHt
            HPGt = HPG + (e * T + t) * B * G * H
            if HP_GIVEN:  # one step (T = 1): previous and new states are separate (E, B, H) tensors
                HSt = HPREV + e * B * H
                CSt = CPREV + e * B * H
                HSn = HS + e * B * H
                CSn = CS + e * B * H
            else:  # state sequences (E, T+1, B, H): h_{t-1} at slice t, the new state one slice further
                HSt = HS + (e * (T + 1) + t) * B * H
                CSt = CS + (e * (T + 1) + t) * B * H
                HSn = HSt + B * H
                CSn = CSt + B * H
            for n0 in range(0, HP, BN):
                cols = n0 + tl.arange(0, BN)
                cmask = cols < H
                m2 = rmask[:, None] & cmask[None, :]
                so = rows[:, None] * H + cols[None, :]
                h_old = tl.load(HSt + so, mask=m2, other=0.0)
                xp0, hp0 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 0, H, G, HP,
                                     BK, BB, BN, PREC, HP_GIVEN, KIND != 5)
                xp1 = xp0
                xp2 = xp0
                xp3 = xp0
                hp1 = hp0
                hp2 = hp0
                hp3 = hp0
                if G > 1:
                    xp1, hp1 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 1, H, G,
                                         HP, BK, BB, BN, PREC, HP_GIVEN, True)
                if G > 2:
                    xp2, hp2 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 2, H, G,
                                         HP, BK, BB, BN, PREC, HP_GIVEN, True)
                if G > 3:
                    xp3, hp3 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 3, H, G,
                                         HP, BK, BB, BN, PREC, HP_GIVEN, True)
                c_old = h_old
                if KIND == 3:
                    c_old = tl.load(CSt + so, mask=m2, other=0.0)
                x_hw = h_old
                if HIGHWAY:
                    x_hw = tl.load(XHWt + so, mask=m2, other=0.0).to(tl.float32)
                bz, bh = _fastgrnn_bias(BHHe, cols, cmask, H, KIND)
                h_new, c_new = _cell_fwd(KIND, HIGHWAY, xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3, h_old,
                                         c_old, x_hw, bz, bh, sz, sn)
                tl.store(HSn + so, h_new, mask=m2)
                if KIND == 3:
                    tl.store(CSn + so, c_new, mask=m2)
            tl.debug_barrier()  # the whole new state is written before any thread reads it as h_{t-1}


@triton.jit
def _dense_bwd_kernel(
    XP, WHH, BHH, HPG, XHW, PAR, HPREV, CPREV, HS, CS,
    DHS, DCS,  # grads of the new states: sequences (E, T+1, B, H), or (E, B, H) with HP_GIVEN
    DXP, DHPN, DXHW, DH, DC, ACC,  # outputs; DH, DC (E, B, H) carry dh_t, dc_t and end as dh0, dc0
    T, B, H, sXPe, sXPt, sXHe, sXHt,
    KIND: tl.constexpr, G: tl.constexpr, HIGHWAY: tl.constexpr, HP_GIVEN: tl.constexpr,
    HP: tl.constexpr, BB: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, PREC: tl.constexpr,
    RESIDENT: tl.constexpr,
):
    pid = tl.program_id(0)
    e = tl.program_id(1).to(tl.int64)
    rows = pid * BB + tl.arange(0, BB)
    rmask = rows < B
    WHHe, BHHe, sz, sn = _member_base(WHH, BHH, PAR, e, H, G, KIND)
    DHe = DH + e * B * H
    DCe = DC + e * B * H
    ACCe = ACC + e * 4 * B * H  # FastGRNN (E, 4, B, H): Σ_t of t0 … t3 (see _cell_bwd)
    if RESIDENT:
        # as in the forward: U's blocks in registers in both orientations (U_k^T to recompute the
        # gates, U_k to propagate dh), dh_t / dc_t and FastGRNN's sums carried as loop variables.
        cols = tl.arange(0, HP)
        cmask = cols < H
        m2 = rmask[:, None] & cmask[None, :]
        so = rows[:, None] * H + cols[None, :]
        go = rows[:, None] * (G * H) + cols[None, :]
        wmask = cmask[:, None] & cmask[None, :]
        w0, w1, w2, w3 = _resident_weights(WHHe, H, cols, wmask, G, True)  # U_k^T: recompute the gates
        u0, u1, u2, u3 = _resident_weights(WHHe, H, cols, wmask, G, False)  # U_k: propagate dh
        b0, b1, b2, b3 = _resident_biases(BHHe, H, cols, cmask, G, KIND)
        bz, bh = _fastgrnn_bias(BHHe, cols, cmask, H, KIND)
        dh_c = tl.zeros([BB, HP], tl.float32)
        dc_c = tl.zeros([BB, HP], tl.float32)
        acc0 = tl.zeros([BB, HP], tl.float32)
        acc1 = tl.zeros([BB, HP], tl.float32)
        acc2 = tl.zeros([BB, HP], tl.float32)
        acc3 = tl.zeros([BB, HP], tl.float32)
        for tt in range(T):
            t = T - 1 - tt
            slot = (e * (T + 1) + t) * B * H  # h_{t-1}; h_t one slice further
            XPt = XP + e * sXPe + t * sXPt
            dh = tl.load(DHS + slot + B * H + so, mask=m2, other=0.0) + dh_c
            h_old = tl.load(HS + slot + so, mask=m2, other=0.0)
            if KIND <= 1:  # RNN: the derivative needs h_t alone (the pre-activation slots go unused)
                h_new = tl.load(HS + slot + B * H + so, mask=m2, other=0.0)
                xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3 = h_old, h_old, h_old, h_old, h_old, h_old, h_old, h_old
            else:
                h_new = h_old
                xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3 = _resident_pre(XPt, go, m2, h_old, w0, w1, w2, w3,
                                                                       b0, b1, b2, b3, H, G, PREC)
            c_old = h_old
            c_new = h_old
            dc = dc_c
            if KIND == 3:
                c_old = tl.load(CS + slot + so, mask=m2, other=0.0)
                c_new = tl.load(CS + slot + B * H + so, mask=m2, other=0.0)
                dc += tl.load(DCS + slot + B * H + so, mask=m2, other=0.0)
            x_hw = h_old
            if HIGHWAY:
                x_hw = tl.load(XHW + e * sXHe + t * sXHt + so, mask=m2, other=0.0).to(tl.float32)
            d0, d1, d2, d3, dhp2, dh_direct, dc_prev, dx_hw, t0, t1, t2, t3 = _cell_bwd(
                KIND, HIGHWAY, xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3, h_old, h_new, c_old, c_new,
                x_hw, dh, dc, bz, bh, sz, sn)
            DXPt = DXP + (e * T + t) * B * G * H
            tl.store(DXPt + go, d0, mask=m2)
            dh_c = dh_direct + tl.dot(d0, u0, input_precision=PREC)
            if G > 1:
                tl.store(DXPt + go + H, d1, mask=m2)
                dh_c += tl.dot(d1, u1, input_precision=PREC)
            if G > 2:
                tl.store(DXPt + go + 2 * H, d2, mask=m2)
                dh_c += tl.dot(dhp2, u2, input_precision=PREC)
            if G > 3:
                tl.store(DXPt + go + 3 * H, d3, mask=m2)
                dh_c += tl.dot(d3, u3, input_precision=PREC)
            if KIND == 2:
                tl.store(DHPN + (e * T + t) * B * H + so, dhp2, mask=m2)
            if HIGHWAY:
                tl.store(DXHW + (e * T + t) * B * H + so, dx_hw, mask=m2)
            if KIND == 3:
                dc_c = dc_prev
            if KIND == 5:
                acc0 += t0
                acc1 += t1
                acc2 += t2
                acc3 += t3
        tl.store(DHe + so, dh_c, mask=m2)
        if KIND == 3:
            tl.store(DCe + so, dc_c, mask=m2)
        if KIND == 5:
            tl.store(ACCe + so, acc0, mask=m2)
            tl.store(ACCe + B * H + so, acc1, mask=m2)
            tl.store(ACCe + 2 * B * H + so, acc2, mask=m2)
            tl.store(ACCe + 3 * B * H + so, acc3, mask=m2)
    else:
        for tt in range(T):
            t = T - 1 - tt
            et = e * T + t
            XPt = XP + e * sXPe + t * sXPt
            XHWt = XHW + e * sXHe + t * sXHt
            HPGt = HPG + et * B * G * H
            DXPt = DXP + et * B * G * H
            if HP_GIVEN:
                HSt = HPREV + e * B * H
                CSt = CPREV + e * B * H
                HSn = HS + e * B * H
                CSn = CS + e * B * H
                DHSn = DHS + e * B * H
                DCSn = DCS + e * B * H
            else:
                HSt = HS + (e * (T + 1) + t) * B * H
                CSt = CS + (e * (T + 1) + t) * B * H
                HSn = HSt + B * H
                CSn = CSt + B * H
                DHSn = DHS + (e * (T + 1) + t + 1) * B * H
                DCSn = DCS + (e * (T + 1) + t + 1) * B * H
            # phase 1: gradients of this step's pre-activations, chunk by chunk
            for n0 in range(0, HP, BN):
                cols = n0 + tl.arange(0, BN)
                cmask = cols < H
                m2 = rmask[:, None] & cmask[None, :]
                so = rows[:, None] * H + cols[None, :]
                go = rows[:, None] * (G * H) + cols[None, :]
                dh = tl.load(DHSn + so, mask=m2, other=0.0) + tl.load(DHe + so, mask=m2, other=0.0)
                h_old = tl.load(HSt + so, mask=m2, other=0.0)
                h_new = h_old
                xp0 = h_old
                hp0 = h_old
                if KIND <= 1:  # RNN: the derivative comes from the stored h_t
                    h_new = tl.load(HSn + so, mask=m2, other=0.0)
                else:
                    xp0, hp0 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 0, H, G,
                                         HP, BK, BB, BN, PREC, HP_GIVEN, KIND != 5)
                xp1 = xp0
                xp2 = xp0
                xp3 = xp0
                hp1 = hp0
                hp2 = hp0
                hp3 = hp0
                if G > 1:
                    xp1, hp1 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 1, H, G,
                                         HP, BK, BB, BN, PREC, HP_GIVEN, True)
                if G > 2:
                    xp2, hp2 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 2, H, G,
                                         HP, BK, BB, BN, PREC, HP_GIVEN, True)
                if G > 3:
                    xp3, hp3 = _gate_pre(XPt, WHHe, BHHe, HPGt, HSt, rows, rmask, cols, cmask, 3, H, G,
                                         HP, BK, BB, BN, PREC, HP_GIVEN, True)
                c_old = h_old
                c_new = h_old
                dc = dh
                if KIND == 3:
                    c_old = tl.load(CSt + so, mask=m2, other=0.0)
                    c_new = tl.load(CSn + so, mask=m2, other=0.0)
                    dc = tl.load(DCSn + so, mask=m2, other=0.0) + tl.load(DCe + so, mask=m2, other=0.0)
                x_hw = h_old
                if HIGHWAY:
                    x_hw = tl.load(XHWt + so, mask=m2, other=0.0).to(tl.float32)
                bz, bh = _fastgrnn_bias(BHHe, cols, cmask, H, KIND)
                d0, d1, d2, d3, dhp2, dh_direct, dc_prev, dx_hw, t0, t1, t2, t3 = _cell_bwd(
                    KIND, HIGHWAY, xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3, h_old, h_new, c_old, c_new,
                    x_hw, dh, dc, bz, bh, sz, sn)
                tl.store(DXPt + go, d0, mask=m2)
                if G > 1:
                    tl.store(DXPt + go + H, d1, mask=m2)
                if G > 2:
                    tl.store(DXPt + go + 2 * H, d2, mask=m2)
                if G > 3:
                    tl.store(DXPt + go + 3 * H, d3, mask=m2)
                if KIND == 2:
                    tl.store(DHPN + et * B * H + so, dhp2, mask=m2)
                if HIGHWAY:
                    tl.store(DXHW + et * B * H + so, dx_hw, mask=m2)
                if KIND == 3:
                    tl.store(DCe + so, dc_prev, mask=m2)
                if KIND == 5:
                    a0 = tl.load(ACCe + so, mask=m2, other=0.0)
                    a1 = tl.load(ACCe + B * H + so, mask=m2, other=0.0)
                    a2 = tl.load(ACCe + 2 * B * H + so, mask=m2, other=0.0)
                    a3 = tl.load(ACCe + 3 * B * H + so, mask=m2, other=0.0)
                    tl.store(ACCe + so, a0 + t0, mask=m2)
                    tl.store(ACCe + B * H + so, a1 + t1, mask=m2)
                    tl.store(ACCe + 2 * B * H + so, a2 + t2, mask=m2)
                    tl.store(ACCe + 3 * B * H + so, a3 + t3, mask=m2)
                tl.store(DHe + so, dh_direct, mask=m2)
            tl.debug_barrier()
            # phase 2: dh_{t-1} += Σ_k dhp_k U_k (skipped when hp came from outside: autograd does it)
            if not HP_GIVEN:
                for n0 in range(0, HP, BN):
                    cols = n0 + tl.arange(0, BN)
                    cmask = cols < H
                    m2 = rmask[:, None] & cmask[None, :]
                    so = rows[:, None] * H + cols[None, :]
                    acc = tl.load(DHe + so, mask=m2, other=0.0)
                    for k in tl.static_range(G):
                        for k0 in range(0, HP, BK):
                            kk = k0 + tl.arange(0, BK)
                            kmask = kk < H
                            mk = rmask[:, None] & kmask[None, :]
                            if KIND == 2 and k == 2:
                                dg = tl.load(DHPN + et * B * H + rows[:, None] * H + kk[None, :], mask=mk,
                                             other=0.0)
                            else:
                                dg = tl.load(DXPt + rows[:, None] * (G * H) + k * H + kk[None, :], mask=mk,
                                             other=0.0)
                            w = tl.load(WHHe + (k * H + kk[:, None]) * H + cols[None, :],
                                        mask=kmask[:, None] & cmask[None, :], other=0.0).to(tl.float32)
                            acc += tl.dot(dg, w, input_precision=PREC)
                    tl.store(DHe + so, acc, mask=m2)
                tl.debug_barrier()

