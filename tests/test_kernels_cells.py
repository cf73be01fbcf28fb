"""Triton backend vs the reference loop, for every cell and for ensembles.

Runs on CPU through Triton's interpreter: TRITON_INTERPRET must be set before the kernels are first
decorated (i.e. before rnnviz.kernels._sru / _dense are imported), hence the line at the very top.
Shapes are tiny because the interpreter executes every program in Python.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

triton = pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")

from kernel_support import assert_backends_agree, saved_bytes  # noqa: E402
from kernel_support import make_inputs as _inputs  # noqa: E402

from rnnviz import cells  # noqa: E402
from rnnviz.cells import _triton  # noqa: E402

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("these tests run the kernels on CPU and need TRITON_INTERPRET=1", allow_module_level=True)

ALL = cells.names()
DENSE = _triton.DENSE
ATOL = 1e-5


@pytest.mark.parametrize("n_models", [None, 1, 3])
@pytest.mark.parametrize("name", ALL)
def test_every_cell_matches_reference(name, n_models):
    torch.manual_seed(0)
    cell = cells.make(name, 5, 5, n_models=n_models)
    x, s0 = _inputs(cell, T=3, B=2)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name", ALL)
def test_single_step_single_sequence(name):
    """T = 1, B = 1, and a hidden size that is not a power of two (padded inside the kernels)."""
    torch.manual_seed(0)
    cell = cells.make(name, 7, 7)
    x, s0 = _inputs(cell, T=1, B=1)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name", ["gru", "lstm", "pru", "sru"])
def test_wide_hidden_and_many_batch_blocks(name):
    """H = 33 needs two 32-column chunks of a 64-wide tile; B = 17 needs two 16-row batch blocks."""
    torch.manual_seed(0)
    cell = cells.make(name, 4, 33, n_models=2)
    x, s0 = _inputs(cell, T=2, B=17)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name", DENSE)
def test_per_step_fallback_path(name, monkeypatch):
    """Hidden sizes above the persistent limit use cuBLAS + the fused pointwise kernel per step."""
    monkeypatch.setattr(_triton, "MAX_PERSISTENT_HIDDEN", 4)
    torch.manual_seed(0)
    cell = cells.make(name, 5, 5, n_models=2)
    x, s0 = _inputs(cell, T=3, B=2)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name", DENSE)
def test_streamed_weights_variant_at_small_hidden_sizes(name, monkeypatch):
    """H ≤ 32 runs the register-resident persistent kernels; the streamed variant (U re-read every
    step, used above 32) checked at a small size too. H = 33 in the test above also streams."""
    from rnnviz.kernels import _dense

    monkeypatch.setattr(_dense, "RESIDENT_MAX_PAD", 0)
    torch.manual_seed(0)
    cell = cells.make(name, 5, 5, n_models=2)
    x, s0 = _inputs(cell, T=3, B=2)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name", ["gru", "lstm", "ihc_lstm", "fastgrnn"])
def test_resident_variant_at_a_32_wide_pad(name):
    """H = 20 pads to 32 (the largest register-resident tile), B = 17 needs two batch blocks."""
    torch.manual_seed(0)
    cell = cells.make(name, 20, 20)
    x, s0 = _inputs(cell, T=2, B=17)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name, options", [
    ("sru", {"version": 1}),
    ("sru", {"highway": False}),
    ("sru", {"rescale": False}),
    ("irc_sru", {"version": 1, "highway": False}),
    ("pru", {"output_map": False}),
    ("rnn", {"nonlinearity": "relu"}),
])
def test_cell_options(name, options):
    torch.manual_seed(0)
    cell = cells.make(name, 5, 5, n_models=2, **options)
    x, s0 = _inputs(cell, T=3, B=2)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name", ["sru", "gru", "pru", "lstm"])
def test_input_size_differs_from_hidden(name):
    """m ≠ n: SRU gets its projection block for the highway; dense cells a rectangular W_ih."""
    torch.manual_seed(0)
    cell = cells.make(name, 3, 6)
    x, s0 = _inputs(cell, T=3, B=2)
    assert_backends_agree(cell, x, s0)


@pytest.mark.parametrize("name", ["sru", "lstm"])
def test_batch_first_and_unbatched(name):
    torch.manual_seed(0)
    cell = cells.make(name, 4, 4, batch_first=True)
    x = torch.randn(2, 3, 4)
    y_t, s_t = cell(x, backend="triton")
    y_r, s_r = cell(x, backend="reference")
    torch.testing.assert_close(y_t, y_r, atol=ATOL, rtol=0)
    torch.testing.assert_close(s_t, s_r, atol=ATOL, rtol=0)
    x1 = torch.randn(3, 4)  # unbatched (T, m)
    y_t, s_t = cell(x1, backend="triton")
    y_r, s_r = cell(x1, backend="reference")
    assert y_t.shape == y_r.shape and s_t.shape == s_r.shape
    torch.testing.assert_close(y_t, y_r, atol=ATOL, rtol=0)
    torch.testing.assert_close(s_t, s_r, atol=ATOL, rtol=0)


def test_ensemble_member_equals_single_cell():
    torch.manual_seed(0)
    ens = cells.make("gru", 4, 6, n_models=3)
    x = torch.randn(3, 4, 2, 4)
    y, s = ens(x, backend="triton")
    for i in range(3):
        y_i, s_i = ens.member(i)(x[i], backend="triton")
        torch.testing.assert_close(y[i], y_i, atol=ATOL, rtol=0)
        torch.testing.assert_close(s[i], s_i, atol=ATOL, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name, stepwise", [("sru", False), ("gru", False), ("lstm", False), ("gru", True),
                                            ("lstm", True), ("rnn", True)])
def test_half_precision_inputs_accumulate_in_fp32(name, stepwise, dtype, monkeypatch):
    """fp16/bf16 cells: the kernels keep the state in fp32, so outputs and the gradients wrt x and every
    parameter stay close to the fp32 reference (persistent and per-step dense paths).

    The half cell's xp comes out of a half-precision GEMM, so the differences are rounding of the
    inputs to the recurrence, not of the recurrence; tolerances are relative to each tensor's scale."""
    if stepwise:
        monkeypatch.setattr(_triton, "MAX_PERSISTENT_HIDDEN", 2)
    torch.manual_seed(0)
    cell32 = cells.make(name, 6, 6)
    cell16 = cells.make(name, 6, 6, dtype=dtype)
    cell16.load_state_dict({k: v.to(dtype) for k, v in cell32.state_dict().items()})
    x = torch.randn(5, 2, 6).to(dtype)
    x16, x32 = x.clone().requires_grad_(), x.float().requires_grad_()
    y16, s16 = cell16(x16, backend="triton")
    y32, s32 = cell32(x32, backend="reference")
    assert y16.dtype == dtype and s16.dtype == dtype
    tol = 3e-2 if dtype == torch.bfloat16 else 1e-2
    torch.testing.assert_close(y16.float(), y32, atol=tol, rtol=tol)
    torch.testing.assert_close(s16.float(), s32, atol=tol, rtol=tol)
    g = torch.Generator().manual_seed(1)
    wy, ws = torch.randn(y32.shape, generator=g), torch.randn(s32.shape, generator=g)
    ((y16.float() * wy).sum() + (s16.float() * ws).sum()).backward()
    ((y32 * wy).sum() + (s32 * ws).sum()).backward()
    pairs = [("x", x16, x32), *((n, p16, p32) for (n, p16), p32 in
                                zip(cell16.named_parameters(), cell32.parameters(), strict=True))]
    for pname, t16, t32 in pairs:
        assert t16.grad.dtype == dtype, pname
        scale = t32.grad.abs().max().item()
        torch.testing.assert_close(t16.grad.float(), t32.grad, atol=tol * scale, rtol=0,
                                   msg=lambda m, pname=pname: f"{name} grad of {pname}: {m}")


