"""Warm start over K in the capacity study: chains, the weights handed over, resume, missing weights."""

from __future__ import annotations

import pytest
import torch

import rnnviz.study._checkpoints as checkpoints_module
import rnnviz.study._run as run_module
from rnnviz.study import ModelSpec, Store, capacity, sweep_specs
from rnnviz.study._weights import load_weights, weights_dir, weights_path
from rnnviz.train import TrainConfig

TINY = TrainConfig(steps=20, batch_size=8, lr=2e-2, eval_every=10, eval_batch=16, schedule="constant",
                   target_accuracy=None)
SWEEP = dict(cells=["gru"], hidden_sizes=[3], interfering=[(2, 1)], seeds=[0, 1], protocol=2, train=TINY,
             n_test=20, device="cpu", progress=False)


@pytest.fixture
def fits(monkeypatch):
    """Record each fit: the members' weights before and after it, in member order."""
    calls = []
    real = checkpoints_module.fit  # where a study's group calls fit

    def recording(model, tasks, config, **kwargs):
        before = [model.member(i).state_dict() for i in range(model.n_models)]
        result = real(model, tasks, config, **kwargs)
        after = [model.member(i).state_dict() for i in range(model.n_models)]
        calls.append({"K": [t.n_targets for t in tasks], "before": before, "after": after})
        return result

    monkeypatch.setattr(checkpoints_module, "fit", recording)
    return calls


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_warm_specs_chain_each_seed_and_dose_in_ascending_k_and_keep_cold_keys_at_the_first_k():
    specs = sweep_specs(["gru"], [3], [6.0, 2.0, 4.0], [(2, 0), (2, 1)], [0, 1], protocol=2, train=TINY,
                        warm_start=True)
    cold = {(s.n_targets, s.n_random, s.seed): s for s in
            sweep_specs(["gru"], [3], [6.0, 2.0, 4.0], [(2, 0), (2, 1)], [0, 1], protocol=2, train=TINY)}
    by_key = {s.key: s for s in specs}
    for s in specs:
        before = by_key.get(s.warm_from)
        if s.n_targets == 1:
            assert s.warm_from is None and s.key == cold[(1, s.n_random, s.seed)].key  # a cold start
        else:  # the same chain (dose and seed) at the previous K of the grid
            assert before.chain == s.chain and before.n_targets == s.n_targets - 1
            assert s.key != cold[(s.n_targets, s.n_random, s.seed)].key
    assert len(by_key) == 12 and [s.n_targets for s in specs[::2]] == [1, 2, 3, 1, 2, 3]  # per dose, ascending K
    waves = run_module.warm_waves(specs)
    assert [{s.n_targets for s in w} for w in waves] == [{1}, {2}, {3}]
    with pytest.raises(ValueError, match="warm_start needs protocol=2"):
        sweep_specs(["gru"], [3], [2.0], [(2, "blank")], [0], train=TINY, warm_start=True)
    with pytest.raises(TypeError, match=r"warm_start must be True or False, got 'yes' \(str\)"):
        sweep_specs(["gru"], [3], [2.0], [(2, 0)], [0], protocol=2, train=TINY, warm_start="yes")
    with pytest.raises(ValueError, match="warm_from .* needs protocol 2"):
        ModelSpec(**{**cold[(1, 0, 0)].as_dict(), "protocol": 1, "n_random": None, "interference": "blank",
                     "warm_from": "0123456789abcdef"})


def test_each_model_starts_from_its_predecessors_final_weights_and_saves_its_own(tmp_path, fits):
    store = tmp_path / "capacity.sqlite"
    rows = capacity(targeted_bits=[2.0, 4.0], store=store, warm_start=True, **SWEEP)
    assert [c["K"] for c in fits] == [[1, 1], [2, 2]]  # K = 1 first, then its successors
    first, second = fits
    for i in range(2):
        assert same(second["before"][i], first["after"][i])  # the predecessor's trained weights
    by_k = {(r.n_targets, r.seed): r for r in rows.itertuples()}
    for i, seed in enumerate((0, 1)):
        assert by_k[(1, seed)].warm_from == "" and by_k[(2, seed)].warm_from == by_k[(1, seed)].key
        assert same(load_weights(weights_dir(store), by_k[(1, seed)].key), first["after"][i])
        assert same(load_weights(weights_dir(store), by_k[(2, seed)].key), second["after"][i])


def test_a_resumed_sweep_continues_its_chains(tmp_path, fits):
    store = tmp_path / "capacity.sqlite"
    short = capacity(targeted_bits=[2.0, 4.0], store=store, warm_start=True, **SWEEP)
    longer = capacity(targeted_bits=[2.0, 4.0, 6.0], store=store, warm_start=True, **SWEEP)
    assert [c["K"] for c in fits] == [[1, 1], [2, 2], [3, 3]]  # only K = 3 trained the second time
    assert set(short["key"]) < set(longer["key"]) and len(longer) == 6
    k2 = {r.seed: r.key for r in longer.itertuples() if r.n_targets == 2}
    k3 = longer[longer["n_targets"] == 3]
    assert {r.seed: r.warm_from for r in k3.itertuples()} == k2
    for i in range(2):
        assert same(fits[2]["before"][i], fits[1]["after"][i])


def test_a_finished_predecessor_whose_weights_are_missing_is_trained_again(tmp_path, fits):
    store = tmp_path / "capacity.sqlite"
    capacity(targeted_bits=[2.0, 4.0], store=store, warm_start=True, **SWEEP)
    with Store(store, read_only=True) as db:
        before = db.frame()
    k2 = before[(before["n_targets"] == 2) & (before["seed"] == 1)].iloc[0]
    weights_path(weights_dir(store), k2["key"]).unlink()
    rows = capacity(targeted_bits=[2.0, 4.0, 6.0], store=store, warm_start=True, **SWEEP)
    # K = 2 of seed 1 trains again (alone), then K = 3 of both seeds; K = 1 is never retrained
    assert [c["K"] for c in fits] == [[1, 1], [2, 2], [2], [3, 3]]
    again, first = fits[2]["after"][0], fits[1]["after"][1]  # the same seeds: the same weights, up to rounding
    assert all(torch.allclose(again[k], first[k], atol=1e-5) for k in first)  # (an ensemble of 1, not 2)
    assert same(fits[3]["before"][1], fits[2]["after"][0])
    assert weights_path(weights_dir(store), k2["key"]).is_file()
    kept = rows[rows["key"] == k2["key"]].iloc[0]
    assert kept["finished_at"] == k2["finished_at"] and len(rows) == 6  # its stored row is kept, not duplicated


def test_an_in_memory_warm_sweep_hands_weights_over_through_a_temporary_folder(fits):
    rows = capacity(targeted_bits=[2.0, 4.0], warm_start=True, **SWEEP)
    assert len(rows) == 4 and (rows.loc[rows["n_targets"] == 2, "warm_from"] != "").all()
    assert same(fits[1]["before"][0], fits[0]["after"][0])
    with pytest.raises(ValueError, match="train_group needs the weights folder"):
        run_module.train_group([s.as_dict() for s in sweep_specs(
            ["gru"], [3], [2.0, 4.0], [(2, 1)], [0], protocol=2, train=TINY, warm_start=True)][1:])
