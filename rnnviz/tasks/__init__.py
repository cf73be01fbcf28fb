"""Sequence tasks with known information content and baselines.

- :class:`Memorization`: rnnviz's own protocols for the PRU paper's memorization problem
  (targeted information ``K log2 A`` bits; interfering information ``L log2 A`` or 0 bits in
  protocol 1, a dose ``n_random log2 A`` bits at a fixed length, with a store-end cue, in
  protocol 2 = ``Memorization(..., protocol=2, n_random=n)``).
- :class:`Copy` (Arjovsky et al. 2016), :class:`Adding`, :class:`FlipFlop` (Sussillo & Barak 2013).
- :class:`PrimedFlipFlop`: the flip-flop with every channel set at the first step (2^bits memories).
- :func:`memory_capacity`: Jaeger's short-term memory capacity of a cell.
- :class:`CharCorpus`, :class:`CharVocab`: a text as character ids with train/valid/test splits and
  TBPTT batches (character-level language modelling).
- :func:`mutual_information`, :func:`confusion_counts`, :func:`recalled_information`, :func:`entropy`:
  the information measures the tasks score with.

Every task samples ``(inputs (T, B, input_size), targets[, mask (T, B)])`` from a ``torch.Generator``,
and states ``targeted_bits``, ``interfering_bits``, ``baseline`` and ``score(outputs, targets, mask)``.
"""

from ._base import CURRICULA, Baseline, PlateauScore, Task
from ._classic import Adding, Copy, FlipFlop, PrimedFlipFlop
from ._corpus import (
    CHARACTER_CLASSES,
    CharCorpus,
    CharVocab,
    character_class,
    contiguous_batches,
    default_corpus_path,
    remainder,
)
from ._information import confusion_counts, entropy, mutual_information, recalled_information
from ._memorization import Memorization, delay_for_hold, hold_steps
from ._memory_capacity import MemoryCapacity, memory_capacity

TASKS = {"memorization": Memorization, "copy": Copy, "adding": Adding, "flipflop": FlipFlop}


def from_config(config: dict) -> Task:
    """Recreate a task from ``task.config()``."""
    config = dict(config)
    name = config.pop("task", None)
    if name not in TASKS:
        raise ValueError(f"config['task'] must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name](**config)


__all__ = [
    "CURRICULA",
    "Adding",
    "CharCorpus",
    "CharVocab",
    "CHARACTER_CLASSES",
    "character_class",
    "contiguous_batches",
    "default_corpus_path",
    "remainder",
    "PrimedFlipFlop",
    "confusion_counts",
    "entropy",
    "mutual_information",
    "recalled_information",
    "Baseline",
    "PlateauScore",
    "Copy",
    "FlipFlop",
    "Memorization",
    "hold_steps",
    "delay_for_hold",
    "MemoryCapacity",
    "Task",
    "TASKS",
    "from_config",
    "memory_capacity",
]
