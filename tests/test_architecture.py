"""The house stays in order: imports inside ``rnnviz/`` run one way and never in a circle.

Every ``import`` and ``from … import`` of every module is read (at module level and inside functions
alike) and resolved to the rnnviz module it loads. Two rules:

- no circle: no module imports, directly or through others, one that imports it back;
- directions: each part imports only the parts below it (:data:`ALLOWED`). Cells and kernels at the
  bottom; tasks stand alone but for the kernels (their fused CPU loss); training on cells and tasks; studies on training; probes on any model
  (cells) and the information measures of tasks; plots on probe results and tables; widgets on plots
  and probes; the command line on top. Kernels import nothing from rnnviz.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnnviz"

# part -> the parts it may import (besides itself)
ALLOWED = {
    "base": set(),  # rnnviz._checks, rnnviz._files, rnnviz._moved, rnnviz._stats, rnnviz._version
    "kernels": set(),
    "notebook": {"base"},
    "cells": {"kernels", "base"},
    "tasks": {"kernels", "base"},
    "train": {"cells", "tasks", "base"},
    "study": {"train", "tasks", "cells", "base"},
    "probes": {"cells", "tasks", "base"},
    "plot": {"probes", "cells", "tasks", "base"},
    "widgets": {"plot", "probes", "study", "train", "tasks", "cells", "base"},
    "cli": {"study", "train", "tasks", "cells", "probes", "plot", "widgets", "notebook", "base"},
    "root": {"cells", "base"},  # rnnviz/__init__.py (the rest loads lazily on first use)
    "moved": {"base"},  # 0.1 paths kept for one release; they forward by importlib on access
}
MOVED = {"rnnviz.models", "rnnviz.info", "rnnviz.results", "rnnviz.examples", "rnnviz.lm"}
BASE = {"rnnviz._checks", "rnnviz._files", "rnnviz._moved", "rnnviz._stats", "rnnviz._version"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    if module == "rnnviz":
        return "root"
    if module in BASE:
        return "base"
    if module in MOVED:
        return "moved"
    if module == "rnnviz.__main__":
        return "cli"
    return module.split(".")[1]


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The rnnviz modules ``module`` imports anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # "from package import submodule" loads the submodule; other names come from the source
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # "rnnviz.cells.make" -> "rnnviz.cells"
                target = target.rpartition(".")[0]
            if target.startswith("rnnviz") and target != module:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(m, p, known) for m, p in mods.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_import_reader_sees_function_level_and_relative_imports(tmp_path):
    """The reader itself: a function-level relative import is an arrow."""
    path = PACKAGE / "cells" / "_base.py"
    known = set(modules())
    arrows = imports_of("rnnviz.cells._base", path, known)
    assert {"rnnviz.cells._backends", "rnnviz._checks", "rnnviz.cells._trace"} <= arrows
    fake = tmp_path / "mod.py"
    fake.write_text("def f():\n    from ..plot import style\n    from . import _trace\n")
    assert imports_of("rnnviz.cells._fake", fake, known) == {"rnnviz.plot", "rnnviz.cells._trace"}
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    found = circles(graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_imports_run_one_way():
    wrong = []
    for module, targets in sorted(graph().items()):
        mine = part_of(module)
        if mine not in ALLOWED:
            pytest.fail(f"{module} belongs to no known part ({mine!r}); add it to ALLOWED")
        for target in sorted(targets):
            theirs = part_of(target)
            if theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not wrong, "imports that run the wrong way:\n" + "\n".join(wrong)


def test_kernels_import_nothing_from_rnnviz():
    edges = graph()
    outside = {f"{m} -> {t}" for m, ts in edges.items() if part_of(m) == "kernels"
               for t in ts if part_of(t) != "kernels"}
    assert not outside, sorted(outside)
