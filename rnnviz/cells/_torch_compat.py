"""Copying weights from single-layer ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` modules."""

from __future__ import annotations

import torch
from torch import nn


def check_single_layer(module: nn.Module, expected: type) -> None:
    """Raise a clear error unless ``module`` is a one-layer, one-direction ``expected`` with biases."""
    if not isinstance(module, expected):
        raise TypeError(f"m must be a torch.nn.{expected.__name__}, got {type(module).__name__}")
    problems = []
    if module.num_layers != 1:
        problems.append(f"num_layers={module.num_layers} (expected 1)")
    if module.bidirectional:
        problems.append("bidirectional=True (expected False)")
    if not module.bias:
        problems.append("bias=False (expected True)")
    if getattr(module, "proj_size", 0):
        problems.append(f"proj_size={module.proj_size} (expected 0)")
    if problems:
        raise ValueError("m must be a single-layer, unidirectional module with biases; got " + ", ".join(problems))


def copy_weights(cell: nn.Module, module: nn.Module) -> None:
    """Copy ``weight_ih_l0`` … ``bias_hh_l0`` of ``module`` into the cell's torch-named parameters."""
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(module, name + "_l0"))


def cell_from_torch(cls, module: nn.Module, expected: type, **options):
    """``cls`` built with the sizes, layout, device and dtype of a single-layer ``expected`` module,
    holding exactly its weights."""
    check_single_layer(module, expected)
    p = module.weight_ih_l0
    cell = cls(module.input_size, module.hidden_size, batch_first=module.batch_first, device=p.device,
               dtype=p.dtype, **options)
    copy_weights(cell, module)
    return cell
