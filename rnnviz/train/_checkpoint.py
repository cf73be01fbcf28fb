"""Checkpoints of both model kinds that run no code when loaded: tensors in ``.pt``, the rest in JSON.

``save_checkpoint(model, "out/gru", metadata)`` writes two files:

- ``out/gru.pt``: ``{"model": state dict}`` plus, for a resumable :func:`~rnnviz.train.fit`,
  ``"training_state"`` (optimizer, schedule, generators, members, step: tensors and plain
  containers). Read back with ``torch.load(weights_only=True)``: loading never runs code.
- ``out/gru.json``: ``{"format": FORMAT, "model": "SequenceModel" | "CharLM", "config": the model's
  constructor arguments, "dtype": "float32" | …, "metadata": what the caller passed}``.

The weights are written first, then the JSON, each atomically (:func:`rnnviz._files.write_atomically`):
a reader that finds the JSON finds the weights it describes, and an interrupted save leaves the
previous pair whole.

The JSON is data, never trusted: before :func:`load_checkpoint` allocates a model, the model the JSON
describes is built on PyTorch's ``meta`` device (shapes and dtypes, no memory) and compared, tensor by
tensor, with the weights in the ``.pt`` file (read memory-mapped where the file allows): a sidecar that
asks for a 72 GB model, another dtype or other tensors than the file holds is refused with a ValueError
naming the differences, so a model is only ever as large as the weights on disk. Checkpoints written by rnnviz 0.1 (``fit``'s and the language model's own
formats) are read too.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._files import write_atomically
from ._charlm import CharLM, LMConfig
from ._model import SequenceModel

FORMAT = "rnnviz.checkpoint/1"
_LEGACY_LM_FORMAT = "rnnviz.lm/1"  # rnnviz 0.1's language-model checkpoints


class CheckpointMismatch(ValueError):
    """A checkpoint that another run wrote: :func:`~rnnviz.train.fit` resumes only the run that wrote it.
    Raised before the model is touched, so a caller may delete the checkpoint and train from scratch."""


class TrainingPaused(Exception):
    """A training loop (:func:`~rnnviz.train.fit`, :func:`~rnnviz.train.train_lm`) stopped at a
    checkpoint because its ``pause_when()`` said so; ``checkpoint`` and ``step``: where it stopped. The
    same call resumes from there."""

    def __init__(self, checkpoint, step: int):
        super().__init__(f"training paused at step {step}; checkpoint {str(checkpoint)!r} resumes it")
        self.checkpoint, self.step = checkpoint, step

    def __reduce__(self):  # picklable (a worker process sends it to its parent)
        return type(self), (self.checkpoint, self.step)


# model class name -> (its constructor arguments as JSON, its builder from them)
_KINDS = {
    "SequenceModel": (lambda m: m.config(), lambda c, dtype: SequenceModel(**c, dtype=dtype)),
    "CharLM": (lambda m: m.config.to_dict(), lambda c, dtype: CharLM(LMConfig(**c), dtype=dtype)),
}


def checkpoint_paths(path) -> tuple[Path, Path]:
    """``(<path>.pt, <path>.json)``; ``path`` may end in ``.pt`` or ``.json`` or in neither.

    rnnviz 0.1's ``fit`` replaced any other suffix instead (``run.v1`` → ``run.pt``): where only such
    a pair exists, it is the one returned, so a run checkpointed by 0.1 still resumes.
    """
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".pt", ".json") else path
    pair = base.with_name(base.name + ".pt"), base.with_name(base.name + ".json")
    legacy = path.with_suffix(".pt"), path.with_suffix(".json")
    if legacy != pair and not any(p.exists() for p in pair) and all(p.is_file() for p in legacy):
        return legacy
    return pair


def save_checkpoint(model: SequenceModel | CharLM, path, metadata: dict | None = None, *,
                    training_state: dict | None = None) -> tuple[Path, Path]:
    """Write ``<path>.pt`` (weights, and ``training_state`` when given) and ``<path>.json`` (format,
    model class, configuration, dtype and ``metadata``); returns both paths.

    ``metadata`` must be JSON-serialisable (numbers, strings, lists, dicts); ``training_state``
    holds tensors and plain containers only (it is read with ``weights_only=True``).
    """
    if not isinstance(model, (SequenceModel, CharLM)):
        raise TypeError(f"model must be a SequenceModel or a CharLM, got {type(model).__name__}")
    kind = "CharLM" if isinstance(model, CharLM) else "SequenceModel"
    weights, meta_path = checkpoint_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "model": kind, "config": _KINDS[kind][0](model),
              "dtype": dtype_name(next(model.parameters()).dtype), "metadata": dict(metadata or {})}
    text = json.dumps(header, indent=2, sort_keys=True, ensure_ascii=False)  # fails early on what JSON can't hold
    payload = {"model": {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}}
    if training_state is not None:
        payload["training_state"] = training_state
    write_atomically(weights, lambda f: torch.save(payload, f))
    write_atomically(meta_path, lambda f: f.write(text.encode("utf-8")))
    return weights, meta_path


def load_checkpoint(path, *, device=None) -> tuple[SequenceModel | CharLM, dict]:
    """``(model, metadata)`` from a checkpoint written by :func:`save_checkpoint`.

    The model (a :class:`SequenceModel` or a :class:`CharLM`, as recorded) is rebuilt from the JSON
    configuration in the recorded dtype, on ``device`` (default: the CPU), with the saved weights;
    building it leaves torch's global random generator untouched. The weights are read with
    ``torch.load(weights_only=True)``: a file cannot run code when loaded.
    """
    header, payload = read_checkpoint(path)
    build = _KINDS[header["model"]][1]
    dtype = check_weights(header, payload["model"], checkpoint_paths(path)[1])
    with torch.random.fork_rng(devices=[]):
        model = build(header["config"], dtype)
    model.load_state_dict(payload["model"])
    return (model if device is None else model.to(device)), header["metadata"]


def checkpoint_metadata(path) -> dict:
    """The metadata of a checkpoint, read from its JSON alone (what a resuming study checks)."""
    return _read_header(checkpoint_paths(path)[1])["metadata"]


def checkpoint_exists(path) -> bool:
    """Whether both files of a checkpoint exist (the JSON is written last: a save that finished)."""
    return all(p.is_file() for p in checkpoint_paths(path))


def delete_checkpoint(path) -> None:
    """Delete both files of the checkpoint at ``path`` (the JSON first: a delete cut short leaves no
    checkpoint that :func:`checkpoint_exists` finds); nothing when there is none."""
    weights, meta = checkpoint_paths(path)
    meta.unlink(missing_ok=True)
    weights.unlink(missing_ok=True)


def read_checkpoint(path, map_location="cpu") -> tuple[dict, dict]:
    """``(header, payload)``: the JSON (``format``, ``model``, ``config``, ``dtype``, ``metadata``) and
    the ``.pt`` contents (``model``: the state dict; ``training_state`` when saved), in the current
    format whichever format the files are in."""
    weights, meta_path = checkpoint_paths(path)
    for p in (weights, meta_path):
        if not p.is_file():
            raise FileNotFoundError(f"checkpoint file {str(p)!r} is missing")
    header = _read_header(meta_path)
    try:  # memory-mapped: tensors are read from the file when used, not all at once
        payload = torch.load(weights, map_location=map_location, weights_only=True, mmap=True)
    except RuntimeError:  # a file written in torch's legacy (non-zip) format cannot be mapped
        payload = torch.load(weights, map_location=map_location, weights_only=True)
    if not (isinstance(payload, dict) and isinstance(payload.get("model"), dict)):  # 0.1 LM: a bare state dict
        payload = {"model": payload}
    elif "training_state" not in payload and len(payload) > 1:  # 0.1 fit: its state beside the weights
        payload = {"model": payload["model"], "training_state": {k: v for k, v in payload.items() if k != "model"}}
    if header["dtype"] is None:  # 0.1 LM: the dtype of its weights
        header["dtype"] = dtype_name(next(v.dtype for v in payload["model"].values() if v.is_floating_point()))
    return header, payload


def check_resumable(path, run: dict, config) -> None:
    """Raise :class:`CheckpointMismatch` naming what differs unless the checkpoint at ``path`` was
    written by ``run`` (a training loop's description of itself, JSON values, compared with the
    checkpoint's metadata key by key); ``run["train"]["steps"]`` may differ when ``config`` (a
    :class:`~rnnviz.train.TrainConfig`) has a constant schedule (the budget then changes nothing that
    came before it)."""
    pt, meta = checkpoint_paths(path)
    try:
        saved = checkpoint_metadata(path)
    except ValueError:  # unreadable: every entry is reported as not recorded
        saved = {}
    ignored = {"steps"} if config.schedule == "constant" else set()

    def comparable(description: dict) -> dict:
        train = description.get("train")
        if isinstance(train, dict):
            description = {**description, "train": {k: v for k, v in train.items() if k not in ignored}}
        return {k: description.get(k, "(not recorded)") for k in run}

    differences = _differences(comparable(saved), comparable(run))
    if differences:
        more = f"; and {len(differences) - 5} more" if len(differences) > 5 else ""
        shown = "; ".join(differences[:5]) + more
        raise CheckpointMismatch(
            f"checkpoint {str(pt)!r} was written by a different run ({shown}); pass another checkpoint "
            f"path, or delete {pt.name} and {meta.name} to train from scratch"
        )


def _differences(saved, wanted, name: str = "") -> list[str]:
    """``"name: checkpoint X, this run Y"`` for each place where two JSON values differ."""
    if isinstance(saved, dict) and isinstance(wanted, dict):
        return [
            d
            for k in sorted(saved.keys() | wanted.keys())
            for d in _differences(saved.get(k, "(not recorded)"), wanted.get(k, "(not recorded)"),
                                  f"{name}.{k}" if name else k)
        ]
    if isinstance(saved, list) and isinstance(wanted, list) and len(saved) == len(wanted):
        pairs = enumerate(zip(saved, wanted, strict=True))
        return [d for i, (a, b) in pairs for d in _differences(a, b, f"{name}[{i}]")]
    return [] if saved == wanted else [f"{name}: checkpoint {saved!r}, this run {wanted!r}"]


def _read_header(meta_path: Path) -> dict:
    """The JSON of a checkpoint in the current format (0.1's formats are converted)."""
    if not meta_path.is_file():
        raise FileNotFoundError(f"checkpoint file {str(meta_path)!r} is missing")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(meta_path)!r} is not an rnnviz checkpoint (not JSON: {err})") from None
    if isinstance(meta, dict) and meta.get("format") == FORMAT and meta.get("model") in _KINDS:
        return meta
    if isinstance(meta, dict) and meta.get("format") == _LEGACY_LM_FORMAT:
        return {"format": FORMAT, "model": "CharLM", "config": meta["config"], "dtype": None,
                "metadata": meta["metadata"]}
    if isinstance(meta, dict) and "format" not in meta and isinstance(meta.get("model"), dict) and "dtype" in meta:
        # 0.1 fit: the model's configuration and dtype beside the caller's metadata, which fit's
        # own run description repeats
        return {"format": FORMAT, "model": "SequenceModel", "config": meta["model"], "dtype": meta["dtype"],
                "metadata": meta}
    got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
    raise ValueError(f"{str(meta_path)!r} is not an rnnviz checkpoint (expected format {FORMAT!r}, got {got!r})")


