"""The pointwise work of one time step of each dense cell, forward and backward, as numba kernels.

The matrix product of a step (``g = W_hh h``, and in the backward ``W_hhᵀ dg``) is done either by the
caller with torch's BLAS between per-step calls, or, for small products, by the kernel itself (loops,
or its own BLAS calls); a kernel does everything else of the step in one call. Inner loops run over the
batch ("batch innermost"), so they vectorise whatever the hidden size (a loop over 2 to 16 units
would not). The sequences the caller hands over (projections, inputs, outputs and their gradients)
are pairs ``(flat, strides)``: a 1-D array and the element strides of its (model, feature, step,
batch) axes, so that one compiled kernel reads and writes any layout without a copy (an ensemble's
features-first ``(E, ·, T, B)``, which an all-steps GEMM ``W xᵀ`` writes; a single model's rows
``(T, B, ·)``); a kernel copies step t of model e into a (features, B) scratch first:

* ``xp (E, P, T, B)``: the input projections of every step (P = k·n, blocks as in the cell);
* ``g (E, P, B)``: this step's recurrent products W_hh h (no bias);
* ``bias (E, P)``: the biases added to the step's pre-activations (b_hh, plus b_ih when xp lacks it;
  GRU ``(E, 4n)``, see :func:`gru_forward`; an empty array for FastGRNN, whose biases are in ``par``);
* ``st (T+1, E, S, B)``: the states, ``st[0]`` the initial one; a forward kernel writes step t + 1;
* ``sv (T, E, K, B)``: what the backward needs of step t (gates: K = 4n GRU, 5n LSTM, 2n PRU and
  FastGRNN; RNN saves nothing and reads its output from ``st``);
* ``x (E, n, T, B)``: the inputs (IHC-LSTM's highway), else an empty sequence;
* ``par (E, 2n + 2)``: FastGRNN's [b_z; b_h; σ(ζ); σ(ν)], else an empty array;
* ``y (E, n, T, B)``: the outputs h_t, written by the forward kernels;
* ``ends (E,)`` (int64): the step at which each model's sequence ends (T unless an ensemble of
  different lengths is padded): at steps t ≥ ends[e] a forward kernel only carries model e's state
  (st[t + 1] ← st[t]) and writes a zero output, a backward kernel writes zero gradients for the step
  and leaves ``ds`` as it is; the padding's projections are never read;
* ``w (E, P, n)``: W_hh when the products are small (``_dense.products_in_kernel``), whose recurrent
  products the kernels then do themselves (forward: ``g``; backward: ``ds += W_hhᵀ dg`` and the float64 sum ``wgrad (E, P, n)`` of
  dW_hh), else an empty array (the caller's BLAS does them).

The states and saved gates are time-major, so one step's are one contiguous slab.

A backward kernel takes ``ds (E, S, B)``, the gradient of the state after step t, adds the gradient of
the output h_t (``dy (E, n, T, B)``), writes the gradients of the step's input projections (``dxp
(E, P, T, B)``) and of its recurrent pre-activations (``dg (E, P, B)``, this
step's only, for the caller's products; they differ only in GRU's candidate block, r ⊙ ·), and leaves in ``ds``
the gradient of the state before step t *except* the path through the matrix product, which the
caller adds (``ds[:, :n] += W_hhᵀ dg_t``). IHC-LSTM also writes ``dx (E, n, T, B)``; FastGRNN
accumulates its parameter sums in ``acc (E, 2n + 2, B)`` (float64).

Every kernel handles steps ``[t0, t1)`` (backward: in reverse) and models ``[e0, e1)``: the caller
runs one step at a time when it does the products with BLAS between steps, and all T steps in one
call when the kernels do them (small products), and it can split the models between threads
(the kernels release the GIL). Arithmetic is in the storage dtype (float32 or float64; the activations of :mod:`._math` follow it).
The equations are the cells' (``rnnviz.cells``); derivatives use the saved activations
(σ' = σ(1 − σ), tanh' = 1 − tanh²).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._math import INLINE, JIT, relu, sigmoid, tanh

# up to this hidden size the in-kernel recurrent products are loops (a few FMAs per value); above it,
# BLAS calls (np.dot). Measured (24 models, B = 32, 21 steps, one thread): n = 4 loops 0.10 + 0.19 ms
# (forward + backward products) against BLAS 0.05 + 0.23; n = 8 loops 0.33 + 0.80 against 0.11 + 0.46
LOOP_HIDDEN = 4


@njit(**INLINE)
def _load(src, t, e, dst):
    """dst (N, B) ← step t of model e of a sequence ``src = (flat, strides)`` (see the module docstring).
    Indices are unsigned (no negative-index wraparound, so the copies vectorise), and the loop order
    walks contiguous memory in both usual layouts."""
    flat, (s_e, s_k, s_t, s_b) = src
    N, B = dst.shape
    base = np.uint64(e * s_e + t * s_t)
    if s_b == 1:  # features first: one contiguous run of B per feature
        for k in range(N):
            row = base + np.uint64(k * s_k)
            for b in range(np.uint64(B)):
                dst[k, b] = flat[row + b]
    else:  # rows: one run of N per batch element, contiguous when s_k == 1
        step = np.uint64(s_k)
        for b in range(B):
            col = base + np.uint64(b * s_b)
            for k in range(np.uint64(N)):
                dst[k, b] = flat[col + k * step]


@njit(**INLINE)
def _store(src, dst, t, e):
    """Step t of model e of the sequence ``dst = (flat, strides)`` ← src (N, B): the inverse of :func:`_load`."""
    flat, (s_e, s_k, s_t, s_b) = dst
    N, B = src.shape
    base = np.uint64(e * s_e + t * s_t)
    if s_b == 1:
        for k in range(N):
            row = base + np.uint64(k * s_k)
            for b in range(np.uint64(B)):
                flat[row + b] = src[k, b]
    else:
        step = np.uint64(s_k)
        for b in range(B):
            col = base + np.uint64(b * s_b)
            for k in range(np.uint64(N)):
                flat[col + k * step] = src[k, b]


@njit(**INLINE)
def _zero(dst, N, B, t, e):
    """Step t of model e of the sequence ``dst = (flat, strides)`` (N features, batch B) ← 0."""
    flat, (s_e, s_k, s_t, s_b) = dst
    base = e * s_e + t * s_t
    for k in range(N):
        for b in range(B):
            flat[base + k * s_k + b * s_b] = 0


@njit(**INLINE)
def _past_end(st, y, n, t, e):
    """Step t lies past model e's sequence (``t ≥ ends[e]``): its state stays, st[t + 1] ← st[t] (so the
    final state is the one after its last step, and every state the caller's products read is
    finite), and its output h_t (n units) is zero. Its input projection is not read."""
    S, B = st.shape[2], st.shape[3]
    for k in range(S):
        for b in range(B):
            st[t + 1, e, k, b] = st[t, e, k, b]
    _zero(y, n, B, t, e)


@njit(**INLINE)
def _past_end_backward(dxp, dg, t, e):
    """The backward of :func:`_past_end`: the gradient of model e's input projection at step t is zero,
    and so is its ``dg`` (the caller's products then add nothing); ``ds`` passes unchanged (the state
    was carried), so the gradient of the final state reaches the model's last real step."""
    P, B = dg.shape[1], dg.shape[2]
    _zero(dxp, P, B, t, e)
    for p in range(P):
        for b in range(B):
            dg[e, p, b] = 0


