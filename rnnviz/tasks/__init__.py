"""Sequence tasks with known information content and baselines.

- :class:`Memorization`: rnnviz's own protocol for the PRU paper's memorization problem
  (targeted information ``K log2 A`` bits, interfering information ``L log2 A`` or 0 bits).
- :class:`Copy` (Arjovsky et al. 2016), :class:`Adding`, :class:`FlipFlop` (Sussillo & Barak 2013).
- :func:`memory_capacity`: Jaeger's short-term memory capacity of a cell.

Every task samples ``(inputs (T, B, input_size), targets[, mask (T, B)])`` from a ``torch.Generator``,
and states ``targeted_bits``, ``interfering_bits``, ``baseline`` and ``score(outputs, targets, mask)``.
"""

from ._base import Baseline, Task
from ._classic import Adding, Copy, FlipFlop
from ._memorization import Memorization
from ._memory_capacity import MemoryCapacity, memory_capacity

TASKS = {"memorization": Memorization, "copy": Copy, "adding": Adding, "flipflop": FlipFlop}


def from_config(config: dict) -> Task:
    """Recreate a task from ``task.config()``."""
    config = dict(config)
    name = config.pop("task", None)
    if name not in TASKS:
        raise ValueError(f"config['task'] must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name](**config)


def __getattr__(name):
    # CharCorpus (character-level language modelling) lives in rnnviz.lm; loaded on first use.
    if name == "CharCorpus":
        from ..lm import CharCorpus

        return CharCorpus
    raise AttributeError(f"module 'rnnviz.tasks' has no attribute {name!r}")


__all__ = [
    "Adding",
    "CharCorpus",
    "Baseline",
    "Copy",
    "FlipFlop",
    "Memorization",
    "MemoryCapacity",
    "Task",
    "TASKS",
    "from_config",
    "memory_capacity",
]