#: The parameter dtypes a checkpoint may name.
DTYPES = ("float16", "bfloat16", "float32", "float64")


def check_weights(header: dict, state: dict, where) -> torch.dtype:
    """Check that the JSON ``header`` describes the tensors in ``state`` (the saved state dict) before
    anything is allocated; returns the dtype to build the model in.

    The model of ``header["config"]`` is built on the ``meta`` device (no memory) and each of its
    tensors is compared with the saved one: names, shapes and dtypes must agree. A ValueError naming
    ``where`` and the first differences otherwise."""
    name = header.get("dtype")
    if name not in DTYPES:
        raise ValueError(f"checkpoint {str(where)!r}: dtype must be one of {list(DTYPES)}, got {name!r}")
    dtype = getattr(torch, name)
    config = header.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"checkpoint {str(where)!r}: config must be a JSON object, got {type(config).__name__}")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {str(where)!r}: its weights file holds no state dict of tensors")
    build = _KINDS[header["model"]][1]
    try:
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            expected = build(config, dtype).state_dict()
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"checkpoint {str(where)!r}: its config does not describe a {header['model']} ({err})") from None
    problems = [f"{k}: missing from the weights" for k in expected if k not in state]
    problems += [f"{k}: in the weights but not in the model" for k in state if k not in expected]
    for k in expected.keys() & state.keys():
        want, got = expected[k], state[k]
        if tuple(want.shape) != tuple(got.shape) or want.dtype != got.dtype:
            problems.append(f"{k}: the JSON asks for {tuple(want.shape)} {dtype_name(want.dtype)}, the weights hold "
                            f"{tuple(got.shape)} {dtype_name(got.dtype)}")
    if problems:
        more = f"; and {len(problems) - 4} more" if len(problems) > 4 else ""
        raise ValueError(f"checkpoint {str(where)!r} does not describe its weights file ({'; '.join(sorted(problems)[:4])}"
                         f"{more}): the two files do not belong together")
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
