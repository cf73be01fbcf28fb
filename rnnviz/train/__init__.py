"""Models and their training: sequence models for tasks, character language models, one fit loop.

- :class:`SequenceModel`: input map → recurrent cell(s) → linear readout, single or an ensemble;
  :meth:`SequenceModel.trace` (also :func:`trace_model`) records every layer.
- :func:`fit` with :class:`TrainConfig`: Adam, per-member clipping and early stopping, resumable
  checkpoints; :class:`FitResult`.
- :class:`CharLM`, :class:`LMConfig`: a character language model around any cell; :func:`sample`.
- :func:`train_lm`, :func:`evaluate_bpc`: truncated backpropagation through time, bits per character.
- :func:`train_memorization`, :func:`train_flipflop`: small trained examples for notebooks and tests.
"""

from ._charlm import CharLM, LMConfig, hidden_size_for_budget, lm_parameter_count, sample
from ._examples import TrainedExample, train_flipflop, train_memorization
from ._fit import FitResult, TrainConfig, clip_grad_norm_per_member, fit, load_checkpoint, save_checkpoint
from ._model import SequenceModel, trace_model
from ._tbptt import evaluate_bpc, learning_rate, train_lm

__all__ = [
    "CharLM", "LMConfig", "hidden_size_for_budget", "lm_parameter_count", "sample",
    "TrainedExample", "train_flipflop", "train_memorization",
    "FitResult", "TrainConfig", "clip_grad_norm_per_member", "fit", "load_checkpoint", "save_checkpoint",
    "SequenceModel", "trace_model",
    "evaluate_bpc", "learning_rate", "train_lm",
]
