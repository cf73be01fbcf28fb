"""Ensembles of sequences of different lengths (``cell(x, lengths=...)``, ``SequenceModel(x, lengths)``,
``fit`` on padded tasks): rnnviz.cells._lengths and the dense CPU kernels that skip the padding.

The known answer: model e of an ensemble run with ``lengths`` gives, on its first ``lengths[e]``
steps, the outputs of that member run alone on its sequence cut there, zeros after, and that run's
final state; its padding has no effect on anything (gradients included). Tolerances, absolute, in
float64: 1e-12 on outputs and states, 1e-11 on gradients (summation order only, as in
test_cpu_backend.py); training with and without ``lengths``: 1e-9 on the weights after 30 Adam steps.
"""

import pytest
import torch

from rnnviz import cells
from rnnviz.cells import _lengths
from rnnviz.kernels import cpu as kernels_cpu
from rnnviz.kernels.cpu import _dense
from rnnviz.tasks import Memorization
from rnnviz.train import SequenceModel, TrainConfig, fit

numba = pytest.mark.skipif(not kernels_cpu.numba_installed(), reason="numba is not installed")

E, T, B, H = 5, 8, 3, 4
LENGTHS = [8, 3, 3, 1, 6]  # runs of one length, the longest, the shortest
# every cell family: the dense ones run the lengths in the CPU kernels, the SRU family through the fallback
NAMES = ["gru", "irc_gru", "lstm", "ihc_lstm", "pru", "rnn", "fastgrnn", "sru", "irc_trnn"]


def _cell(name, dtype=torch.float64, n_models=E, seed=0):
    m = H if name.startswith(("irc", "ihc")) else 5
    cell = cells.make(name, m, H, n_models=n_models, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.5)
    return cell


