"""Comparing the Triton backend with the reference loop: shared by the interpreter and CUDA tests,
and the marker for tests that need the optional ``triton`` package."""

import pytest
import torch

from rnnviz.cells._triton import triton_available

# Skip (with the reason) where triton is not installed: the same test the backend itself uses, so a
# test is skipped exactly where backend="triton" would report the missing package.
needs_triton = pytest.mark.skipif(
    not triton_available(), reason="triton is not installed: the Triton backend is optional (pip install 'rnnviz[gpu]')")


def make_inputs(cell, T, B, *, seed=0, dtype=torch.float32, device="cpu"):
    """Random ``x (…, T, B, m)`` and ``s0 (…, B, S)`` (leading E for ensembles), requiring grad."""
    g = torch.Generator().manual_seed(seed)
    lead = () if cell.n_models is None else (cell.n_models,)
    x = torch.randn(*lead, T, B, cell.input_size, generator=g, dtype=dtype).to(device).requires_grad_()
    s0 = torch.randn(*lead, B, cell.state_size, generator=g, dtype=dtype).to(device).requires_grad_()
    return x, s0


def outputs_and_grads(cell, x, s0, backend):
    """Outputs, final state and gradients of a fixed random functional of both wrt x, s0, parameters."""
    y, s = cell(x, s0, backend=backend)
    g = torch.Generator().manual_seed(1)
    wy = torch.randn(y.shape, generator=g, dtype=y.dtype).to(y.device)
    ws = torch.randn(s.shape, generator=g, dtype=s.dtype).to(s.device)
    params = list(cell.parameters())
    grads = torch.autograd.grad((y * wy).sum() + (s * ws).sum(), [x, s0, *params])
    names = ["x", "s0", *[n for n, _ in cell.named_parameters()]]
    return y, s, dict(zip(names, grads, strict=True))


def assert_backends_agree(cell, x, s0, atol=1e-5, rtol=0.0):
    """Triton and reference agree on outputs, final state and every gradient."""
    y_t, s_t, g_t = outputs_and_grads(cell, x, s0, "triton")
    y_r, s_r, g_r = outputs_and_grads(cell, x, s0, "reference")
    close = dict(atol=atol, rtol=rtol)
    torch.testing.assert_close(y_t, y_r, **close, msg=lambda m: f"{cell.kind} output: {m}")
    torch.testing.assert_close(s_t, s_r, **close, msg=lambda m: f"{cell.kind} final state: {m}")
    assert g_t.keys() == g_r.keys()
    for name in g_r:
        torch.testing.assert_close(g_t[name], g_r[name], **close,
                                   msg=lambda m, name=name: f"{cell.kind} grad of {name}: {m}")


def saved_bytes(cell, x, s0, backend="triton"):
    """Bytes of the distinct storages autograd keeps for the backward pass of one forward call
    (tensors that share a storage, e.g. views of one GEMM output, count once)."""
    storages = {}

    def pack(t):
        st = t.untyped_storage()
        storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        cell(x, s0, backend=backend)
    return sum(storages.values())
