"""The notebook suite stays reviewable and runnable: paired .py files, kernel python3, a parameters cell."""

import json
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("*.py"))


def test_there_are_notebooks():
    assert PAIRS, "notebooks/ should hold jupytext percent .py files paired with .ipynb files"


@pytest.mark.parametrize("script", PAIRS, ids=lambda p: p.stem)
def test_notebook_is_paired_and_in_sync(script):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `jupytext --to ipynb --set-kernel python3 {script}`"
    assert json.loads(ipynb.read_text())["metadata"]["kernelspec"]["name"] == "python3"
    saved, from_script = jupytext.read(ipynb), jupytext.read(script)
    code = lambda nb: [c.source.strip() for c in nb.cells if c.cell_type == "code"]  # noqa: E731
    assert code(saved) == code(from_script), f"{ipynb.name} and {script.name} differ: run `jupytext --sync {script}`"


@pytest.mark.parametrize("script", PAIRS, ids=lambda p: p.stem)
def test_notebook_has_parameters_cell_reading_smoke_flag(script):
    nb = jupytext.read(script)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert "RNNVIZ_SMOKE" in tagged[0].source
