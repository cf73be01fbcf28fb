"""Compile the Triton kernels for an NVIDIA architecture without a GPU (ahead of time).

Triton's CPU interpreter runs the kernels' Python, so it misses what only the compiler checks (types
that differ between branches, constexpr misuse, unsupported tile shapes). This module lowers every
kernel specialisation to a cubin with the ptxas that ships with triton, on any machine:

    python -m rnnviz.kernels._compile_check            # sm_90 (H100), padded hidden sizes 32 and 256
    python -m rnnviz.kernels._compile_check 80 64      # sm_80 (A100), hidden pad 64
"""

from __future__ import annotations

import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from . import _dense, _sru

_P = "*fp32"
_SRU_FWD = dict(XC=_P, XF=_P, XR=_P, XH=_P, VF=_P, VR=_P, BF=_P, BR=_P, C0=_P, CS=_P, HS=_P, CT=_P,
                T="i32", B="i32", N="i32", sXC="i32", sXF="i32", sXR="i32", sXH="i32", alpha="fp32")
_SRU_BWD = dict(XC=_P, XF=_P, XR=_P, XH=_P, VF=_P, VR=_P, BF=_P, BR=_P, C0=_P, CS=_P, DHS=_P, DCT=_P,
                DXC=_P, DXF=_P, DXR=_P, DXH=_P, DC0=_P, DPART=_P,
                T="i32", B="i32", N="i32", sXC="i32", sXF="i32", sXR="i32", sXH="i32", alpha="fp32")
_DIMS = dict(T="i32", B="i32", H="i32", sXPe="i32", sXPt="i32", sXHe="i32", sXHt="i32")
_DENSE_FWD = dict(XP=_P, WHH=_P, BHH=_P, HPG=_P, XHW=_P, PAR=_P, HPREV=_P, CPREV=_P, HS=_P, CS=_P, **_DIMS)
_DENSE_BWD = dict(XP=_P, WHH=_P, BHH=_P, HPG=_P, XHW=_P, PAR=_P, HPREV=_P, CPREV=_P, HS=_P, CS=_P, DHS=_P,
                  DCS=_P, DXP=_P, DHPN=_P, DXHW=_P, DH=_P, DC=_P, ACC=_P, **_DIMS)


def compile_kernel(fn, signature: dict, constants: dict, *, arch: int = 90, num_warps: int = 4):
    """Lower one specialisation of the @triton.jit ``fn`` to a cubin for sm_``arch``; returns it."""
    sig = {**signature, **{k: "constexpr" for k in constants}}
    consts = {(fn.arg_names.index(k),): v for k, v in constants.items()}
    src = ASTSource(fn, signature=sig, constexprs=consts)
    return triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": num_warps})


def specialisations(hidden_pads=(32, 256), kinds=None):
    """(kernel, signature, constants, num_warps) for every flag combination the backend launches."""
    for has_v in (True, False):
        for has_r, highway in ((True, True), (True, False), (False, False)):
            flags = dict(HAS_V=has_v, HAS_R=has_r, HIGHWAY=highway)
            yield _sru._sru_fwd_kernel, _SRU_FWD, dict(**flags, WRITE_H=True, BLOCK=128), 4
            yield _sru._sru_bwd_kernel, _SRU_BWD, dict(**flags, BLOCK=32), 1
    for kind in (range(len(_dense.GATES)) if kinds is None else kinds):
        for hp in hidden_pads:
            for hp_given in (False, True):
                c = dict(KIND=kind, G=_dense.GATES[kind], HIGHWAY=kind == _dense.LSTM, HP_GIVEN=hp_given,
                         HP=hp, BB=_dense.BATCH_BLOCK, BN=min(hp, 32), BK=min(hp, 64), PREC="ieee")
                yield _dense._dense_fwd_kernel, _DENSE_FWD, c, 4
                yield _dense._dense_bwd_kernel, _DENSE_BWD, c, 4


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    arch = int(argv[0]) if argv else 90
    pads = tuple(int(v) for v in argv[1].split(",")) if len(argv) > 1 else (32, 256)
    for fn, sig, consts, warps in specialisations(pads):
        compile_kernel(fn, sig, consts, arch=arch, num_warps=warps)
        print(f"sm_{arch} {fn.__name__} {consts}: ok", flush=True)


if __name__ == "__main__":
    main()
