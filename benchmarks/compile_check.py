"""Compile the Triton kernels for an NVIDIA architecture without a GPU (ahead of time).

Triton's CPU interpreter runs the kernels' Python, so it misses what only the compiler checks (types
that differ between branches, constexpr misuse, unsupported tile shapes, half-precision pointers).
This module lowers every kernel specialisation the backend launches to a cubin with the ptxas that
ships with triton, on any machine:

    python benchmarks/compile_check.py              # sm_90 (H100), every padded hidden size
    python benchmarks/compile_check.py 90 32,256    # sm_90, dense kernels at pads 32 and 256 only
    python benchmarks/compile_check.py 80 64 --jobs 4 --quick

What "every specialisation" means (:func:`specialisations` mirrors the launches in
rnnviz/kernels/_sru.py and _dense.py, whose kernels live in _dense_kernels.py;
tests/test_kernels_compile.py records real launches and checks they are all listed):

* SRU family: every flag combination of the cells (SRU v1/v2 with and without highway, IRC-SRU,
  T-RNN with ``WRITE_H`` False for fp32 and True for half inputs), every BLOCK / num_warps that
  :func:`rnnviz.kernels._sru.block_size` picks (half pointers: the smallest and largest), fp32 and
  fp16/bf16 pointers.
* Dense kernels: every kind (plain and IHC LSTM), persistent and per-step (``HP_GIVEN``, launched
  with T = 1, which Triton specialises as a constant), at every padded hidden size (16 … 1024),
  ``PREC`` "ieee" and "tf32" (the dots), and fp16/bf16 input pointers at one hidden size; at the
  pads where the persistent kernels keep U in registers (``RESIDENT``, HP ≤ 32) also the streamed
  variant. ``--ptxas-info`` adds each kernel's registers and spills (``ptxas -v``).

``--quick`` compiles a representative subset (every kind and flag once, plus one of each extra
dimension) for CI; ``--jobs N`` compiles in N processes (default: the CPU count, at most 8).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from rnnviz.kernels import _dense, _dense_kernels, _sru
from rnnviz.kernels._common import FP_FUSION

ALL_PADS = (16, 32, 64, 128, 256, 512, 1024)
HALF = ("fp16", "bf16")
_SCALARS_SRU = dict(T="i32", B="i32", N="i32", sXC="i32", sXF="i32", sXR="i32", sXH="i32", alpha="fp32")
_DIMS = dict(T="i32", B="i32", H="i32", sXPe="i32", sXPt="i32", sXHe="i32", sXHt="i32")


def compile_kernel(fn, signature: dict, constants: dict, *, arch: int = 90, num_warps: int = 4):
    """Lower one specialisation of the @triton.jit ``fn`` to a compiled kernel for sm_``arch``.

    ``constants`` holds the constexpr arguments and any plain argument Triton's launcher would
    specialise to a constant (an int equal to 1, e.g. T = 1 of the per-step path)."""
    sig = {**signature, **{k: "constexpr" for k in constants}}
    consts = {(fn.arg_names.index(k),): v for k, v in constants.items()}
    src = ASTSource(fn, signature=sig, constexprs=consts)
    options = {"num_warps": num_warps, "enable_fp_fusion": FP_FUSION}
    return triton.compile(src, target=GPUTarget("cuda", arch, 32), options=options)


# --------------------------------------------------------------------------- SRU family
def _sru_fwd_sig(d: str, write_h: bool) -> dict:
    """Pointer types of SRURecurrence.forward's launch for inputs of Triton dtype ``d``."""
    p = "*" + d
    return dict(XC=p, XF=p, XR=p, XH=p, VF=p, VR=p, BF=p, BR=p, C0=p, CS="*fp32",
                HS=p if write_h else "*fp32", CT=p, **_SCALARS_SRU)


def _sru_bwd_sig(d: str, dhs: str, dct: str) -> dict:
    """SRURecurrence.backward's launch: dhs / dct are the types of the gradients of h and c_T."""
    p = "*" + d
    f = "*fp32"
    return dict(XC=p, XF=p, XR=p, XH=p, VF=p, VR=p, BF=p, BR=p, C0=p, CS=f, DHS="*" + dhs,
                DCT="*" + dct, DXC=f, DXF=f, DXR=f, DXH=f, DC0=f, DPART=f, **_SCALARS_SRU)


# (has_v, has_r, highway) of the cells: SRU v2 ± highway, SRU v1 ± highway (and IRC-SRU), T-RNN
SRU_FLAGS = ((True, True, True), (True, True, False), (False, True, True), (False, True, False),
             (False, False, False))
SRU_BLOCKS = (32, 64, 128, 256)  # what _sru.block_size picks; num_warps = BLOCK // 32


