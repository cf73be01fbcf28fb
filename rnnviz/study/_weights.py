"""Trained weights of a warm-started capacity sweep: one file per model, next to the store.

A warm sweep (``capacity(..., warm_start=True)``) starts each model from the trained weights of its
chain's previous K (see :class:`rnnviz.study.ModelSpec`, ``warm_from``). Those weights live in the
folder ``<store>.weights/`` as ``<key>.pt``: a single model's ``state_dict`` (CPU tensors), written
atomically and read with ``torch.load(weights_only=True)`` (a file read never runs code). A resumed
sweep finds them there and continues its chains.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from .._files import write_atomically


def weights_dir(store: str | Path) -> Path:
    """The folder of a store's model weights: ``runs/capacity.sqlite`` -> ``runs/capacity.sqlite.weights``."""
    return Path(f"{store}.weights")


def weights_path(folder: str | Path, key: str) -> Path:
    """The file of model ``key``'s trained weights in ``folder``."""
    return Path(folder) / f"{key}.pt"


def save_weights(folder: str | Path, key: str, state: dict[str, torch.Tensor]) -> Path:
    """Write one model's ``state_dict`` (moved to the CPU) atomically as ``folder/<key>.pt``; returns the path."""
    path = weights_path(folder, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buffer)
    data = buffer.getvalue()
    write_atomically(path, lambda f: f.write(data))
    return path


def load_weights(folder: str | Path, key: str) -> dict[str, torch.Tensor]:
    """The ``state_dict`` saved for model ``key`` (``weights_only``: tensors and plain containers only).

    Raises FileNotFoundError naming the file when it is missing."""
    path = weights_path(folder, key)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained weights of model {key} (a warm start needs them)")
    return torch.load(path, map_location="cpu", weights_only=True)


def has_weights(folder: str | Path | None, key: str) -> bool:
    """Whether ``folder`` holds model ``key``'s weights (False when ``folder`` is None)."""
    return folder is not None and weights_path(folder, key).is_file()