def _inputs(cell, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(E, T, B, cell.input_size, generator=gen, dtype=torch.float64, requires_grad=True)
    s0 = torch.randn(E, B, cell.state_size, generator=gen, dtype=torch.float64).mul(0.5).requires_grad_()
    gy = torch.randn(E, T, B, cell.output_size, generator=gen, dtype=torch.float64)
    gs = torch.randn(E, B, cell.state_size, generator=gen, dtype=torch.float64)
    return x, s0, gy, gs


def _run(cell, x, s0, gy, gs, backend, lengths):
    y, s = cell(x, s0, backend=backend, lengths=lengths)
    grads = torch.autograd.grad((y * gy).sum() + (s * gs).sum(), [x, s0, *cell.parameters()])
    return y.detach(), s.detach(), grads


@pytest.mark.parametrize("name", NAMES)
def test_reference_with_lengths_is_each_member_run_on_its_own_prefix(name):
    cell = _cell(name)
    x, s0, gy, gs = _inputs(cell)
    y, s, grads = _run(cell, x, s0, gy, gs, "reference", LENGTHS)
    for e, L in enumerate(LENGTHS):
        member = cell.member(e)
        xe = x.detach()[e, :L].clone().requires_grad_()
        s0e = s0.detach()[e].clone().requires_grad_()
        ye, se = member(xe, s0e, backend="reference")
        torch.testing.assert_close(y[e, :L], ye.detach(), atol=1e-12, rtol=0)
        assert (y[e, L:] == 0).all()
        torch.testing.assert_close(s[e], se.detach(), atol=1e-12, rtol=0)
        ge = torch.autograd.grad((ye * gy[e, :L]).sum() + (se * gs[e]).sum(), [xe, s0e, *member.parameters()])
        torch.testing.assert_close(grads[0][e, :L], ge[0], atol=1e-11, rtol=0)
        assert (grads[0][e, L:] == 0).all()  # the padding has no effect
        torch.testing.assert_close(grads[1][e], ge[1], atol=1e-11, rtol=0)
        for full, own in zip(grads[2:], ge[2:], strict=True):
            torch.testing.assert_close(full[e], own, atol=1e-11, rtol=0)


@numba
@pytest.mark.parametrize("products", ["in-kernel", "per-step"])
@pytest.mark.parametrize("name", NAMES)
def test_cpu_with_lengths_equals_reference(name, products, monkeypatch):
    """The dense cells' kernels skip the padding (a finished model's state carried, whether they do the
    products or torch does them per step); the SRU family falls back to the whole padded sequence plus
    a rerun per shorter length. Both agree with the reference."""
    if products == "per-step":
        monkeypatch.setattr(_dense, "MAX_IN_KERNEL_MATRIX", 0)
        monkeypatch.setattr(_dense.steps, "LOOP_HIDDEN", 0)
    cell = _cell(name)
    x, s0, gy, gs = _inputs(cell)
    assert _lengths.skips_padding(cell, x.detach(), "cpu") is (name not in ("sru", "irc_trnn"))
    got = _run(cell, x, s0, gy, gs, "cpu", LENGTHS)
    want = _run(cell, x, s0, gy, gs, "reference", LENGTHS)
    torch.testing.assert_close(got[0], want[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(got[1], want[1], atol=1e-12, rtol=0)
    for i, (u, v) in enumerate(zip(got[2], want[2], strict=True)):
        torch.testing.assert_close(u, v, atol=1e-11, rtol=0, msg=lambda m, i=i: f"gradient {i}: {m}")


@numba
def test_padding_is_never_read_by_the_kernels():
    """NaN in every padding step changes nothing the recurrence computes (outputs, states, the gradients
    of x, s0 and of every weight but W_ih): the dense kernels neither compute nor read it. (The input
    GEMM runs over all steps, so W_ih's gradient, a sum of dxp·x over them, would see it.)"""
    cell = _cell("gru")
    x, s0, gy, gs = _inputs(cell)
    poisoned = x.detach().clone()
    for e, L in enumerate(LENGTHS):
        poisoned[e, L:] = float("nan")
    poisoned.requires_grad_()
    clean = _run(cell, x, s0, gy, gs, "cpu", LENGTHS)
    dirty = _run(cell, poisoned, s0, gy, gs, "cpu", LENGTHS)
    torch.testing.assert_close(dirty[0], clean[0], atol=0, rtol=0)
    torch.testing.assert_close(dirty[1], clean[1], atol=0, rtol=0)
    names = ["x", "s0", *(name for name, _ in cell.named_parameters())]
    for name, u, v in zip(names, dirty[2], clean[2], strict=True):
        if name != "weight_ih":
            torch.testing.assert_close(u, v, atol=0, rtol=0, msg=lambda m, name=name: f"{name}: {m}")


def test_model_ends():
    assert _dense.model_ends([8, 3, 3, 1, 6], 5, 8).tolist() == [8, 3, 3, 1, 6]
    assert _dense.model_ends(None, 3, 4).tolist() == [4, 4, 4]
    assert _dense.model_ends(torch.tensor([2, 4]), 2, 4).tolist() == [2, 4]
    with pytest.raises(ValueError, match=r"lengths must be 2 ints in \[1, 4\], got \[2, 5\]"):
        _dense.model_ends([2, 5], 2, 4)


@pytest.mark.parametrize(("lengths", "message"), [
    ([8, 3, 3, 1], r"lengths must be 5 integers in \[1, 8\].*got \[8, 3, 3, 1\]"),
    ([8, 3, 3, 1, 9], r"got \[8, 3, 3, 1, 9\]"),
    ([8, 3, 3, 0, 6], r"got \[8, 3, 3, 0, 6\]"),
    ([8, 3, 3, 1.0, 6], r"got \[8, 3, 3, 1.0, 6\]"),
    ([8, 3, True, 1, 6], r"got \[8, 3, True, 1, 6\]"),
    (5, r"lengths must be 5 integers .*got 5"),
    ("88888", r"got '88888'"),
])
def test_bad_lengths_are_named(lengths, message):
    cell = _cell("gru")
    x, _, _, _ = _inputs(cell)
    with pytest.raises(ValueError, match=message):
        cell(x, lengths=lengths)


def test_lengths_need_an_ensemble():
    cell = _cell("gru", n_models=None)
    with pytest.raises(ValueError, match="lengths is for an ensemble.*single model: pass x\\[:length\\]"):
        cell(torch.zeros(T, B, 5, dtype=torch.float64), lengths=[3])


def test_all_full_lengths_run_as_without():
    cell = _cell("gru")
    x, s0, _, _ = _inputs(cell)
    y1, s1 = cell(x, s0, lengths=[T] * E)
    y2, s2 = cell(x, s0)
    assert torch.equal(y1, y2) and torch.equal(s1, s2)


def test_backends_without_lengths_get_the_fallback(monkeypatch):
    """A backend that does not declare ``lengths`` runs the whole padded sequence; the cell zeroes the
    outputs past each length and reruns each shorter prefix for the final states."""
    calls = []

    def plain(cell, x, s0):
        calls.append(x.shape[1])
        return cells.reference_forward(cell, x, s0)

    monkeypatch.setitem(cells._backends._BACKENDS, "plain", cells._backends.Backend("plain", plain))
    cell = _cell("lstm")
    x, s0, gy, gs = _inputs(cell)
    assert not _lengths.skips_padding(cell, x.detach(), "plain")
    got = _run(cell, x, s0, gy, gs, "plain", LENGTHS)
    assert calls == [T, 1, 3, 6]  # the whole padded sequence, then each shorter prefix once
    want = _run(cell, x, s0, gy, gs, "reference", LENGTHS)
    torch.testing.assert_close(got[0], want[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(got[1], want[1], atol=1e-12, rtol=0)
    for u, v in zip(got[2], want[2], strict=True):
        torch.testing.assert_close(u, v, atol=1e-11, rtol=0)


@pytest.mark.parametrize("name", ["gru", "pru", "sru"])
def test_sequence_model_with_lengths(name):
    """Outputs up to each member's length are those without lengths (the model is causal), zeros
    after; where the backend cannot skip the padding (SRU) the model only masks its outputs."""
    torch.manual_seed(0)
    model = SequenceModel.stack([SequenceModel(name, 5, H, 3) for _ in range(E)]).double()
    x = torch.randn(E, T, B, 5, dtype=torch.float64)
    plain = model(x)
    ragged = model(x, lengths=LENGTHS)
    for e, L in enumerate(LENGTHS):
        torch.testing.assert_close(ragged[e, :L], plain[e, :L], atol=1e-12, rtol=0)
        assert (ragged[e, L:] == 0).all()
    with pytest.raises(ValueError, match="lengths must be 5 integers in \\[1, 8\\]"):
        model(x, lengths=[9] * E)


@numba
@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_fit_on_padded_tasks_trains_the_same_models_with_and_without_lengths(name, monkeypatch):
    """fit tells the model each member's task length (Memorization tasks of different K share an
    ensemble, padded after each sequence); skipping the padding trains the same models as running it."""
    from rnnviz.train import _fit

    tasks = [Memorization(n_targets=K, n_interfering=2, alphabet=4) for K in (1, 3, 2, 3)]
    assert len({t.length for t in tasks}) == 3

    def train(use_lengths):
        seen = []
        original = _fit._Working.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            seen.append(self.lengths)
            if not use_lengths:
                self.lengths = None

        monkeypatch.setattr(_fit._Working, "__init__", init)
        torch.manual_seed(0)
        model = SequenceModel.stack([SequenceModel(name, tasks[0].input_size, H, tasks[0].output_size)
                                     for _ in tasks]).double()
        config = TrainConfig(steps=30, batch_size=8, lr=1e-2, eval_every=10, eval_batch=16)
        result = fit(model, tasks, config, data_seed=[1, 2, 3, 4], progress=False)
        return model, result, seen

    with_lengths, result1, seen = train(True)
    assert seen[0] == [t.length for t in tasks]
    without, result2, _ = train(False)
    for p, q in zip(with_lengths.parameters(), without.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-9, rtol=0)
    assert result1.stopped_at == result2.stopped_at
