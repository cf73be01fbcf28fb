"""The "cpu" backend (rnnviz.cells._cpu, rnnviz.kernels.cpu) against the reference loop, and its dispatch.

Tolerances (absolute, on outputs, final states and the gradients of x, s0 and every parameter, with
random weights and gradients of the outputs, T = 7):

* float64: 1e-12 on outputs and states, 1e-11 on gradients (the kernels compute in float64, with
  their own exp/tanh accurate to ~2e-16; differences are summation order, ~1e-15 in practice);
* float32: 2e-5 (float32 rounding through 7 steps, and exp/tanh to ~1e-7; ~1e-6 in practice);
* ensembles against their members run one by one on the same backend: 1e-12 in float64.
"""

import array
import warnings

import pytest
import torch

from rnnviz import cells
from rnnviz.cells import _cpu
from rnnviz.kernels import cpu as kernels_cpu
from rnnviz.kernels.cpu import _threads, _workspace

pytestmark = pytest.mark.skipif(not kernels_cpu.numba_installed(), reason="numba is not installed")

# (name, input size m, options): every cell family and every branch of the kernels
VARIANTS = [
    ("gru", 5, {}), ("irc_gru", 4, {}), ("lstm", 5, {}), ("irc_lstm", 4, {}), ("ihc_lstm", 4, {}),
    ("pru", 5, {}), ("pru", 5, {"output_map": False}), ("rnn", 5, {}), ("rnn", 5, {"nonlinearity": "relu"}),
    ("fastgrnn", 5, {}),
    ("sru", 5, {}),  # m ≠ n: highway through a projection block
    ("sru", 4, {}),  # m = n: highway α·x
    ("sru", 5, {"version": 1}), ("sru", 5, {"highway": False}), ("irc_sru", 4, {}),
    ("trnn", 5, {}), ("irc_trnn", 4, {}),
]
IDS = [f"{n}-m{m}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}" for n, m, o in VARIANTS]
H, T, B = 4, 7, 3


def _cell(name, m, options, dtype, n_models=None, seed=0):
    cell = cells.make(name, m, H, n_models=n_models, dtype=dtype, **options)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in cell.parameters():  # random everywhere (FastGRNN's ζ, ν and SRU's biases too)
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.5)
    return cell


def _run(cell, x, s0, backend, gy, gs):
    """Outputs, final state and the gradients of x, s0 and every parameter."""
    y, s = cell(x, s0, backend=backend)
    grads = torch.autograd.grad((y * gy).sum() + (s * gs).sum(), [x, s0, *cell.parameters()])
    return y.detach(), s.detach(), grads


def _inputs(cell, dtype, lead=(), seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*lead, T, B, cell.input_size, generator=gen, dtype=dtype).requires_grad_()
    s0 = torch.randn(*lead, B, cell.state_size, generator=gen, dtype=dtype).mul(0.5).requires_grad_()
    y_shape = (*lead, T, B, cell.output_size)
    gy = torch.randn(y_shape, generator=gen, dtype=dtype)
    gs = torch.randn(s0.shape, generator=gen, dtype=dtype)
    return x, s0, gy, gs


def _assert_same(a, b, atol_out, atol_grad):
    (ya, sa, ga), (yb, sb, gb) = a, b
    torch.testing.assert_close(ya, yb, atol=atol_out, rtol=0)
    torch.testing.assert_close(sa, sb, atol=atol_out, rtol=0)
    for i, (u, v) in enumerate(zip(ga, gb, strict=True)):
        torch.testing.assert_close(u, v, atol=atol_grad, rtol=0, msg=lambda m, i=i: f"gradient {i}: {m}")


@pytest.mark.parametrize("n_models", [None, 3], ids=["single", "ensemble"])
@pytest.mark.parametrize(("name", "m", "options"), VARIANTS, ids=IDS)
def test_float64_equals_reference(name, m, options, n_models):
    cell = _cell(name, m, options, torch.float64, n_models)
    lead = () if n_models is None else (n_models,)
    x, s0, gy, gs = _inputs(cell, torch.float64, lead)
    _assert_same(_run(cell, x, s0, "cpu", gy, gs), _run(cell, x, s0, "reference", gy, gs), 1e-12, 1e-11)


