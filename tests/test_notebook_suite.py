"""The suite runner, the result loaders, the notebook examples and the notebooks' plot functions."""

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
import torch

from rnnviz import cells, probes
from rnnviz.cli import _notebooks as suite
from rnnviz.notebook import by_mode, run_mode
from rnnviz.plot import plot_benchmarks, plot_energy_steps, plot_summary_metric, plot_training_history
from rnnviz.study import (
    find_capacity_results,
    find_lm_results,
    load_benchmarks,
    load_capacity_results,
    load_lm_results,
    repository_root,
)
from rnnviz.train import train_flipflop, train_memorization


# ---------------------------------------------------------------- modes
def test_run_mode_reads_the_environment():
    assert run_mode({"RNNVIZ_SMOKE": "1", "RNNVIZ_MODE": "full"}) == "smoke"
    assert run_mode({}) == "demo"
    assert run_mode({"RNNVIZ_SMOKE": "0", "RNNVIZ_MODE": "full"}) == "full"
    with pytest.raises(ValueError, match="RNNVIZ_MODE must be one of"):
        run_mode({"RNNVIZ_MODE": "fast"})
    assert by_mode("demo", 1, 2, 3) == 2
    with pytest.raises(ValueError, match="mode must be one of"):
        by_mode("quick", 1, 2, 3)


# ---------------------------------------------------------------- examples
def test_train_memorization_learns_one_symbol():
    example = train_memorization("gru", 8, n_targets=1, alphabet=2, n_interfering=0, steps=150)
    assert example.result.metrics[0]["accuracy"] > 0.95  # 1 bit through a 1-step gap: easy
    inputs, targets, mask = example.batch(16)
    assert inputs.shape == (3, 16, 4) and mask.sum() == 16


