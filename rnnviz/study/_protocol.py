"""The ``protocol`` column of a capacity model's row: the memorization protocol its task was drawn,
trained and scored under (``"memorization/1"``, ``"memorization/2"``, ``"memorization/3"``), and, after a ``+``, the
training curriculum when it used one (``"memorization/2+mixed"``: :attr:`rnnviz.train.TrainConfig.curriculum`;
validation and scores are the task's own either way)."""

from __future__ import annotations

from .._checks import check_choice
from ..tasks import CURRICULA
from ..tasks._memorization import PROTOCOLS, check_protocol

#: Between a protocol and its training curriculum in a ``protocol`` value.
CURRICULUM_MARK = "+"


def protocol_name(protocol: int, curriculum: str | None = None) -> str:
    """The ``protocol`` column of a row made under memorization protocol 1, 2 or 3, trained on the task
    itself (``curriculum`` None) or on one of the task's training curricula."""
    name = f"memorization/{check_protocol(protocol)}"
    if curriculum is None:
        return name
    return f"{name}{CURRICULUM_MARK}{check_choice('curriculum', curriculum, CURRICULA)}"


def task_protocol(value: str) -> str:
    """The task's part of a ``protocol`` value, without its training curriculum:
    ``"memorization/2+mixed"`` → ``"memorization/2"`` (what two trainings of one grid share)."""
    return str(value).split(CURRICULUM_MARK, 1)[0]


def protocol_number(value: str) -> int:
    """The memorization protocol (1, 2 or 3) of a ``protocol`` value: ``"memorization/3+combined"`` → 3;
    a ValueError naming the value for anything that is not one."""
    task = task_protocol(value)
    prefix = "memorization/"
    number = task[len(prefix):] if task.startswith(prefix) else ""
    if number not in {str(p) for p in PROTOCOLS}:
        raise ValueError(f"protocol must be a capacity row's protocol value such as 'memorization/2' or "
                         f"'memorization/2+combined', got {value!r}")
    return int(number)
