"""The backward guard shared by every kernel family (Triton and CPU): their gradients come from
kernels that build no autograd graph, so they cannot be differentiated again.

``once_differentiable`` alone only makes the gradients' own graph node raise, and
``torch.autograd.grad(..., inputs=[x])`` prunes that node: it would return higher-order gradients
that silently lack the kernels' part. So ``create_graph=True`` (the only way grad mode is on inside
a backward) raises right away. This module imports neither triton nor numba.
"""

from __future__ import annotations

import functools

import torch
from torch.autograd.function import once_differentiable


def first_order_for(backend: str, why: str, remedy: str | None = None):
    """A decorator for the backward of the autograd Functions of ``backend`` (what the error calls
    them, e.g. "backend='cpu'"); ``why`` says why their gradients have no graph and ``remedy`` what to
    do instead (the default: ``backend='reference'``)."""
    remedy = remedy or "Use backend='reference' for double backward, gradient penalties or Hessian products."

    def first_order(backward):
        inner = once_differentiable(backward)

        @functools.wraps(backward)
        def wrapper(ctx, *grads):
            if torch.is_grad_enabled():
                raise RuntimeError(
                    f"{backend} does not support higher-order gradients (create_graph=True): {why}. {remedy}"
                )
            return inner(ctx, *grads)

        return wrapper

    return first_order
