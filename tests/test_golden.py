"""Golden regression files: a few cells' outputs, final states and gradients on fixed small inputs and
weights, recomputed on every run and compared with the numbers recorded in tests/data/golden/*.pt.

The other tests compare two implementations (the Triton kernels with the reference loop, the reference
with torch.nn where a cell exists there), so a change made to both sides at once, or to a cell that
has no second implementation (PRU, SRU), goes unseen; these files pin the numbers themselves.

Cases (T = 7 steps, B = 3 sequences, m = n = 5; weights from ``cells.make(..., generator=
torch.Generator().manual_seed(0))``, inputs from seed 1):

* ``pru``: the reference loop, float64, with the output map.
* ``sru``: the reference loop, float64, SRU v2 with highway and rescaling.
* ``gru_triton``: the dense Triton kernel (backend="triton", persistent register-resident variant),
  float32, on CPU through Triton's interpreter (TRITON_INTERPRET=1), or on CUDA where the interpreter
  is off. Its recorded numbers were checked against the reference loop (1e-5) when they were made.

Each file is a flat dict of tensors (``torch.save``; loaded with ``weights_only=True``): the inputs
``x`` (T, B, m) and ``s0`` (B, S), the weights ``wy``, ``ws`` of the scalar ``L = Σ y·wy + Σ s·ws``,
the cell's parameters ``param.<name>`` (loaded into the cell, so a change of initialisation does not
break the test), and the results ``y`` (T, B, out), ``s`` (B, S) and ``grad.<x|s0|name>`` = ∂L/∂·.

Tolerance: 1e-6, absolute and relative. Results are O(1) (gradients up to O(10)); recomputing them
changes only the rounding (another BLAS or thread count, numpy's dots in the interpreter, FMA in
compiled kernels), a few float32 ulps (ulp(1) ≈ 1.2e-7) after 7 steps, and much less in float64. A
change of the math (a gate, a sign, a bias, the order of gate blocks) moves them by ≫ 1e-6.

Regenerate (writes every file, or the cases named)::

    PYTHONPATH=. python tests/test_golden.py --regenerate [pru sru gru_triton]

Regenerating is legitimate only when the math is meant to change (a corrected formula, a deliberate
change of a cell's definition or of a case here); say so in the commit that changes the files. Never
regenerate to make this test pass after a refactor, a speed-up or a dependency update: those must
reproduce the recorded numbers.
"""

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is first imported (see test_kernels_cells)

import pytest  # noqa: E402
import torch  # noqa: E402

from rnnviz import cells  # noqa: E402
from rnnviz._files import write_atomically  # noqa: E402
from rnnviz.cells import _triton  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
T, B, M, N = 7, 3, 5, 5
TOL = dict(atol=1e-6, rtol=1e-6)


@dataclass(frozen=True)
class Case:
    """One golden file: the cell (name, options pinned so a changed default cannot pass silently),
    its dtype and the backend that computes it."""

    name: str
    dtype: torch.dtype
    backend: str = "reference"
    options: dict = field(default_factory=dict)


CASES = {
    "pru": Case("pru", torch.float64, options=dict(output_map=True)),
    "sru": Case("sru", torch.float64, options=dict(version=2, highway=True, rescale=True)),
    "gru_triton": Case("gru", torch.float32, backend="triton"),
}


def _device(case: Case) -> torch.device:
    """CPU, except for a Triton case without the interpreter: CUDA (skipped without either)."""
    if case.backend != "triton" or _triton.interpreter_enabled():
        return torch.device("cpu")
    if not torch.cuda.is_available():
        pytest.skip("backend='triton' needs TRITON_INTERPRET=1 or a CUDA GPU")
    return torch.device("cuda")


def _make(case: Case, generator=None):
    return cells.make(case.name, M, N, dtype=case.dtype, generator=generator, **case.options)


def _results(cell, data: dict, backend: str, device: torch.device) -> dict:
    """y, s and the gradients of L = Σ y·wy + Σ s·ws with respect to x, s0 and every parameter."""
    cell = cell.to(device)
    x = data["x"].to(device).requires_grad_()
    s0 = data["s0"].to(device).requires_grad_()
    y, s = cell(x, s0, backend=backend)
    loss = (y * data["wy"].to(device)).sum() + (s * data["ws"].to(device)).sum()
    names, params = zip(*cell.named_parameters(), strict=True)
    grads = torch.autograd.grad(loss, [x, s0, *params])
    out = {"y": y, "s": s, **{f"grad.{n}": g for n, g in zip(("x", "s0", *names), grads, strict=True)}}
    return {k: v.detach().cpu() for k, v in out.items()}


def generate(name: str) -> Path:
    """Build case ``name`` from its seeds, compute its results and write tests/data/golden/<name>.pt."""
    case = CASES[name]
    cell = _make(case, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    data = {"x": torch.randn(T, B, M, generator=g, dtype=case.dtype),
            "s0": torch.randn(B, cell.state_size, generator=g, dtype=case.dtype)}
    data["wy"] = torch.randn(T, B, cell.output_size, generator=g, dtype=case.dtype)
    data["ws"] = torch.randn(B, cell.state_size, generator=g, dtype=case.dtype)
    device = _device(case)
    results = _results(cell, data, case.backend, device)
    if case.backend != "reference":  # record only numbers the reference loop confirms
        expected = _results(cell, data, "reference", device)
        for key, value in expected.items():
            torch.testing.assert_close(results[key], value, atol=1e-5, rtol=0.0, msg=lambda m, k=key: f"{k}: {m}")
    params = {f"param.{k}": v.detach().cpu().clone() for k, v in cell.state_dict().items()}
    path = GOLDEN / f"{name}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda f: torch.save({**data, **params, **results}, f))
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_outputs_final_state_and_gradients(name):
    case = CASES[name]
    if case.backend == "triton":
        pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")
    device = _device(case)
    data = torch.load(GOLDEN / f"{name}.pt", weights_only=True)
    cell = _make(case)
    cell.load_state_dict({k.removeprefix("param."): v for k, v in data.items() if k.startswith("param.")})
    got = _results(cell, data, case.backend, device)
    recorded = {k for k in data if k in ("y", "s") or k.startswith("grad.")}
    assert set(got) == recorded, f"{name}: results {sorted(got)} but the file records {sorted(recorded)}"
    for key in sorted(recorded):
        assert got[key].dtype == data[key].dtype and got[key].shape == data[key].shape, key
        torch.testing.assert_close(got[key], data[key], **TOL,
                                   msg=lambda m, key=key: f"{name} {key} differs from {name}.pt: {m}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="tests/test_golden.py", description=(
        "Regenerate the golden files. Only when the math is meant to change (see the module docstring)."))
    parser.add_argument("--regenerate", action="store_true", help="rewrite tests/data/golden/<case>.pt")
    parser.add_argument("cases", nargs="*", help=f"some of {list(CASES)} (default: every case)")
    args = parser.parse_args(argv)
    if not args.regenerate:
        parser.error("nothing to do without --regenerate (run the test with pytest)")
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; expected some of {list(CASES)}")
    torch.set_num_threads(1)
    for name in args.cases or CASES:
        print(f"wrote {generate(name)}")


if __name__ == "__main__":
    main(sys.argv[1:])
