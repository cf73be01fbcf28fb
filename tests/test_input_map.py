"""A cell reading its inputs through a linear map, ``cell(x, input_map=W)`` = ``cell(W x)``
(:meth:`rnnviz.cells.RecurrentCell.forward`; a SequenceModel's embedding), and the CPU kernels that
fold W into the cell's input weights (:func:`rnnviz.cells._input_map.folds_input_map`; the Triton backend's, under its interpreter, in
test_kernels_cells.py).

The known answer: whatever the backend, and whether or not it folds, the outputs, the final state and
the gradients of x, s0, W and every parameter are those of the cell run on the reference loop on
``member_map(x, W)``. Tolerances, absolute, in float64: 1e-12 on outputs and states, 1e-11 on
gradients (the fold sums the same products in another order).
"""

import pytest
import torch

from rnnviz import cells
from rnnviz.cells import _backends, _cpu, _input_map
from rnnviz.cells._ops import member_map
from rnnviz.kernels import cpu as kernels_cpu
from rnnviz.train import SequenceModel

numba = pytest.mark.skipif(not kernels_cpu.numba_installed(), reason="numba is not installed")

E, T, B, H = 3, 7, 2, 5
# every cell family: the dense ones (but FastGRNN) fold the map in the CPU kernels, the others map first
NAMES = ["gru", "irc_gru", "lstm", "irc_lstm", "ihc_lstm", "pru", "rnn", "fastgrnn", "sru", "irc_trnn"]
LENGTHS = [7, 2, 5]


