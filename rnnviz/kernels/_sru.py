"""Fused elementwise recurrence of the SRU family (SRU v1/v2, IRC-SRU, T-RNN, IRC-T-RNN).

Every state unit is independent, so one Triton program owns ``BLOCK`` (batch, unit) pairs of one
ensemble member and walks time sequentially; the grid is ``(cdiv(B·n, BLOCK), E)``. The matrix
products for all time steps are done before (one GEMM) by the caller; this kernel only does::

    f_t = σ(f̂_t + v_f ⊙ c_{t-1} + b_f)
    c_t = f_t ⊙ c_{t-1} + (1 − f_t) ⊙ x̃_t
    r_t = σ(r̂_t + v_r ⊙ c_{t-1} + b_r)                 (SRU only; T-RNN has no reset gate)
    h_t = r_t ⊙ c_t + (1 − r_t) ⊙ α·x'_t                (highway)

Without the highway ``h_t = r_t ⊙ c_t`` (SRU ``highway=False``, ``has_r``) or ``h_t = c_t`` (T-RNN,
no reset gate). ``v_f, v_r`` are absent in SRU v1 and T-RNN (``has_v=False``). The backward pass runs in reverse time,
recomputes the gates from the stored ``c`` (fp32), writes the gradients of the four per-step inputs
and keeps per-(batch, unit) partial sums of ``dv``, ``db`` that the caller reduces over the batch.
Nothing of size T·B·n·(gates) is stored: only ``c`` (T·B·n, fp32), plus ``h`` when it differs from ``c``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._common import FP_FUSION, as_rows, check_rows, first_order, on_device

TARGET_PROGRAMS = 528  # ≈ 4 programs per SM on an H100 (132 SMs): enough to hide memory latency


def block_size(total: int) -> tuple[int, int]:
    """(BLOCK, num_warps) for ``total`` = E·B·N independent units: the largest block (≤ 256) that
    still gives ≥ TARGET_PROGRAMS programs, since each program walks all T steps sequentially."""
    for block in (256, 128, 64):
        if triton.cdiv(total, block) >= TARGET_PROGRAMS:
            return block, block // 32
    return 32, 1


@triton.jit
def _sru_fwd_kernel(
    XC, XF, XR, XH,  # per-step inputs, rows of (E, T, B, ·) with row strides sXC… ; unit stride 1
    VF, VR, BF, BR,  # (E, N) per-unit parameters
    C0,  # (E, B, N) initial c
    CS, HS, CT,  # outputs: c for all steps (E, T, B, N) fp32, h (E, T, B, N), final c (E, B, N)
    T, B, N, sXC, sXF, sXR, sXH, alpha,
    HAS_V: tl.constexpr, HAS_R: tl.constexpr, HIGHWAY: tl.constexpr, WRITE_H: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    e = tl.program_id(1)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < B * N
    b = offs // N
    j = offs % N
    bn = e.to(tl.int64) * B * N + offs  # offset in (E, B, N)
    c = tl.load(C0 + bn, mask=mask, other=0.0).to(tl.float32)
    bf = tl.load(BF + e * N + j, mask=mask, other=0.0).to(tl.float32)
    vf = tl.zeros([BLOCK], tl.float32)
    vr = tl.zeros([BLOCK], tl.float32)
    br = tl.zeros([BLOCK], tl.float32)
    if HAS_V:
        vf = tl.load(VF + e * N + j, mask=mask, other=0.0).to(tl.float32)
        if HAS_R:
            vr = tl.load(VR + e * N + j, mask=mask, other=0.0).to(tl.float32)
    if HAS_R:
        br = tl.load(BR + e * N + j, mask=mask, other=0.0).to(tl.float32)
    for t in range(T):
        row = (e.to(tl.int64) * T + t) * B + b  # row index in (E·T·B)
        xc = tl.load(XC + row * sXC + j, mask=mask, other=0.0).to(tl.float32)
        xf = tl.load(XF + row * sXF + j, mask=mask, other=0.0).to(tl.float32)
        f = tl.sigmoid(xf + vf * c + bf)
        c_new = f * c + (1.0 - f) * xc
        out = row * N + j
        if HAS_R:
            xr = tl.load(XR + row * sXR + j, mask=mask, other=0.0).to(tl.float32)
            r = tl.sigmoid(xr + vr * c + br)
            h = r * c_new
            if HIGHWAY:
                xh = tl.load(XH + row * sXH + j, mask=mask, other=0.0).to(tl.float32)
                h += (1.0 - r) * (alpha * xh)
            tl.store(HS + out, h.to(HS.dtype.element_ty), mask=mask)
        elif WRITE_H:
            tl.store(HS + out, c_new.to(HS.dtype.element_ty), mask=mask)
        tl.store(CS + out, c_new, mask=mask)
        c = c_new
    tl.store(CT + bn, c.to(CT.dtype.element_ty), mask=mask)


@triton.jit
def _sru_bwd_kernel(
    XC, XF, XR, XH, VF, VR, BF, BR, C0, CS,
    DHS, DCT,  # grads of h (E, T, B, N) and of the final c (E, B, N)
    DXC, DXF, DXR, DXH,  # grads of the per-step inputs, (E, T, B, N) fp32 contiguous
    DC0, DPART,  # grad of c0 (E, B, N); partial sums (4, E, B, N) of dv_f, dv_r, db_f, db_r
    T, B, N, sXC, sXF, sXR, sXH, alpha,
    HAS_V: tl.constexpr, HAS_R: tl.constexpr, HIGHWAY: tl.constexpr, BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    e = tl.program_id(1)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < B * N
    b = offs // N
    j = offs % N
    bn = e.to(tl.int64) * B * N + offs
    c0 = tl.load(C0 + bn, mask=mask, other=0.0).to(tl.float32)
    dc = tl.load(DCT + bn, mask=mask, other=0.0).to(tl.float32)
    bf = tl.load(BF + e * N + j, mask=mask, other=0.0).to(tl.float32)
    vf = tl.zeros([BLOCK], tl.float32)
    vr = tl.zeros([BLOCK], tl.float32)
    br = tl.zeros([BLOCK], tl.float32)
    if HAS_V:
        vf = tl.load(VF + e * N + j, mask=mask, other=0.0).to(tl.float32)
        if HAS_R:
            vr = tl.load(VR + e * N + j, mask=mask, other=0.0).to(tl.float32)
    if HAS_R:
        br = tl.load(BR + e * N + j, mask=mask, other=0.0).to(tl.float32)
    dvf = tl.zeros([BLOCK], tl.float32)
    dvr = tl.zeros([BLOCK], tl.float32)
    dbf = tl.zeros([BLOCK], tl.float32)
    dbr = tl.zeros([BLOCK], tl.float32)
    for tt in range(T):
        t = T - 1 - tt
        row = (e.to(tl.int64) * T + t) * B + b
        out = row * N + j
        c = tl.load(CS + out, mask=mask, other=0.0)
        not_first = (tl.zeros([BLOCK], tl.int32) + t) > 0  # vector form: also valid in the interpreter
        prev = tl.load(CS + out - B * N, mask=mask & not_first, other=0.0)
        c_prev = tl.where(not_first, prev, c0)
        dh = tl.load(DHS + out, mask=mask, other=0.0).to(tl.float32)
        xc = tl.load(XC + row * sXC + j, mask=mask, other=0.0).to(tl.float32)
        xf = tl.load(XF + row * sXF + j, mask=mask, other=0.0).to(tl.float32)
        f = tl.sigmoid(xf + vf * c_prev + bf)
        if HAS_R:
            xr = tl.load(XR + row * sXR + j, mask=mask, other=0.0).to(tl.float32)
            r = tl.sigmoid(xr + vr * c_prev + br)
            skip = tl.zeros([BLOCK], tl.float32)
            if HIGHWAY:
                xh = tl.load(XH + row * sXH + j, mask=mask, other=0.0).to(tl.float32)
                skip = alpha * xh
                tl.store(DXH + out, dh * (1.0 - r) * alpha, mask=mask)
            dr_pre = dh * (c - skip) * r * (1.0 - r)
            tl.store(DXR + out, dr_pre, mask=mask)
            dc_tot = dc + dh * r
            dbr += dr_pre
            if HAS_V:
                dvr += dr_pre * c_prev
        else:
            dr_pre = tl.zeros([BLOCK], tl.float32)
            dc_tot = dc + dh
        df_pre = dc_tot * (c_prev - xc) * f * (1.0 - f)
        tl.store(DXC + out, dc_tot * (1.0 - f), mask=mask)
        tl.store(DXF + out, df_pre, mask=mask)
        dbf += df_pre
        dc = dc_tot * f
        if HAS_V:
            dvf += df_pre * c_prev
            dc += df_pre * vf + dr_pre * vr
    tl.store(DC0 + bn, dc, mask=mask)
    ebn = e.to(tl.int64) * B * N
    tl.store(DPART + 0 * (tl.num_programs(1) * B * N) + ebn + offs, dvf, mask=mask)
    tl.store(DPART + 1 * (tl.num_programs(1) * B * N) + ebn + offs, dvr, mask=mask)
    tl.store(DPART + 2 * (tl.num_programs(1) * B * N) + ebn + offs, dbf, mask=mask)
    tl.store(DPART + 3 * (tl.num_programs(1) * B * N) + ebn + offs, dbr, mask=mask)


class SRURecurrence(torch.autograd.Function):
    """Autograd wrapper of the fused SRU-family recurrence over raw tensors.

    Inputs (E ensemble members, T steps, B batch, N units); the four per-step tensors may be column
    blocks of one GEMM output (rows of equal stride, unit stride 1):
      xc (E,T,B,N) candidate x̃; xf (E,T,B,N) forget pre-activation f̂;
      xr (E,T,B,N) reset pre-activation r̂ (ignored unless ``has_r``);
      xh (E,T,B,N) highway input x' (ignored unless ``highway``);
      vf, vr, bf, br (E,N); c0 (E,B,N); alpha: float highway scale; has_v, has_r, highway: bool.
    Returns ``h`` (E,T,B,N) in ``xc``'s dtype and the final ``c`` (E,B,N) in ``c0``'s dtype.
    """

    @staticmethod
    def forward(ctx, xc, xf, xr, xh, vf, vr, bf, br, c0, alpha, has_v, has_r, highway):
        E, T, B, N = xc.shape
        xc, xf = as_rows(xc), as_rows(xf)
        xr = as_rows(xr) if has_r else xc
        xh = as_rows(xh) if highway else xc
        vf, vr, bf, br, c0 = (t.contiguous() for t in (vf, vr, bf, br, c0))
        cs = torch.empty((E, T, B, N), device=xc.device, dtype=torch.float32)
        write_h = has_r or xc.dtype != torch.float32
        hs = torch.empty((E, T, B, N), device=xc.device, dtype=xc.dtype) if write_h else cs
        ct = torch.empty((E, B, N), device=xc.device, dtype=c0.dtype)
        block, warps = block_size(E * B * N)
        grid = (triton.cdiv(B * N, block), E)
        with on_device(cs):  # launch on the tensors' GPU, not the current one
            _sru_fwd_kernel[grid](
                xc, xf, xr, xh, vf, vr, bf, br, c0, cs, hs, ct,
                T, B, N, xc.stride(2), xf.stride(2), xr.stride(2), xh.stride(2), float(alpha),
                HAS_V=bool(has_v), HAS_R=bool(has_r), HIGHWAY=bool(highway), WRITE_H=write_h, BLOCK=block,
                num_warps=warps,
                enable_fp_fusion=FP_FUSION,
            )
        ctx.save_for_backward(xc, xf, xr, xh, vf, vr, bf, br, c0, cs)
        ctx.opts = (float(alpha), bool(has_v), bool(has_r), bool(highway))
        return hs, ct

    @staticmethod
    @first_order  # the kernels build no graph: create_graph / double backward raises
    def backward(ctx, dhs, dct):
        xc, xf, xr, xh, vf, vr, bf, br, c0, cs = ctx.saved_tensors
        alpha, has_v, has_r, highway = ctx.opts
        E, T, B, N = cs.shape
        dev = cs.device
        dhs = torch.zeros_like(cs) if dhs is None else dhs.contiguous()
        dct = torch.zeros_like(c0, dtype=torch.float32) if dct is None else dct.contiguous()
        dxc = torch.empty((E, T, B, N), device=dev, dtype=torch.float32)
        dxf = torch.empty_like(dxc)
        dxr = torch.empty_like(dxc) if has_r else dxc
        dxh = torch.empty_like(dxc) if highway else dxc
        dc0 = torch.empty((E, B, N), device=dev, dtype=torch.float32)
        dpart = torch.empty((4, E, B, N), device=dev, dtype=torch.float32)
        block, warps = block_size(E * B * N)
        grid = (triton.cdiv(B * N, block), E)
        with on_device(cs):  # launch on the tensors' GPU, not the current one
            _sru_bwd_kernel[grid](
                xc, xf, xr, xh, vf, vr, bf, br, c0, cs, dhs, dct,
                dxc, dxf, dxr, dxh, dc0, dpart,
                T, B, N, xc.stride(2), xf.stride(2), xr.stride(2), xh.stride(2), alpha,
                HAS_V=has_v, HAS_R=has_r, HIGHWAY=highway, BLOCK=block, num_warps=warps,
                enable_fp_fusion=FP_FUSION,
            )
        dvf, dvr, dbf, dbr = dpart.sum(dim=2)  # (E, N) each: reduce over the batch
        dx = dxc.to(xc.dtype), dxf.to(xf.dtype)
        dxr_out = dxr.to(xr.dtype) if has_r else None
        dxh_out = dxh.to(xh.dtype) if highway else None
        return (
            *dx, dxr_out, dxh_out,
            dvf.to(vf.dtype) if has_v else None,
            dvr.to(vr.dtype) if has_v and has_r else None,
            dbf.to(bf.dtype), dbr.to(br.dtype) if has_r else None,
            dc0.to(c0.dtype), None, None, None, None,
        )


def sru_recurrence(xc, xf, xr, xh, vf, vr, bf, br, c0, *, alpha=1.0, has_v=True, has_r=True,
                   highway=True):
    """Run the fused SRU-family recurrence (see the module docstring for the equations).

    Shapes: xc, xf (E, T, B, N); xr (E, T, B, N) or None without a reset gate (``has_r=False``, T-RNN);
    xh (E, T, B, N) or None without the highway; vf, vr (E, N) or None when ``has_v`` is False
    (v_r also unused without a reset gate); bf (E, N); br (E, N) or None without a reset gate;
    c0 (E, B, N). ``highway`` needs ``has_r``.
    Returns ``(h, c_T)``: h (E, T, B, N) in xc's dtype, c_T (E, B, N) in c0's dtype.
    Differentiable with respect to every tensor argument.
    """
    check_rows("xc", xc, xc.shape)
    check_rows("xf", xf, xc.shape)
    if highway and not has_r:
        raise ValueError("sru_recurrence: highway=True needs the reset gate (has_r=True), got has_r=False")
    if has_r:
        check_rows("xr", xr, xc.shape)
    if highway:
        check_rows("xh", xh, xc.shape)
    E, _, _, N = xc.shape
    zeros = xc.new_zeros((E, N))
    vf = zeros if vf is None else vf
    vr = zeros if vr is None else vr
    br = zeros if br is None else br
    return SRURecurrence.apply(xc, xf, xr, xh, vf, vr, bf, br, c0, alpha, has_v, has_r, highway)
