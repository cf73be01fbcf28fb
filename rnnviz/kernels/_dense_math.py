"""Pointwise math of the dense recurrence kernels: one step's cell update on a (rows, columns) tile,
forward and backward, as ``@triton.jit`` helpers that touch no memory beyond FastGRNN's two biases.

Each cell's recurrent pre-activation of gate block k is split into its two parts, the input part
``xp_k`` (from the input GEMM, input bias included) and the recurrent part ``hp_k = h_{t-1} U_k^T +
b_hh,k``; unused blocks are placeholders. ``KIND`` is the cell kind's constexpr id, the constants of
:mod:`rnnviz.kernels._dense` (0 RNN_TANH, 1 RNN_RELU, 2 GRU, 3 LSTM, 4 PRU, 5 FASTGRNN). The update
``(h_{t-1}, c_{t-1}) -> (h_t, c_t)`` per kind (σ the logistic function, ⊙ implied):

* RNN:      h_t = tanh(a) or relu(a),  a = xp_0 + hp_0
* GRU:      r = σ(xp_0 + hp_0), z = σ(xp_1 + hp_1), n = tanh(xp_2 + r hp_2), h_t = (1 − z) n + z h_{t-1}
* LSTM:     i, f, o = σ(xp_k + hp_k) (k = 0, 1, 3), g = tanh(xp_2 + hp_2), c_t = f c_{t-1} + i g,
            h_t = o tanh(c_t), plus (1 − o) x_t for the IHC highway (``HIGHWAY``)
* PRU:      c = σ(xp_0 + hp_0), u = tanh(xp_1 + hp_1), h_t = c h_{t-1} + (1 − c) u
* FastGRNN: a = xp_0 + hp_0 (one block, no b_hh), z = σ(a + b_z), h~ = tanh(a + b_h),
            h_t = (σ(ζ)(1 − z) + σ(ν)) h~ + z h_{t-1}   (sz = σ(ζ), sn = σ(ν))

All arithmetic is fp32. The backward recomputes the gates from xp, hp (or, for the RNN kinds, uses
h_t alone) instead of storing them; see :func:`_cell_bwd` for what it returns.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _tanh(x):
    """tanh(x) = 2σ(2x) − 1 (Triton's core language has no tanh)."""
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0



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

