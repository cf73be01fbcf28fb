"""numba kernels of the SRU-family recurrence (SRU v1/v2, IRC-SRU, T-RNN, IRC-T-RNN), forward and backward.

No matrix acts on the state, so a kernel walks all T steps itself. It takes rows ``[r0, r1)`` of the
E·B (model, batch row) pairs, so the caller can split the work between threads (the kernels release
the GIL), and handles them model by model. As in the dense kernels the work runs "batch innermost":
each step's inputs of the model's rows are transposed into a (·, rows) scratch in one pass, the
state is a (n, rows) buffer, the arithmetic runs in loops over the rows (which vectorise, whatever
n), and the results are transposed back on store. Per step::

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
def _load(src, e, t, b0, dst):
    """dst (N, rows) ← src[e, t, b0:b0 + rows] (rows, N), transposed."""
    N, rows = dst.shape
    for b in range(rows):
        for k in range(N):
            dst[k, b] = src[e, t, b0 + b, k]


@njit(**INLINE)
def _store(src, dst, e, t, b0):
    """dst[e, t, b0:b0 + rows] (rows, N) ← src (N, rows): the inverse of :func:`_load`."""
    N, rows = src.shape
    for b in range(rows):
        for k in range(N):
            dst[e, t, b0 + b, k] = src[k, b]


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


@njit(**JIT)
def sru_forward(xp, x, c0, par, cs, hs, oc, of, orr, oh, alpha, r0, r1):
    """Rows [r0, r1) of E·B: ``cs, hs (E, T, B, n)`` ← c' and h of every step."""
    E, T, B, P = xp.shape
    n = c0.shape[2]
    needs_x = oc < 0 or oh == -2
    for e, b0, b1 in _spans(r0, r1, B):
        rows = b1 - b0
        xs = np.empty((P, rows), cs.dtype)
        xx = np.empty((n if needs_x else 0, rows), cs.dtype)
        c = np.empty((n, rows), cs.dtype)
        h = np.empty((n, rows), cs.dtype)
        f = np.empty(rows, cs.dtype)
        r = np.empty(rows, cs.dtype)
        for b in range(rows):
            for j in range(n):
                c[j, b] = c0[e, b0 + b, j]
        for t in range(T):
            _load(xp, e, t, b0, xs)
            if needs_x:
                _load(x, e, t, b0, xx)
            for j in range(n):
                bf, br, vf, vr = par[e, 0, j], par[e, 1, j], par[e, 2, j], par[e, 3, j]
                for b in range(rows):
                    f[b] = sigmoid(xs[of + j, b] + vf * c[j, b] + bf)
                if orr >= 0:
                    for b in range(rows):
                        r[b] = sigmoid(xs[orr + j, b] + vr * c[j, b] + br)
                if oc >= 0:
                    for b in range(rows):
                        c[j, b] = f[b] * c[j, b] + (1 - f[b]) * xs[oc + j, b]
                else:
                    for b in range(rows):
                        c[j, b] = f[b] * c[j, b] + (1 - f[b]) * xx[j, b]
                if orr < 0:
                    for b in range(rows):
                        h[j, b] = c[j, b]
                elif oh == -1:
                    for b in range(rows):
                        h[j, b] = r[b] * c[j, b]
                elif oh == -2:
                    for b in range(rows):
                        h[j, b] = r[b] * c[j, b] + (1 - r[b]) * (alpha * xx[j, b])
                else:
                    for b in range(rows):
                        h[j, b] = r[b] * c[j, b] + (1 - r[b]) * xs[oh + j, b]
            _store(c, cs, e, t, b0)
            _store(h, hs, e, t, b0)


