"""Deprecated: character-level language modelling moved in 0.2.0 (see CHANGELOG.md): the corpus to
:mod:`rnnviz.tasks`, the model, training and checkpoints to :mod:`rnnviz.train`, the study to
:mod:`rnnviz.study` (its presets as ``rnnviz.study.LM_PRESETS``), the command to ``rnnviz lm``."""

from .._moved import moved

_TASKS = ("CharCorpus", "CharVocab", "CHARACTER_CLASSES", "character_class", "contiguous_batches", "remainder",
          "default_corpus_path")
_TRAIN = ("CharLM", "LMConfig", "lm_parameter_count", "hidden_size_for_budget", "train_lm", "evaluate_bpc",
          "learning_rate", "sample")
_STUDY = ("language_model", "load_curves", "load_model", "LMPreset", "preset", "PRESETS")
__getattr__ = moved(__name__, {
    **dict.fromkeys(_TASKS, "rnnviz.tasks"), **dict.fromkeys(_TRAIN, "rnnviz.train"),
    **dict.fromkeys(_STUDY, "rnnviz.study._lm"),
})
