"""rnnviz.study.position_table: recall at each target position, seed means with t intervals."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from rnnviz.study import Store, position_table

T_975_2 = 4.302652729749464  # t(0.975, 2): the 95 % multiplier over 3 seeds


def _rows(per_position: dict, *, as_json: bool = True) -> pd.DataFrame:
    """Capacity rows of GRU n = 4: for each K in ``per_position``, three seeds whose per-position bits
    are the given means -0.1, +0, +0.1 (so each position's seed sd is 0.1)."""
    rows = []
    for k, means in per_position.items():
        for seed in range(3):
            values = [m + 0.1 * (seed - 1) for m in means]
            rows.append({"cell": "gru", "hidden_size": 4, "n_targets": k, "n_interfering": 8, "alphabet": 4,
                         "targeted_bits": 2.0 * k, "interfering_bits": 8.0, "seed": seed,
                         "protocol": "memorization/2+combined-delay", "stop_reason": "budget",
                         "recalled_bits": sum(values),
                         "recalled_bits_per_position": json.dumps(values) if as_json else values})
    return pd.DataFrame(rows)


def test_each_position_gets_its_seed_mean_and_t_interval():
    table = position_table(_rows({2: [1.5, 0.5], 3: [1.0, 0.6, 0.2]}))
    assert len(table) == 2 + 3  # K rows per setting
    two = table[table["n_targets"] == 2]
    assert two["position"].tolist() == [1, 2]  # 1: the first target stored
    np.testing.assert_allclose(two["recalled_bits_per_position_mean"], [1.5, 0.5])
    np.testing.assert_allclose(table["recalled_bits_per_position_sd"], 0.1)
    half = T_975_2 * 0.1 / math.sqrt(3)
    three = table[table["n_targets"] == 3]
    np.testing.assert_allclose(three["recalled_bits_per_position_ci_low"], np.array([1.0, 0.6, 0.2]) - half)
    np.testing.assert_allclose(three["recalled_bits_per_position_ci_high"], np.array([1.0, 0.6, 0.2]) + half)
    assert (table["n_seeds"] == 3).all()
    assert {"protocol", "alphabet", "n_interfering", "interfering_bits", "targeted_bits"} <= set(table.columns)


def test_lists_and_json_text_read_alike_and_missing_scores_drop_out():
    as_text = position_table(_rows({2: [1.5, 0.5]}))
    as_lists = position_table(_rows({2: [1.5, 0.5]}, as_json=False))
    pd.testing.assert_frame_equal(as_text, as_lists)
    rows = _rows({2: [1.5, 0.5]})
    rows.loc[0, "recalled_bits_per_position"] = json.dumps([None, None])  # one seed without scores
    rows.loc[1, "stop_reason"] = "diverged"  # one diverged: left out
    table = position_table(rows)
    assert (table["n_seeds"] == 1).all()
    np.testing.assert_allclose(table["recalled_bits_per_position_mean"], [1.6, 0.6])
    assert table["recalled_bits_per_position_sd"].isna().all()  # one seed: no spread


def test_accuracy_per_position_and_a_store_round_trip(tmp_path):
    from rnnviz.study import capacity
    from rnnviz.train import TrainConfig

    train = TrainConfig(steps=5, batch_size=8, eval_every=5, eval_batch=16)
    rows = capacity(["gru"], [2], [2.0, 4.0], [(2, 1)], [0], train=train, n_test=50, protocol=2,
                    store=str(tmp_path / "capacity.sqlite"), progress=False)
    frame = Store(tmp_path / "capacity.sqlite", read_only=True).frame()
    for measure in ("recalled_bits_per_position", "accuracy_per_position"):
        table = position_table(frame, measure)
        assert len(table) == 1 + 2  # K = 1 and K = 2
        for k, group in table.groupby("n_targets"):
            model = rows[rows["n_targets"] == k].iloc[0]
            np.testing.assert_allclose(group[f"{measure}_mean"], json.loads(model[measure])
                                       if isinstance(model[measure], str) else model[measure], atol=1e-6)


def test_bad_input_is_named():
    rows = _rows({2: [1.5, 0.5]})
    with pytest.raises(ValueError, match="measure"):
        position_table(rows, "recalled_bits")
    with pytest.raises(ValueError, match="store export --all-columns"):
        position_table(rows.drop(columns="recalled_bits_per_position"))
    with pytest.raises(ValueError, match="confidence"):
        position_table(rows, confidence=1.5)
    broken = rows.assign(recalled_bits_per_position="[1.0, oops")
    with pytest.raises(ValueError, match="JSON list"):
        position_table(broken)
    with pytest.raises(TypeError, match="DataFrame"):
        position_table([{"cell": "gru"}])