def _sru_specs(quick: bool):
    """SRU launches; ``quick``: every flag combination once (fp32, BLOCK 32), the largest block and
    half pointers for SRU v2 with highway, and half-precision T-RNN (h written in half)."""
    for has_v, has_r, highway in SRU_FLAGS:
        flags = dict(HAS_V=has_v, HAS_R=has_r, HIGHWAY=highway)
        first = (has_v, has_r, highway) == SRU_FLAGS[0]
        for block in (32, 256) if quick and first else (32,) if quick else SRU_BLOCKS:
            warps = block // 32
            # fp32: h is written unless it is c itself (T-RNN)
            yield _sru._sru_fwd_kernel, _sru_fwd_sig("fp32", has_r), dict(**flags, WRITE_H=has_r,
                                                                           BLOCK=block), warps
            yield _sru._sru_bwd_kernel, _sru_bwd_sig("fp32", "fp32", "fp32"), dict(**flags, BLOCK=block), warps
        if quick and not (first or not has_r):
            continue
        # half inputs: h always written, in the input dtype; the smallest and the largest block
        for d in (HALF[:1] if quick else HALF):
            for block in (32,) if quick else (32, 256):
                warps = block // 32
                yield _sru._sru_fwd_kernel, _sru_fwd_sig(d, True), dict(**flags, WRITE_H=True, BLOCK=block), warps
                # autograd materialises absent gradients as zeros of the output's (half) dtype
                yield _sru._sru_bwd_kernel, _sru_bwd_sig(d, d, d), dict(**flags, BLOCK=block), warps


# --------------------------------------------------------------------------- dense cells
def _dense_sig(bwd: bool, d: str, kind: int, highway: bool, hp_given: bool) -> dict:
    """Pointer types of the dense launches (DenseRecurrence / DenseStep, forward or backward) for
    cell inputs of Triton dtype ``d``; the state sequences and all gradients are fp32."""
    p, f = "*" + d, "*fp32"
    rnn = kind in (_dense.RNN_TANH, _dense.RNN_RELU)
    if not hp_given:
        xp = f if bwd and rnn else p  # the RNN backward gets hs in place of the (unkept) xp
        sig = dict(XP=xp, WHH=p, BHH=p, HPG=xp, XHW=p if highway or not bwd else f, PAR=p)
    else:
        xp = f if bwd and rnn else p  # ... and h_t in place of xp_t, hp_t
        sig = dict(XP=xp, WHH=xp, BHH=p if kind == _dense.FASTGRNN else xp, HPG=f,
                   XHW=p if highway or not bwd else f, PAR=p if kind == _dense.FASTGRNN else xp)
    sig.update(HPREV=f, CPREV=f, HS=f, CS=f)
    if bwd:
        sig.update(DHS=f, DCS=f, DXP=f, DHPN=f, DXHW=f, DH=f, DC=f, ACC=f)
    return {**sig, **_DIMS}


def dense_constants(kind: int, highway: bool, hp_given: bool, hp: int, prec: str,
                    resident: bool | None = None) -> dict:
    """The constexpr arguments _dense launches for a kind / hidden pad (and T = 1 when per-step);
    ``resident`` defaults to what the persistent path picks for hp (never for the per-step path)."""
    _, bn, bk = _dense._tiles(hp)
    if resident is None:
        resident = not hp_given and _dense.resident(hp)
    c = dict(KIND=kind, G=_dense.GATES[kind], HIGHWAY=highway, HP_GIVEN=hp_given, HP=hp,
             BB=_dense.BATCH_BLOCK, BN=bn, BK=bk, PREC=prec, RESIDENT=resident)
    return {**c, "T": 1} if hp_given else c


def dense_variants(kinds=None):
    """(kind, highway) pairs the cells launch: every kind, LSTM also with the IHC highway."""
    for kind in (range(len(_dense.GATES)) if kinds is None else kinds):
        yield kind, False
        if kind == _dense.LSTM:
            yield kind, True


def _dense_specs(pads, kinds, quick: bool):
    fwd, bwd = _dense_kernels._dense_fwd_kernel, _dense_kernels._dense_bwd_kernel
    for kind, highway in dense_variants(kinds):
        plain_lstm = kind == _dense.LSTM and not highway  # ``quick``: the extra dimensions once
        for hp in pads:
            for hp_given in (False, True):
                c = dense_constants(kind, highway, hp_given, hp, "ieee")
                yield fwd, _dense_sig(False, "fp32", kind, highway, hp_given), c, 4
                yield bwd, _dense_sig(True, "fp32", kind, highway, hp_given), c, 4
                if not hp_given and (not quick or plain_lstm):  # tf32 changes only the dots
                    c = dense_constants(kind, highway, hp_given, hp, "tf32")
                    yield fwd, _dense_sig(False, "fp32", kind, highway, hp_given), c, 4
                    yield bwd, _dense_sig(True, "fp32", kind, highway, hp_given), c, 4
                if not hp_given and _dense.resident(hp) and (not quick or plain_lstm):
                    # the streamed variant at small pads too (RESIDENT_MAX_PAD = 0 selects it)
                    c = dense_constants(kind, highway, hp_given, hp, "ieee", resident=False)
                    yield fwd, _dense_sig(False, "fp32", kind, highway, hp_given), c, 4
                    yield bwd, _dense_sig(True, "fp32", kind, highway, hp_given), c, 4
        # half inputs change the loads only, not the tiling: one hidden pad
        for d in (HALF[:1] if quick else HALF):
            if quick and not plain_lstm:
                continue
            for hp_given in (False, True):
                c = dense_constants(kind, highway, hp_given, pads[0], "ieee")
                yield fwd, _dense_sig(False, d, kind, highway, hp_given), c, 4
                yield bwd, _dense_sig(True, d, kind, highway, hp_given), c, 4


