"""Parameter counting."""

from __future__ import annotations

from torch import nn


def count_parameters(module: nn.Module, *, total: bool = False) -> int:
    """Number of trainable parameters of ``module``.

    For an ensemble (a module with ``n_models = E``) this is the count of one member unless
    ``total=True``, so that bits per parameter and comparisons between cells read the same for
    single cells and ensembles.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    n = sum(p.numel() for p in module.parameters() if p.requires_grad)
    n_models = getattr(module, "n_models", None)
    if n_models and not total:
        return n // n_models
    return n
