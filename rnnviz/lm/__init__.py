"""Character-level language modelling with any rnnviz cell (issue 7).

- :class:`CharCorpus` (also ``rnnviz.tasks.CharCorpus``): a text as character ids, contiguous
  train/valid/test splits, TBPTT batches.
- :class:`CharLM`: embedding → rnnviz cell → linear readout over the characters.
- :func:`train_lm`, :func:`evaluate_bpc`: TBPTT training, bits per character.
- :func:`language_model` (also ``rnnviz.study.language_model``): compare cells at equal hidden size
  or equal parameter count; :data:`PRESETS` "smoke", "demo", "paper".
- :func:`sample`: text from a trained model; :func:`save_checkpoint` / :func:`load_checkpoint`.
- :func:`wall_time`: total wall seconds of every ``rnnviz lm`` invocation on an output folder.
"""

from ._checkpoint import load_checkpoint, save_checkpoint
from ._cli import wall_time
from ._corpus import (
    CHARACTER_CLASSES,
    CharCorpus,
    CharVocab,
    character_class,
    contiguous_batches,
    default_corpus_path,
    remainder,
)
from ._model import CharLM, LMConfig, hidden_size_for_budget, lm_parameter_count
from ._sample import sample
from ._study import PRESETS, LMPreset, language_model, load_curves, load_model, preset
from ._train import TrainConfig, evaluate_bpc, learning_rate, train_lm

__all__ = [
    "CharCorpus", "CharVocab", "CHARACTER_CLASSES", "character_class", "contiguous_batches", "remainder",
    "default_corpus_path", "CharLM", "LMConfig", "lm_parameter_count", "hidden_size_for_budget",
    "TrainConfig", "train_lm", "evaluate_bpc", "learning_rate", "sample", "save_checkpoint",
    "load_checkpoint", "language_model", "load_curves", "load_model", "PRESETS", "LMPreset", "preset",
    "wall_time",
]
