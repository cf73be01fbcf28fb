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


def first_order_for(backend: str, why: str):
    """A decorator for the backward of ``backend``'s autograd Functions; ``why`` says why its
    gradients have no graph (it goes into the error)."""

    def first_order(backward):
        inner = once_differentiable(backward)

        @functools.wraps(backward)
        def wrapper(ctx, *grads):
            if torch.is_grad_enabled():
                raise RuntimeError(
                    f"backend={backend!r} does not support higher-order gradients (create_graph=True): {why}. "
                    "Use backend='reference' for double backward, gradient penalties or Hessian products."
                )
            return inner(ctx, *grads)

        return wrapper

    return first_order
