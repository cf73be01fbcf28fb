"""The kernels compile for an H100 (sm_90) without a GPU: catches what the interpreter cannot.

Runs ``python benchmarks/compile_check.py --quick`` in a subprocess with TRITON_INTERPRET=0,
because kernels decorated under the interpreter cannot be compiled; the full set (every hidden pad,
both half types, every SRU block) is ``python benchmarks/compile_check.py``. A second test
records the launches the backend really makes and checks the compile check lists each of them.
"""

import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
pytest.importorskip("triton.backends.nvidia", reason="triton was installed without its NVIDIA backend")

from rnnviz import cells  # noqa: E402
from rnnviz.cells import _triton  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
@functools.cache
def _load_compile_check():
    """benchmarks/compile_check.py as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("benchmarks_compile_check", ROOT / "benchmarks" / "compile_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


POINTER = {torch.float32: "*fp32", torch.float16: "*fp16", torch.bfloat16: "*bf16"}


def test_representative_specialisations_compile_for_sm90():
    """Every SRU flag combination and dense kind (persistent and per-step) at a 16-wide pad, plus
    tf32 dots, fp16 pointers, both SRU block extremes (--quick)."""
    _compile_check = _load_compile_check()
    env = {**os.environ, "TRITON_INTERPRET": "0", "TRITON_DEFAULT_FP_FUSION": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compile_check.py"), "90", "16", "--quick",
                           "--jobs", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    oks = [line for line in proc.stdout.splitlines() if line.endswith(": ok")]
    assert len(oks) == len(list(_compile_check.specialisations((16,), quick=True))), proc.stdout


class _Recorder:
    """Stands in for a @triton.jit kernel: records each launch instead of running it."""

    def __init__(self, kernel, log):
        self.kernel, self.log = kernel, log

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            self.log.append(_launch_key(self.kernel, args, kwargs))
        return launch


def _launch_key(kernel, args, kwargs):
    """spec_key of a launch, as Triton's launcher specialises it (ints equal to 1 become constants)."""
    spec_key = _load_compile_check().spec_key

    sig, consts = {}, {}
    for name, value in zip(kernel.arg_names, args, strict=False):
        if isinstance(value, torch.Tensor):
            sig[name] = POINTER[value.dtype]
        elif isinstance(value, int) and not isinstance(value, bool) and value == 1:
            consts[name] = 1
    warps = kwargs.pop("num_warps", 4)
    kwargs.pop("enable_fp_fusion", None)
    return spec_key(kernel, sig, {**consts, **kwargs}, warps)


def _drive(name, options, dtype, stepwise, grads, monkeypatch):
    """Forward and backward of one cell through the host code, kernels replaced by recorders."""
    monkeypatch.setattr(_triton, "MAX_PERSISTENT_HIDDEN", 2 if stepwise else 256)
    torch.manual_seed(0)
    cell = cells.make(name, 5, 5, dtype=dtype, **options)
    x = torch.randn(3, 2, 5, dtype=dtype, requires_grad=True)
    y, s = cell(x, backend="triton")
    out = {"both": y.float().sum() + s.float().sum(), "y": y.float().sum(), "s": s.float().sum()}[grads]
    out.backward()


def test_every_launched_specialisation_is_compile_checked(monkeypatch):
    """The host code's real launches (every cell, option, dtype, dense path, gradient pattern and
    the tf32 setting), recorded on CPU without running a kernel, are all in specialisations()."""
    from rnnviz.kernels import _dense, _sru

    _compile_check = _load_compile_check()

    listed = {_compile_check.spec_key(*s) for s in _compile_check.specialisations((16,))}
    log = []
    monkeypatch.setattr(_triton, "unsupported_reason", lambda cell, x: None)  # recorders are no kernels
    for module, names in ((_sru, ("_sru_fwd_kernel", "_sru_bwd_kernel")),
                          (_dense, ("_dense_fwd_kernel", "_dense_bwd_kernel"))):
        for kname in names:
            monkeypatch.setattr(module, kname, _Recorder(getattr(module, kname), log))
    cases = [(n, {}) for n in cells.names()]
    cases += [("sru", {"version": 1}), ("sru", {"highway": False}), ("irc_sru", {"version": 1, "highway": False}),
              ("rnn", {"nonlinearity": "relu"})]
    for name, options in cases:
        for dtype in POINTER:
            for stepwise in ((False, True) if name in _triton.DENSE else (False,)):
                for grads in ("both", "y", "s"):
                    _drive(name, options, dtype, stepwise, grads, monkeypatch)
    if hasattr(torch.backends, "fp32_precision"):
        matmul = torch.backends.cuda.matmul
        saved = matmul.fp32_precision
        matmul.fp32_precision = "tf32"
        try:
            for name in _triton.DENSE:
                _drive(name, {}, torch.float32, False, "both", monkeypatch)
        finally:
            matmul.fp32_precision = saved
    missing = sorted(set(log) - listed)
    assert not missing, f"{len(missing)} launched specialisations not compile-checked, e.g. {missing[:3]}"
    assert len(set(log)) > 100
