"""Seed statistics shared by the studies: a mean with its t confidence interval, and paired differences.

For n values x_1 … x_n (one per seed) with mean x̄ and sample standard deviation s::

    CI = x̄ ± t_{n−1, (1+level)/2} · s / √n

(Student's t; n = 1 gives NaN bounds: one seed says nothing about the spread). A paired difference
of two models over the same seeds is the same interval over d_i = a_i − b_i, with the two-sided
p-value of the paired t-test of mean 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from .._checks import check_number


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict:
    """``{"n", "mean", "sd", "ci_low", "ci_high"}`` of the finite entries of ``values`` (see the module).

    Non-finite entries (a diverged model's NaN) are left out and not counted; with no finite entry
    every figure is NaN and n is 0.
    """
    check_number("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": math.nan, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """The mean of d_i = a_i − b_i over pairs where both are finite, its t interval and the paired
    t-test's two-sided p-value (NaN with fewer than two pairs or when every d_i is equal)."""
    if len(a) != len(b):
        raise ValueError(f"a and b must pair up (one value per seed each), got {len(a)} and {len(b)} values")
    d = [x - y for x, y in zip(a, b, strict=True) if math.isfinite(x) and math.isfinite(y)]
    out = mean_ci(d, level)
    p = math.nan
    if out["n"] >= 2 and out["sd"] > 0:
        t = out["mean"] / (out["sd"] / math.sqrt(out["n"]))
        p = float(2 * stats.t.sf(abs(t), out["n"] - 1))
    return {**out, "p_value": p}
