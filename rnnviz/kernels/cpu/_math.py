"""Vectorisable exp, sigmoid and tanh for the numba kernels, and the options every kernel compiles with.

numba compiles ``math.exp`` and ``math.tanh`` to calls into the C library, one element at a time
(about 20 ns per tanh); LLVM cannot turn such calls into SIMD code. These versions are plain
arithmetic (a polynomial and one bit operation), so a loop over a contiguous row compiles to AVX /
NEON code (about 1 ns per element). :func:`exp`, :func:`sigmoid` and :func:`tanh` pick by the argument's type:

float64 (``exp64``, ``sigmoid64``, ``tanh64``):

* ``exp(x)``: x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite reduction, ln2 split in two parts),
  e^r by its Taylor polynomial of degree 13 (truncation < 1e-17), times 2^k built from the
  exponent bits. Relative error ≤ 2.3e-16 for x in [−708, 709]; x is clamped to that range (e^x
  then saturates at ~1e-308 / 8e307 instead of 0 / inf, which no caller here can tell apart).
* ``tanh(x)``: for |x| < 0.625 Cephes' rational approximation x + x³·P(x²)/Q(x²) (relative error
  ~2e-16, so tiny arguments keep full relative precision); above, sign(x)·(1 − e)/(1 + e) with
  e = exp(−2|x|).
* ``sigmoid(x) = 1 / (1 + exp(−x))``.

float32 (``exp32``, ``sigmoid32``, ``tanh32``), in float32 arithmetic (twice the SIMD width):
Cephes' ``expf`` (the same reduction, a degree-6 polynomial; relative error ~1e-7 on [−87, 88],
clamped there), ``sigmoid(x) = 1 / (1 + exp(−x))`` and ``tanh(x) = 2·sigmoid(2x) − 1`` (absolute
error ~1e-7, like float32 rounding itself).

Kernels compile with :data:`JIT`: ``error_model="numpy"`` (a division by zero gives inf instead of
raising, which would add a branch to every division and stop vectorisation), no bounds checks
(``NUMBA_BOUNDSCHECK=1`` turns them on for debugging), ``nogil``, an on-disk cache, and the fast-math
flags that allow contraction into FMAs and reciprocal division but **not** reassociation, which
would let LLVM rewrite the Cody–Waite reduction and break the accuracy above.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

FASTMATH = {"nnan", "ninf", "nsz", "contract", "arcp"}
JIT = {"fastmath": FASTMATH, "error_model": "numpy", "boundscheck": False, "nogil": True, "cache": True}
INLINE = {"fastmath": FASTMATH, "error_model": "numpy"}

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k·LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.90821492927058770002e-10  # ln 2 − LN2_HI
_ROUND = 6755399441055744.0  # 1.5·2^52: (y + ROUND) − ROUND rounds y to the nearest integer


def _exponent_pow2(float_type, bits: int, bias: int, mantissa: int, name: str):
    """A numba intrinsic computing 2**k for an integer-valued ``float_type`` k in the normal range
    (float64: [−1022, 1023], float32: [−126, 127]) from the exponent bits, without a libm call: the
    IEEE number whose ``bits``-bit pattern is (k + ``bias``) << ``mantissa``."""
    ir_float = ir.DoubleType() if float_type == types.float64 else ir.FloatType()

    def typer(typingctx, k):
        if k != float_type:
            return None

        def codegen(context, builder, signature, args):
            integer = ir.IntType(bits)
            exponent = builder.add(builder.fptosi(args[0], integer), ir.Constant(integer, bias))
            return builder.bitcast(builder.shl(exponent, ir.Constant(integer, mantissa)), ir_float)

        return float_type(float_type), codegen

    typer.__name__ = typer.__qualname__ = name
    return intrinsic(typer)


_pow2 = _exponent_pow2(types.float64, 64, 1023, 52, "_pow2")
_pow2f = _exponent_pow2(types.float32, 32, 127, 23, "_pow2f")


@njit(**INLINE)
def exp64(x):
    """e^x in float64 (see the module docstring for range and accuracy)."""
    x = x if x > -708.0 else -708.0
    x = x if x < 709.0 else 709.0
    k = (x * _LOG2E + _ROUND) - _ROUND
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _pow2(k)


@njit(**INLINE)
def sigmoid64(x):
    """1 / (1 + e^−x) in float64."""
    return 1.0 / (1.0 + exp64(-x))


@njit(**INLINE)
def tanh64(x):
    """tanh(x) in float64 (see the module docstring)."""
    a = x if x >= 0.0 else -x
    z = x * x
    num = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3
    den = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z + 4.84406305325125486048e3
    small = x + x * z * (num / den)
    e = exp64(-2.0 * a)
    big = (1.0 - e) / (1.0 + e)
    big = big if x >= 0.0 else -big
    return small if a < 0.625 else big


# float32 constants (module globals of type np.float32 keep the arithmetic in float32)
_F = np.float32
_LO32, _HI32 = _F(-87.0), _F(88.0)
_LOG2E32, _ROUND32 = _F(1.44269504088896341), _F(12582912.0)  # 1.5·2^23
_C1, _C2 = _F(0.693359375), _F(-2.12194440e-4)  # ln 2 = C1 + C2 (Cephes)
_P0, _P1, _P2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_P3, _P4, _P5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_ONE32, _TWO32 = _F(1.0), _F(2.0)


@njit(**INLINE)
def exp32(x):
    """e^x in float32 (Cephes expf)."""
    x = x if x > _LO32 else _LO32
    x = x if x < _HI32 else _HI32
    k = (x * _LOG2E32 + _ROUND32) - _ROUND32
    r = (x - k * _C1) - k * _C2
    p = _P0
    p = p * r + _P1
    p = p * r + _P2
    p = p * r + _P3
    p = p * r + _P4
    p = p * r + _P5
    p = p * r * r + r + _ONE32
    return p * _pow2f(k)


@njit(**INLINE)
def sigmoid32(x):
    """1 / (1 + e^−x) in float32."""
    return _ONE32 / (_ONE32 + exp32(-x))


@njit(**INLINE)
def tanh32(x):
    """2·sigmoid(2x) − 1 in float32."""
    return _TWO32 / (_ONE32 + exp32(-_TWO32 * x)) - _ONE32


def exp(x):
    """e^x in the argument's precision (float32 or float64); numba kernels only."""
    raise NotImplementedError("a numba kernel helper; call it from jitted code")


def sigmoid(x):
    """σ(x) in the argument's precision (float32 or float64); numba kernels only."""
    raise NotImplementedError("a numba kernel helper; call it from jitted code")


def tanh(x):
    """tanh(x) in the argument's precision (float32 or float64); numba kernels only."""
    raise NotImplementedError("a numba kernel helper; call it from jitted code")


_OVERLOAD = {"jit_options": {"fastmath": FASTMATH, "error_model": "numpy"}}


@overload(exp, **_OVERLOAD)
def _exp(x):
    if x == types.float32:
        return lambda x: exp32(x)
    return lambda x: exp64(x)


@overload(sigmoid, **_OVERLOAD)
def _sigmoid(x):
    if x == types.float32:
        return lambda x: sigmoid32(x)
    return lambda x: sigmoid64(x)


@overload(tanh, **_OVERLOAD)
def _tanh(x):
    if x == types.float32:
        return lambda x: tanh32(x)
    return lambda x: tanh64(x)


@njit(**INLINE)
def relu(x):
    """max(x, 0)."""
    return x if x > 0 else x - x  # x − x: a zero of x's type