@njit(**INLINE)
def _product(w, st, t, e, g):
    """g[e] (P, B) ← W[e] (P, n) · h (n, B), h = st[t, e, :n]: the step's recurrent product, done here
    when the caller hands over W (small products, where a call from Python per step costs more than
    the arithmetic): for n ≤ :data:`LOOP_HIDDEN` in loops, above in one BLAS call (``np.dot``, which
    numba sends to the sgemm/dgemm of scipy's BLAS without leaving compiled code)."""
    P, n = w.shape[1], w.shape[2]
    B = g.shape[2]
    if n > LOOP_HIDDEN:
        np.dot(w[e], st[t, e, :n], g[e])
        return
    for p in range(P):
        for b in range(B):
            g[e, p, b] = 0
        for k in range(n):
            wpk = w[e, p, k]
            for b in range(B):
                g[e, p, b] += wpk * st[t, e, k, b]


@njit(fastmath=True, error_model="numpy")  # reassociation allowed: it vectorises the sums over the batch
def _product_backward(w, st, t, e, dg, ds, wgrad):
    """The backward of :func:`_product` for model e: ds[e, :n] += W[e]ᵀ dg[e]; and, accumulated over
    steps in float64, wgrad[e] += dg[e] hᵀ (h = st[t, e, :n]); above :data:`LOOP_HIDDEN` both
    products in BLAS, in the storage dtype, before the additions."""
    P, n = w.shape[1], w.shape[2]
    B = dg.shape[2]
    if n > LOOP_HIDDEN:  # each product into scratch, then plain loops: an array-expression `+=` on
        # these slices costs numba ~4 s more to compile (the kernels' first use on a machine)
        dh = np.empty((n, B), dg.dtype)
        np.dot(w[e].T, dg[e], dh)
        for k in range(n):
            for b in range(B):
                ds[e, k, b] += dh[k, b]
        dw = np.empty((P, n), dg.dtype)
        np.dot(dg[e], st[t, e, :n].T, dw)
        for p in range(P):
            for k in range(n):
                wgrad[e, p, k] += dw[p, k]
        return
    for k in range(n):
        for p in range(P):
            wpk = w[e, p, k]
            for b in range(B):
                ds[e, k, b] += wpk * dg[e, p, b]
    for p in range(P):
        for k in range(n):
            acc = 0.0
            for b in range(B):
                acc += dg[e, p, b] * st[t, e, k, b]
            wgrad[e, p, k] += acc