def specialisations(hidden_pads=ALL_PADS, kinds=None, *, quick: bool = False):
    """(kernel, signature, constants, num_warps) for every specialisation the backend launches
    (dense kernels at the padded hidden sizes ``hidden_pads``); ``quick``: a representative subset."""
    seen = set()
    for spec in (*_sru_specs(quick), *_dense_specs(tuple(hidden_pads), kinds, quick)):
        key = spec_key(*spec)
        if key not in seen:  # e.g. the RNN per-step backward reads only fp32 tensors whatever the dtype
            seen.add(key)
            yield spec


def spec_key(fn, signature: dict, constants: dict, num_warps: int):
    """A hashable identity of one specialisation (for de-duplication and for the tests): kernel
    name, pointer types, constants and num_warps (scalar argument types are left out; an argument
    given in ``constants`` is a constant whatever its declared type)."""
    pointers = tuple(sorted((k, v) for k, v in signature.items() if v.startswith("*") and k not in constants))
    return fn.fn.__name__, pointers, tuple(sorted(constants.items())), num_warps


def ptxas_info(kernel, arch: int) -> str:
    """Registers and spills of a compiled kernel, from ``ptxas -v`` on its PTX (no GPU needed)."""
    from triton.backends.nvidia.compiler import get_ptxas

    suffix = "a" if arch >= 90 else ""
    with tempfile.TemporaryDirectory() as tmp:
        ptx = os.path.join(tmp, "k.ptx")
        with open(ptx, "w") as f:
            f.write(kernel.asm["ptx"])
        proc = subprocess.run([get_ptxas(arch).path, "-v", f"--gpu-name=sm_{arch}{suffix}", ptx,
                               "-o", os.path.join(tmp, "k.cubin")], capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    regs = re.search(r"Used (\d+) registers", log)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    return (f"{regs.group(1) if regs else '?'} registers, spill stores/loads "
            f"{spills.group(1) + '/' + spills.group(2) if spills else '?'} B")


def _compile_one(args):
    index, arch, pads, quick, with_ptxas = args
    fn, sig, consts, warps = list(specialisations(pads, quick=quick))[index]
    t0 = time.perf_counter()
    kernel = compile_kernel(fn, sig, consts, arch=arch, num_warps=warps)
    meta = kernel.metadata
    info = f"shared {meta.shared} B"
    if with_ptxas:
        info += ", " + ptxas_info(kernel, arch)
    pointers = ",".join(sorted({v for v in sig.values() if v.startswith("*")}))
    return f"sm_{arch} {fn.__name__} {consts} [{pointers}] warps={warps}: {info}, " \
           f"{time.perf_counter() - t0:.1f}s: ok"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/compile_check.py",
                                     description="Compile every kernel specialisation for one GPU arch.")
    parser.add_argument("arch", nargs="?", type=int, default=90, help="compute capability, e.g. 90")
    parser.add_argument("pads", nargs="?", default=",".join(map(str, ALL_PADS)),
                        help="comma-separated padded hidden sizes for the dense kernels")
    parser.add_argument("--quick", action="store_true", help="a representative subset (CI)")
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--ptxas-info", action="store_true",
                        help="also report registers and spills per kernel (runs ptxas -v once more)")
    parser.add_argument("--only", default=None,
                        help="compile only specialisations whose description contains this text")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    pads = tuple(int(v) for v in args.pads.split(","))
    specs = list(specialisations(pads, quick=args.quick))
    work = [(i, args.arch, pads, args.quick, args.ptxas_info) for i, (fn, _, consts, _) in enumerate(specs)
            if args.only is None or args.only in f"{fn.fn.__name__} {consts}"]
    print(f"compiling {len(work)} specialisations for sm_{args.arch} with {args.jobs} job(s)", flush=True)
    if args.jobs <= 1:
        for w in work:
            print(_compile_one(w), flush=True)
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            for line in pool.map(_compile_one, work):
                print(line, flush=True)


if __name__ == "__main__":
    main()