DENSE_VARIANTS = [v for v in VARIANTS if v[0] in _cpu.DENSE]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("products", ["in-kernel", "per-step"])
@pytest.mark.parametrize("n_models", [None, 2], ids=["single", "ensemble"])
@pytest.mark.parametrize(("name", "m", "options"), DENSE_VARIANTS, ids=[IDS[VARIANTS.index(v)] for v in DENSE_VARIANTS])
def test_equals_reference_with_blas_products(name, m, options, n_models, products, dtype, monkeypatch):
    """Hidden sizes above LOOP_HIDDEN: the recurrent products run in BLAS, either called by the
    kernels themselves (small products: one kernel call for all steps; dgemm or sgemm) or by torch
    between per-step kernel calls (MAX_IN_KERNEL_MATRIX = 0 forces it here). Tolerances as above."""
    from rnnviz.kernels.cpu import _dense

    if products == "per-step":
        monkeypatch.setattr(_dense, "MAX_IN_KERNEL_MATRIX", 0)
    n = _dense.steps.LOOP_HIDDEN + 7
    m = n if name.startswith(("irc", "ihc")) else 5
    cell = cells.make(name, m, n, n_models=n_models, dtype=dtype, **options)
    blocks = _dense.KINDS[_cpu.kernel_name(cell)].blocks
    assert _dense.products_in_kernel(n_models or 1, blocks * n, n, B) == (products == "in-kernel")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.3)
    lead = () if n_models is None else (n_models,)
    x, s0, gy, gs = _inputs(cell, dtype, lead)
    tolerances = (1e-12, 1e-11) if dtype == torch.float64 else (2e-5, 2e-5)
    _assert_same(_run(cell, x, s0, "cpu", gy, gs), _run(cell, x, s0, "reference", gy, gs), *tolerances)


@pytest.mark.parametrize(("E", "P", "n", "B", "in_kernel"), [
    (64, 12, 4, 4096, True),    # n <= LOOP_HIDDEN: loops, whatever the size
    (4, 48, 16, 32, True),      # a capacity demo ensemble
    (64, 48, 16, 32, True),     # the benchmark's ensemble of 64: many models, each product small
    (1, 96, 32, 32, True),      # one model of 32 units
    (9, 192, 64, 32, False),    # n = 64: one product of 393,216 multiply-adds, above MAX_IN_KERNEL_MATRIX
    (1, 24, 8, 4096, False),    # n = 8 but a batch of 4096: 786,432 (OpenBLAS would thread it)
    (1, 384, 128, 64, False),   # one large product
])
def test_products_in_kernel_rule(E, P, n, B, in_kernel):
    from rnnviz.kernels.cpu import _dense

    assert _dense.products_in_kernel(E, P, n, B) is in_kernel


@pytest.mark.parametrize(("name", "m", "options"), VARIANTS, ids=IDS)
def test_float32_ensemble_equals_reference(name, m, options):
    cell = _cell(name, m, options, torch.float32, n_models=2)
    x, s0, gy, gs = _inputs(cell, torch.float32, (2,))
    _assert_same(_run(cell, x, s0, "cpu", gy, gs), _run(cell, x, s0, "reference", gy, gs), 2e-5, 2e-5)


@pytest.mark.parametrize("name", ["gru", "lstm", "ihc_lstm", "fastgrnn", "sru", "irc_trnn"])
def test_float32_single_equals_reference(name):
    m = 4 if name.startswith(("irc", "ihc")) else 5
    cell = _cell(name, m, {}, torch.float32)
    x, s0, gy, gs = _inputs(cell, torch.float32)
    _assert_same(_run(cell, x, s0, "cpu", gy, gs), _run(cell, x, s0, "reference", gy, gs), 2e-5, 2e-5)


