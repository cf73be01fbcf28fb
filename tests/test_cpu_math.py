"""The numba kernels' own exp, sigmoid and tanh (rnnviz/kernels/cpu/_math.py) against numpy in float64
and float32, at the accuracy the module docstring states, over their whole range and at its clamps."""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from rnnviz.kernels.cpu._math import exp, sigmoid, tanh  # noqa: E402


@numba.njit(cache=False)
def _apply(x, which):
    out = np.empty_like(x)
    for i in range(x.size):
        if which == 0:
            out[i] = exp(x[i])
        elif which == 1:
            out[i] = sigmoid(x[i])
        else:
            out[i] = tanh(x[i])
    return out


def _grid(dtype, low, high):
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(low, high, 20001), rng.uniform(low, high, 20000),
                        [0.0, -0.0, 1e-30, -1e-30, 0.6249, 0.6251, -0.6251]])
    return x.astype(dtype)


def test_float64_exp_sigmoid_tanh_match_numpy_to_the_documented_relative_error():
    x = _grid(np.float64, -708.0, 709.0)
    assert _apply(x, 0).dtype == np.float64
    np.testing.assert_allclose(_apply(x, 0), np.exp(x), rtol=2.3e-16 * 2, atol=0)  # ≤ 2.3e-16, one rounding
    small = _grid(np.float64, -40.0, 40.0)
    np.testing.assert_allclose(_apply(small, 1), 1 / (1 + np.exp(-small)), rtol=1e-15, atol=0)
    np.testing.assert_allclose(_apply(small, 2), np.tanh(small), rtol=1e-15, atol=1e-300)
    tiny = np.array([1e-300, -1e-200, 1e-20, 3e-9])  # the rational branch keeps relative precision
    np.testing.assert_allclose(_apply(tiny, 2), np.tanh(tiny), rtol=1e-15, atol=0)


def test_float64_exp_clamps_instead_of_overflowing():
    out = _apply(np.array([-1000.0, 1000.0, -708.0, 709.0]), 0)
    assert 0 < out[0] < 1e-307 and np.isfinite(out[1]) and out[1] > 8e307
    assert out[2] == pytest.approx(np.exp(-708.0), rel=1e-15) and out[3] == pytest.approx(np.exp(709.0), rel=1e-15)
    assert list(_apply(np.array([-1000.0, 1000.0]), 2)) == [-1.0, 1.0]
    assert list(_apply(np.array([-1000.0, 1000.0]), 1)) == pytest.approx([0.0, 1.0], abs=1e-300)


def test_float32_versions_stay_in_float32_at_float32_accuracy():
    x = _grid(np.float32, -87.0, 88.0)
    out = _apply(x, 0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=3e-7, atol=0)
    small = _grid(np.float32, -20.0, 20.0)
    ref = small.astype(np.float64)
    np.testing.assert_allclose(_apply(small, 1), 1 / (1 + np.exp(-ref)), rtol=3e-7, atol=1e-37)
    np.testing.assert_allclose(_apply(small, 2), np.tanh(ref), rtol=0, atol=3e-7)  # absolute, as documented
    extreme = _apply(np.array([-200.0, 200.0], np.float32), 0)
    assert np.isfinite(extreme).all() and extreme[0] > 0
