"""A member whose loss or weights turn non-finite is stopped and recorded as diverged, never with a
plausible accuracy (the argmax of NaN logits is class 0, right on 1/A of the recall steps); the other
members train exactly as before; summaries and figures leave diverged models out and count them."""

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from rnnviz.plot import capacity_figures
from rnnviz.study import Store, capacity, per_targeted_bits, summarize
from rnnviz.tasks import Memorization
from rnnviz.train import SequenceModel, TrainConfig, fit

CONFIG = TrainConfig(steps=20, batch_size=8, lr=2e-2, eval_every=10, eval_batch=16)


def train(poison: int | None):
    """An ensemble of 3 trained on its own batches; member ``poison`` starts with NaN readout weights."""
    torch.manual_seed(0)
    model = SequenceModel("gru", 6, 4, 4, n_models=3)
    if poison is not None:
        with torch.no_grad():
            model.readout_weight[poison] = math.nan
    result = fit(model, [Memorization(2)] * 3, CONFIG, data_seed=[1, 2, 3], progress=False)
    return model, result


def test_a_diverged_member_is_stopped_and_the_others_are_untouched():
    clean, clean_result = train(None)
    model, result = train(1)
    assert result.diverged == [False, True, False] and clean_result.diverged == [False] * 3
    assert result.stop_reason[1] == "diverged" and result.stopped_at[1] == CONFIG.eval_every
    assert math.isnan(result.metrics[1]["accuracy"]) and math.isnan(result.metrics[1]["loss"])
    assert not result.reached[1]
    for a, b in zip(clean.parameters(), model.parameters(), strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])  # bit for bit
    assert result.metrics[0] == clean_result.metrics[0] and result.metrics[2] == clean_result.metrics[2]


def test_a_single_model_that_diverges_stops_at_the_next_evaluation():
    model = SequenceModel("pru", 6, 4, 4)
    with torch.no_grad():
        model.cells[0].weight_hh.fill_(math.inf)
    result = fit(model, Memorization(2), CONFIG, progress=False)
    assert result.diverged == [True] and result.stop_reason == ["diverged"]
    assert result.stopped_at == [CONFIG.eval_every]
    assert len(result.history) == 1 and result.history[0]["diverged"]


STACK = SequenceModel.stack


class NaNLossOnce(Memorization):
    """Member 1's training loss is NaN at the third step only (a constant: gradients and weights stay
    finite, so only the loss check can see it)."""

    calls = 0

    def loss(self, outputs, targets, mask=None):
        losses = super().loss(outputs, targets, mask)
        NaNLossOnce.calls += 1
        if NaNLossOnce.calls == 3:
            losses = losses + torch.tensor([0.0, math.nan, 0.0])
        return losses


def test_a_non_finite_training_loss_alone_marks_the_member():
    model = SequenceModel("gru", 6, 4, 4, n_models=3)
    result = fit(model, [NaNLossOnce(2)] * 3, CONFIG, data_seed=[1, 2, 3], progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert result.diverged == [False, True, False] and result.stopped_at[1] == CONFIG.eval_every


def poisoned_stack(models):
    """``SequenceModel.stack`` whose ensemble's last member has NaN readout weights."""
    ensemble = STACK(models)
    if len(models) > 1:
        with torch.no_grad():
            ensemble.readout_weight[-1] = math.nan
    return ensemble


def test_diverged_rows_hold_no_scores_and_summaries_count_them(tmp_path, monkeypatch):
    monkeypatch.setattr(SequenceModel, "stack", staticmethod(poisoned_stack))
    store = tmp_path / "capacity.sqlite"
    rows = capacity(["gru"], [3], [2.0, 4.0], [(1, "blank")], [0, 1], train=CONFIG, n_test=50, store=store,
                    device="cpu", progress=False)
    diverged = rows[rows["stop_reason"] == "diverged"]
    assert len(rows) == 4 and len(diverged) == 1  # one group of 4; its last member was poisoned
    assert diverged[["accuracy", "loss", "recalled_bits", "recalled_bits_plugin"]].isna().all(axis=None)
    assert diverged["reached_target"].tolist() == [0]
    kept = rows[rows["stop_reason"] != "diverged"]
    assert kept["accuracy"].notna().all() and set(kept["stop_reason"]) <= {"target", "budget"}
    with Store(store, read_only=True) as s:  # the store keeps it as diverged, without numbers
        (row,) = [r for r in s.records() if r["stop_reason"] == "diverged"]
    assert row["accuracy"] is None and row["accuracy_per_position"].startswith("[null")

    grid = per_targeted_bits(rows)
    bits = diverged["targeted_bits"].iloc[0]
    at = grid[grid["targeted_bits"] == bits].iloc[0]
    assert (at["seeds"], at["diverged"]) == (1, 1)
    assert at["accuracy"] == kept.loc[kept["targeted_bits"] == bits, "accuracy"].max()
    summary = summarize(rows)
    assert summary["diverged"].tolist() == [1]
    assert summary["capacity_bits"].iloc[0] == kept["recalled_bits"].max()

    written = capacity_figures(grid, summary, tmp_path / "figures", formats=("png",))
    plt.close("all")
    assert all(p.is_file() for p in written)


def test_a_setting_whose_every_model_diverged_has_no_capacity():
    base = dict(cell="gru", hidden_size=4, n_layers=1, alphabet=4, n_interfering=1, interference="blank",
                interfering_bits=0.0, targeted_bits=2.0, n_parameters=10, recalled_bits=math.nan,
                accuracy=math.nan, stop_reason="diverged")
    rows = pd.DataFrame([{**base, "seed": 0}, {**base, "seed": 1}])
    grid = per_targeted_bits(rows)
    assert grid[["seeds", "diverged"]].values.tolist() == [[0, 2]] and grid["accuracy"].isna().all()
    summary = summarize(rows)
    assert math.isnan(summary["capacity_bits"].iloc[0]) and summary["diverged"].iloc[0] == 2
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        summarize(rows, threshold=math.nan)