def test_primed_flipflop_holds_the_last_pulse_from_the_first_step():
    from rnnviz.tasks import PrimedFlipFlop

    task = PrimedFlipFlop(bits=3, length=30, p_pulse=0.2)
    x, y = task.sample(16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (30, 16, 3)
    assert (x[0].abs() == 1).all() and (y != 0).all()
    for t in range(30):  # by hand: the target is the sign of the latest pulse at or before t
        latest = torch.zeros(16, 3)
        for u in range(t + 1):
            latest = torch.where(x[u] != 0, x[u], latest)
        assert torch.equal(y[t], latest)


def test_train_flipflop_returns_a_regression_model():
    example = train_flipflop("rnn", 4, length=10, steps=3)
    inputs, targets = example.batch(2)
    assert example.model(inputs).shape == targets.shape == (10, 2, 3)
    assert example.result.history[-1]["step"] == 3


# ---------------------------------------------------------------- results
def _rows():
    return pd.DataFrame([{"cell": "gru", "hidden_size": n, "interference": "blank", "targeted_bits": 2.0,
                          "accuracy": 1.0, "recalled_bits": 2.0} for n in (2, 4)])


def test_find_and_load_capacity_results(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    assert find_capacity_results(tmp_path, environ={}) is None
    (tmp_path / "data").mkdir()
    shipped_demo = tmp_path / "data" / "capacity_demo.csv"
    _rows().to_csv(shipped_demo, index=False)
    assert find_capacity_results(tmp_path, environ={}) == shipped_demo
    target = tmp_path / "out" / "capacity" / "capacity.csv"
    target.parent.mkdir(parents=True)
    _rows().to_csv(target, index=False)
    assert find_capacity_results(tmp_path, environ={}) == target  # a fresh `make demo` run beats the shipped demo
    shipped = tmp_path / "data" / "capacity_paper.csv"
    _rows().to_csv(shipped, index=False)
    assert find_capacity_results(tmp_path, environ={}) == shipped  # the paper results come first
    assert find_capacity_results(tmp_path, environ={"RNNVIZ_CAPACITY_RESULTS": str(target.parent)}) == target
    with pytest.raises(FileNotFoundError, match="RNNVIZ_CAPACITY_RESULTS"):
        find_capacity_results(tmp_path, environ={"RNNVIZ_CAPACITY_RESULTS": str(tmp_path / "nope")})
    assert len(load_capacity_results(target)) == 2
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"cell": ["gru"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="is not a capacity table"):
        load_capacity_results(bad)
    assert repository_root(target.parent) == tmp_path


def test_find_and_load_language_model_results(tmp_path):
    assert find_lm_results(tmp_path, environ={}) is None
    rows = pd.DataFrame([{"run_id": "gru-n8", "cell": "gru", "comparison": "hidden_size", "hidden_size": 8,
                          "n_parameters": 900, "test_bpc": 3.0, "train_seconds": 1.0, "device": "cpu"}])
    local = tmp_path / "out" / "lm_paper"
    local.mkdir(parents=True)
    rows.to_csv(local / "lm.csv", index=False)
    assert find_lm_results(tmp_path, environ={}) == (local / "lm.csv", None)  # no curves yet
    (tmp_path / "data").mkdir()
    rows.to_csv(tmp_path / "data" / "lm_paper.csv", index=False)
    rows.to_csv(tmp_path / "data" / "lm_paper_curves.csv", index=False)
    shipped = (tmp_path / "data" / "lm_paper.csv", tmp_path / "data" / "lm_paper_curves.csv")
    assert find_lm_results(tmp_path, environ={}) == shipped  # shipped paper results come first
    assert find_lm_results(tmp_path, environ={"RNNVIZ_LM_RESULTS": str(local)}) == (local / "lm.csv", None)
    with pytest.raises(FileNotFoundError, match="RNNVIZ_LM_RESULTS"):
        find_lm_results(tmp_path, environ={"RNNVIZ_LM_RESULTS": str(tmp_path / "nope")})
    assert load_lm_results(shipped[0])["test_bpc"].tolist() == [3.0]
    bad = tmp_path / "bad.csv"
    rows.drop(columns="test_bpc").to_csv(bad, index=False)
    with pytest.raises(ValueError, match="is not a language-model table"):
        load_lm_results(bad)


def test_load_capacity_results_reads_a_store(tmp_path):
    from rnnviz.study import capacity

    store = tmp_path / "capacity.sqlite"
    from rnnviz.train import TrainConfig

    rows = capacity(["gru"], [2], [2.0], [(0, "blank")], [0], train=TrainConfig(steps=2, batch_size=4, eval_every=1,
                    eval_batch=8), n_test=8, store=store, progress=False)
    loaded = load_capacity_results(store)
    assert loaded["key"].tolist() == rows["key"].tolist()


def _bench_file(path, quick, gpu):
    env = {"device": "cuda" if gpu else "cpu", "torch": "2.13", "triton": "3.9"}
    if gpu:
        env["gpu"] = "NVIDIA H100"
    rows = [{"contender": c, "T": 10, "B": 2, "H": h, "median_ms": ms, "p20_ms": ms * 0.9, "p80_ms": ms * 1.2,
             "peak_mib": None} for c, h, ms in (("a", 8, 1.0), ("b", 8, 2.0), ("a", 16, 3.0))]
    rows.append({"contender": "sru package", "T": 10, "B": 2, "H": 8, "skipped": "not installed"})
    path.write_text(json.dumps({"benchmark": "bench_cells", "settings": {"quick": quick, "tf32": False},
                                "environment": env, "results": rows}))
    return path


def test_load_and_plot_benchmarks(tmp_path):
    _bench_file(tmp_path / "gpu.json", quick=False, gpu=True)
    _bench_file(tmp_path / "cpu-quick.json", quick=True, gpu=False)
    frame = load_benchmarks(tmp_path)
    assert len(frame) == 8
    gpu = frame[~frame["quick"]]
    assert set(gpu["device"]) == {"NVIDIA H100"}
    assert gpu["skipped"].notna().sum() == 1
    bars = plot_benchmarks(gpu.dropna(subset=["median_ms"]))["bars"]
    assert [b.get_height() for b in bars["a"]] == [1.0, 3.0]
    assert [b.get_height() for b in bars["b"]] == [2.0]
    assert bars["a"][0].get_x() < bars["b"][0].get_x()  # side by side within the first shape
    with pytest.raises(ValueError, match="no timed rows"):
        plot_benchmarks(gpu.iloc[:0])
    plt.close("all")


# ---------------------------------------------------------------- plot functions
def test_plot_training_history_and_summary_metric():
    example = train_memorization("rnn", 4, n_targets=1, alphabet=2, steps=4, eval_every=2)
    drawn = plot_training_history(example.result, baseline=0.5)
    assert drawn["lines"][0].get_xdata().tolist() == [2, 4]
    assert drawn["baseline"].get_ydata()[0] == 0.5
    assert plot_training_history(example.result)["baseline"] is None
    with pytest.raises(ValueError, match="metric must be one of"):
        plot_training_history(example.result, metric="speed")
    summary = pd.DataFrame({"cell": ["gru", "gru", "pru"], "hidden_size": [2, 4, 2], "capacity_bits": [1.0, 2.0, 1.5]})
    drawn = plot_summary_metric(summary, "capacity_bits", highlight="gru")
    assert drawn["lines"]["gru"].get_ydata().tolist() == [1.0, 2.0]
    assert drawn["lines"]["gru"].get_linewidth() > drawn["lines"]["pru"].get_linewidth()
    assert drawn.ax.get_xlabel() == "hidden size n"
    with pytest.raises(ValueError, match="metric must be a column"):
        plot_summary_metric(summary, "bits")
    plt.close("all")


def test_plot_energy_steps_marks_rises():
    rnn = cells.make("rnn", 3, 3, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_hh.copy_(-3.0 * torch.eye(3, dtype=torch.float64))  # λ_min = −3 < −1: 2-cycles, E rises
    diag = probes.energy_diagnostics(rnn, torch.randn(12, 2, 3, dtype=torch.float64))
    drawn = plot_energy_steps(diag)
    xy = drawn["line"].get_xydata()
    assert xy.shape == (36, 2) and np.isnan(xy[2::3]).all()  # before, after, gap per step
    rises = (diag.change[:, 0] > 1e-12 * diag.energy_before[:, 0].abs().clamp_min(1)).sum()
    assert rises > 0 and drawn["rises"].get_offsets().shape[0] == int(rises)
    plt.close("all")


# ---------------------------------------------------------------- the suite
def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)


def test_list_notebooks(tmp_path):
    for name in ("01_a", "02_b", "lm"):
        _notebook(tmp_path / f"{name}.ipynb", "")
    assert [p.stem for p in suite.list_notebooks(tmp_path)] == ["01_a", "02_b"]
    assert [p.stem for p in suite.list_notebooks(tmp_path, ["02"])] == ["02_b"]
    with pytest.raises(ValueError, match="unknown"):
        suite.list_notebooks(tmp_path, ["09"])
    with pytest.raises(FileNotFoundError):
        suite.list_notebooks(tmp_path / "nothing")


def test_suite_environment():
    env = suite.suite_environment(Path("out/x"), "smoke", capacity="data/c.csv")
    assert env["RNNVIZ_SMOKE"] == "1" and env["RNNVIZ_MODE"] == "smoke"
    assert env["RNNVIZ_OUT"].endswith("out/x/figures") and env["RNNVIZ_CAPACITY_RESULTS"].endswith("c.csv")
    assert suite.suite_environment(Path("o"), "demo")["RNNVIZ_SMOKE"] == "0"
    with pytest.raises(ValueError, match="mode must be one of"):
        suite.suite_environment(Path("o"), "fast")


@pytest.mark.slow
def test_run_suite_executes_renders_and_copies_figures(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "01_ok.ipynb", "\n".join([
        "import os, matplotlib.pyplot as plt",
        "from rnnviz import plot as rplot",
        "fig, ax = plt.subplots()",
        "ax.plot([0, 1], [1, 0])",
        "rplot.save(fig, os.environ['RNNVIZ_OUT'] + '/01_line', formats=('png',))",
        "print('mode', os.environ['RNNVIZ_MODE'], os.environ['RNNVIZ_SMOKE'])",
    ]))
    _notebook(folder / "02_fails.ipynb", "raise RuntimeError('on purpose')")
    out, images = tmp_path / "out", tmp_path / "images"
    runs = suite.run_suite(out, mode="smoke", folder=folder, images=images, progress=False, timeout=120)
    assert [r.ok for r in runs] == [True, False]
    assert "on purpose" in runs[1].error
    assert (out / "figures" / "01_line.png").exists()
    executed = nbformat.read(out / "01_ok.ipynb", as_version=4)
    assert "mode smoke 1" in executed.cells[0].outputs[0]["text"]
    assert "<html" in (out / "01_ok.html").read_text() and (out / "02_fails.html").exists()
    assert "failed" in (out / "index.html").read_text()
    copied = suite.copy_key_figures(out / "figures", images, {"01_line.png": "line.png"})
    assert [p.name for p in copied] == ["line.png"]
    assert math.isclose((images / "line.png").stat().st_size, (out / "figures" / "01_line.png").stat().st_size)


def test_the_readme_heatmap_is_copied_only_from_named_capacity_results(tmp_path):
    """Notebook 3 draws its heatmap from whatever results it finds (the paper study's when shipped); the
    README shows the demo's, so --images copies it only when the run names its results (--capacity)."""
    figures, images = tmp_path / "figures", tmp_path / "images"
    figures.mkdir()
    for name in ("03_capacity_heatmap.png", "02_gru_phase_plane.png"):
        (figures / name).write_bytes(name.encode())
    copied = suite.copy_key_figures(figures, images)
    assert sorted(p.name for p in copied) == ["phase_plane.png"]
    copied = suite.copy_key_figures(figures, images, named_results=True)
    assert sorted(p.name for p in copied) == ["capacity_heatmap.png", "phase_plane.png"]
    assert (images / "capacity_heatmap.png").read_bytes() == b"03_capacity_heatmap.png"


def test_every_key_figure_is_saved_by_a_notebook_and_shown_in_the_docs():
    """``rnnviz notebooks --images docs/images`` refreshes the pictures the README and docs show: each
    source in KEY_FIGURES is a figure some notebook saves, and each target a picture the docs use."""
    root = Path(__file__).resolve().parents[1]
    sources = "".join(path.read_text() for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.py")))
    shown = "".join(path.read_text() for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))])
    for source, target in suite.KEY_FIGURES.items():
        assert f'saved_figure(f"{{OUT}}/{Path(source).stem}"' in sources, source
        assert f"images/{target}" in shown and (root / "docs" / "images" / target).is_file(), target


def test_saved_figure_applies_the_style_and_saves(tmp_path):
    from rnnviz.plot import STYLES, saved_figure

    with saved_figure(tmp_path / "one", formats=("png",)) as ax:
        assert plt.rcParams["font.size"] == STYLES["notebook"]["font.size"]
        ax.plot([0, 1])
    assert (tmp_path / "one.png").exists()
    with saved_figure(tmp_path / "grid", nrows=1, ncols=2, formats=("png", "pdf")) as axes:
        assert len(axes) == 2
    assert (tmp_path / "grid.pdf").exists()
    with saved_figure(None, projection="3d") as ax:
        assert ax.name == "3d"
    plt.close("all")
