"""The CPU kernels' fused masked cross-entropy (rnnviz.kernels.cpu._loss, used by
rnnviz.tasks.masked_cross_entropy on a CPU) against torch's cross_entropy; the outputs-first
products (rnnviz.cells._ops.outputs_first) of the ensemble readout and the dense cells' input map;
and the dense kernels reading and answering in either sequence layout (rows or features first).

Tolerances: float64 1e-12 on losses and gradients (the kernel's exp is accurate to ~2e-16 and sums in
float64); float32 2e-6 (float32 exp and rounding of 5-1000 classes).
"""

import pytest
import torch
import torch.nn.functional as F

from rnnviz.cells._ops import linear, outputs_first
from rnnviz.kernels import cpu as kernels_cpu
from rnnviz.tasks import _base
from rnnviz.train import SequenceModel

pytestmark = pytest.mark.skipif(not kernels_cpu.numba_installed(), reason="numba is not installed")


def _torch_loss(logits, targets, mask):
    """The plain-torch formula masked_cross_entropy falls back to (written out here, independently)."""
    lead = logits.shape[:-1]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.expand(lead).reshape(-1),
                         reduction="none").reshape(lead)
    if mask is None:
        return ce.mean(dim=(-2, -1))
    w = mask.expand(lead).to(ce.dtype)
    return (ce * w).sum(dim=(-2, -1)) / w.sum(dim=(-2, -1)).clamp_min(1.0)


def _case(lead, T, B, C, dtype, scale=3.0, seed=0, outputs_first_layout=True):
    g = torch.Generator().manual_seed(seed)
    if outputs_first_layout and lead:  # what SequenceModel.read_out returns for an ensemble
        E = lead[0]
        logits = (torch.randn(E, C, T * B, generator=g, dtype=dtype) * scale).transpose(1, 2).reshape(E, T, B, C)
    else:
        logits = torch.randn(*lead, T, B, C, generator=g, dtype=dtype) * scale
    targets = torch.randint(0, C, (*lead, T, B), generator=g)
    mask = torch.rand(*lead, T, B, generator=g) < 0.4
    return logits.requires_grad_(), targets, mask


def _loss_and_grad(fn, logits, targets, mask, seed=5):
    loss = fn(logits, targets, mask)
    weights = torch.randn(loss.shape, generator=torch.Generator().manual_seed(seed), dtype=loss.dtype)
    (grad,) = torch.autograd.grad((loss * weights).sum(), logits)
    return loss.detach(), grad


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
@pytest.mark.parametrize("lead, layout", [((6,), True), ((6,), False), ((), False), ((2, 3), False)])
def test_fused_loss_equals_torch(dtype, atol, lead, layout):
    logits, targets, mask = _case(lead, 7, 5, 5, dtype, outputs_first_layout=layout)
    assert kernels_cpu.fused_loss_for(logits) is not None
    got = _loss_and_grad(_base.masked_cross_entropy, logits, targets, mask)
    want = _loss_and_grad(_torch_loss, logits, targets, mask)
    assert got[0].shape == want[0].shape == lead
    torch.testing.assert_close(got[0], want[0], atol=atol, rtol=0)
    torch.testing.assert_close(got[1], want[1], atol=atol, rtol=0)


def test_fused_loss_without_mask_broadcast_targets_and_an_empty_member():
    logits, targets, mask = _case((4,), 6, 3, 4, torch.float64)
    for t, m in [(targets, None), (targets[0], mask[0]), (targets, mask.index_fill(0, torch.tensor([2]), False))]:
        got = _loss_and_grad(_base.masked_cross_entropy, logits, t, m)
        want = _loss_and_grad(_torch_loss, logits, t, m)
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    loss, grad = _loss_and_grad(_base.masked_cross_entropy, logits, targets,
                                mask.index_fill(0, torch.tensor([2]), False))
    assert loss[2] == 0 and grad[2].abs().max() == 0  # nothing scored: no loss, no gradient


@pytest.mark.parametrize("C, scale", [(1000, 3.0), (5, 300.0)])
def test_fused_loss_many_classes_and_large_logits(C, scale):
    """The normalisers' product per block of rows cannot overflow (1000 classes: 1000 rows of up to
    1000 each), and logits of a few hundred stay finite (the max is subtracted first)."""
    logits, targets, mask = _case((3,), 40, 25, C, torch.float64, scale=scale)
    mask = torch.ones_like(mask)
    got = _loss_and_grad(_base.masked_cross_entropy, logits, targets, mask)
    want = _loss_and_grad(_torch_loss, logits, targets, mask)
    assert torch.isfinite(got[0]).all()
    torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-12)


def test_fused_loss_checks_its_targets():
    logits, targets, mask = _case((2,), 3, 2, 4, torch.float64)
    with pytest.raises(IndexError, match=r"targets must be classes in \[0, 4\), got values from 0 to 4"):
        _base.masked_cross_entropy(logits, targets.clamp(max=3).index_fill(0, torch.tensor([1]), 4), mask)


