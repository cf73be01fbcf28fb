"""Batched Jacobians of one cell step, for any cell that has a differentiable ``step``.

For a step ``s' = F(x, s)`` the state Jacobian is ``J = ∂F/∂s`` ``(S, S)`` and the input Jacobian is
``∂F/∂x`` ``(S, m)``. Both are computed for a whole batch with a single backward pass: each of the B
states is repeated S times, so that row i of copy i can be read off as the gradient of output i with
respect to that copy (``grad_outputs`` = the identity). This needs only ``cell.step`` and the fact
that a step treats batch rows independently, which holds for every recurrent cell.
"""

from __future__ import annotations

import copy

import torch

from .._checks import check_int


def held_input(x: torch.Tensor, lead: tuple[int, ...], input_size: int, name: str = "x") -> torch.Tensor:
    """Broadcast a held input ``(m,)`` or one per point ``(*lead, m)`` to ``(*lead, m)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.shape[-1:] != (input_size,):
        raise ValueError(f"{name} must have input_size={input_size} features on its last axis, "
                         f"got shape {tuple(x.shape)}")
    try:
        return x.expand(*lead, input_size)
    except RuntimeError:
        raise ValueError(f"{name} must have shape ({input_size},) or {(*lead, input_size)}, "
                         f"got {tuple(x.shape)}") from None


def check_points(cell, x: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a batch of points of a cell step, before anything is computed: states ``s`` ``(B, S)``
    (ensembles ``(E, B, S)``) with S = ``cell.state_size``, and held inputs ``x`` of the same leading
    shape with m = ``cell.input_size`` features (or one input ``(m,)`` for every point). Returns
    ``(x broadcast to (…, B, m), s)``; a ValueError names the argument, its shape and the expected one."""
    if not isinstance(s, torch.Tensor):
        raise TypeError(f"s must be a torch.Tensor, got {type(s).__name__}")
    E = ensemble_size(cell)
    want = f"(B, state_size={cell.state_size})" if E is None else f"(E={E}, B, state_size={cell.state_size})"
    if s.dim() != (2 if E is None else 3) or s.shape[-1] != cell.state_size or (E is not None and s.shape[0] != E):
        raise ValueError(f"s must have shape {want}, got {tuple(s.shape)}")
    return held_input(x, tuple(s.shape[:-1]), cell.input_size), s


def _jacobians(cell, x: torch.Tensor, s: torch.Tensor, wrt_input: bool, max_rows: int):
    """``J`` ``(…, B, S, S)`` and, with ``wrt_input``, ``K`` ``(…, B, S, m)`` in one backward pass per chunk."""
    check_int("max_rows", max_rows)
    x, s = check_points(cell, x, s)
    S = s.shape[-1]
    B = s.shape[-2]
    chunk = max(1, max_rows // S)
    if B > chunk:
        parts = [_jacobians(cell, x[..., i:i + chunk, :], s[..., i:i + chunk, :], wrt_input, max_rows)
                 for i in range(0, B, chunk)]
        return tuple(torch.cat([p[k] for p in parts], -3) for k in range(len(parts[0])))
    lead = s.shape[:-2]
    m = x.shape[-1]
    with torch.enable_grad():
        s_rep = s.detach().unsqueeze(-2).expand(*lead, B, S, S).reshape(*lead, B * S, S)  # (…, B·S, S)
        x_rep = x.detach().unsqueeze(-2).expand(*lead, B, S, m).reshape(*lead, B * S, m)  # (…, B·S, m)
        s_rep = s_rep.clone().requires_grad_(True)
        x_rep = x_rep.clone().requires_grad_(wrt_input)
        out = cell.step(x_rep, s_rep)  # (…, B·S, S)
        eye = torch.eye(S, dtype=out.dtype, device=out.device).expand(*lead, B, S, S)
        eye = eye.reshape(*lead, B * S, S)
        wrt = (s_rep, x_rep) if wrt_input else (s_rep,)
        grads = torch.autograd.grad(out, wrt, grad_outputs=eye)
    J = grads[0].reshape(*lead, B, S, S)
    return (J, grads[1].reshape(*lead, B, S, m)) if wrt_input else (J,)


def step_jacobians(cell, x: torch.Tensor, s: torch.Tensor, *, max_rows: int = 1 << 17) -> torch.Tensor:
    """State Jacobians ``J = ∂F/∂s`` of ``s' = F(x, s) = cell.step(x, s)`` at a batch of points.

    Args:
        cell: a rnnviz cell (anything with ``step(x_t, s)`` and ``state_size``).
        x: held inputs ``(B, m)`` (``(E, B, m)`` for an ensemble), or one input ``(m,)`` for all points.
        s: states ``(B, S)`` (``(E, B, S)`` for an ensemble).

    Raises:
        ValueError: ``s`` or ``x`` has the wrong size (checked before anything is computed).
        max_rows: bound on B·S rows per backward pass (larger batches are processed in chunks).

    Returns:
        ``(…, B, S, S)`` with ``J[b, i, j] = ∂F_i/∂s_j``.
    """
    return _jacobians(cell, x, s, False, max_rows)[0]


def input_jacobians(cell, x: torch.Tensor, s: torch.Tensor, *, max_rows: int = 1 << 17) -> torch.Tensor:
    """Input Jacobians ``K = ∂F/∂x`` of one cell step at a batch of points (arguments as :func:`step_jacobians`).

    Returns:
        ``(…, B, S, m)`` with ``K[b, i, k] = ∂F_i/∂x_k``.
    """
    return _jacobians(cell, x, s, True, max_rows)[1]


def state_and_input_jacobians(cell, x: torch.Tensor, s: torch.Tensor, *,
                              max_rows: int = 1 << 17) -> tuple[torch.Tensor, torch.Tensor]:
    """``(J, K)`` of :func:`step_jacobians` and :func:`input_jacobians` from one backward pass (internal:
    the linearisation of :func:`rnnviz.probes.fixed_points`)."""
    return _jacobians(cell, x, s, True, max_rows)


def float64_copy(cell):
    """A float64 copy of a cell (the original is left untouched); the cell itself if already float64."""
    p = next(cell.parameters(), None)
    if p is not None and p.dtype == torch.float64:
        return cell
    return copy.deepcopy(cell).to(torch.float64)


def cell_device_dtype(cell) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of a cell's parameters."""
    p = next(cell.parameters(), None)
    if p is None:
        return torch.device("cpu"), torch.get_default_dtype()
    return p.device, p.dtype


def ensemble_size(cell) -> int | None:
    """E for an ensemble cell, None for a single one."""
    return getattr(cell, "n_models", None)