@pytest.mark.parametrize("target", ["y", "s"])
@pytest.mark.parametrize("name, stepwise", [(n, False) for n in ALL] + [(n, True) for n in DENSE],
                         ids=[*ALL, *(f"{n}-per-step" for n in DENSE)])
def test_in_place_change_of_an_output_is_never_silently_wrong(name, stepwise, target, monkeypatch):
    """y (or the final state) may be a view of a tensor the backward pass reads (the state sequence,
    SRU's c): an in-place change must either leave the gradients equal to the reference's, or make
    backward raise torch's standard error; it must never give different gradients silently."""
    if stepwise:
        monkeypatch.setattr(_triton, "MAX_PERSISTENT_HIDDEN", 2)
    torch.manual_seed(0)
    cell = cells.make(name, 5, 5)
    x, s0 = _inputs(cell, T=3, B=2)
    grads = {}
    for backend in ("reference", "triton"):
        y, s = cell(x, s0, backend=backend)
        (y if target == "y" else s).mul_(2)
        loss = y.square().sum() + s.square().sum()
        try:
            grads[backend] = torch.autograd.grad(loss, [x, s0, *cell.parameters()])
        except RuntimeError as err:  # (the reference raises too where it keeps y, e.g. PRU's tanh)
            assert "modified by an inplace operation" in str(err), err
    if len(grads) == 2:
        for g_t, g_r in zip(grads["triton"], grads["reference"], strict=True):
            torch.testing.assert_close(g_t, g_r, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name, stepwise", [("sru", False), ("trnn", False), ("gru", False),
                                            ("lstm", True)])
