"""Persistent Triton kernel for the dense recurrences (RNN, GRU, LSTM, PRU, FastGRNN, IRC/IHC variants).

Design (see docs/kernels.md):

* The caller computes the input projection for all steps as one GEMM, ``xp = x W_ih^T + b_ih``
  ``(E, T, B, G·H)`` with G gate blocks, so the kernel only runs the recurrence
  ``a_k = xp_k[t] + h_{t-1} U_k^T + b_hh,k`` and the cell's pointwise update.
* One program owns a block of ``BB`` batch rows of one ensemble member (grid ``(cdiv(B, BB), E)``)
  and loops over all T steps inside one launch: no per-step launch overhead.
* Two variants of the time loop (constexpr ``RESIDENT``):
  - register-resident (HP ≤ ``RESIDENT_MAX_PAD`` = 32, where HP == BN == BK: one tile is the whole
    hidden vector, the capacity study's regime): U's G blocks (both orientations in the backward)
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

import torch
import triton
import triton.language as tl

from ._common import FP_FUSION, first_order, on_device, padded_size

# cell kinds understood by the kernels: name -> (constexpr id, number of gate blocks G)
RNN_TANH, RNN_RELU, GRU, LSTM, PRU, FASTGRNN = range(6)
# FastGRNN's gate and candidate share a = Wx + Uh: one block, with two biases (see bias_blocks)
GATES = {RNN_TANH: 1, RNN_RELU: 1, GRU: 3, LSTM: 4, PRU: 2, FASTGRNN: 1}
BATCH_BLOCK = 16  # rows per program; ≥ 16 because tl.dot needs M ≥ 16


@triton.jit
def _tanh(x):
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0


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
def _fastgrnn_bias(BHHe, cols, cmask, H, KIND: tl.constexpr):
    """FastGRNN's (b_z, b_h) as (1, BN) rows, its two biases on the one shared block (zeros for the
    other kinds, whose b_hh has no second block to read)."""
    if KIND == 5:
        bz = tl.load(BHHe + cols, mask=cmask, other=0.0).to(tl.float32)[None, :]
        bh = tl.load(BHHe + H + cols, mask=cmask, other=0.0).to(tl.float32)[None, :]
    else:
        bz = (cols * 0.0)[None, :]
        bh = bz
    return bz, bh


@triton.jit
def _cell_fwd(KIND: tl.constexpr, HIGHWAY: tl.constexpr, xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3,
              h_old, c_old, x_hw, bz, bh, sz, sn):
    """The pointwise update of one (rows, columns) tile: (h_t, c_t) from the pre-activation parts
    xp_k, hp_k of the cell's G blocks (unused blocks are placeholders). c_t is c_old except for LSTM."""
    c_new = c_old
    if KIND == 0:  # RNN tanh
        h_new = _tanh(xp0 + hp0)
    elif KIND == 1:  # RNN relu
        h_new = tl.maximum(xp0 + hp0, 0.0)
    elif KIND == 2:  # GRU: blocks r, z, n
        r = tl.sigmoid(xp0 + hp0)
        z = tl.sigmoid(xp1 + hp1)
        n = _tanh(xp2 + r * hp2)
        h_new = (1.0 - z) * n + z * h_old
    elif KIND == 3:  # LSTM: blocks i, f, g, o
        i = tl.sigmoid(xp0 + hp0)
        f = tl.sigmoid(xp1 + hp1)
        g = _tanh(xp2 + hp2)
        o = tl.sigmoid(xp3 + hp3)
        c_new = f * c_old + i * g
        h_new = o * _tanh(c_new)
        if HIGHWAY:  # IHC: the output gate doubles as an input highway
            h_new += (1.0 - o) * x_hw
    elif KIND == 4:  # PRU: blocks [update c; candidate u]
        c = tl.sigmoid(xp0 + hp0)
        u = _tanh(xp1 + hp1)
        h_new = c * h_old + (1.0 - c) * u
    else:  # FastGRNN: z and h~ share a = Wx + Uh and differ in bias
        a = xp0 + hp0
        z = tl.sigmoid(a + bz)
        ht = _tanh(a + bh)
        h_new = (sz * (1.0 - z) + sn) * ht + z * h_old
    return h_new, c_new


