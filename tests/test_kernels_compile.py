"""The kernels compile for an H100 (sm_90) without a GPU: catches what the interpreter cannot.

Runs ``python -m rnnviz.kernels._compile_check`` in a subprocess with TRITON_INTERPRET=0, because
kernels decorated under the interpreter cannot be compiled.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
pytest.importorskip("triton.backends.nvidia", reason="triton was installed without its NVIDIA backend")

ROOT = Path(__file__).resolve().parents[1]


def test_every_kernel_specialisation_compiles_for_sm90():
    """Every SRU flag combination; every dense kind at a 32-wide pad, persistent and per-step."""
    env = {**os.environ, "TRITON_INTERPRET": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "rnnviz.kernels._compile_check", "90", "32"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    oks = [line for line in proc.stdout.splitlines() if line.endswith(": ok")]
    from rnnviz.kernels import _dense

    assert len(oks) == 12 + 4 * len(_dense.GATES), proc.stdout