@njit(fastmath=True, error_model="numpy")
def _bias_sums(src, bgrad, e, q0):
    """bgrad[e, q0 + q] += Σ_b src[q, b] (float64, accumulated over steps): the bias gradients."""
    Q, B = src.shape
    for q in range(Q):
        acc = 0.0
        for b in range(B):
            acc += src[q, b]
        bgrad[e, q0 + q] += acc


# ------------------------------------------------------------------------------------------- GRU
@njit(**JIT)
def gru_forward(xp, g, bias, st, sv, x, par, y, w, ends, t0, t1, e0, e1):
    """a = g + b; r = σ(x_r + a_r), z = σ(x_z + a_z), c = tanh(x_n + b_xn + r ⊙ a_n), h' = c + z ⊙ (h − c).
    ``bias (E, 4n)`` = [b_r; b_z; b_hn; b_xn] (b_xn: the candidate's input bias, when xp lacks it).
    Saves [r; z; c; a_n]."""
    E, P, B = g.shape
    n = P // 3
    xs = np.empty((P, B), g.dtype)
    r = np.empty(B, g.dtype)
    z = np.empty(B, g.dtype)
    c = np.empty(B, g.dtype)
    an = np.empty(B, g.dtype)
    for t in range(t0, t1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: its state stays, its output is zero
                _past_end(st, y, n, t, e)
                continue
            if w.shape[0] > 0:  # small hidden size: the recurrent product here, not in BLAS
                _product(w, st, t, e, g)
            _load(xp, t, e, xs)
            for j in range(n):
                br, bz, bn, bx = bias[e, j], bias[e, n + j], bias[e, 2 * n + j], bias[e, 3 * n + j]
                for b in range(B):
                    r[b] = sigmoid(xs[j, b] + g[e, j, b] + br)
                for b in range(B):
                    z[b] = sigmoid(xs[n + j, b] + g[e, n + j, b] + bz)
                for b in range(B):
                    an[b] = g[e, 2 * n + j, b] + bn
                for b in range(B):
                    c[b] = tanh(xs[2 * n + j, b] + bx + r[b] * an[b])
                for b in range(B):
                    st[t + 1, e, j, b] = c[b] + z[b] * (st[t, e, j, b] - c[b])
                for b in range(B):
                    sv[t, e, j, b] = r[b]
                for b in range(B):
                    sv[t, e, n + j, b] = z[b]
                for b in range(B):
                    sv[t, e, 2 * n + j, b] = c[b]
                for b in range(B):
                    sv[t, e, 3 * n + j, b] = an[b]
            _store(st[t + 1, e, :n], y, t, e)


@njit(**JIT)
def gru_backward(ds, dy, sv, st, x, par, dxp, dg, dx, acc, w, wgrad, bgrad, ends, t0, t1, e0, e1):
    """dc = d(1 − z)(1 − c²), dz = d(h − c)z(1 − z), dr = dc·a_n·r(1 − r); the recurrent gradient of
    the candidate block is dc ⊙ r; ds ← d ⊙ z. ``dg (E, 3n, B)``: [dr; dz; dc ⊙ r]; ``bgrad (E, 4n)``
    also sums dc, the gradient of b_xn."""
    E, S, B = ds.shape
    n = S
    d = np.empty((n, B), ds.dtype)
    dxs = np.empty((3 * n, B), ds.dtype)
    for t in range(t1 - 1, t0 - 1, -1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: no gradient at this step; ds waits unchanged
                _past_end_backward(dxp, dg, t, e)
                continue
            _load(dy, t, e, d)
            for j in range(n):
                for b in range(B):
                    d[j, b] += ds[e, j, b]
                for b in range(B):
                    z = sv[t, e, n + j, b]
                    c = sv[t, e, 2 * n + j, b]
                    dxs[2 * n + j, b] = d[j, b] * (1 - z) * (1 - c * c)
                for b in range(B):
                    z = sv[t, e, n + j, b]
                    dxs[n + j, b] = d[j, b] * (st[t, e, j, b] - sv[t, e, 2 * n + j, b]) * z * (1 - z)
                for b in range(B):
                    r = sv[t, e, j, b]
                    dxs[j, b] = dxs[2 * n + j, b] * sv[t, e, 3 * n + j, b] * r * (1 - r)
                for b in range(B):
                    dg[e, j, b] = dxs[j, b]
                for b in range(B):
                    dg[e, n + j, b] = dxs[n + j, b]
                for b in range(B):
                    dg[e, 2 * n + j, b] = dxs[2 * n + j, b] * sv[t, e, j, b]
                for b in range(B):
                    ds[e, j, b] = d[j, b] * sv[t, e, n + j, b]
            _store(dxs, dxp, t, e)
            if w.shape[0] > 0:
                _product_backward(w, st, t, e, dg, ds, wgrad)
            if bgrad.shape[0] > 0:
                _bias_sums(dg[e], bgrad, e, 0)
                _bias_sums(dxs[2 * n:], bgrad, e, 3 * n)


# ------------------------------------------------------------------------------------------ LSTM
@njit(**JIT)
def lstm_forward(xp, g, bias, st, sv, x, par, y, w, ends, t0, t1, e0, e1):
    """i, f, o = σ(·), u = tanh(·) of x + g + b_hh; c' = f ⊙ c + i ⊙ u; h' = o ⊙ tanh(c')
    (+ (1 − o) ⊙ x_t for IHC, when x is not empty). State [h; c]. Saves [i; f; u; o; tanh(c')]."""
    E, P, B = g.shape
    n = P // 4
    ihc = x[0].shape[0] > 0
    xs = np.empty((P, B), g.dtype)
    xh = np.empty((n if ihc else 0, B), g.dtype)
    a = np.empty(B, g.dtype)
    c = np.empty(B, g.dtype)
    for t in range(t0, t1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: its state stays, its output is zero
                _past_end(st, y, n, t, e)
                continue
            if w.shape[0] > 0:  # small hidden size: the recurrent product here, not in BLAS
                _product(w, st, t, e, g)
            _load(xp, t, e, xs)
            if ihc:
                _load(x, t, e, xh)
            for j in range(n):
                bi, bf, bu, bo = bias[e, j], bias[e, n + j], bias[e, 2 * n + j], bias[e, 3 * n + j]
                for b in range(B):
                    a[b] = sigmoid(xs[j, b] + g[e, j, b] + bi)
                for b in range(B):
                    sv[t, e, j, b] = a[b]
                for b in range(B):
                    c[b] = tanh(xs[2 * n + j, b] + g[e, 2 * n + j, b] + bu)
                for b in range(B):
                    sv[t, e, 2 * n + j, b] = c[b]
                for b in range(B):
                    a[b] = a[b] * c[b]  # i ⊙ u
                for b in range(B):
                    c[b] = sigmoid(xs[n + j, b] + g[e, n + j, b] + bf)
                for b in range(B):
                    sv[t, e, n + j, b] = c[b]
                for b in range(B):
                    c[b] = c[b] * st[t, e, n + j, b] + a[b]  # c' = f ⊙ c + i ⊙ u
                for b in range(B):
                    st[t + 1, e, n + j, b] = c[b]
                for b in range(B):
                    c[b] = tanh(c[b])
                for b in range(B):
                    sv[t, e, 4 * n + j, b] = c[b]
                for b in range(B):
                    a[b] = sigmoid(xs[3 * n + j, b] + g[e, 3 * n + j, b] + bo)
                for b in range(B):
                    sv[t, e, 3 * n + j, b] = a[b]
                if ihc:
                    for b in range(B):
                        st[t + 1, e, j, b] = a[b] * c[b] + (1 - a[b]) * xh[j, b]
                else:
                    for b in range(B):
                        st[t + 1, e, j, b] = a[b] * c[b]
            _store(st[t + 1, e, :n], y, t, e)


@njit(**JIT)
def lstm_backward(ds, dy, sv, st, x, par, dxp, dg, dx, acc, w, wgrad, bgrad, ends, t0, t1, e0, e1):
    """do = dh(tanh c' (− x_t for IHC))o(1 − o); dc' = ds_c + dh·o(1 − tanh²c'); di = dc'·u·i(1 − i),
    df = dc'·c·f(1 − f), du = dc'·i(1 − u²); ds ← [0; dc'·f]; IHC: dx_t = dh(1 − o)."""
    E, S, B = ds.shape
    n = S // 2
    ihc = x[0].shape[0] > 0
    dh = np.empty((n, B), ds.dtype)
    xh = np.empty((n if ihc else 0, B), ds.dtype)
    dxh = np.empty((n if ihc else 0, B), ds.dtype)
    dxs = np.empty((4 * n, B), ds.dtype)
    dc = np.empty(B, ds.dtype)
    for t in range(t1 - 1, t0 - 1, -1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: no gradient at this step; ds waits unchanged
                _past_end_backward(dxp, dg, t, e)
                if ihc:
                    _zero(dx, n, B, t, e)
                continue
            _load(dy, t, e, dh)
            if ihc:
                _load(x, t, e, xh)
            for j in range(n):
                for b in range(B):
                    dh[j, b] += ds[e, j, b]
                for b in range(B):
                    o = sv[t, e, 3 * n + j, b]
                    tc = sv[t, e, 4 * n + j, b]
                    dc[b] = ds[e, n + j, b] + dh[j, b] * o * (1 - tc * tc)
                if ihc:
                    for b in range(B):
                        o = sv[t, e, 3 * n + j, b]
                        dxs[3 * n + j, b] = dh[j, b] * (sv[t, e, 4 * n + j, b] - xh[j, b]) * o * (1 - o)
                    for b in range(B):
                        dxh[j, b] = dh[j, b] * (1 - sv[t, e, 3 * n + j, b])
                else:
                    for b in range(B):
                        o = sv[t, e, 3 * n + j, b]
                        dxs[3 * n + j, b] = dh[j, b] * sv[t, e, 4 * n + j, b] * o * (1 - o)
                for b in range(B):
                    i = sv[t, e, j, b]
                    dxs[j, b] = dc[b] * sv[t, e, 2 * n + j, b] * i * (1 - i)
                for b in range(B):
                    u = sv[t, e, 2 * n + j, b]
                    dxs[2 * n + j, b] = dc[b] * sv[t, e, j, b] * (1 - u * u)
                for b in range(B):
                    f = sv[t, e, n + j, b]
                    dxs[n + j, b] = dc[b] * st[t, e, n + j, b] * f * (1 - f)
                for b in range(B):
                    ds[e, n + j, b] = dc[b] * sv[t, e, n + j, b]
                for b in range(B):
                    ds[e, j, b] = 0
            for k in range(4 * n):
                for b in range(B):
                    dg[e, k, b] = dxs[k, b]
            _store(dxs, dxp, t, e)
            if ihc:
                _store(dxh, dx, t, e)
            if w.shape[0] > 0:
                _product_backward(w, st, t, e, dg, ds, wgrad)
            if bgrad.shape[0] > 0:
                _bias_sums(dg[e], bgrad, e, 0)


# ------------------------------------------------------------------------------------------- PRU
@njit(**JIT)
def pru_forward(xp, g, bias, st, sv, x, par, y, w, ends, t0, t1, e0, e1):
    """c = σ(x_c + g_c + b_c), u = tanh(x_u + g_u + b_u), s' = u + c ⊙ (s − u). Saves [c; u]."""
    E, P, B = g.shape
    n = P // 2
    xs = np.empty((P, B), g.dtype)
    c = np.empty(B, g.dtype)
    u = np.empty(B, g.dtype)
    for t in range(t0, t1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: its state stays, its output is zero
                _past_end(st, y, n, t, e)
                continue
            if w.shape[0] > 0:  # small hidden size: the recurrent product here, not in BLAS
                _product(w, st, t, e, g)
            _load(xp, t, e, xs)
            for j in range(n):
                bc, bu = bias[e, j], bias[e, n + j]
                for b in range(B):
                    c[b] = sigmoid(xs[j, b] + g[e, j, b] + bc)
                for b in range(B):
                    u[b] = tanh(xs[n + j, b] + g[e, n + j, b] + bu)
                for b in range(B):
                    st[t + 1, e, j, b] = u[b] + c[b] * (st[t, e, j, b] - u[b])
                for b in range(B):
                    sv[t, e, j, b] = c[b]
                for b in range(B):
                    sv[t, e, n + j, b] = u[b]
            _store(st[t + 1, e, :n], y, t, e)


@njit(**JIT)
def pru_backward(ds, dy, sv, st, x, par, dxp, dg, dx, acc, w, wgrad, bgrad, ends, t0, t1, e0, e1):
    """dc = d(s − u)c(1 − c), du = d(1 − c)(1 − u²), ds ← d ⊙ c."""
    E, S, B = ds.shape
    n = S
    d = np.empty((n, B), ds.dtype)
    dxs = np.empty((2 * n, B), ds.dtype)
    for t in range(t1 - 1, t0 - 1, -1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: no gradient at this step; ds waits unchanged
                _past_end_backward(dxp, dg, t, e)
                continue
            _load(dy, t, e, d)
            for j in range(n):
                for b in range(B):
                    d[j, b] += ds[e, j, b]
                for b in range(B):
                    c = sv[t, e, j, b]
                    dxs[j, b] = d[j, b] * (st[t, e, j, b] - sv[t, e, n + j, b]) * c * (1 - c)
                for b in range(B):
                    u = sv[t, e, n + j, b]
                    dxs[n + j, b] = d[j, b] * (1 - sv[t, e, j, b]) * (1 - u * u)
                for b in range(B):
                    ds[e, j, b] = d[j, b] * sv[t, e, j, b]
            for k in range(2 * n):
                for b in range(B):
                    dg[e, k, b] = dxs[k, b]
            _store(dxs, dxp, t, e)
            if w.shape[0] > 0:
                _product_backward(w, st, t, e, dg, ds, wgrad)
            if bgrad.shape[0] > 0:
                _bias_sums(dg[e], bgrad, e, 0)


# ------------------------------------------------------------------------------------------- RNN
@njit(inline="always", **INLINE)
def _elman_forward(xp, g, bias, st, y, w, ends, t0, t1, e0, e1, use_relu):
    """h' = act(x + g + b_hh), act = max(·, 0) if ``use_relu`` else tanh: both Elman kernels.
    Inlined into each (numba's IR inlining), where the constant ``use_relu`` prunes the other branch:
    each kernel compiles as fast as its own copy did (cold: tanh 3.8 s, ReLU 1.7 s)."""
    E, P, B = g.shape
    xs = np.empty((P, B), g.dtype)
    for t in range(t0, t1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: its state stays, its output is zero
                _past_end(st, y, P, t, e)
                continue
            if w.shape[0] > 0:  # small hidden size: the recurrent product here, not in BLAS
                _product(w, st, t, e, g)
            _load(xp, t, e, xs)
            for j in range(P):
                bj = bias[e, j]
                if use_relu:  # chosen per row, so that each inner loop vectorises
                    for b in range(B):
                        st[t + 1, e, j, b] = relu(xs[j, b] + g[e, j, b] + bj)
                else:
                    for b in range(B):
                        st[t + 1, e, j, b] = tanh(xs[j, b] + g[e, j, b] + bj)
            _store(st[t + 1, e, :P], y, t, e)


@njit(inline="always", **INLINE)
def _elman_backward(ds, dy, st, dxp, dg, w, wgrad, bgrad, ends, t0, t1, e0, e1, use_relu):
    """d_pre = d·act'(pre) from h' alone: 1 − h'² (tanh) or [h' > 0] (ReLU: torch's gradient, 0 at
    0); ds ← 0 (the recurrent path is the product's, added by :func:`_product_backward` or the caller)."""
    E, S, B = ds.shape
    d = np.empty((S, B), ds.dtype)
    for t in range(t1 - 1, t0 - 1, -1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: no gradient at this step; ds waits unchanged
                _past_end_backward(dxp, dg, t, e)
                continue
            _load(dy, t, e, d)
            for j in range(S):
                if use_relu:
                    for b in range(B):
                        v = d[j, b] + ds[e, j, b]
                        d[j, b] = v if st[t + 1, e, j, b] > 0 else v - v
                else:
                    for b in range(B):
                        h = st[t + 1, e, j, b]
                        d[j, b] = (d[j, b] + ds[e, j, b]) * (1 - h * h)
                for b in range(B):
                    dg[e, j, b] = d[j, b]
                for b in range(B):
                    ds[e, j, b] = 0
            _store(d, dxp, t, e)
            if w.shape[0] > 0:
                _product_backward(w, st, t, e, dg, ds, wgrad)
            if bgrad.shape[0] > 0:
                _bias_sums(dg[e], bgrad, e, 0)


@njit(**JIT)
def rnn_tanh_forward(xp, g, bias, st, sv, x, par, y, w, ends, t0, t1, e0, e1):
    """h' = tanh(x + g + b_hh). Saves nothing (the backward reads h' from ``st``)."""
    _elman_forward(xp, g, bias, st, y, w, ends, t0, t1, e0, e1, False)


@njit(**JIT)
def rnn_tanh_backward(ds, dy, sv, st, x, par, dxp, dg, dx, acc, w, wgrad, bgrad, ends, t0, t1, e0, e1):
    """d_pre = d(1 − h'²); ds ← 0."""
    _elman_backward(ds, dy, st, dxp, dg, w, wgrad, bgrad, ends, t0, t1, e0, e1, False)


@njit(**JIT)
def rnn_relu_forward(xp, g, bias, st, sv, x, par, y, w, ends, t0, t1, e0, e1):
    """h' = max(x + g + b_hh, 0). Saves nothing."""
    _elman_forward(xp, g, bias, st, y, w, ends, t0, t1, e0, e1, True)


@njit(**JIT)
def rnn_relu_backward(ds, dy, sv, st, x, par, dxp, dg, dx, acc, w, wgrad, bgrad, ends, t0, t1, e0, e1):
    """d_pre = d·[h' > 0] (torch's relu gradient: 0 at 0); ds ← 0."""
    _elman_backward(ds, dy, st, dxp, dg, w, wgrad, bgrad, ends, t0, t1, e0, e1, True)


# -------------------------------------------------------------------------------------- FastGRNN
@njit(**JIT)
def fastgrnn_forward(xp, g, bias, st, sv, x, par, y, w, ends, t0, t1, e0, e1):
    """a = x + g (g = U h); z = σ(a + b_z), c = tanh(a + b_h); h' = (σζ(1 − z) + σν) ⊙ c + z ⊙ h.
    ``par (E, 2n + 2)`` = [b_z; b_h; σ(ζ); σ(ν)]; ``bias`` is unused. Saves [z; c]."""
    E, P, B = g.shape
    n = P
    xs = np.empty((P, B), g.dtype)
    z = np.empty(B, g.dtype)
    c = np.empty(B, g.dtype)
    for t in range(t0, t1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: its state stays, its output is zero
                _past_end(st, y, n, t, e)
                continue
            if w.shape[0] > 0:  # small hidden size: the recurrent product here, not in BLAS
                _product(w, st, t, e, g)
            _load(xp, t, e, xs)
            sz = par[e, 2 * n]
            sn = par[e, 2 * n + 1]
            for j in range(n):
                bz, bh = par[e, j], par[e, n + j]
                for b in range(B):
                    z[b] = sigmoid(xs[j, b] + g[e, j, b] + bz)
                for b in range(B):
                    c[b] = tanh(xs[j, b] + g[e, j, b] + bh)
                for b in range(B):
                    st[t + 1, e, j, b] = (sz * (1 - z[b]) + sn) * c[b] + z[b] * st[t, e, j, b]
                for b in range(B):
                    sv[t, e, j, b] = z[b]
                for b in range(B):
                    sv[t, e, n + j, b] = c[b]
            _store(st[t + 1, e, :n], y, t, e)


@njit(**JIT)
def fastgrnn_backward(ds, dy, sv, st, x, par, dxp, dg, dx, acc, w, wgrad, bgrad, ends, t0, t1, e0, e1):
    """dz_pre = d(h − σζ·c)z(1 − z), dc_pre = d(σζ(1 − z) + σν)(1 − c²), da = dz_pre + dc_pre;
    ds ← d ⊙ z. Accumulates over steps in ``acc (E, 2n + 2, B)`` (float64): [Σ dz_pre; Σ dc_pre;
    Σ d·c(1 − z); Σ d·c] (the caller sums over B and applies σ'(ζ), σ'(ν))."""
    E, S, B = ds.shape
    n = S
    d = np.empty((n, B), ds.dtype)
    da = np.empty((n, B), ds.dtype)
    dz = np.empty(B, ds.dtype)
    dc = np.empty(B, ds.dtype)
    for t in range(t1 - 1, t0 - 1, -1):
        for e in range(e0, e1):
            if t >= ends[e]:  # past model e's sequence: no gradient at this step; ds waits unchanged
                _past_end_backward(dxp, dg, t, e)
                continue
            _load(dy, t, e, d)
            sz = par[e, 2 * n]
            sn = par[e, 2 * n + 1]
            for j in range(n):
                for b in range(B):
                    d[j, b] += ds[e, j, b]
                for b in range(B):
                    z = sv[t, e, j, b]
                    dz[b] = d[j, b] * (st[t, e, j, b] - sz * sv[t, e, n + j, b]) * z * (1 - z)
                for b in range(B):
                    c = sv[t, e, n + j, b]
                    dc[b] = d[j, b] * (sz * (1 - sv[t, e, j, b]) + sn) * (1 - c * c)
                for b in range(B):
                    da[j, b] = dz[b] + dc[b]
                for b in range(B):
                    dg[e, j, b] = da[j, b]
                for b in range(B):
                    acc[e, j, b] += dz[b]
                for b in range(B):
                    acc[e, n + j, b] += dc[b]
                for b in range(B):
                    acc[e, 2 * n, b] += d[j, b] * sv[t, e, n + j, b] * (1 - sv[t, e, j, b])
                for b in range(B):
                    acc[e, 2 * n + 1, b] += d[j, b] * sv[t, e, n + j, b]
                for b in range(B):
                    ds[e, j, b] = d[j, b] * sv[t, e, j, b]
            _store(da, dxp, t, e)
            if w.shape[0] > 0:
                _product_backward(w, st, t, e, dg, ds, wgrad)
            if bgrad.shape[0] > 0:
                _bias_sums(dg[e], bgrad, e, 0)

