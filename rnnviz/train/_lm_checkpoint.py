"""Checkpoints that run no code when loaded: weights as a tensor dict, everything else as JSON.

``save_checkpoint(model, "out/gru")`` writes ``out/gru.pt`` (a state dict of plain tensors, read back
with ``torch.load(weights_only=True)``) and ``out/gru.json`` (format version, model config, vocabulary,
and any metadata you pass, e.g. training settings and scores).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._files import write_atomically
from ._charlm import CharLM, LMConfig

FORMAT = "rnnviz.lm/1"


def _paths(path) -> tuple[Path, Path]:
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".pt", ".json") else path
    return base.with_name(base.name + ".pt"), base.with_name(base.name + ".json")


def save_checkpoint(model: CharLM, path, metadata: dict | None = None) -> tuple[Path, Path]:
    """Write ``<path>.pt`` (weights) and ``<path>.json`` (config + ``metadata``); returns both paths.

    ``metadata`` must be JSON-serialisable (numbers, strings, lists, dicts).
    """
    if not isinstance(model, CharLM):
        raise TypeError(f"model must be a CharLM, got {type(model).__name__}")
    weights, meta_path = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "config": model.config.to_dict(), "metadata": dict(metadata or {})}
    text = json.dumps(meta, indent=2, ensure_ascii=False)  # fails early on what JSON can't hold
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    # Weights first, then the JSON that a resuming study reads as "this run finished": an
    # interrupted save leaves the previous pair whole (each file is replaced atomically).
    write_atomically(weights, lambda f: torch.save(state, f))
    write_atomically(meta_path, lambda f: f.write(text.encode("utf-8")))
    return weights, meta_path


def load_checkpoint(path, *, device=None) -> tuple[CharLM, dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(model, metadata)``.

    The weights are read with ``torch.load(weights_only=True)``: a file can't run code when loaded.
    """
    weights, meta_path = _paths(path)
    for p in (weights, meta_path):
        if not p.is_file():
            raise FileNotFoundError(f"checkpoint file {str(p)!r} is missing")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{str(meta_path)!r} is not an rnnviz LM checkpoint (expected format {FORMAT!r}, "
                         f"got {meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r})")
    model = CharLM(LMConfig(**meta["config"]), device=device)
    state = torch.load(weights, map_location=device or "cpu", weights_only=True)
    model.load_state_dict(state)
    return model, meta["metadata"]
