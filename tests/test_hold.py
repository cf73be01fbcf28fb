"""How long each memorization target is held: the task's hold, the study's table of recall per symbol
against it, and its figure."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

import rnnviz.plot as rplot
from rnnviz.study import capacity, capacity_preset, hold_table, sweep_specs
from rnnviz.study._protocol import protocol_name, protocol_number
from rnnviz.tasks import Memorization, delay_for_hold, hold_steps
from rnnviz.train import TrainConfig


@pytest.mark.parametrize("protocol, n_random", [(1, None), (2, 3), (3, 3)])
@pytest.mark.parametrize("K, L", [(1, 0), (2, 8), (5, 3)])
def test_hold_is_the_wait_between_each_targets_store_and_recall_steps(protocol, n_random, K, L):
    if n_random is not None:
        n_random = min(n_random, L)
    task = Memorization(K, alphabet=4, n_interfering=L, protocol=protocol, n_random=n_random)
    inputs, targets, mask = task.sample(16, torch.Generator().manual_seed(0))
    tokens = inputs[..., :task.alphabet + 1].argmax(-1)  # symbol (or blank) seen at each step
    recall_steps = torch.nonzero(mask[:, 0]).ravel()
    h = task.hold_steps
    for j, step in enumerate(recall_steps.tolist()):
        assert step - j == h  # target j is stored at step j and recalled at step j + h
        assert torch.equal(targets[step], tokens[step - h])
    assert h == hold_steps(K, L, protocol) == K + L + (1 if protocol == 1 else 2)
    assert task.length == K + h


def test_hold_steps_refuses_bad_arguments_by_name():
    with pytest.raises(ValueError, match="n_targets"):
        hold_steps(0, 8)
    with pytest.raises(ValueError, match="n_interfering"):
        hold_steps(2, -1)
    with pytest.raises(ValueError, match="protocol"):
        hold_steps(2, 8, 4)


def test_protocol_number_reads_a_rows_protocol_value():
    assert protocol_number("memorization/1") == 1
    assert protocol_number(protocol_name(3, "combined")) == 3
    for bad in ("memorization/7", "adding/1", "2", None):
        with pytest.raises(ValueError, match="protocol"):
            protocol_number(bad)


def _rows(K, L, means, protocol="memorization/2+combined"):
    """Three seeds per (K, L), recalling K * (mean - 0.1, mean, mean + 0.1) bits."""
    return pd.DataFrame([{"cell": "gru", "hidden_size": 4, "alphabet": 4, "n_targets": k, "n_interfering": n,
                          "interfering_bits": 8.0, "targeted_bits": 2.0 * k, "seed": s, "protocol": protocol,
                          "recalled_bits": k * (m + 0.1 * (s - 1)), "stop_reason": "budget"}
                         for k, n, m in zip(K, L, means, strict=True) for s in range(3)])


def test_with_hold_adds_each_rows_hold_from_its_protocol():
    from rnnviz.study import with_hold

    rows = pd.concat([_rows([2, 4], [8, 36], [1.0, 1.0]), _rows([2], [8], [1.0], protocol="memorization/1")])
    held = with_hold(rows)
    assert held["hold_steps"].tolist() == [12] * 3 + [42] * 3 + [11] * 3  # K + L + 2, protocol 1: K + L + 1
    assert "hold_steps" not in rows.columns  # a copy


def test_hold_table_gives_bits_per_symbol_at_each_hold_with_its_interval():
    rows = _rows([2, 2, 8], [8, 38, 8], [1.9, 1.5, 0.4])
    rows.loc[len(rows)] = {**rows.iloc[0].to_dict(), "seed": 3, "recalled_bits": float("nan")}  # no score: left out
    table = hold_table(rows)
    assert table["protocol"].unique().tolist() == ["memorization/2"]
    assert table[["n_targets", "n_interfering", "hold_steps"]].values.tolist() == [[2, 8, 12], [2, 38, 42], [8, 8, 18]]
    np.testing.assert_allclose(table["bits_per_symbol_mean"], [1.9, 1.5, 0.4])
    np.testing.assert_allclose(table["recalled_bits_mean"], [3.8, 3.0, 3.2])  # K times the bits per symbol
    assert table["n_seeds"].tolist() == [3, 3, 3]
    half = 4.302652729749464 * 0.1 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(3)
    np.testing.assert_allclose(table["bits_per_symbol_ci_high"] - table["bits_per_symbol_mean"], half, rtol=1e-6)
    protocol_1 = hold_table(_rows([2], [8], [1.0], protocol="memorization/1"))
    assert protocol_1["hold_steps"].tolist() == [11]


def test_hold_table_names_what_it_lacks():
    with pytest.raises(ValueError, match="n_interfering"):
        hold_table(_rows([2], [8], [1.0]).drop(columns="n_interfering"))
    with pytest.raises(ValueError, match="protocol"):
        hold_table(_rows([2], [8], [1.0], protocol="adding/1"))


def test_recall_by_hold_draws_a_capacity_curve_and_one_line_per_held_amount():
    curve = hold_table(_rows([1, 2, 4], [8, 8, 8], [2.0, 1.8, 0.9]))  # K grows at L = 8
    held = hold_table(_rows([2, 2, 4, 4], [8, 38, 8, 36], [1.9, 1.7, 0.9, 0.8]))  # L grows at K = 2 and 4
    tables = {"grid": curve, "long delays": held}
    drawn = rplot.plot_recall_by_hold(tables, "gru", value="bits_per_symbol")
    assert set(drawn["errorbars"]) == {("grid", None), ("long delays", 2), ("long delays", 4)}
    line = drawn["errorbars"][("grid", None)].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [11, 12, 14])
    np.testing.assert_allclose(line.get_ydata(), [2.0, 1.8, 0.9])
    np.testing.assert_allclose(drawn["errorbars"][("long delays", 2)].lines[0].get_xdata(), [12, 42])
    np.testing.assert_allclose(drawn["errorbars"][("long delays", 4)].lines[0].get_ydata(), [0.9, 0.8])
    assert drawn["whole"].get_ydata()[0] == pytest.approx(2.0)  # log2 A
    total = rplot.plot_recall_by_hold(tables, "gru")  # default: the bits recalled in all
    np.testing.assert_allclose(total["errorbars"][("grid", None)].lines[0].get_ydata(), [2.0, 3.6, 3.6])
    np.testing.assert_allclose(total["errorbars"][("long delays", 4)].lines[0].get_ydata(), [3.6, 3.2])
    assert total["whole"] is None
    with pytest.raises(ValueError, match="recalled_bits_ce_bound"):
        rplot.plot_recall_by_hold(tables, "gru", value="recalled_bits_ce_bound")
    with pytest.raises(ValueError, match="hidden_size"):
        rplot.plot_recall_by_hold({"grid": curve}, "gru", hidden_size=8)
    with pytest.raises(ValueError, match="non-empty dict"):
        rplot.plot_recall_by_hold({}, "gru")


@pytest.mark.parametrize("protocol", [1, 2, 3])
def test_delay_for_hold_inverts_hold_steps(protocol):
    for K in (1, 4, 32):
        for hold in range(hold_steps(K, 0, protocol), 60, 7):
            assert hold_steps(K, delay_for_hold(K, hold, protocol), protocol) == hold
    with pytest.raises(ValueError, match="hold=32 is too short for n_targets=32"):
        delay_for_hold(32, 32, protocol)


def test_a_fixed_hold_sweep_holds_every_target_as_long_at_every_K():
    grid = dict(cells=["gru"], hidden_sizes=[4], targeted_bits=[2.0, 8.0, 64.0], interfering=[(8, 0), (8, 4)],
                seeds=[0], protocol=2)
    held = sweep_specs(**grid, hold=42)
    assert len(held) == 6
    for s in held:
        assert hold_steps(s.n_targets, s.n_interfering, 2) == 42  # L = 40 - K
        assert s.n_random in (0, 4)
        assert s.interference == ("blank" if s.n_random == 0 else "mixed")
    # where the delay comes out as the dose's own (K = 32, L = 8), it is the fixed-delay grid's model
    delayed = {s.key for s in sweep_specs(**grid)}
    shared = [s for s in held if s.key in delayed]
    assert sorted((s.n_targets, s.n_interfering) for s in shared) == [(32, 8), (32, 8)]
    # the preset's variant lists the same models
    variant = capacity_preset("paper-cosine", hold=42, cells=("gru",), hidden_sizes=(4,))
    assert all(hold_steps(s.n_targets, s.n_interfering, 2) == 42 for s in variant.specs())


def test_a_fixed_hold_sweep_refuses_what_it_cannot_hold():
    grid = dict(cells=["gru"], hidden_sizes=[4], targeted_bits=[2.0, 64.0], seeds=[0])
    with pytest.raises(ValueError, match="hold needs protocol 2 or 3"):
        sweep_specs(**grid, interfering=[(8, "blank")], hold=42)
    with pytest.raises(ValueError, match=r"names some twice: give each n_random once"):
        sweep_specs(**grid, interfering=[(8, 4), (16, 4)], protocol=2, hold=42)
    with pytest.raises(ValueError, match="a hold of at least 42 steps"):
        sweep_specs(**grid, interfering=[(8, 8)], protocol=2, hold=41)
    with pytest.raises(ValueError, match="do not combine"):
        sweep_specs(**grid, interfering=[(8, 0)], protocol=2, hold=42, warm_start=True)
    with pytest.raises(ValueError, match="hold must be"):
        sweep_specs(**grid, interfering=[(8, 0)], protocol=2, hold=0)


def test_a_fixed_hold_sweep_trains_and_its_rows_place_each_model_at_the_hold():
    rows = capacity(["gru"], [4], [2.0, 8.0], [(4, 2)], [0], protocol=2, hold=12, n_test=64, progress=False,
                    train=TrainConfig(steps=20, batch_size=8, eval_every=10))
    assert sorted(zip(rows["n_targets"], rows["n_interfering"], strict=True)) == [(1, 9), (4, 6)]
    assert hold_table(rows)["hold_steps"].tolist() == [12, 12]


def _fixed_hold_rows(hold=42, means=(3.9, 7.6, 11.4, 9.6, 11.5)):
    """One cell's fixed-hold curve (K = 2..32, L = hold - K - 2) at two doses, three seeds 0.1 bit apart."""
    rows = []
    for n_random in (0, 4):
        for k, m in zip((2, 4, 8, 16, 32), means, strict=True):
            L = delay_for_hold(k, hold, 2)
            for s in range(3):
                rows.append({"cell": "gru", "hidden_size": 16, "n_layers": 1, "alphabet": 4, "n_targets": k,
                             "n_interfering": L, "n_random": n_random, "targeted_bits": 2.0 * k,
                             "interfering_bits": 2.0 * n_random, "seed": s, "protocol": "memorization/2+combined",
                             "interference": "blank" if n_random == 0 else "random" if n_random == L else "mixed",
                             "recalled_bits": m + 0.1 * (s - 1) - 0.5 * (n_random > 0), "accuracy": 0.5,
                             "n_parameters": 100, "stop_reason": "budget"})
    return pd.DataFrame(rows)


