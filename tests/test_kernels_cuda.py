"""The compiled Triton kernels on a CUDA GPU against the reference loop (skipped without a GPU).

The interpreter tests (test_kernels_cells.py) prove the kernels' logic on tiny shapes; this module
runs what the compiler built, on the shapes where tiling, padding and the persistent/per-step
crossover matter. Run it in its own process with TRITON_INTERPRET unset:

    python -m pytest tests/test_kernels_cuda.py        # benchmarks/gpu_session.sh all does this
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU (run on a GPU machine)", allow_module_level=True)
if os.environ.get("TRITON_INTERPRET") == "1":
    pytest.skip("TRITON_INTERPRET=1 is set: these tests are for the compiled kernels", allow_module_level=True)
pytest.importorskip("triton", reason="triton is not installed: the Triton backend is optional")

from kernel_support import assert_backends_agree, make_inputs, saved_bytes  # noqa: E402

from rnnviz import cells  # noqa: E402
from rnnviz.cells import _triton  # noqa: E402

CUDA = torch.device("cuda")


def _input_size(name: str, wanted: int, hidden: int) -> int:
    """IRC/IHC cells add the input to the state, so their input size is the hidden size."""
    return hidden if cells.needs_square_input(name) else wanted


@pytest.fixture(autouse=True)
def exact_fp32():
    """TF32 off for both backends, so fp32 differences come from summation order alone.

    torch ≥ 2.9 gets the fp32_precision API (the legacy flags warn there, and raise once both APIs
    were mixed); older torch the allow_tf32 flags.
    """
    if hasattr(torch.backends, "fp32_precision"):
        modules = torch.backends, torch.backends.cuda.matmul, torch.backends.cudnn
        saved = [m.fp32_precision for m in modules]
        torch.backends.cuda.matmul.fp32_precision = torch.backends.cudnn.fp32_precision = "ieee"
        yield
        for m, value in zip(modules, saved, strict=True):
            m.fp32_precision = value
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("n_models", [None, 3])
@pytest.mark.parametrize("name", cells.names())
def test_every_cell_small_awkward_shapes(name, n_models):
    torch.manual_seed(0)
    cell = cells.make(name, _input_size(name, 7, 37), 37, n_models=n_models).to(CUDA)
    for T, B in ((1, 1), (9, 19)):
        x, s0 = make_inputs(cell, T, B, device=CUDA)
        assert_backends_agree(cell, x, s0, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("hidden", [64, 128, 200, 256, 300])
@pytest.mark.parametrize("name", ["sru", "gru", "lstm", "pru", "rnn", "ihc_lstm"])
def test_sizes_around_the_persistent_limit(name, hidden):
    """H ≤ MAX_PERSISTENT_HIDDEN runs the persistent kernel, larger H the per-step path."""
    torch.manual_seed(0)
    cell = cells.make(name, _input_size(name, 32, hidden), hidden).to(CUDA)
    x, s0 = make_inputs(cell, 50, 24, device=CUDA)
    assert_backends_agree(cell, x, s0, atol=1e-4, rtol=1e-4)


def test_the_study_shape_ensemble():
    """An ensemble as the capacity study trains it: E = 42, T = 100, B = 128, n = 32."""
    torch.manual_seed(0)
    cell = cells.make("gru", 16, 32, n_models=42).to(CUDA)
    x, s0 = make_inputs(cell, 100, 128, device=CUDA)
    assert_backends_agree(cell, x, s0, atol=1e-4, rtol=1e-4)
    assert _triton.auto_backend(cell, x) == "triton"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name, stepwise", [("sru", False), ("gru", False), ("lstm", False), ("lstm", True)])
def test_half_precision_close_to_fp32(name, stepwise, dtype, monkeypatch):
    """Outputs and gradients (x and every parameter, relative to each tensor's scale) of fp16/bf16
    cells against the fp32 reference."""
    if stepwise:
        monkeypatch.setattr(_triton, "MAX_PERSISTENT_HIDDEN", 16)
    torch.manual_seed(0)
    cell32 = cells.make(name, 16, 64).to(CUDA)
    cell16 = cells.make(name, 16, 64, dtype=dtype).to(CUDA)
    cell16.load_state_dict({k: v.to(dtype) for k, v in cell32.state_dict().items()})
    x = torch.randn(40, 8, 16, device=CUDA).to(dtype)
    x16, x32 = x.clone().requires_grad_(), x.float().requires_grad_()
    y16, s16 = cell16(x16, backend="triton")
    y32, s32 = cell32(x32, backend="reference")
    assert y16.dtype == dtype
    torch.testing.assert_close(y16.float(), y32, atol=3e-2, rtol=3e-2)
    torch.testing.assert_close(s16.float(), s32, atol=3e-2, rtol=3e-2)
    wy, ws = torch.randn_like(y32), torch.randn_like(s32)
    ((y16.float() * wy).sum() + (s16.float() * ws).sum()).backward()
    ((y32 * wy).sum() + (s32 * ws).sum()).backward()
    tol = 6e-2 if dtype == torch.bfloat16 else 3e-2
    pairs = [("x", x16, x32), *((n, p16, p32) for (n, p16), p32 in
                                zip(cell16.named_parameters(), cell32.parameters(), strict=True))]
    for pname, t16, t32 in pairs:
        torch.testing.assert_close(t16.grad.float(), t32.grad, atol=tol * t32.grad.abs().max().item(), rtol=0,
                                   msg=lambda m, pname=pname: f"{name} grad of {pname}: {m}")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
@pytest.mark.parametrize("name", ["sru", "gru"])
def test_tensors_on_a_device_that_is_not_the_current_one(name):
    """Triton launches on the current device; the kernels switch to the tensors' device first."""
    torch.manual_seed(0)
    other = torch.device("cuda", 1)
    cell = cells.make(name, 8, 24).to(other)
    with torch.cuda.device(0):
        x, s0 = make_inputs(cell, 10, 4, device=other)
        assert_backends_agree(cell, x, s0, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["sru", "gru", "lstm", "rnn", "fastgrnn"])
def test_saved_activations_stay_below_the_gate_tensor(name):
    """Memory target of issue 3: nothing of size T·B·H·gates kept beyond what backward needs.

    Kept: x, s0, the GEMM output xp (not for RNN), the state sequences (LSTM: h and c), the
    parameters (see docs/kernels.md "Memory"); tests/test_kernels_cells.py checks every cell."""
    torch.manual_seed(0)
    T, B, H = 64, 32, 128
    cell = cells.make(name, H, H).to(CUDA)
    x = torch.randn(T, B, H, device=CUDA, requires_grad=True)
    s0 = torch.zeros(B, cell.state_size, device=CUDA, requires_grad=True)
    xp_bytes = 0 if name == "rnn" else cell._project_input(x.detach()).numel() * 4
    states = 2 if name == "lstm" else 1
    budget = (x.numel() + s0.numel()) * 4 + xp_bytes + states * (T + 1) * B * H * 4
    budget += sum(p.numel() * p.element_size() for p in cell.parameters()) + 8 * H * 4
    assert saved_bytes(cell, x, s0) <= budget, (saved_bytes(cell, x, s0), budget, T * B * H * 4)


def test_training_on_the_gpu_fused_adam_and_members_set_aside(tmp_path, monkeypatch):
    """The training loop on CUDA (issues 12, 13): its Adam (FusedAdam, torch's fused kernel called
    directly) steps to the same bits as ``torch.optim.Adam(fused=True)``; an ensemble whose members
    stop at different steps trains on without them (set aside, SequenceModel.select through the meta
    device) to the same stops and weights as a run that keeps every member (checkpointing), in float64
    on the reference cells; and the same fit in float32 on the Triton kernels runs to finite weights."""
    from rnnviz.tasks import Memorization
    from rnnviz.train import SequenceModel, TrainConfig, fit
    from rnnviz.train._loop import FusedAdam, adam

    config = TrainConfig(steps=200, batch_size=16, lr=3e-2, eval_every=5, eval_batch=64, target_accuracy=0.95,
                         schedule="constant", plateau=0.05, plateau_window=0.5, plateau_min_steps=20, lr_drops=1)
    torch.manual_seed(0)
    start = [torch.randn(3, 4, 5, device=CUDA), torch.randn(3, 7, device=CUDA)]
    ours = [torch.nn.Parameter(w.clone()) for w in start]
    theirs = [torch.nn.Parameter(w.clone()) for w in start]
    optimizer = adam(ours, config)[0]
    reference = torch.optim.Adam(theirs, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    assert isinstance(optimizer, FusedAdam)
    for _ in range(5):
        for p, q in zip(ours, theirs, strict=True):
            p.grad = torch.randn_like(p)
            q.grad = p.grad.clone()
        optimizer.step()
        reference.step()
    for p, q in zip(ours, theirs, strict=True):
        assert torch.equal(p, q)

    def ensemble(dtype):
        members = []
        for seed in (11, 12, 13):
            torch.manual_seed(seed)
            members.append(SequenceModel("gru", 5, 6, 3, dtype=dtype))
        return SequenceModel.stack(members).to(CUDA)

    tasks = [Memorization(k, 3) for k in (2, 5, 8)]
    monkeypatch.setenv("RNNVIZ_BACKEND", "reference")
    runs = []
    for checkpoint in (None, tmp_path / "run"):
        model = ensemble(torch.float64)
        runs.append((model, fit(model, tasks, config, data_seed=[11, 12, 13], progress=False,
                                checkpoint=checkpoint)))
    (aside, result), (whole, kept) = runs
    assert len(set(result.stopped_at)) > 1 and result.stopped_at == kept.stopped_at
    assert result.stop_reason == kept.stop_reason
    for a, b in zip(aside.parameters(), whole.parameters(), strict=True):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    monkeypatch.delenv("RNNVIZ_BACKEND")
    model = ensemble(torch.float32)
    result = fit(model, tasks, config, data_seed=[11, 12, 13], progress=False)
    assert len(result.stopped_at) == 3 and all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["irc_gru", "ihc_lstm", "gru"])
@pytest.mark.parametrize("hidden", [37, 256])
def test_input_map_folded_on_the_gpu_equals_the_reference_on_the_mapped_inputs(name, hidden):
    """An ensemble reading 7 features through an input map (a SequenceModel's embedding; the `gpu`
    preset's IRC/IHC models) folds it into its input GEMM (rnnviz.cells._input_map), on the persistent
    and the per-step path; outputs, state and every gradient (W's too) as the reference loop on W x."""
    from rnnviz.cells._ops import member_map

    torch.manual_seed(0)
    cell = cells.make(name, hidden, hidden, n_models=3).to(CUDA)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 9, 5, 7, generator=g).to(CUDA).requires_grad_()
    w = (torch.randn(3, hidden, 7, generator=g) * 0.3).to(CUDA).requires_grad_()
    results = []
    for backend, mapped in (("triton", False), ("reference", True)):
        y, s = cell(member_map(x, w), backend=backend) if mapped else cell(x, backend=backend, input_map=w)
        grads = torch.autograd.grad(y.square().sum() + s.square().sum(), [x, w, *cell.parameters()])
        results.append((y, s, grads))
    (y_t, s_t, g_t), (y_r, s_r, g_r) = results
    torch.testing.assert_close(y_t, y_r, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s_t, s_r, atol=1e-4, rtol=1e-4)
    for i, (u, v) in enumerate(zip(g_t, g_r, strict=True)):
        torch.testing.assert_close(u, v, atol=1e-3, rtol=1e-3, msg=lambda msg, i=i: f"gradient {i}: {msg}")