def test_higher_order_gradients_raise(name, stepwise, monkeypatch):
    """The kernels' backward builds no graph: create_graph=True must raise rather than let a later
    autograd.grad(penalty, x) return a gradient that silently lacks the kernels' part."""
    if stepwise:
        monkeypatch.setattr(_triton, "MAX_PERSISTENT_HIDDEN", 2)
    torch.manual_seed(0)
    cell = cells.make(name, 4, 4)
    x, s0 = _inputs(cell, T=2, B=2)
    y, s = cell(x, s0, backend="triton")
    loss = y.square().sum() + s.square().sum()
    with pytest.raises(RuntimeError, match="higher-order gradients"):
        torch.autograd.grad(loss, [x, *cell.parameters()], create_graph=True)
    y, s = cell(x, s0, backend="triton")  # first-order gradients are unaffected
    torch.autograd.grad(y.square().sum() + s.square().sum(), [x, *cell.parameters()])


@pytest.mark.parametrize("name, stepwise", [(n, False) for n in ALL] + [(n, True) for n in DENSE],
                         ids=[*ALL, *(f"{n}-per-step" for n in DENSE)])
def test_saved_for_backward_stays_within_the_memory_budget(name, stepwise, monkeypatch):
    """Issue 3: nothing of size T·B·H·(gates) kept beyond what the backward pass needs.

    Allowed: x and s0 (the input GEMM keeps x anyway), the GEMM output xp (T·B·G·H; the gates are
    recomputed from it), the state sequences (h; LSTM also c; PRU also its output map's result), the
    parameters, and vectors of size E·H. The per-step path (dense cells above the persistent limit)
    also keeps each step's h U^T + b (T·B·G·H), like the reference loop. RNN keeps no xp at all.
    """
    if stepwise:
        monkeypatch.setattr(_triton, "MAX_PERSISTENT_HIDDEN", 2)
    torch.manual_seed(0)
    T, B, H, E = 16, 8, 4, 2  # long and wide enough that one T·B·H block exceeds the slack
    cell = cells.make(name, H, H, n_models=E)
    x, s0 = _inputs(cell, T=T, B=B)
    xp_bytes = cell._project_input(x.detach().transpose(0, 1)).numel() * 4
    base = cell.base_kind
    states = 2 if base in ("lstm", "pru") else 1
    if stepwise and base == "pru":
        states += 1  # the stacked state sequence for the output map, besides each step's output
    budget = (x.numel() + s0.numel()) * 4 + xp_bytes * (2 if stepwise else 1)
    budget += states * E * (T + 1) * B * H * 4 + sum(p.numel() * 4 for p in cell.parameters())
    budget += 8 * E * H * 4  # per-unit vectors (zeros for absent SRU parameters, concatenated biases)
    if base == "rnn":  # the derivative comes from h_t alone: neither xp nor h U^T is kept
        budget -= xp_bytes * (2 if stepwise else 1)
    saved = saved_bytes(cell, x, s0)
    assert saved <= budget, (saved, budget, E * T * B * H * 4)


@pytest.mark.parametrize("k", [2, 7], ids=["k<m", "k>m"])
@pytest.mark.parametrize("name", ["gru", "irc_gru", "lstm", "ihc_lstm", "pru", "sru"])
def test_input_map_folded_or_not_equals_the_reference_on_the_mapped_inputs(name, k, monkeypatch):
    """``cell(x, input_map=W)`` on Triton (the ensembles of dense cells fold W into their input GEMM:
    the spy sees it; the SRU family maps x first) equals the reference loop on ``W x``: outputs, state,
    gradients of x, W, s0 and every parameter."""
    from rnnviz.cells._ops import member_map

    folded = []
    real = _triton.folded_input_weight
    monkeypatch.setattr(_triton, "folded_input_weight", lambda *a: folded.append(1) or real(*a))
    torch.manual_seed(0)
    m = 5
    cell = cells.make(name, m, 5, n_models=2)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 2, k, generator=g).requires_grad_()
    w = (torch.randn(2, m, k, generator=g) * 0.5).requires_grad_()
    s0 = torch.randn(2, 2, cell.state_size, generator=g).requires_grad_()
    results = []
    for backend, mapped in (("triton", False), ("reference", True)):
        y, s = cell(member_map(x, w), s0, backend=backend) if mapped else cell(x, s0, backend=backend, input_map=w)
        grads = torch.autograd.grad(y.square().sum() + s.square().sum(), [x, w, s0, *cell.parameters()])
        results.append((y, s, grads))
    assert bool(folded) is (name != "sru")
    (y_t, s_t, g_t), (y_r, s_r, g_r) = results
    torch.testing.assert_close(y_t, y_r, atol=ATOL, rtol=0)
    torch.testing.assert_close(s_t, s_r, atol=ATOL, rtol=0)
    for i, (u, v) in enumerate(zip(g_t, g_r, strict=True)):
        torch.testing.assert_close(u, v, atol=ATOL, rtol=0, msg=lambda msg, i=i: f"gradient {i}: {msg}")
