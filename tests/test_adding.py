"""The adding-problem study (rnnviz.study.adding, ``rnnviz adding``, rnnviz.plot.plot_adding): its rows,
resuming, the command and its errors. Only the smoke preset trains (seconds)."""

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from rnnviz import plot as rplot
from rnnviz.cli import main
from rnnviz.study import ADDING_PRESETS, adding, adding_preset, adding_summary
from rnnviz.study._adding import ADDING_FLOOR, ADDING_TRAIN, AddingSpec, adding_specs, held_out_mse
from rnnviz.tasks import Adding, PlateauScore
from rnnviz.train import TrainConfig

SMOKE = ADDING_PRESETS["smoke"]
COLUMNS = ["key", "cell", "hidden_size", "length", "seed", "test_mse", "baseline_mse", "test_accuracy", "n_parameters",
           "n_parameters_total", "steps", "stop_reason", "train_seconds", "group_seconds", "group_size", "device",
           "versions", "protocol", "config", "finished_at"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """``rnnviz adding --preset smoke`` run once into a folder: (exit status, folder)."""
    out = tmp_path_factory.mktemp("adding")
    return main(["adding", "--preset", "smoke", "--out", str(out), "--quiet", "--device", "cpu"]), out


def test_the_command_writes_rows_summary_figure_and_log(smoke):
    status, out = smoke
    assert status == 0
    for name in ("adding.csv", "adding_summary.csv", "adding_runs.jsonl", "figures/adding_mse.pdf",
                 "figures/adding_mse.png"):
        assert (out / name).is_file(), name
    log = [json.loads(line) for line in (out / "adding_runs.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["models_trained"] == SMOKE.n_models == 8 and log[0]["exit_status"] == 0


def test_rows_hold_one_scored_model_each(smoke):
    rows = pd.read_csv(smoke[1] / "adding.csv", dtype={"key": str})
    assert list(rows.columns) == COLUMNS and len(rows) == 8 and rows["key"].is_unique
    grid = {(c, n, t, s) for c in SMOKE.cells for n in SMOKE.hidden_sizes for t in SMOKE.lengths for s in SMOKE.seeds}
    assert set(rows[["cell", "hidden_size", "length", "seed"]].itertuples(index=False, name=None)) == grid
    assert (rows["steps"] == 30).all() and (rows["stop_reason"] == "budget").all()
    assert rows["test_mse"].between(0, 10).all() and rows["test_accuracy"].between(0, 1).all()
    # the trivial predictor on 200 held-out sums: MSE 1/6 up to sampling (sd about 0.014)
    assert rows["baseline_mse"].between(1 / 6 - 0.06, 1 / 6 + 0.06).all()
    assert (rows["protocol"] == "adding/1").all() and rows["device"].str.startswith("cpu").all()
    assert (rows["n_parameters"] > 0).all() and (rows["n_parameters_total"] > rows["n_parameters"]).all()
    config = json.loads(rows["config"].iloc[0])
    assert config["train"]["steps"] == 30 and config["train"]["target_accuracy"] is None


def test_a_rerun_trains_nothing_and_returns_the_same_rows(smoke):
    _, out = smoke
    before = pd.read_csv(out / "adding.csv", dtype={"key": str})
    trained = []
    rows = SMOKE.run(out, device="cpu", progress=False, on_trained=trained.extend)
    assert trained == [] and rows.attrs["n_planned"] == 8
    # the file holds the ensembles in the order they finished (parallel workers), the rows the grid's
    before = before.set_index("key").loc[rows["key"]].reset_index()
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), before, check_dtype=False)


def test_interrupted_work_resumes_and_a_result_does_not_depend_on_its_ensemble(smoke, tmp_path):
    """A time limit stops after the first ensemble (here one model: max_group=1); the rerun trains the rest.
    Each model's result is the one it has in the smoke run's ensembles of two."""
    grid = (SMOKE.cells, SMOKE.hidden_sizes, SMOKE.lengths, SMOKE.seeds)
    options = {"train": SMOKE.train, "n_test": SMOKE.n_test, "out": tmp_path, "progress": False, "max_group": 1,
               "device": "cpu"}
    first = adding(*grid, time_limit=1e-9, **options)
    assert len(first) == 1 and first.attrs["n_planned"] == 8 and len(pd.read_csv(tmp_path / "adding.csv")) == 1
    trained = []
    rest = adding(*grid, on_group=trained.extend, **options)
    assert len(trained) == 7 and len(rest) == 8
    assert rest.loc[0, "test_mse"] == first.loc[0, "test_mse"]
    ensembles = pd.read_csv(smoke[1] / "adding.csv", dtype={"key": str}).set_index("key")
    alone = rest.set_index("key").loc[ensembles.index]
    np.testing.assert_allclose(alone["test_mse"], ensembles["test_mse"], rtol=1e-3)
    np.testing.assert_array_equal(alone["baseline_mse"], ensembles["baseline_mse"])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hard_limit_stops_the_ensemble_in_flight_at_a_checkpoint_and_the_next_run_resumes_it(
        tmp_path, monkeypatch, request, workers):
    """Past the hard limit the ensemble in flight stops at its next checkpoint (step 10 of 30) in
    out/adding.checkpoints and no other starts; nothing is written for it; the next run resumes it
    (the checkpoint is there and matches) and every model ends as in one uninterrupted run, with no
    checkpoint left."""
    from rnnviz.study import _adding

    monkeypatch.setattr(_adding, "GROUP_CHECKPOINT_EVERY", 10)
    monkeypatch.setenv("RNNVIZ_START_METHOD", "fork")  # the workers see the patched interval
    grid = (SMOKE.cells, SMOKE.hidden_sizes, SMOKE.lengths, SMOKE.seeds)
    options = {"train": SMOKE.train, "n_test": SMOKE.n_test, "progress": False, "device": "cpu"}
    whole = adding(*grid, **options)
    partial = adding(*grid, out=tmp_path, workers=workers, hard_limit=1e-9, **options)
    assert len(partial) == 0 and partial.attrs["n_planned"] == 8 and not (tmp_path / "adding.csv").exists()
    folder = tmp_path / "adding.checkpoints"
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".pt"]  # one ensemble, paused
    resumed_from = request.getfixturevalue("resumed_from")  # the spy, set only now
    rows = adding(*grid, out=tmp_path, **options)
    assert sorted(resumed_from) == [False, False, False, True]  # the paused ensemble resumed, three afresh
    for column in ("key", "test_mse", "test_accuracy", "baseline_mse", "steps"):
        assert rows[column].tolist() == whole[column].tolist(), column
    assert not folder.exists()
    with pytest.raises(ValueError, match="hard_limit needs out"):
        adding(*grid, hard_limit=5, **options)
    with pytest.raises(ValueError, match=r"hard_limit must be at least time_limit"):
        adding(*grid, out=tmp_path, time_limit=10, hard_limit=5, **options)