@pytest.mark.parametrize("name", ["pru", "ihc_lstm", "fastgrnn", "sru", "irc_trnn"])
def test_ensemble_equals_its_members(name):
    m = 4 if name.startswith(("irc", "ihc")) else 5
    ens = _cell(name, m, {}, torch.float64, n_models=3)
    x, s0, gy, gs = _inputs(ens, torch.float64, (3,))
    y, s, grads = _run(ens, x, s0, "cpu", gy, gs)
    n_params = len(list(ens.parameters()))
    for i in range(3):
        member = ens.member(i)
        xi, s0i = x[i].detach().clone().requires_grad_(), s0[i].detach().clone().requires_grad_()
        yi, si, gi = _run(member, xi, s0i, "cpu", gy[i], gs[i])
        torch.testing.assert_close(y[i], yi, atol=1e-12, rtol=0)
        torch.testing.assert_close(s[i], si, atol=1e-12, rtol=0)
        torch.testing.assert_close(grads[0][i], gi[0], atol=1e-12, rtol=0)
        torch.testing.assert_close(grads[1][i], gi[1], atol=1e-12, rtol=0)
        for k in range(n_params):
            torch.testing.assert_close(grads[2 + k][i], gi[2 + k], atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ["gru", "sru"])
def test_layouts_and_partial_gradients(name):
    """batch_first, unbatched inputs, s0 = None, outputs unused in the loss (None gradients), inputs
    without requires_grad, and no_grad/inference_mode calls all agree with the reference."""
    cell = _cell(name, 5, {}, torch.float64)
    bf = cells.make(name, 5, H, batch_first=True, dtype=torch.float64)
    bf.load_state_dict(cell.state_dict())
    x = torch.randn(T, B, 5, dtype=torch.float64)
    y_ref, s_ref = cell(x, backend="reference")
    y_cpu, s_cpu = bf(x.transpose(0, 1), backend="cpu")
    torch.testing.assert_close(y_cpu.transpose(0, 1), y_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(s_cpu, s_ref, atol=1e-12, rtol=0)
    y1, s1 = cell(x[:, 0], backend="cpu")  # unbatched (T, m)
    torch.testing.assert_close(y1, y_ref[:, 0], atol=1e-12, rtol=0)
    torch.testing.assert_close(s1, s_ref[0], atol=1e-12, rtol=0)
    with torch.inference_mode():
        torch.testing.assert_close(cell(x, backend="cpu")[0], y_ref, atol=1e-12, rtol=0)
    for use in ("y", "s"):  # one output unused: its gradient reaches the backward as None
        grads = {}
        for backend in ("cpu", "reference"):
            y, s = cell(x, backend=backend)
            out = y.sum() if use == "y" else s.pow(2).sum()
            grads[backend] = torch.autograd.grad(out, list(cell.parameters()))
        for a, b in zip(grads["cpu"], grads["reference"], strict=True):
            torch.testing.assert_close(a, b, atol=1e-11, rtol=0)


def test_outputs_are_not_overwritten_by_later_calls():
    """The kernels reuse large buffers (rnnviz.kernels.cpu._workspace): never while a result, or a
    graph that saved one, is alive."""
    cell = _cell("lstm", 4, {"ihc": True}, torch.float64, n_models=2)
    x1, s1, gy, gs = _inputs(cell, torch.float64, (2,), seed=1)
    x2, s2, _, _ = _inputs(cell, torch.float64, (2,), seed=2)
    ya, sa = cell(x1, s1, backend="cpu")
    yb, sb = cell(x2, s2, backend="cpu")  # same shapes: would take ya's buffers if they were free
    ref_a = cell(x1, s1, backend="reference")
    torch.testing.assert_close(ya, ref_a[0], atol=1e-12, rtol=0)
    ga = torch.autograd.grad((ya * gy).sum() + (sa * gs).sum(), list(cell.parameters()))
    gb = torch.autograd.grad((yb * gy).sum() + (sb * gs).sum(), list(cell.parameters()))
    for g, (xx, ss) in ((ga, (x1, s1)), (gb, (x2, s2))):
        y, s = cell(xx, ss, backend="reference")
        want = torch.autograd.grad((y * gy).sum() + (s * gs).sum(), list(cell.parameters()))
        for u, v in zip(g, want, strict=True):
            torch.testing.assert_close(u, v, atol=1e-11, rtol=0)


def test_workspace_reuses_free_buffers_only():
    a = _workspace.empty((3, 5), torch.float32)
    b = _workspace.empty((3, 5), torch.float32)
    assert a.data_ptr() != b.data_ptr()  # a is alive: b must not share its memory
    ptr = a.data_ptr()
    del a
    c = _workspace.empty((3, 5), torch.float32)
    assert c.data_ptr() in (ptr, b.data_ptr()) and c.data_ptr() != b.data_ptr()


def test_double_backward_raises():
    cell = _cell("gru", 5, {}, torch.float64)
    x, s0, _, _ = _inputs(cell, torch.float64)
    y, _ = cell(x, s0, backend="cpu")
    with pytest.raises(RuntimeError, match="higher-order gradients"):
        torch.autograd.grad(y.sum(), x, create_graph=True)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize(("dtype", "atol"), [(torch.float64, 1e-15), (torch.float32, 3e-7)])
def test_pointwise_tanh_equals_torch_with_its_gradient_and_keeps_a_transposed_layout(layout, dtype, atol):
    gen = torch.Generator().manual_seed(3)
    base = torch.randn(4, 5, 6, 7, generator=gen, dtype=dtype) * 3  # beyond the small-argument branch too
    base[0, 0, 0, :3] = torch.tensor([0.0, 1e-9, -40.0], dtype=dtype)
    x = {"contiguous": base, "transposed": base.transpose(0, 1), "strided": base[:, ::2]}[layout]
    x = x.detach().requires_grad_()
    y = kernels_cpu.pointwise().tanh(x)
    torch.testing.assert_close(y, torch.tanh(x), atol=atol, rtol=0)
    if layout == "transposed":
        assert y.stride() == x.stride()  # no copy into another layout (PRU's time-major view of a model-major GEMM)
    gy = torch.randn(x.shape, generator=gen, dtype=dtype)
    (gx,) = torch.autograd.grad((y * gy).sum(), x)
    (ref,) = torch.autograd.grad((torch.tanh(x) * gy).sum(), x)
    torch.testing.assert_close(gx, ref, atol=10 * atol, rtol=0)
    with pytest.raises(RuntimeError, match="higher-order gradients"):
        torch.autograd.grad(kernels_cpu.pointwise().tanh(x).sum(), x, create_graph=True)


@pytest.mark.parametrize("n_models", [None, 3], ids=["single", "ensemble"])
def test_pru_output_map_runs_the_kernels_tanh_on_the_cpu_backend(n_models, monkeypatch):
    """PRU's G = tanh(W_y s + b_y) on backend "cpu" takes the kernels' tanh (torch's is ~6x slower on
    some CPUs); the reference loop keeps torch.tanh. Their agreement is test_float64_equals_reference's."""
    calls = []
    module = kernels_cpu.pointwise()
    kernel = module.tanh
    monkeypatch.setattr(module, "tanh", lambda x: calls.append(tuple(x.shape)) or kernel(x))
    cell = _cell("pru", 5, {}, torch.float64, n_models=n_models)
    x, s0, _, _ = _inputs(cell, torch.float64, lead=() if n_models is None else (n_models,))
    cell(x, s0, backend="reference")
    assert calls == []
    cell(x, s0, backend="cpu")
    assert calls == [(T, B, H) if n_models is None else (T, n_models, B, H)]


@pytest.mark.parametrize(("name", "E", "T", "B", "H", "lengths"),
                         [("sru", 2, 64, 64, 16, None), ("gru", 4, 256, 64, 8, None), ("gru", 4, 256, 32, 16, None),
                          ("gru", 8, 128, 64, 16, [128, 20, 100, 128, 64, 1, 128, 77]),
                          ("gru", 3, 12, 64, 64, None), ("lstm", 3, 12, 64, 64, [12, 5, 9])])
def test_threads_split_the_work_with_the_same_result(name, E, T, B, H, lengths):
    """With 2 torch threads the SRU kernels split the E·B rows, the dense kernels that do their own
    products (in loops, n = 8; through BLAS, n = 16) the models, between threads: the same numbers as
    with one; also when the models' sequences end at different steps (``lengths``: each thread gets
    long and short ones, tests/test_lengths.py). With a lent thread (torch's staying at one) the same
    splits happen; the per-step path of larger products (n = 64) is not split, and a lent thread
    leaves it as it is (LSTM: its strided state gradient)."""
    from rnnviz.kernels.cpu import _dense

    cell = _cell(name, H, {}, torch.float64, n_models=E)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(E, T, B, H, generator=gen, dtype=torch.float64, requires_grad=True)
    blocks = {"gru": 3, "lstm": 4}.get(name)
    if name == "sru":
        assert E * B * T * H >= 2 * _threads.MIN_WORK_PER_THREAD  # big enough to be split
    elif H == 64:
        assert not _dense.products_in_kernel(E, blocks * H, H, B)  # the per-step path
    else:
        assert _dense.products_in_kernel(E, blocks * H, H, B) and E * T * B * H >= 2 * _dense.MIN_THREAD_WORK
    before = torch.get_num_threads()
    results = {}
    lent = array.array("i", [1])  # one thread lent, as a study's idle worker lends its own
    try:
        for threads, lending in ((1, False), (2, False), (1, True)):
            torch.set_num_threads(threads)
            _threads.lend_threads(lent if lending else None)
            assert _threads.kernel_threads() == (2 if lending else threads)
            y, s = cell(x, backend="cpu", lengths=lengths)
            results[threads, lending] = (torch.cat((y.detach().flatten(), s.detach().flatten())),
                                         torch.autograd.grad(y.sum() + s.sum(), [x, *cell.parameters()]))
    finally:
        torch.set_num_threads(before)
        _threads.lend_threads()
    for split in ((2, False), (1, True)):
        torch.testing.assert_close(results[1, False][0], results[split][0], atol=1e-13, rtol=0)
        for u, v in zip(results[1, False][1], results[split][1], strict=True):
            torch.testing.assert_close(u, v, atol=1e-11, rtol=0)


def test_lent_threads_join_the_split_and_are_read_at_every_call():
    """``lend_threads``: the kernels use torch's threads plus the lent ones, read from the shared array
    at every call (another process changes it while this one trains), never fewer than torch's."""
    lent = array.array("i", [0])
    seen = []

    def kernel(r0, r1):
        seen.append((r0, r1))

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _threads.lend_threads(lent, 0)
        for value, parts in ((0, [(0, 8)]), (1, [(0, 4), (4, 8)]), (3, [(0, 2), (2, 4), (4, 6), (6, 8)]),
                             (-2, [(0, 8)])):
            lent[0], seen[:] = value, []
            _threads.run_rows(kernel, 8, 1, min_work=1)
            assert sorted(seen) == parts, (value, seen)
    finally:
        torch.set_num_threads(before)
        _threads.lend_threads()
    assert _threads.kernel_threads() == torch.get_num_threads()


# ----------------------------------------------------------------------------------------- dispatch


def test_cpu_is_registered():
    assert "cpu" in cells.available_backends()


@pytest.mark.parametrize("name", ["gru", "sru", "lstm"])
def test_auto_picks_cpu_for_cpu_tensors(name):
    cell = cells.make(name, 3, 3)
    assert cells.resolve_backend(cell, torch.zeros(2, 1, 3)) == "cpu"
    assert cells.resolve_backend(cell.double(), torch.zeros(2, 1, 3, dtype=torch.float64)) == "cpu"
    assert _cpu.auto_backend(cell, torch.zeros(2, 1, 3, dtype=torch.float64)) == "cpu"


def test_auto_leaves_single_steps_and_other_dtypes_to_the_reference():
    cell = cells.make("gru", 3, 3)
    assert cells.resolve_backend(cell, torch.zeros(1, 2, 3)) == "reference"  # T = 1
    irc_trnn = cells.make("irc_trnn", 8, 8)  # the reference is faster for large IRC-T-RNN steps
    assert cells.resolve_backend(irc_trnn, torch.zeros(5, 8, 8)) == "cpu"
    assert cells.resolve_backend(irc_trnn, torch.zeros(5, _cpu.IRC_TRNN_MAX_AUTO_UNITS // 8, 8)) == "reference"
    half = cells.make("gru", 3, 3, dtype=torch.bfloat16)
    x = torch.zeros(4, 2, 3, dtype=torch.bfloat16)
    assert cells.resolve_backend(half, x) == "reference"
    with pytest.raises(ValueError, match=r"dtype torch.bfloat16 is not supported.*backend='reference'"):
        half(x, backend="cpu")


def test_auto_is_reference_under_torch_func_transforms():
    cell = _cell("gru", 3, {}, torch.float64)
    x = torch.randn(2, T, B, 3, dtype=torch.float64)

    def last_output(xx):
        assert cells.resolve_backend(cell, xx) == "reference"
        return cell(xx)[0][-1].sum()

    batched = torch.func.vmap(last_output)(x)
    want = torch.stack([cell(xi, backend="reference")[0][-1].sum() for xi in x])
    torch.testing.assert_close(batched, want)


def test_plain_single_lstm_runs_torch_native_op():
    cell = cells.make("lstm", 3, 3)
    x = torch.zeros(2, 1, 3)
    native = torch.backends.mkldnn.is_available()
    assert _cpu.uses_native_lstm(cell, x) == native
    assert not _cpu.uses_native_lstm(cell.double(), x.double())
    assert not _cpu.uses_native_lstm(cells.make("lstm", 3, 3, n_models=2), torch.zeros(2, 2, 1, 3))
    assert not _cpu.uses_native_lstm(cells.make("ihc_lstm", 3, 3), x)


def test_missing_numba_falls_back_to_reference(monkeypatch):
    """Without numba (simulated: the kernels fail to import) "auto" runs the reference loop silently
    and a forced "cpu" says why; the native LSTM path needs no numba."""
    monkeypatch.setattr(kernels_cpu, "_state", {"error": "ModuleNotFoundError: No module named 'numba'"})
    gru = cells.make("gru", 3, 3)
    x = torch.randn(4, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cells.resolve_backend(gru, x) == "reference"
        gru(x)  # runs, on the reference loop
    with pytest.raises(ValueError, match=r"backend='cpu' cannot run 'gru'.*need numba"):
        gru(x, backend="cpu")
    lstm = cells.make("lstm", 3, 3)
    assert cells.resolve_backend(lstm, x) == ("cpu" if torch.backends.mkldnn.is_available() else "reference")


def test_compile_failure_warns_once_and_falls_back(monkeypatch):
    """A kernel that numba cannot compile here (simulated) makes "auto" warn once and run the reference."""
    monkeypatch.setattr(_cpu, "_READY", {})

    def broken(name, dtype):
        raise RuntimeError("LLVM ERROR: simulated")

    monkeypatch.setattr(_cpu, "_warm_up", broken)
    cell = cells.make("pru", 3, 3)
    x = torch.randn(4, 2, 3)
    with pytest.warns(RuntimeWarning, match="'pru' CPU kernels failed to compile.*reference loop"):
        assert cells.resolve_backend(cell, x) == "reference"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        assert cells.resolve_backend(cell, x) == "reference"
        torch.testing.assert_close(cell(x)[0], cell(x, backend="reference")[0])
    with pytest.raises(ValueError, match="simulated"):
        cell(x, backend="cpu")


def test_ready_records_its_time_and_works_under_no_grad(monkeypatch):
    monkeypatch.setattr(_cpu, "_READY", {})
    monkeypatch.setattr(_cpu, "COMPILE_SECONDS", {})
    with torch.no_grad():
        assert _cpu.ready(cells.make("fastgrnn", 3, 3), torch.float32) is None
    assert _cpu.COMPILE_SECONDS[("fastgrnn", "float32")] >= 0


# ---------------------------------------------------------------------------------------- benchmark


def test_bench_cpu_quick_writes_every_field(tmp_path):
    """benchmarks/bench_cpu.py --quick runs end to end and records what a real run must (numbers of
    a quick run mean nothing)."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_cpu.py"
    spec = importlib.util.spec_from_file_location("bench_cpu_under_test", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "cpu.json"
    before = torch.get_num_threads()
    payload = bench.main(["--quick", "--threads", "1,2", "--repeats", "1", "--cells", "gru,pru,sru",
                          "--reference-cells", "gru", "--ensemble-cells", "gru,sru", "--out", str(out)])
    assert torch.get_num_threads() == before  # restored
    saved = json.loads(out.read_text())
    assert saved["complete"] is True and saved["environment"]["cpu"] and saved["environment"]["numba"]
    assert saved["settings"]["threads"] == [1, 2] and saved["settings"]["quick"] is True
    rows = saved["results"]
    assert not [r for r in rows if "error" in r]
    labels = {(r["threads"], r["contender"]) for r in rows}
    for threads in (1, 2):
        assert {(threads, "torch.nn.GRU"), (threads, "torch.nn.LSTM"), (threads, "rnnviz gru"),
                (threads, "rnnviz gru reference loop"), (threads, "rnnviz ensemble gru (cpu)"),
                (threads, "rnnviz ensemble sru (reference loop)")} <= labels
    for r in rows:
        assert r["min_ms"] <= r["median_ms"] <= r["max_ms"] and r["n_runs"] == 1 and r["first_call_ms"] > 0
    assert {r["backend"] for r in rows if r["contender"].startswith("rnnviz ") and "reference" not in r["contender"]
            and "one after another" not in r["contender"]} == {"cpu"}
    ens = [r for r in rows if r["section"] == "ensemble"]
    assert all(r["step_gflop"] > 0 and r["floor_ms"] > 0 and r["step_bmm_gflops"] > 0 for r in ens)
    assert any(r.get("sequential") for r in ens)
    assert {t["target"] for t in saved["targets"]} >= {"ensemble step gru: reference ÷ cpu",
                                                        "ensemble step gru: torch.nn one after another ÷ cpu"}
    assert all(s["load_before"] is None or len(s["load_before"]) == 3 for s in saved["sections"])
    assert "gru/float32" in saved["compile_seconds"]
    assert payload["complete"] is True


def test_kernel_functions_check_their_arguments():
    dense, sru = kernels_cpu.load()
    # GRU: P = 3n = 12 projections, 4n = 16 biases ([b_r; b_z; b_hn; b_xn])
    xp, w, b, s0 = torch.zeros(2, 1, 3, 12), torch.zeros(1, 12, 4), torch.zeros(1, 16), torch.zeros(1, 3, 4)
    with pytest.raises(ValueError, match="kind must be one of"):
        dense.dense_recurrence("elman", xp, w, b, s0)
    with pytest.raises(ValueError, match=r"s0: expected shape \(1, 3, 4\)"):
        dense.dense_recurrence("gru", xp, w, b, torch.zeros(1, 3, 5))
    with pytest.raises(ValueError, match=r"b_hh: expected shape \(1, 16\)"):
        dense.dense_recurrence("gru", xp, w, torch.zeros(1, 12), s0)
    with pytest.raises(ValueError, match="FastGRNN takes par"):
        dense.dense_recurrence("gru", xp, w, b, s0, par=torch.zeros(1, 10))
    with pytest.raises(TypeError, match="float32 or float64"):
        dense.dense_recurrence("gru", xp.half(), w.half(), b.half(), s0.half())
    with pytest.raises(ValueError, match="x must be a"):
        sru.sru_recurrence(torch.zeros(2, 1, 3, 8), None, torch.zeros(1, 3, 4), torch.zeros(1, 4, 4),
                           oc=sru.FROM_X, of=0, orr=4, oh=sru.NO_HIGHWAY)
    with pytest.raises(ValueError, match="lies outside"):
        sru.sru_recurrence(torch.zeros(2, 1, 3, 8), None, torch.zeros(1, 3, 4), torch.zeros(1, 4, 4),
                           oc=0, of=4, orr=8, oh=sru.NO_HIGHWAY)
