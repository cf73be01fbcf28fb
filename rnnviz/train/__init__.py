"""Models and their training: sequence models for tasks, character language models, one training stack.

- :class:`SequenceModel`: input map → recurrent cell(s) → linear readout, single or an ensemble;
  :meth:`SequenceModel.trace` (also :func:`trace_model`) records every layer.
- :class:`CharLM`, :class:`LMConfig`: a character language model around any cell; :func:`sample`.
- :class:`TrainConfig`: the settings of both training loops (one frozen dataclass; the fields only
  one loop reads are marked); :func:`learning_rate` and :func:`lr_scheduler`: its schedule (linear
  warm-up, then cosine or constant); :class:`PlateauRule` and :func:`window_improvement`: its
  plateau rule (stop, or drop the learning rate, once the validation score stops improving).
- :func:`fit`: Adam, per-member clipping and early stopping, resumable checkpoints (a run may pause at
  one: :class:`TrainingPaused`); :class:`FitResult`.
- :func:`train_lm`, :func:`evaluate_bpc`: truncated backpropagation through time, bits per character;
  :data:`LM_TRAIN`, its default settings.
- :func:`save_checkpoint`, :func:`load_checkpoint` (and :func:`checkpoint_metadata`,
  :func:`delete_checkpoint`, :class:`CheckpointMismatch`): one checkpoint
  format for both model kinds (weights read with ``weights_only=True``, a JSON sidecar).
- :func:`train_memorization`, :func:`train_flipflop`: small trained examples for notebooks and tests.
"""

from ._charlm import (
    CharLM,
    LMConfig,
    hidden_size_for_budget,
    hidden_size_for_state,
    lm_parameter_count,
    sample,
)
from ._checkpoint import (
    CheckpointMismatch,
    TrainingPaused,
    checkpoint_metadata,
    delete_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from ._config import TrainConfig, learning_rate, lr_scheduler
from ._examples import TrainedExample, train_flipflop, train_memorization
from ._fit import FitResult, fit
from ._loop import LR_DROP, PlateauRule, clip_grad_norm_per_member, window_improvement
from ._model import SequenceModel, trace_model
from ._tbptt import LM_TRAIN, evaluate_bpc, train_lm

__all__ = [
    "CharLM", "LMConfig", "hidden_size_for_budget", "hidden_size_for_state", "lm_parameter_count", "sample",
    "CheckpointMismatch", "checkpoint_metadata", "delete_checkpoint", "load_checkpoint", "save_checkpoint",
    "TrainConfig", "learning_rate", "lr_scheduler",
    "TrainedExample", "train_flipflop", "train_memorization",
    "FitResult", "TrainingPaused", "fit", "clip_grad_norm_per_member", "LR_DROP", "PlateauRule", "window_improvement",
    "SequenceModel", "trace_model",
    "LM_TRAIN", "evaluate_bpc", "train_lm",
]