def test_the_command_takes_a_hard_limit(tmp_path, capsys):
    assert main(["adding", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--device", "cpu",
                 "--hard-limit", "30"]) == 0
    log = json.loads((tmp_path / "adding_runs.jsonl").read_text())
    assert log["hard_limit_minutes"] == 30 and log["models_trained"] == 8
    assert not (tmp_path / "adding.checkpoints").exists()
    capsys.readouterr()
    assert main(["adding", "--preset", "smoke", "--out", str(tmp_path / "x"), "--time-limit", "10",
                 "--hard-limit", "5"]) == 2
    assert "--hard-limit must be at least --time-limit" in capsys.readouterr().err


def test_grid_options_choose_the_models_and_keep_the_presets_keys(smoke, tmp_path, capsys):
    """--cells/--hidden-sizes/--lengths/--seeds replace the preset's axes: models the preset also lists
    keep their keys (nothing trains again); --steps makes other models; bad values: one line, status 2."""
    out = tmp_path / "grid"
    shutil.copytree(smoke[1], out)
    assert main(["adding", "--preset", "smoke", "--out", str(out), "--quiet", "--device", "cpu",
                 "--cells", "gru", "--lengths", "8", "--seeds", "1", "0"]) == 0
    assert "0 models trained now" in capsys.readouterr().out
    assert main(["adding", "--preset", "smoke", "--out", str(out), "--quiet", "--device", "cpu",
                 "--cells", "lstm", "--hidden-sizes", "3", "--lengths", "6", "--seeds", "5", "--steps", "4"]) == 0
    log = [json.loads(line) for line in (out / "adding_runs.jsonl").read_text().splitlines()]
    assert [entry["models_trained"] for entry in log] == [8, 0, 1]
    assert {k: log[-1][k] for k in ("cells", "hidden_sizes", "lengths", "seeds", "steps", "models_planned")} == {
        "cells": ["lstm"], "hidden_sizes": [3], "lengths": [6], "seeds": [5], "steps": 4, "models_planned": 1}
    rows = pd.read_csv(out / "adding.csv", dtype={"key": str})
    new = rows[rows["cell"] == "lstm"]
    assert len(rows) == 9 and new[["hidden_size", "length", "seed", "steps"]].values.tolist() == [[3, 6, 5, 4]]
    summary = pd.read_csv(out / "adding_summary.csv")  # this invocation's grid
    assert summary[["cell", "hidden_size", "length"]].values.tolist() == [["lstm", 3, 6]]
    capsys.readouterr()
    for bad, needle in ((["--lengths", "8", "1"], "--lengths 8 1: lengths[1] must be an integer >= 2, got 1"),
                        (["--cells", "grux"], "--cells grux: cells[0] must be one of"),
                        (["--seeds", "0", "--steps", "0"], "--seeds 0 --steps 0: steps must be an integer >= 1, got 0")):
        assert main(["adding", "--preset", "smoke", "--out", str(tmp_path / "bad"), "--quiet", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"rnnviz adding: {needle}") and err.count("\n") == 1, err
    assert not (tmp_path / "bad").exists()


def test_the_baseline_is_the_mse_of_predicting_one():
    spec = AddingSpec("gru", 2, 10, 0, {"steps": 1}, n_test=4000)
    assert held_out_mse(None, spec)["baseline_mse"] == pytest.approx(1 / 6, abs=0.01)


def test_summary_means_and_intervals():
    rows = pd.DataFrame({"cell": ["gru"] * 3 + ["pru"], "hidden_size": [4] * 4, "length": [8] * 4,
                         "test_mse": [0.1, 0.2, math.nan, 0.05], "baseline_mse": [1 / 6] * 4})
    table = adding_summary(rows)
    gru, pru = table.iloc[0], table.iloc[1]
    assert gru["test_mse_mean"] == pytest.approx(0.15) and gru["n_seeds"] == 2 and gru["diverged"] == 1
    assert gru["test_mse_ci_low"] < 0.1 and gru["relative_mse"] == pytest.approx(0.9)
    assert pru["n_seeds"] == 1 and math.isnan(pru["test_mse_ci_low"])


@pytest.mark.parametrize("change, error, needle", [
    ({"cells": ["gru", "grux"]}, ValueError, "cells[1] must be one of"),
    ({"lengths": [8, 1]}, ValueError, "lengths[1] must be an integer >= 2, got 1"),
    ({"hidden_sizes": [4.5]}, TypeError, "hidden_sizes[0] must be an integer >= 1, got 4.5"),
    ({"seeds": []}, ValueError, "seeds must be a non-empty iterable"),
    ({"cells": "gru"}, TypeError, "cells must be a non-empty iterable"),
    ({"train": {"steps": 3}}, TypeError, "train must be a rnnviz.train.TrainConfig or None, got dict"),
    ({"n_test": 0}, ValueError, "n_test must be an integer >= 1, got 0"),
])
def test_bad_arguments_are_refused_before_training(change, error, needle):
    grid = {"cells": ["gru"], "hidden_sizes": [4], "lengths": [8], "seeds": [0], **change}
    extra = {k: grid.pop(k) for k in ("train", "n_test") if k in grid}
    with pytest.raises(error, match=needle.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        adding_specs(grid["cells"], grid["hidden_sizes"], grid["lengths"], grid["seeds"], **extra)


def test_repeated_entries_are_merged_with_a_warning():
    with pytest.warns(UserWarning, match=r"seeds names the same models more than once \(\[1\]\)"):
        specs = adding_specs(["gru"], [4], [8], [1, 1, 2])
    assert [s.seed for s in specs] == [1, 2]
    assert adding_preset("smoke", seeds=(0,)).n_models == 4


def test_a_file_that_is_not_results_is_refused(tmp_path, capsys):
    (tmp_path / "adding.csv").write_text("something,else\n1,2\n")
    with pytest.raises(ValueError, match="is not an adding study's results"):
        adding(["gru"], [4], [8], [0], out=tmp_path, progress=False)
    assert main(["adding", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnviz adding: --out: ") and "not an adding study's results" in err and err.count("\n") == 1
    assert (tmp_path / "adding.csv").read_text() == "something,else\n1,2\n"


def test_workers_train_ensembles_in_parallel_to_the_same_numbers(tmp_path):
    """workers=2: the ensembles go to two spawned processes, costliest first, and each model ends with
    the numbers it gets in one process (its seeds come from its key, its ensemble is the same)."""
    grid = (SMOKE.cells, SMOKE.hidden_sizes, SMOKE.lengths, SMOKE.seeds)
    alone = adding(*grid, train=SMOKE.train, n_test=SMOKE.n_test, progress=False, device="cpu")
    seen = []
    both = adding(*grid, train=SMOKE.train, n_test=SMOKE.n_test, progress=False, device="cpu", out=tmp_path,
                  workers=2, on_group=lambda rows: seen.append({r["length"] for r in rows}))
    assert list(both["key"]) == list(alone["key"]) and len(both) == 8
    for column in ("test_mse", "test_accuracy", "baseline_mse", "steps"):
        assert both[column].tolist() == alone[column].tolist(), column
    assert len(seen) == 4 and set().union(*seen) == {8, 16}
    assert len(pd.read_csv(tmp_path / "adding.csv")) == 8  # written as the ensembles came back
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        adding(*grid, train=SMOKE.train, workers=0)


def test_costliest_ensembles_go_first():
    from rnnviz.study._adding import describe_adding_group
    from rnnviz.study._run import group_specs, longest_first

    groups = group_specs(adding_specs(["gru"], [8, 64], [50, 200], [0, 1]), 64)
    order = [(g[0].hidden_size, g[0].length) for g in longest_first(groups)]
    assert order == [(64, 200), (64, 50), (8, 200), (8, 50)]  # steps x T x members x (n + 6): the capacity study's rule
    assert describe_adding_group(groups[0]) == "gru n=8 T=50 (2 models)"


# ---------------------------------------------------------------- the figure
def _rows():
    return pd.DataFrame([{"cell": c, "hidden_size": n, "length": t, "seed": s, "test_mse": 0.01 * t / n + 0.001 * s,
                          "baseline_mse": 1 / 6} for c in ("gru", "pru") for n in (4, 8) for t in (10, 20)
                         for s in (0, 1)])


def test_plot_adding_draws_means_intervals_and_the_baseline():
    drawn = rplot.plot_adding(_rows())
    assert set(drawn["lines"]) == {(c, n) for c in ("gru", "pru") for n in (4, 8)}
    x, y = drawn["lines"][("gru", 4)].get_data()
    assert y == pytest.approx([0.0255, 0.0505])  # the seed means at T = 10 and 20
    assert drawn["baseline"].get_ydata()[0] == pytest.approx(1 / 6)
    assert drawn.ax.get_yscale() == "log"
    one = rplot.plot_adding(_rows(), hidden_size=8, yscale="linear")
    assert set(one["lines"]) == {("gru", 8), ("pru", 8)} and one.ax.get_yscale() == "linear"
    assert one.ax.get_ylim()[0] == 0.0
    plt.close("all")


def test_plot_adding_against_the_hidden_size():
    """x="hidden_size": one line per (cell, T) over n, the seed means at each n; a length picks one T."""
    drawn = rplot.plot_adding(_rows(), x="hidden_size")
    assert set(drawn["lines"]) == {(c, t) for c in ("gru", "pru") for t in (10, 20)}
    x, y = drawn["lines"][("gru", 20)].get_data()
    assert y == pytest.approx([0.0505, 0.0255])  # n = 4, 8 at T = 20: 0.01·20/n + mean seed term
    assert x[0] < x[1] and drawn.ax.get_xlabel() == "hidden size n"
    one = rplot.plot_adding(_rows(), x="hidden_size", length=10)
    assert set(one["lines"]) == {("gru", 10), ("pru", 10)} and one.ax.get_title() == "T = 10"
    with pytest.raises(ValueError, match="x must be one of"):
        rplot.plot_adding(_rows(), x="seed")
    with pytest.raises(ValueError, match=r"length must be one of \[10, 20\], got 30"):
        rplot.plot_adding(_rows(), length=30)
    plt.close("all")


def test_plot_adding_refuses_bad_input():
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['baseline_mse'\]"):
        rplot.plot_adding(_rows().drop(columns="baseline_mse"))
    with pytest.raises(ValueError, match="hidden_size must be one of \\[4, 8\\], got 16"):
        rplot.plot_adding(_rows(), hidden_size=16)
    plt.close("all")


def test_a_diverged_model_has_no_scores_but_keeps_its_baseline(monkeypatch):
    import rnnviz.study._checkpoints as module  # where a study's group calls fit

    real_fit = module.fit

    def fit_with_member_0_diverged(*args, **kwargs):
        result = real_fit(*args, **kwargs)
        result.diverged[0] = True
        return result

    monkeypatch.setattr(module, "fit", fit_with_member_0_diverged)
    train = TrainConfig(steps=2, batch_size=4, eval_every=2, eval_batch=8, target_accuracy=None)
    rows = adding(["gru"], [2], [6], [0, 1], train=train, n_test=50, progress=False, device="cpu")
    assert rows["stop_reason"].tolist() == ["diverged", "budget"]
    assert math.isnan(rows.loc[0, "test_mse"]) and math.isnan(rows.loc[0, "test_accuracy"])
    assert rows["baseline_mse"].notna().all() and not math.isnan(rows.loc[1, "test_mse"])
    assert adding_summary(rows)["diverged"].tolist() == [1]


# ---------------------------------------------------------------- training to a plateau of the MSE
def test_paper_trains_each_model_to_a_plateau_of_its_mse_and_smoke_and_demo_name_their_budgets():
    paper, demo, smoke = (ADDING_PRESETS[k] for k in ("paper", "demo", "smoke"))
    assert paper.train == ADDING_TRAIN and paper.n_models == 72 and demo.n_models == 36 and smoke.n_models == 8
    t = paper.train
    assert (t.plateau, t.plateau_window, t.plateau_min_steps, t.lr_drops) == (0.01, 0.2, 1000, 1)
    assert t.plateau_min_gain == 1e-3  # a solved problem's MSE keeps falling by > 1 % a fifth below 1e-3
    assert t.schedule == "constant" and t.steps == 16_000 and t.target_accuracy is None
    assert t.plateau_floor == ADDING_FLOOR and 1 / 12 < ADDING_FLOOR < 1 / 6  # below the baseline, above "one value"
    assert Adding(100).plateau_score == PlateauScore("loss", lower_is_better=True)
    # the plateau settings are part of every model's configuration, so they are hashed into its key
    spec = adding_specs(["gru"], [4], [8], [0], train=t)[0]
    assert spec.train["plateau"] == 0.01 and spec.train["plateau_floor"] == ADDING_FLOOR
    assert spec.train["plateau_min_gain"] == 1e-3
    assert spec.key != adding_specs(["gru"], [4], [8], [0], train=replace(t, plateau=None))[0].key
    for fixed in (demo, smoke):
        assert fixed.train.plateau is None and "fixed budget" in fixed.description
    assert "16 minutes" in paper.description and "plateau" in paper.description
    sizes = ADDING_PRESETS["sizes"]  # the paper preset's training at T = 200 over n; its n = 32 models are paper's
    assert sizes.train == ADDING_TRAIN and sizes.n_models == 72 and sizes.lengths == (200,)
    shared = {s.key for s in adding_specs(sizes.cells, [32], [200], sizes.seeds, train=sizes.train, n_test=sizes.n_test)}
    assert len(shared) == 18 and shared <= {s.key for s in adding_specs(
        paper.cells, paper.hidden_sizes, paper.lengths, paper.seeds, train=paper.train, n_test=paper.n_test)}


def test_a_model_whose_mse_stops_improving_stops_on_a_plateau():
    """A real run: at T = 4 with a large constant rate, seeds 1 and 2 stop on a plateau of their validation
    MSE (once below the floor); seed 0 still gains more than 30 % per half of its steps and runs its budget."""
    train = TrainConfig(steps=300, batch_size=16, lr=1e-1, schedule="constant", eval_every=10, eval_batch=64,
                        target_accuracy=None, plateau=0.3, plateau_window=0.5, plateau_min_steps=40,
                        plateau_floor=ADDING_FLOOR)
    rows = adding(["gru"], [4], [4], [0, 1, 2], train=train, n_test=100, progress=False, device="cpu")
    assert rows["stop_reason"].tolist() == ["budget", "plateau", "plateau"]
    assert rows["steps"].tolist()[0] == 300 and all(40 < s < 300 and s % 10 == 0 for s in rows["steps"][1:])
    assert (rows["test_mse"] < rows["baseline_mse"]).all()


def test_the_docs_describe_the_stopping_rule_and_the_presets():
    text = (Path(__file__).parents[1] / "docs" / "adding.md").read_text()
    for needle in ("`plateau`", "`budget`", "16 min", "not been piloted", "plateau_floor", "0.125",
                   "`loss`", "16,000", "plateau_min_gain", "`--workers n`"):
        assert needle.lower() in text.lower(), needle
    for name, chosen in ADDING_PRESETS.items():
        assert f"| `{name}` |" in text and f"| {chosen.n_models} |" in text, name
