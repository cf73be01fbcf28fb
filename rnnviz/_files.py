"""Writing files so that an interrupted job never leaves a half-written one behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | Path, write: Callable) -> None:
    """Call ``write(file)`` on a temporary binary file beside ``path``, then rename it to ``path``:
    readers see the old file or the complete new one, never a partly written one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(path: str | Path, text: str) -> None:
    """:func:`write_atomically` of ``text`` in UTF-8 (a CSV from ``frame.to_csv()``, a JSON document, ...)."""
    data = text.encode("utf-8")
    write_atomically(path, lambda f: f.write(data))
