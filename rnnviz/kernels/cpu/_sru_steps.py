"""numba kernels of the SRU-family recurrence (SRU v1/v2, IRC-SRU, T-RNN, IRC-T-RNN), forward and backward.

No matrix acts on the state, so a kernel walks all T steps itself. It takes rows ``[r0, r1)`` of the
E·B (model, batch row) pairs, so the caller can split the work between threads (the kernels release
the GIL), and handles them model by model: for one model the rows' states are one flat buffer of
(rows × n) values, every step's inputs are first copied into flat buffers of the same shape, and the
arithmetic then runs in loops over that whole buffer (which vectorise, whatever n). Per step::

    f = σ(x̂_f + v_f c + b_f)                    c' = f c + (1 − f) x̃
    r = σ(x̂_r + v_r c + b_r)   (with a reset gate)
    h = r c' + (1 − r) x'      (highway; x' = α·x or a projection)   h = r c' (no highway)   h = c' (T-RNN)

Inputs are read where they are: ``xp (E, T, B, P)`` (model-major, as an ensemble's input GEMM
writes it) holds the blocks of the input GEMM at column offsets ``oc`` (candidate x̃; −1: the input
x itself, IRC), ``of`` (x̂_f), ``orr`` (x̂_r; −1: no reset gate) and ``oh`` (the projection x'; −1:
none, −2: α·x), ``x (E, T, B, n)``; the outputs and gradients have the same layout.
``par (E, 4, n)`` = [b_f; b_r; v_f; v_r] (zeros where a cell has none). The forward stores c' of every
step (``cs``), which is all the backward needs: it recomputes f and r from c. Arithmetic is in the
storage dtype (float32 or float64).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._math import INLINE, JIT, sigmoid


@njit(**INLINE)
def _get(src, e, t, b0, col, n, dst, count):
    """dst[:count] (flat (rows, n)) ← src[e, t, b0:b0 + count // n, col:col + n]."""
    rows = count // n
    for b in range(rows):
        for j in range(n):
            dst[b * n + j] = src[e, t, b0 + b, col + j]


@njit(**INLINE)
def _put(src, dst, e, t, b0, col, n, count):
    """dst[e, t, b0:b0 + count // n, col:col + n] ← src[:count] (flat (rows, n))."""
    rows = count // n
    for b in range(rows):
        for j in range(n):
            dst[e, t, b0 + b, col + j] = src[b * n + j]


@njit(**INLINE)
def _spans(r0, r1, B):
    """The (model, first row, last row + 1) runs of rows [r0, r1) of E·B, one model each."""
    out = []
    r = r0
    while r < r1:
        e = r // B
        b0 = r - e * B
        b1 = min(B, b0 + (r1 - r))
        out.append((e, b0, b1))
        r += b1 - b0
    return out


@njit(**INLINE)
def _params(par, e, n, count, pb):
    """pb (4, count): the per-unit parameters [b_f; b_r; v_f; v_r] of model e, repeated for every row."""
    for k in range(4):
        for i in range(count):
            pb[k, i] = par[e, k, i % n]


@njit(**JIT)
def sru_forward(xp, x, c0, par, cs, hs, oc, of, orr, oh, alpha, r0, r1):
    """Rows [r0, r1) of E·B: ``cs, hs (E, T, B, n)`` ← c' and h of every step."""
    E, T, B, P = xp.shape
    n = c0.shape[2]
    size = B * n
    c = np.empty(size, cs.dtype)
    f = np.empty(size, cs.dtype)
    r = np.empty(size, cs.dtype)
    u = np.empty(size, cs.dtype)  # candidate, then h
    w = np.empty(size, cs.dtype)  # highway input
    pb = np.empty((4, size), cs.dtype)
    for e, b0, b1 in _spans(r0, r1, B):
        m = (b1 - b0) * n
        _params(par, e, n, m, pb)
        for b in range(b1 - b0):
            for j in range(n):
                c[b * n + j] = c0[e, b0 + b, j]
        for t in range(T):
            _get(xp, e, t, b0, of, n, f, m)
            for i in range(m):
                f[i] = sigmoid(f[i] + pb[2, i] * c[i] + pb[0, i])
            if orr >= 0:
                _get(xp, e, t, b0, orr, n, r, m)
                for i in range(m):
                    r[i] = sigmoid(r[i] + pb[3, i] * c[i] + pb[1, i])
            if oc >= 0:
                _get(xp, e, t, b0, oc, n, u, m)
            else:
                _get(x, e, t, b0, 0, n, u, m)
            for i in range(m):
                c[i] = f[i] * c[i] + (1 - f[i]) * u[i]
            _put(c, cs, e, t, b0, 0, n, m)
            if orr < 0:
                _put(c, hs, e, t, b0, 0, n, m)
                continue
            if oh == -1:
                for i in range(m):
                    u[i] = r[i] * c[i]
            else:
                if oh == -2:
                    _get(x, e, t, b0, 0, n, w, m)
                    for i in range(m):
                        w[i] = alpha * w[i]
                else:
                    _get(xp, e, t, b0, oh, n, w, m)
                for i in range(m):
                    u[i] = r[i] * c[i] + (1 - r[i]) * w[i]
            _put(u, hs, e, t, b0, 0, n, m)


@njit(**JIT)
def sru_backward(xp, x, c0, par, cs, dhs, dct, dxp, dx, dc0, acc, oc, of, orr, oh, alpha, r0, r1):
    """Rows [r0, r1): gradients of the blocks of xp (``dxp``, same layout; the blocks a cell lacks are
    left alone), of x (``dx``, when x is read), of c0 (``dc0``), and per-row sums over steps
    ``acc (4, E, B, n)`` (float64) = [Σ df̂; Σ dr̂; Σ df̂·c; Σ dr̂·c] for b_f, b_r, v_f, v_r.

    With d_c the gradient reaching c' (from later steps) and d_h that of h, in reverse time:
    d_r̂ = d_h (c' − x') r(1 − r); D = d_c + d_h r (T-RNN: d_c + d_h); d_f̂ = D (c − x̃) f(1 − f);
    dx̃ = D (1 − f); dx' = d_h (1 − r); d_c ← D f + d_f̂ v_f + d_r̂ v_r.
    """
    E, T, B, P = xp.shape
    n = c0.shape[2]
    size = B * n
    dc = np.empty(size, cs.dtype)
    cn = np.empty(size, cs.dtype)  # c' of the step
    cp = np.empty(size, cs.dtype)  # c before it
    f = np.empty(size, cs.dtype)
    r = np.empty(size, cs.dtype)
    u = np.empty(size, cs.dtype)  # candidate
    w = np.empty(size, cs.dtype)  # highway input
    dh = np.empty(size, cs.dtype)
    df = np.empty(size, cs.dtype)
    dr = np.empty(size, cs.dtype)
    tmp = np.empty(size, cs.dtype)
    sums = np.empty((4, size))
    pb = np.empty((4, size), cs.dtype)
    for e, b0, b1 in _spans(r0, r1, B):
        m = (b1 - b0) * n
        _params(par, e, n, m, pb)
        for b in range(b1 - b0):
            for j in range(n):
                dc[b * n + j] = dct[e, b0 + b, j]
        sums[:, :m] = 0.0
        for t in range(T - 1, -1, -1):
            _get(cs, e, t, b0, 0, n, cn, m)
            if t > 0:
                _get(cs, e, t - 1, b0, 0, n, cp, m)
            else:
                for b in range(b1 - b0):
                    for j in range(n):
                        cp[b * n + j] = c0[e, b0 + b, j]
            _get(xp, e, t, b0, of, n, f, m)
            for i in range(m):
                f[i] = sigmoid(f[i] + pb[2, i] * cp[i] + pb[0, i])
            _get(dhs, e, t, b0, 0, n, dh, m)
            if orr >= 0:
                _get(xp, e, t, b0, orr, n, r, m)
                for i in range(m):
                    r[i] = sigmoid(r[i] + pb[3, i] * cp[i] + pb[1, i])
                if oh == -1:
                    for i in range(m):
                        dr[i] = dh[i] * cn[i] * r[i] * (1 - r[i])
                else:
                    if oh == -2:
                        _get(x, e, t, b0, 0, n, w, m)
                        for i in range(m):
                            w[i] = alpha * w[i]
                    else:
                        _get(xp, e, t, b0, oh, n, w, m)
                    for i in range(m):
                        dr[i] = dh[i] * (cn[i] - w[i]) * r[i] * (1 - r[i])
                _put(dr, dxp, e, t, b0, orr, n, m)
                for i in range(m):
                    dc[i] += dh[i] * r[i]
            else:
                for i in range(m):
                    dc[i] += dh[i]
            # dc is now D: the candidate's gradient D(1 − f), the forget gate's D(c − x̃) f(1 − f)
            if oc >= 0:
                _get(xp, e, t, b0, oc, n, u, m)
            else:
                _get(x, e, t, b0, 0, n, u, m)
            for i in range(m):
                df[i] = dc[i] * (cp[i] - u[i]) * f[i] * (1 - f[i])
            _put(df, dxp, e, t, b0, of, n, m)
            for i in range(m):
                tmp[i] = dc[i] * (1 - f[i])
            if oc >= 0:
                _put(tmp, dxp, e, t, b0, oc, n, m)
            if oh >= 0:
                for i in range(m):
                    w[i] = dh[i] * (1 - r[i])
                _put(w, dxp, e, t, b0, oh, n, m)
            elif oh == -2:  # the highway α·x adds to x's gradient (IRC: to the candidate's)
                for i in range(m):
                    w[i] = dh[i] * (1 - r[i]) * alpha
                if oc < 0:
                    for i in range(m):
                        tmp[i] += w[i]
                else:
                    for i in range(m):
                        tmp[i] = w[i]
            if oc < 0 or oh == -2:
                _put(tmp, dx, e, t, b0, 0, n, m)
            for i in range(m):
                sums[0, i] += df[i]
            for i in range(m):
                sums[2, i] += df[i] * cp[i]
            for i in range(m):
                dc[i] = dc[i] * f[i] + df[i] * pb[2, i]
            if orr >= 0:
                for i in range(m):
                    sums[1, i] += dr[i]
                for i in range(m):
                    sums[3, i] += dr[i] * cp[i]
                for i in range(m):
                    dc[i] += dr[i] * pb[3, i]
        for b in range(b1 - b0):
            for j in range(n):
                dc0[e, b0 + b, j] = dc[b * n + j]
                for k in range(4):
                    acc[k, e, b0 + b, j] = sums[k, b * n + j]