def _cell(name, n_models=E):
    m = H if name.startswith(("irc", "ihc")) else 4
    cell = cells.make(name, m, H, n_models=n_models, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
    return cell


def _inputs(cell, k, seed=1):
    gen = torch.Generator().manual_seed(seed)
    lead = () if cell.n_models is None else (cell.n_models,)
    x = torch.randn(*lead, T, B, k, generator=gen, dtype=torch.float64, requires_grad=True)
    w = (torch.randn(*lead, cell.input_size, k, generator=gen, dtype=torch.float64) * 0.7).requires_grad_()
    s0 = (torch.randn(*lead, B, cell.state_size, generator=gen, dtype=torch.float64) * 0.5).requires_grad_()
    gy = torch.randn(*lead, T, B, cell.output_size, generator=gen, dtype=torch.float64)
    gs = torch.randn(*lead, B, cell.state_size, generator=gen, dtype=torch.float64)
    return x, w, s0, gy, gs


def _run(cell, x, w, s0, gy, gs, *, mapped_first, backend, lengths=None):
    if mapped_first:
        y, s = cell(member_map(x, w), s0, backend="reference", lengths=lengths)
    else:
        y, s = cell(x, s0, backend=backend, lengths=lengths, input_map=w)
    grads = torch.autograd.grad((y * gy).sum() + (s * gs).sum(), [x, w, s0, *cell.parameters()])
    return y.detach(), s.detach(), grads


def _assert_same(got, want):
    torch.testing.assert_close(got[0], want[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(got[1], want[1], atol=1e-12, rtol=0)
    for i, (u, v) in enumerate(zip(got[2], want[2], strict=True)):
        torch.testing.assert_close(u, v, atol=1e-11, rtol=0, msg=lambda m, i=i: f"gradient {i}: {m}")


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("k", [2, 7], ids=["k<m", "k>m"])
@pytest.mark.parametrize("backend", ["reference", pytest.param("cpu", marks=numba)])
@pytest.mark.parametrize("name", NAMES)
def test_ensemble_reads_the_mapped_inputs(name, backend, k, lengths):
    cell = _cell(name)
    x, w, s0, gy, gs = _inputs(cell, k)
    got = _run(cell, x, w, s0, gy, gs, mapped_first=False, backend=backend, lengths=lengths)
    want = _run(cell, x, w, s0, gy, gs, mapped_first=True, backend=backend, lengths=lengths)
    _assert_same(got, want)


@pytest.mark.parametrize("backend", ["reference", pytest.param("cpu", marks=numba)])
@pytest.mark.parametrize("name", ["gru", "ihc_lstm", "sru"])
def test_single_model_reads_the_mapped_inputs(name, backend):
    cell = _cell(name, n_models=None)
    x, w, s0, gy, gs = _inputs(cell, 2)
    _assert_same(_run(cell, x, w, s0, gy, gs, mapped_first=False, backend=backend),
                 _run(cell, x, w, s0, gy, gs, mapped_first=True, backend=backend))


@numba
@pytest.mark.parametrize("name", NAMES)
def test_cpu_folds_where_it_says_and_only_there(name, monkeypatch):
    """Ensembles of dense cells but FastGRNN fold when k ≤ m or the folded product is small (P·k at most
    FOLD_SMALL_PRODUCT multiply-adds a row): the kernels' input GEMM gets ``W_ih W`` (the spy sees it)
    and the cell never computes W x itself; elsewhere (a single model, the SRU family, FastGRNN, a wide
    k) the cell maps x first."""
    folded, mapped = [], []
    real_fold, real_map = _cpu.folded_input_weight, _cpu.member_map
    monkeypatch.setattr(_cpu, "folded_input_weight", lambda *a: folded.append(1) or real_fold(*a))
    monkeypatch.setattr(_cpu, "member_map", lambda *a: mapped.append(1) or real_map(*a))
    cpu = _backends.lookup("cpu", None, None)
    for k, n_models in [(2, E), (7, E), (2, None), (_input_map.FOLD_SMALL_PRODUCT, E)]:
        cell = _cell(name, n_models=n_models)
        x, w, s0, _, _ = _inputs(cell, k)
        P = len(cell.gate_layout.blocks) * H
        small = k <= cell.input_size or P * k <= _input_map.FOLD_SMALL_PRODUCT
        want = n_models is not None and small and name in _cpu.DENSE and name != "fastgrnn"
        assert (k == 7) <= small  # k = 7 > m folds for being small, the widest k does not
        assert cpu.folds_input_map(cell, x) is want
        folded.clear()
        mapped.clear()
        cell(x, s0, backend="cpu", input_map=w)
        assert bool(folded) is want and not mapped  # the cell, not the backend, maps when it does not fold


@numba
def test_sequence_model_folds_its_embedding_and_equals_embedding_first(monkeypatch):
    """A SequenceModel's embedding is its first cell's input map: on the CPU kernels folded into the
    cell (the spy), with the numbers of embedding first and the reference loop, padded lengths too."""
    folded = []
    real = _cpu.folded_input_weight
    monkeypatch.setattr(_cpu, "folded_input_weight", lambda *a: folded.append(1) or real(*a))
    for name in ["irc_gru", "ihc_lstm", "gru"]:
        model = SequenceModel(name, 3, 8, 4, n_models=E, embedding=True, dtype=torch.float64)
        gen = torch.Generator().manual_seed(2)
        x = torch.nn.functional.one_hot(torch.randint(0, 3, (E, T, B), generator=gen), 3).double()
        for lengths in (None, LENGTHS):
            folded.clear()
            y = model(x, lengths=lengths)
            assert folded, name
            h, _ = model.cells[0](model.embed(x), backend="reference", lengths=lengths)
            want = model.read_out(h)
            want = want if lengths is None else torch.cat(
                [torch.cat((want[e, :L], torch.zeros_like(want[e, L:]))).unsqueeze(0) for e, L in enumerate(lengths)])
            torch.testing.assert_close(y, want, atol=1e-12, rtol=0)
            got_g = torch.autograd.grad(y.square().sum(), list(model.parameters()))
            want_g = torch.autograd.grad(want.square().sum(), list(model.parameters()))
            for u, v in zip(got_g, want_g, strict=True):
                torch.testing.assert_close(u, v, atol=1e-11, rtol=0)


@pytest.mark.parametrize(("shape", "message"), [
    ((E, 4, 2, 1), r"input_map must have shape \(E, input_size, k\) = \(3, 4, 'k'\) with k ≥ 1, got \(3, 4, 2, 1\)"),
    ((E, 5, 2), r"input_map must have shape .* got \(3, 5, 2\)"),
    ((2, 4, 2), r"input_map must have shape .* got \(2, 4, 2\)"),
    ((E, 4, 0), r"input_map must have shape .* got \(3, 4, 0\)"),
])
def test_bad_input_map_is_named(shape, message):
    cell = _cell("gru")
    x, _, _, _, _ = _inputs(cell, 2)
    with pytest.raises(ValueError, match=message):
        cell(x, input_map=torch.zeros(shape, dtype=torch.float64))


def test_input_map_checks_its_type_and_x_its_features():
    cell = _cell("gru")
    x, w, _, _, _ = _inputs(cell, 2)
    with pytest.raises(TypeError, match="input_map must be a torch.Tensor"):
        cell(x, input_map=w.tolist())
    with pytest.raises(TypeError, match="input_map has dtype torch.float32"):
        cell(x, input_map=w.float())
    with pytest.raises(ValueError, match="x has 2 features on its last axis, expected the 3 columns of input_map"):
        cell(x, input_map=torch.zeros(E, 4, 3, dtype=torch.float64))
    single = _cell("gru", n_models=None)
    with pytest.raises(ValueError, match=r"input_map must have shape \(input_size, k\) = \(4, 'k'\)"):
        single(x[0], input_map=w)


def test_register_backend_checks_input_map():
    with pytest.raises(TypeError, match="input_map must be callable or None, got int"):
        cells.register_backend("nothing", lambda cell, x, s0: None, input_map=3)
