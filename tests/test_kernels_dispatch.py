"""The "auto" rule and the clear errors of the Triton backend (no kernel runs here)."""

import os
import sys
from types import SimpleNamespace

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from rnnviz import cells  # noqa: E402
from rnnviz.cells import _triton  # noqa: E402


def test_triton_is_a_registered_backend():
    assert "triton" in cells.available_backends()


@pytest.mark.parametrize("name", ["gru", "sru"])
def test_auto_never_picks_triton_on_cpu(name):
    """Even with the interpreter enabled, "auto" never picks Triton for CPU tensors."""
    cell = cells.make(name, 3, 3)
    assert cells.resolve_backend(cell, torch.zeros(2, 1, 3)) != "triton"


def test_auto_picks_triton_for_supported_cuda_inputs(monkeypatch):
    cell = cells.make("gru", 3, 3)
    cuda_like = SimpleNamespace(device=torch.device("cuda", 0))  # auto reads only .device here
    monkeypatch.setattr(_triton, "unsupported_reason", lambda c, t: None)
    assert _triton.auto_backend(cell, cuda_like) == "triton"
    monkeypatch.setattr(_triton, "unsupported_reason", lambda c, t: "float64")
    assert _triton.auto_backend(cell, cuda_like) == "reference"


@pytest.fixture
def triton_present(monkeypatch):
    """unsupported_reason reports a missing triton before anything else; the tests of the later
    reasons pretend it is installed (they raise before any kernel loads), so they run without it."""
    monkeypatch.setattr(_triton, "triton_available", lambda: True)


def test_float64_is_refused_with_a_clear_error(triton_present):
    cell = cells.make("gru", 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"dtype torch.float64 .*backend='reference'"):
        cell(torch.zeros(2, 1, 3, dtype=torch.float64), backend="triton")


def test_cpu_without_interpreter_is_refused(monkeypatch, triton_present):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    cell = cells.make("sru", 3, 3)
    with pytest.raises(ValueError, match=r"device cpu.*TRITON_INTERPRET=1"):
        cell(torch.zeros(2, 1, 3), backend="triton")


def test_missing_triton_is_reported(monkeypatch):
    monkeypatch.setattr(_triton, "triton_available", lambda: False)
    cell = cells.make("lstm", 3, 3)
    with pytest.raises(ValueError, match="triton package is not installed"):
        cell(torch.zeros(2, 1, 3), backend="triton")
    assert cells.resolve_backend(cell, torch.zeros(2, 1, 3)) != "triton"


def test_every_registered_cell_has_a_kernel():
    assert set(cells.names()) == set(_triton.SRU_FAMILY + _triton.DENSE)


def test_raw_kernel_wrappers_check_their_inputs():
    pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
    from rnnviz.kernels import _dense, _sru

    xc = torch.zeros(1, 2, 3, 4)
    with pytest.raises(ValueError, match=r"xf: expected shape \(1, 2, 3, 4\), got \(1, 2, 3, 5\)"):
        _sru.sru_recurrence(xc, torch.zeros(1, 2, 3, 5), xc, xc, None, None, torch.zeros(1, 4), None,
                            torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="highway=True needs the reset gate"):
        _sru.sru_recurrence(xc, xc, None, xc, None, None, torch.zeros(1, 4), None, torch.zeros(1, 3, 4),
                            has_r=False, highway=True)
    with pytest.raises(ValueError, match=r"expected xp \(E,T,B,3·H\)"):
        _dense.dense_recurrence(_dense.GRU, torch.zeros(1, 2, 3, 8), torch.zeros(1, 12, 4),
                                torch.zeros(1, 12), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="LSTM needs c0"):
        _dense.dense_recurrence(_dense.LSTM, torch.zeros(1, 2, 3, 16), torch.zeros(1, 16, 4),
                                torch.zeros(1, 16), torch.zeros(1, 3, 4))


@pytest.fixture
def restore_fp32_precision():
    """Put torch's fp32 precision settings back after a test changes them."""
    matmul = torch.backends.cuda.matmul
    if not hasattr(torch.backends, "fp32_precision"):
        pytest.skip("torch < 2.9 has no fp32_precision API")
    saved = torch.backends.fp32_precision, matmul.fp32_precision
    yield matmul
    torch.backends.fp32_precision, matmul.fp32_precision = saved


