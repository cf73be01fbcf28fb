"""The SRU-family recurrence (SRU v1/v2, IRC-SRU, T-RNN, IRC-T-RNN) on CPU, forward and backward, for one
model or an ensemble: the numba kernels of :mod:`rnnviz.kernels.cpu._sru_steps` behind one autograd
Function. The input GEMM (all steps at once) is the caller's; this is the elementwise recurrence.
"""

from __future__ import annotations

import torch

from . import _workspace as workspace
from ._autograd import as_numpy, check_dtypes, first_order, model_major
from ._sru_steps import sru_backward, sru_forward
from ._threads import run_rows

NO_RESET = -1  # orr: the cell has no reset gate (T-RNN)
FROM_X = -1  # oc: the candidate is the input x itself (IRC)
NO_HIGHWAY = -1  # oh: h = r c' (or c' without a reset gate)
SCALED_X = -2  # oh: the highway input is alpha·x


def sru_recurrence(xp, x, c0, par, *, oc: int, of: int, orr: int, oh: int, alpha: float = 1.0):
    """Run the SRU-family recurrence (equations in :mod:`rnnviz.kernels.cpu._sru_steps`).

    Args:
        xp: ``(T, E, B, P)`` the input GEMM of every step (read without a copy when it is a time-major
            view of a model-major tensor, as an ensemble's GEMM gives); its blocks start at the column offsets
            ``oc`` (candidate, or :data:`FROM_X`), ``of`` (forget gate), ``orr`` (reset gate, or
            :data:`NO_RESET`) and ``oh`` (highway projection, or :data:`NO_HIGHWAY` / :data:`SCALED_X`).
        x: ``(T, E, B, n)`` the inputs, needed when ``oc`` is FROM_X or ``oh`` is SCALED_X, else None.
        c0: ``(E, B, n)``; par: ``(E, 4, n)`` = [b_f; b_r; v_f; v_r] (zeros where the cell has none).
        alpha: the highway scale with SCALED_X.

    Returns:
        ``(h, c)``: the outputs ``(T, E, B, n)`` and the final state ``(E, B, n)``; differentiable in
        xp, x, c0 and par.
    """
    check_dtypes(xp=xp, x=x, c0=c0, par=par)
    T, E, B, P = xp.shape
    n = c0.shape[-1]
    if tuple(c0.shape) != (E, B, n) or tuple(par.shape) != (E, 4, n):
        raise ValueError(f"c0 must be (E, B, n) = {(E, B, n)} and par (E, 4, n) = {(E, 4, n)}, got "
                         f"{tuple(c0.shape)} and {tuple(par.shape)}")
    needs_x = oc == FROM_X or oh == SCALED_X
    if needs_x != (x is not None) or (x is not None and tuple(x.shape) != (T, E, B, n)):
        raise ValueError(f"x must be a (T, E, B, n) = {(T, E, B, n)} tensor exactly when the candidate or the "
                         f"highway reads the input (oc={oc}, oh={oh}), got "
                         f"{None if x is None else tuple(x.shape)}")
    for name, off in (("oc", oc), ("of", of), ("orr", orr), ("oh", oh)):
        if off >= 0 and off + n > P:
            raise ValueError(f"{name}={off}: the block [{off}, {off + n}) lies outside xp's {P} columns")
    if oh != NO_HIGHWAY and orr == NO_RESET:
        raise ValueError("a highway needs the reset gate (orr ≥ 0)")
    return SRURecurrence.apply(xp, x, c0, par, (oc, of, orr, oh, float(alpha)))


class SRURecurrence(torch.autograd.Function):
    """Autograd Function of :func:`sru_recurrence` (one graph node for all T steps)."""

    @staticmethod
    def forward(ctx, xp, x, c0, par, layout):
        T, E, B, P = xp.shape
        n = c0.shape[-1]
        xp, c0, par = model_major(xp), c0.detach().contiguous(), par.detach().contiguous()
        x = None if x is None else model_major(x)
        cs = workspace.empty((E, T, B, n), xp.dtype)
        hs = workspace.empty((E, T, B, n), xp.dtype)
        run_rows(sru_forward, E * B, T * n, xp.numpy(), as_numpy(x, xp, 4), c0.numpy(), par.numpy(),
                 cs.numpy(), hs.numpy(), *layout)
        ctx.layout = layout
        ctx.save_for_backward(xp, x, c0, par, cs)
        return hs.transpose(0, 1), cs[:, -1].clone()

    @staticmethod
    @first_order
    def backward(ctx, dhs, dct):
        xp, x, c0, par, cs = ctx.saved_tensors
        E, T, B, n = cs.shape
        dhs = torch.zeros_like(cs) if dhs is None else model_major(dhs)
        dct = torch.zeros_like(c0) if dct is None else dct.contiguous()
        dxp = workspace.empty(xp.shape, xp.dtype)  # every column is one of the cell's blocks: all written
        dx = None if x is None else workspace.empty(x.shape, x.dtype)
        dc0 = torch.empty_like(c0)
        acc = torch.empty(4, E, B, n, dtype=torch.float64)
        run_rows(sru_backward, E * B, T * n, xp.numpy(), as_numpy(x, xp, 4), c0.numpy(), par.numpy(),
                 cs.numpy(), dhs.numpy(), dct.numpy(), dxp.numpy(), as_numpy(dx, xp, 4), dc0.numpy(),
                 acc.numpy(), *ctx.layout)
        dpar = acc.sum(2).transpose(0, 1).to(xp.dtype)  # (E, 4, n)
        return dxp.transpose(0, 1), None if dx is None else dx.transpose(0, 1), dc0, dpar, None