def test_at_one_hold_makes_the_hold_the_setting_of_every_analysis():
    from rnnviz.study import at_one_hold, capacity_table, curve_falls, summarize

    raw = _fixed_hold_rows()
    assert len(capacity_table(raw)) == 10  # read by delay, each K is a setting of its own: no curve at all
    rows = at_one_hold(raw)
    assert rows["hold_steps"].unique().tolist() == [42]
    assert sorted(rows["interference"].unique()) == ["4 random", "blank"]  # by dose, not by the delay
    assert rows["n_interfering"].tolist() == raw["n_interfering"].tolist()  # kept as data
    table = capacity_table(rows)
    assert len(table) == 2 and table["hold_steps"].tolist() == [42, 42]
    np.testing.assert_allclose(table.sort_values("interfering_bits")["capacity_mean"], [11.5, 11.0])
    summary = summarize(rows)
    assert len(summary) == 2 and summary["targeted_bits_at_capacity"].tolist() == [64.0, 64.0]
    falls = curve_falls(rows)
    assert len(falls) == 1 and falls["verdict"].tolist() == ["peaks at the end"]


def test_at_one_hold_refuses_rows_that_are_not_one_hold_per_dose():
    from rnnviz.study import at_one_hold

    raw = _fixed_hold_rows()
    raw.loc[raw["n_targets"] == 2, "n_interfering"] = 8  # a fixed-delay point in the curve
    with pytest.raises(ValueError, match="not a fixed-hold sweep"):
        at_one_hold(raw)
    with pytest.raises(ValueError, match="n_random"):
        at_one_hold(raw.drop(columns="n_random"))


def test_a_fixed_hold_preset_writes_its_summary_by_hold(tmp_path):
    from dataclasses import replace

    from rnnviz.study import PRESETS

    preset = replace(PRESETS["paper"], cells=("gru",), hidden_sizes=(4,), targeted_bits=(2.0, 4.0),
                     interfering=((8, 0),), seeds=(0,), hold=12, n_test=64,
                     train=TrainConfig(steps=20, batch_size=8, eval_every=10))
    rows = preset.run(tmp_path, device="cpu", progress=False)
    assert sorted(zip(rows["n_targets"], rows["n_interfering"], strict=True)) == [(1, 9), (2, 8)]
    summary = pd.read_csv(tmp_path / "capacity_summary.csv")
    assert len(summary) == 1 and summary["hold_steps"].tolist() == [12]