@triton.jit
def _cell_bwd(KIND: tl.constexpr, HIGHWAY: tl.constexpr, xp0, hp0, xp1, hp1, xp2, hp2, xp3, hp3,
              h_old, h_new, c_old, c_new, x_hw, dh, dc, bz, bh, sz, sn):
    """Gradients of one tile's pointwise update, given dh (and LSTM's dc) of the new state.

    Returns (dpre_0 … dpre_3: gradients of the G blocks' pre-activations, i.e. of xp; dhp_2: the
    gradient reaching U_n h for GRU (dn·r), else dpre_2; dh_direct: the part of dh_{t-1} that does
    not pass through U; dc_prev (LSTM); dx_hw (IHC); t0 … t3: FastGRNN's per-step terms for ζ, ν,
    b_z, b_h). Unused entries are zeros."""
    zero = tl.zeros_like(dh)
    d0 = zero
    d1 = zero
    d2 = zero
    d3 = zero
    dh_direct = zero
    dc_prev = zero
    dx_hw = zero
    t0 = zero
    t1 = zero
    t2 = zero
    t3 = zero
    if KIND == 0:  # the stored h_t gives tanh' = 1 − h_t²: nothing to recompute
        d0 = dh * (1.0 - h_new * h_new)
    elif KIND == 1:  # relu' = [h_t > 0]
        d0 = tl.where(h_new > 0.0, dh, 0.0)
    elif KIND == 2:
        r = tl.sigmoid(xp0 + hp0)
        z = tl.sigmoid(xp1 + hp1)
        n = _tanh(xp2 + r * hp2)
        dn_pre = dh * (1.0 - z) * (1.0 - n * n)
        d0 = dn_pre * hp2 * r * (1.0 - r)
        d1 = dh * (h_old - n) * z * (1.0 - z)
        d2 = dn_pre
        dh_direct = dh * z
    elif KIND == 3:
        i = tl.sigmoid(xp0 + hp0)
        f = tl.sigmoid(xp1 + hp1)
        g = _tanh(xp2 + hp2)
        o = tl.sigmoid(xp3 + hp3)
        tc = _tanh(c_new)
        do = dh * tc
        if HIGHWAY:
            do -= dh * x_hw
            dx_hw = dh * (1.0 - o)
        dct = dc + dh * o * (1.0 - tc * tc)
        d0 = dct * g * i * (1.0 - i)
        d1 = dct * c_old * f * (1.0 - f)
        d2 = dct * i * (1.0 - g * g)
        d3 = do * o * (1.0 - o)
        dc_prev = dct * f
    elif KIND == 4:
        c = tl.sigmoid(xp0 + hp0)
        u = _tanh(xp1 + hp1)
        d0 = dh * (h_old - u) * c * (1.0 - c)
        d1 = dh * (1.0 - c) * (1.0 - u * u)
        dh_direct = dh * c
    else:  # FastGRNN: dxp = da is the sum of both paths through a
        a = xp0 + hp0
        z = tl.sigmoid(a + bz)
        ht = _tanh(a + bh)
        coef = sz * (1.0 - z) + sn
        t2 = dh * (h_old - sz * ht) * z * (1.0 - z)  # dz_pre (for b_z)
        t3 = dh * coef * (1.0 - ht * ht)  # dh~_pre (for b_h)
        d0 = t2 + t3
        dh_direct = dh * z
        t0 = dh * ht * (1.0 - z)  # for ζ
        t1 = dh * ht  # for ν
    dhp2 = d2
    if KIND == 2:
        dhp2 = d2 * tl.sigmoid(xp0 + hp0)
    return d0, d1, d2, d3, dhp2, dh_direct, dc_prev, dx_hw, t0, t1, t2, t3


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


def _tiles(H: int) -> tuple[int, int, int]:
    """(HP, BN, BK): the padded hidden size, the output-column chunk and the reduction chunk."""
    hp = padded_size(H)
    return hp, min(hp, 32), min(hp, 64)


# Largest padded hidden size for which the persistent kernels keep U in registers (RESIDENT): the
# whole hidden vector is one tile (HP == BN == BK) and U's G blocks (G·HP² fp32, ≤ 16 KiB for an LSTM
# at HP = 32, ≤ 32 registers per thread with 4 warps) fit in registers. The register/spill counts
# come from ptxas (python -m rnnviz.kernels._compile_check --ptxas-info); the speed-up over the
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