@njit(**JIT)
def sru_backward(xp, x, c0, par, cs, dhs, dct, dxp, dx, dc0, acc, oc, of, orr, oh, alpha, r0, r1):
    """Rows [r0, r1): gradients of the blocks of xp (``dxp``, same layout; every column of xp is one
    of the cell's blocks), of x (``dx``, when x is read), of c0 (``dc0``), and per-row sums over steps
    ``acc (4, E, B, n)`` (float64) = [Σ df̂; Σ dr̂; Σ df̂·c; Σ dr̂·c] for b_f, b_r, v_f, v_r.

    With d_c the gradient reaching c' (from later steps) and d_h that of h, in reverse time:
    d_r̂ = d_h (c' − x') r(1 − r); D = d_c + d_h r (T-RNN: d_c + d_h); d_f̂ = D (c − x̃) f(1 − f);
    dx̃ = D (1 − f); dx' = d_h (1 − r); d_c ← D f + d_f̂ v_f + d_r̂ v_r.
    """
    E, T, B, P = xp.shape
    n = c0.shape[2]
    needs_x = oc < 0 or oh == -2
    for e, b0, b1 in _spans(r0, r1, B):
        rows = b1 - b0
        xs = np.empty((P, rows), cs.dtype)
        xx = np.empty((n if needs_x else 0, rows), cs.dtype)
        dxs = np.empty((P, rows), cs.dtype)
        dxx = np.empty((n if needs_x else 0, rows), cs.dtype)
        cn = np.empty((n, rows), cs.dtype)  # c' of the step
        cp = np.empty((n, rows), cs.dtype)  # c before it
        dh = np.empty((n, rows), cs.dtype)
        dc = np.empty((n, rows), cs.dtype)
        f = np.empty(rows, cs.dtype)
        r = np.empty(rows, cs.dtype)
        df = np.empty(rows, cs.dtype)
        dr = np.empty(rows, cs.dtype)
        sums = np.zeros((4, n, rows))
        for b in range(rows):
            for j in range(n):
                dc[j, b] = dct[e, b0 + b, j]
        _load(cs, e, T - 1, b0, cp)
        for t in range(T - 1, -1, -1):
            _load(xp, e, t, b0, xs)
            if needs_x:
                _load(x, e, t, b0, xx)
            cn, cp = cp, cn  # c' of step t is the previous iteration's "c before"
            if t > 0:
                _load(cs, e, t - 1, b0, cp)
            else:
                for b in range(rows):
                    for j in range(n):
                        cp[j, b] = c0[e, b0 + b, j]
            _load(dhs, e, t, b0, dh)
            for j in range(n):
                bf, br, vf, vr = par[e, 0, j], par[e, 1, j], par[e, 2, j], par[e, 3, j]
                for b in range(rows):
                    f[b] = sigmoid(xs[of + j, b] + vf * cp[j, b] + bf)
                if orr >= 0:
                    for b in range(rows):
                        r[b] = sigmoid(xs[orr + j, b] + vr * cp[j, b] + br)
                    if oh == -1:
                        for b in range(rows):
                            dr[b] = dh[j, b] * cn[j, b] * r[b] * (1 - r[b])
                    elif oh == -2:
                        for b in range(rows):
                            dr[b] = dh[j, b] * (cn[j, b] - alpha * xx[j, b]) * r[b] * (1 - r[b])
                        for b in range(rows):
                            dxx[j, b] = dh[j, b] * (1 - r[b]) * alpha
                    else:
                        for b in range(rows):
                            dr[b] = dh[j, b] * (cn[j, b] - xs[oh + j, b]) * r[b] * (1 - r[b])
                        for b in range(rows):
                            dxs[oh + j, b] = dh[j, b] * (1 - r[b])
                    for b in range(rows):
                        dxs[orr + j, b] = dr[b]
                    for b in range(rows):
                        dc[j, b] += dh[j, b] * r[b]
                else:
                    for b in range(rows):
                        dc[j, b] += dh[j, b]
                # dc is now D: the candidate's gradient D(1 − f), the forget gate's D(c − x̃) f(1 − f)
                if oc >= 0:
                    for b in range(rows):
                        df[b] = dc[j, b] * (cp[j, b] - xs[oc + j, b]) * f[b] * (1 - f[b])
                    for b in range(rows):
                        dxs[oc + j, b] = dc[j, b] * (1 - f[b])
                else:
                    for b in range(rows):
                        df[b] = dc[j, b] * (cp[j, b] - xx[j, b]) * f[b] * (1 - f[b])
                    if oh == -2:  # IRC with the α·x highway: both reach x
                        for b in range(rows):
                            dxx[j, b] += dc[j, b] * (1 - f[b])
                    else:
                        for b in range(rows):
                            dxx[j, b] = dc[j, b] * (1 - f[b])
                for b in range(rows):
                    dxs[of + j, b] = df[b]
                for b in range(rows):
                    sums[0, j, b] += df[b]
                for b in range(rows):
                    sums[2, j, b] += df[b] * cp[j, b]
                for b in range(rows):
                    dc[j, b] = dc[j, b] * f[b] + df[b] * vf
                if orr >= 0:
                    for b in range(rows):
                        sums[1, j, b] += dr[b]
                    for b in range(rows):
                        sums[3, j, b] += dr[b] * cp[j, b]
                    for b in range(rows):
                        dc[j, b] += dr[b] * vr
            _store(dxs, dxp, e, t, b0)
            if needs_x:
                _store(dxx, dx, e, t, b0)
        for b in range(rows):
            for j in range(n):
                dc0[e, b0 + b, j] = dc[j, b]
                for k in range(4):
                    acc[k, e, b0 + b, j] = sums[k, j, b]