def test_fused_loss_is_first_order_and_the_reference_pin_is_not(monkeypatch):
    logits, targets, mask = _case((2,), 4, 3, 5, torch.float64)
    with pytest.raises(RuntimeError, match="RNNVIZ_BACKEND=reference"):
        torch.autograd.grad(_base.masked_cross_entropy(logits, targets, mask).sum(), logits, create_graph=True)
    monkeypatch.setenv("RNNVIZ_BACKEND", "reference")
    assert kernels_cpu.fused_loss_for(logits) is None
    (g,) = torch.autograd.grad(_base.masked_cross_entropy(logits, targets, mask).sum(), logits, create_graph=True)
    (g * g).sum().backward()  # double backward through torch's ops
    assert logits.grad is not None


def test_fused_loss_is_not_used_where_it_cannot_run(monkeypatch):
    logits, targets, mask = _case((3,), 4, 2, 5, torch.float64)
    with monkeypatch.context() as m:  # numba missing (simulated: the kernels fail to import): torch's loss
        m.setattr(kernels_cpu, "_state", {"error": "ModuleNotFoundError: No module named 'numba'"})
        assert kernels_cpu.fused_loss_for(logits) is None
        torch.testing.assert_close(_base.masked_cross_entropy(logits, targets, mask),
                                   _torch_loss(logits, targets, mask), atol=1e-12, rtol=0)
    assert kernels_cpu.fused_loss_for(torch.zeros(2, 3, 4, dtype=torch.float16)) is None
    assert kernels_cpu.fused_loss_for(torch.zeros(2, 3, 4, dtype=torch.bfloat16)) is None
    per_member = torch.func.vmap(lambda z, t, m: _base.masked_cross_entropy(z, t, m))(logits, targets, mask)
    torch.testing.assert_close(per_member, _torch_loss(logits, targets, mask), atol=1e-12, rtol=0)


# ----------------------------------------------------------------------------------- outputs_first
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k, P", [(4, 5), (6, 2)])  # both orientations of the weight gradient
def test_outputs_first_equals_linear_with_gradients_of_two_orders(bias, k, P):
    g = torch.Generator().manual_seed(0)
    E, N = 3, 7
    w = torch.randn(E, P, k, generator=g, dtype=torch.float64, requires_grad=True)
    rows = torch.randn(E, k, N, generator=g, dtype=torch.float64).transpose(1, 2).requires_grad_()  # strided
    b = torch.randn(E, P, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    torch.testing.assert_close(outputs_first(w, rows, b).transpose(1, 2), linear(rows, w, b), atol=1e-14, rtol=0)
    inputs = (w, rows, b) if bias else (w, rows)
    fn = (lambda w, r, b: outputs_first(w, r, b)) if bias else (lambda w, r: outputs_first(w, r))
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


def test_ensemble_readout_is_an_outputs_first_view_equal_to_each_members_linear_map():
    torch.manual_seed(0)
    model = SequenceModel("gru", 6, 4, 5, n_models=3, dtype=torch.float64)
    x = torch.randn(3, 7, 2, 6, dtype=torch.float64)
    out = model(x)
    assert out.shape == (3, 7, 2, 5) and out.transpose(-1, -2).reshape(3, 5, 14).is_contiguous()
    for i in range(3):
        torch.testing.assert_close(out[i], model.member(i)(x[i]), atol=1e-12, rtol=0)


# ------------------------------------------------------------------- the dense kernels' sequence layouts
@pytest.mark.parametrize("kind, blocks, biases, state", [("gru", 3, 4, 1), ("lstm", 4, 4, 2), ("pru", 2, 2, 1)])
@pytest.mark.parametrize("n", [3, 12])  # the kernels' own products (n <= 8) and BLAS's
def test_dense_kernels_read_any_layout_and_answer_in_the_projections(kind, blocks, biases, state, n):
    dense, _ = kernels_cpu.load()
    g = torch.Generator().manual_seed(0)
    T, E, B = 5, 3, 4
    P = blocks * n
    values = torch.randn(T, E, B, P, generator=g, dtype=torch.float64)
    layouts = {"rows": values.transpose(0, 1).contiguous().transpose(0, 1),  # a view of (E, T, B, P)
               "features first": values.permute(1, 3, 0, 2).contiguous().permute(2, 0, 3, 1)}  # of (E, P, T, B)
    w = torch.randn(E, P, n, generator=g, dtype=torch.float64) * 0.5
    b = torch.randn(E, biases * n, generator=g, dtype=torch.float64)
    s0 = torch.randn(E, B, state * n, generator=g, dtype=torch.float64)
    gy = torch.randn(T, E, B, n, generator=g, dtype=torch.float64)
    results = {}
    for name, xp in layouts.items():
        xp = xp.clone(memory_format=torch.preserve_format).requires_grad_()
        y, s = dense.dense_recurrence(kind, xp, w, b, s0)
        (dxp,) = torch.autograd.grad((y * gy).sum() + s.sum(), xp)
        assert (y.stride(2) == 1) == (name == "features first") and (dxp.stride(2) == 1) == (name == "features first")
        results[name] = (y, s, dxp)
    for a, c in zip(results["rows"], results["features first"], strict=True):
        torch.testing.assert_close(a, c, atol=1e-13, rtol=0)