@pytest.mark.parametrize("generic, matmul_setting, expected", [
    ("none", "none", "ieee"),
    ("none", "tf32", "tf32"),
    ("none", "ieee", "ieee"),
    ("tf32", "none", "tf32"),
    ("tf32", "ieee", "ieee"),
    ("ieee", "none", "ieee"),
    ("ieee", "tf32", "tf32"),
])
def test_dot_precision_follows_the_new_fp32_precision_api(restore_fp32_precision, generic, matmul_setting,
                                                          expected):
    """torch ≥ 2.9: reading the legacy allow_tf32 after the new API was used raises; _precision must not."""
    pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
    from rnnviz.kernels import _dense

    torch.backends.fp32_precision = generic
    restore_fp32_precision.fp32_precision = matmul_setting
    assert _dense._precision() == expected


@pytest.mark.parametrize("allow_tf32, expected", [(True, "tf32"), (False, "ieee")])
def test_dot_precision_falls_back_to_allow_tf32_on_old_torch(monkeypatch, allow_tf32, expected):
    pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
    from rnnviz.kernels import _dense

    monkeypatch.setattr(torch.backends.cuda, "matmul", SimpleNamespace(allow_tf32=allow_tf32))
    assert _dense._precision() == expected


def test_kernels_compiled_for_gpu_looks_at_both_kernel_modules(monkeypatch):
    """A GPU-decorated _dense (not only _sru) means the interpreter cannot be used in this process."""
    fake_jit = type("JITFunction", (), {})()
    fake_interp = type("InterpretedFunction", (), {})()
    for name in ("_sru", "_dense"):
        monkeypatch.delitem(sys.modules, f"rnnviz.kernels.{name}", raising=False)
    assert not _triton.kernels_compiled_for_gpu()
    monkeypatch.setitem(sys.modules, "rnnviz.kernels._sru", SimpleNamespace(_sru_fwd_kernel=fake_interp))
    monkeypatch.setitem(sys.modules, "rnnviz.kernels._dense", SimpleNamespace(_dense_fwd_kernel=fake_jit))
    assert _triton.kernels_compiled_for_gpu()
    monkeypatch.setitem(sys.modules, "rnnviz.kernels._dense", SimpleNamespace(_dense_fwd_kernel=fake_interp))
    assert not _triton.kernels_compiled_for_gpu()


def test_dense_module_keeps_its_kernels_after_the_split():
    """The kernels live in _dense_kernels, but kernels_compiled_for_gpu (and the launches) read
    _dense_fwd_kernel from rnnviz.kernels._dense: it must be the same object there."""
    pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
    from rnnviz.kernels import _dense, _dense_kernels

    assert _dense._dense_fwd_kernel is _dense_kernels._dense_fwd_kernel
    assert _dense._dense_bwd_kernel is _dense_kernels._dense_bwd_kernel
    interpreted = type(_dense._dense_fwd_kernel).__name__ == "InterpretedFunction"
    assert interpreted == (os.environ.get("TRITON_INTERPRET") == "1")  # set before the first import here


def test_launches_are_guarded_by_the_tensors_device():
    """Triton launches on the current CUDA device: the kernels switch to the tensors' device first."""
    pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
    import contextlib

    from rnnviz.kernels._common import on_device

    assert isinstance(on_device(torch.zeros(1)), contextlib.nullcontext)
    guard = on_device(SimpleNamespace(device=torch.device("cuda", 1)))  # built, not entered: no GPU here
    assert isinstance(guard, torch.cuda.device) and guard.idx == 1


def test_rnnviz_backend_pins_what_auto_means(monkeypatch):
    cell = cells.make("gru", 3, 4)
    x = torch.zeros(2, 1, 3)
    monkeypatch.setenv("RNNVIZ_BACKEND", "reference")
    assert cells.resolve_backend(cell, x) == "reference"
    monkeypatch.setenv("RNNVIZ_BACKEND", "nonsense")
    with pytest.raises(ValueError, match="RNNVIZ_BACKEND must be 'auto' or one of"):
        cell(x)
    monkeypatch.setenv("RNNVIZ_BACKEND", "auto")
    assert cells.resolve_backend(cell, x) in cells.available_backends()
