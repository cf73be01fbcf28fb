"""Models and training: ensembles equal independent models, per-member clipping, the one TrainConfig
and its schedule, checkpoints of both model kinds, capacity keys that stay stable."""

import copy
import hashlib
import json
import math
import pickle
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from rnnviz.study import PRESETS, ModelSpec, sweep_specs
from rnnviz.tasks import Adding, FlipFlop, Memorization, PlateauScore
from rnnviz.train import (
    LM_TRAIN,
    LR_DROP,
    CharLM,
    LMConfig,
    PlateauRule,
    SequenceModel,
    TrainConfig,
    TrainingPaused,
    _fit,
    checkpoint_metadata,
    clip_grad_norm_per_member,
    fit,
    learning_rate,
    load_checkpoint,
    lr_scheduler,
    save_checkpoint,
    window_improvement,
)
from rnnviz.train._checkpoint import read_checkpoint
from rnnviz.train._fit import _Working
from rnnviz.train._loop import FusedAdam, adam, adam_for_members, drop_learning_rate


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def build(seed, cell="gru", **kw):
    torch.manual_seed(seed)
    return SequenceModel(cell, 5, 6, 3, dtype=torch.float64, **kw)


def test_ensemble_member_equals_the_model_trained_alone():
    """Different tasks, data and stopping times per member; each ends exactly where it would alone."""
    tasks = [Memorization(k, 3) for k in (1, 2, 3)]
    seeds = [11, 12, 13]
    cfg = TrainConfig(
        steps=120, batch_size=16, lr=3e-2, eval_every=10, eval_batch=64, target_accuracy=0.9, clip=0.5
    )
    singles = [build(s) for s in seeds]
    ensemble = SequenceModel.stack(singles)
    res = fit(ensemble, tasks, cfg, data_seed=seeds, progress=False)
    assert res.reached[0] and not res.reached[2] and res.stopped_at[0] < res.stopped_at[1] < 120
    for i, single in enumerate(singles):
        alone = fit(single, tasks[i], cfg, data_seed=seeds[i], progress=False)
        assert alone.stopped_at == [res.stopped_at[i]] and alone.reached == [res.reached[i]]
        assert alone.metrics[0]["accuracy"] == pytest.approx(res.metrics[i]["accuracy"], abs=1e-12)
        for a, b in zip(single.parameters(), ensemble.parameters(), strict=True):
            torch.testing.assert_close(a, b[i], atol=1e-12, rtol=0)


def test_members_sharing_a_task_object_are_scored_together_with_the_same_numbers():
    """fit scores the members given one task object in one score() call (members on its leading axis,
    also through a padded batch: tasks of two lengths): the same metrics, stopping steps and
    weights as one call per member (distinct but equal task objects), in float32."""
    seeds = [21, 22, 23, 24, 25]
    cfg = TrainConfig(steps=60, batch_size=16, lr=3e-2, eval_every=10, eval_batch=64, target_accuracy=0.9)
    short, long = Memorization(1, 3), Memorization(3, 3)

    def run(tasks):
        singles = []
        for s in seeds:
            torch.manual_seed(s)
            singles.append(SequenceModel("gru", short.input_size, 6, short.output_size))
        ensemble = SequenceModel.stack(singles)
        return ensemble, fit(ensemble, tasks, cfg, data_seed=seeds, progress=False)

    shared, together = run([short, long, short, long, long])
    apart, alone = run([Memorization(1, 3), Memorization(3, 3), Memorization(1, 3), Memorization(3, 3),
                        Memorization(3, 3)])
    assert together.stopped_at == alone.stopped_at and together.reached == alone.reached
    assert together.reached[0] and not all(together.reached)  # stops happen, at different steps
    def history(result):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in result.history]

    assert together.metrics == alone.metrics and history(together) == history(alone)
    for a, b in zip(shared.parameters(), apart.parameters(), strict=True):
        assert torch.equal(a, b)


def test_per_member_clipping_matches_torch_and_keeps_members_independent():
    torch.manual_seed(0)
    grads = [torch.randn(3, 4, 5), torch.randn(3, 7)]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    norms = clip_grad_norm_per_member(params, 1.0, 3)
    for e in range(3):
        single = [torch.zeros_like(g[e], requires_grad=True) for g in grads]
        for p, g in zip(single, grads, strict=True):
            p.grad = g[e].clone()
        ref = torch.nn.utils.clip_grad_norm_(single, 1.0)
        assert float(norms[e]) == pytest.approx(float(ref))
        for p, q in zip(params, single, strict=True):
            torch.testing.assert_close(p.grad[e], q.grad)


def test_shared_batch_broadcasts_to_every_member():
    ens = SequenceModel.stack([build(1), build(2)])
    res = fit(
        ens,
        Memorization(1, 3),
        steps=20,
        eval_every=10,
        eval_batch=32,
        batch_size=8,
        progress=False,
        target_accuracy=None,
    )
    assert len(res.metrics) == 2 and res.stopped_at == [20, 20]
    assert {r["member"] for r in res.history} == {0, 1}


def test_learns_the_flipflop():
    torch.manual_seed(0)
    task = FlipFlop(bits=2, length=20, p_pulse=0.2)
    model = SequenceModel("gru", 2, 12, 2)
    res = fit(
        model, task, steps=200, batch_size=32, lr=2e-2, eval_every=50, target_accuracy=None, progress=False
    )
    assert res.metrics[0]["loss"] < 0.5 * task.baseline.loss
    assert res.history[-1]["lr"] == learning_rate(200, TrainConfig(steps=200, lr=2e-2))  # the next step's


# ---------------------------------------------------------------------------- the schedule
def test_schedule_is_linear_warmup_then_cosine():
    """lr·(k+1)/w during the warm-up, then lr·[ρ + (1−ρ)(1 + cos(π(k−w)/(K−w)))/2] down to lr·ρ at K."""
    cfg = TrainConfig(steps=100, lr=0.5, warmup=10, min_lr_ratio=0.1)
    assert [learning_rate(k, cfg) for k in (0, 4, 9)] == pytest.approx([0.05, 0.25, 0.5], abs=1e-15)
    assert learning_rate(10, cfg) == pytest.approx(0.5, abs=1e-15)  # the cosine starts at the peak
    assert learning_rate(55, cfg) == pytest.approx(0.5 * 0.55, abs=1e-15)  # half-way: (1 + ρ) / 2
    assert learning_rate(100, cfg) == pytest.approx(0.05, abs=1e-15)  # ρ·lr at K, and it stays there
    assert learning_rate(150, cfg) == pytest.approx(0.05, abs=1e-15)
    k = 37
    expected = 0.5 * (0.1 + 0.9 * (1 + math.cos(math.pi * 27 / 90)) / 2)
    assert learning_rate(k, cfg) == pytest.approx(expected, abs=1e-15)
    cosine = [learning_rate(k, cfg) for k in range(10, 101)]
    assert all(a > b for a, b in zip(cosine, cosine[1:], strict=False))
    no_warmup = TrainConfig(steps=4, lr=1.0, min_lr_ratio=0.0)
    assert [learning_rate(k, no_warmup) for k in range(5)] == pytest.approx(
        [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0.0], abs=1e-15)


def test_constant_schedule_after_the_warmup_and_the_optimizer_follows_the_schedule():
    constant = TrainConfig(steps=50, lr=0.2, warmup=4, schedule="constant", min_lr_ratio=0.1)
    assert [learning_rate(k, constant) for k in (0, 1, 3, 4, 49, 80)] == pytest.approx(
        [0.05, 0.1, 0.2, 0.2, 0.2, 0.2], abs=1e-15)
    for cfg in (constant, TrainConfig(steps=30, lr=0.3, warmup=5, min_lr_ratio=0.2)):
        optimizer = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=cfg.lr)
        schedule = lr_scheduler(optimizer, cfg)
        seen = []
        for _ in range(cfg.steps):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        assert seen == [learning_rate(k, cfg) for k in range(cfg.steps)]  # exactly the same numbers
    with pytest.raises(ValueError, match="step must be an integer >= 0, got -1"):
        learning_rate(-1, constant)


# ---------------------------------------------------------------------------- the one TrainConfig
@pytest.mark.parametrize("changes, error, match", [
    ({"steps": 0}, ValueError, r"steps must be an integer >= 1, got 0"),
    ({"steps": 2.5}, TypeError, r"steps must be an integer >= 1, got 2.5 \(float\)"),
    ({"batch_size": True}, TypeError, r"batch_size must be an integer"),
    ({"lr": 0.0}, ValueError, r"lr must be a finite number in \(0, inf\), got 0.0"),
    ({"lr": float("nan")}, ValueError, r"lr must be a finite number in \(0, inf\), got nan"),
    ({"lr": float("inf")}, ValueError, r"lr must be a finite number"),
    ({"lr": "0.1"}, TypeError, r"lr must be a finite number"),
    ({"min_lr_ratio": 1.5}, ValueError, r"min_lr_ratio must be a finite number in \[0, 1\], got 1.5"),
    ({"min_lr_ratio": -0.1}, ValueError, r"min_lr_ratio must be a finite number in \[0, 1\]"),
    ({"clip": 0}, ValueError, r"clip must be a finite number in \(0, inf\), got 0"),
    ({"clip": -1.0}, ValueError, r"clip must be a finite number in \(0, inf\)"),
    ({"warmup": -1}, ValueError, r"warmup must be an integer >= 0, got -1"),
    ({"warmup": 2.0}, TypeError, r"warmup must be an integer >= 0, got 2.0 \(float\)"),
    ({"schedule": "linear"}, ValueError, r"schedule must be one of \['constant', 'cosine'\], got 'linear'"),
    ({"target_accuracy": 0.0}, ValueError, r"target_accuracy must be a finite number in \(0, 1\]"),
    ({"target_accuracy": 1.01}, ValueError, r"target_accuracy must be a finite number in \(0, 1\]"),
    ({"weight_decay": -1e-4}, ValueError, r"weight_decay must be a finite number in \[0, inf\)"),
    ({"eval_every": 0}, ValueError, r"eval_every must be an integer >= 1"),
    ({"eval_batch": 0}, ValueError, r"eval_batch must be an integer >= 1"),
    ({"seq_len": 0}, ValueError, r"seq_len must be an integer >= 1"),
    ({"eval_seq_len": 0}, ValueError, r"eval_seq_len must be an integer >= 1"),
    ({"eval_chars": 1}, ValueError, r"eval_chars must be an integer >= 2, got 1"),
    ({"seed": -1}, ValueError, r"seed must be an integer >= 0, got -1"),
    ({"plateau": 0.0}, ValueError, r"plateau must be a finite number in \(0, 1\], got 0.0"),
    ({"plateau_window": 1.0}, ValueError, r"plateau_window must be a finite number in \(0, 1\), got 1.0"),
    ({"plateau_min_steps": -1}, ValueError, r"plateau_min_steps must be an integer >= 0, got -1"),
    ({"lr_drops": 1.5}, TypeError, r"lr_drops must be an integer >= 0, got 1.5"),
    ({"plateau_floor": math.nan}, ValueError, r"plateau_floor must be a finite number"),
    ({"plateau_floor_score": "recalled_bits_ce_bound"}, ValueError,
     r"plateau_floor_score='recalled_bits_ce_bound' needs a plateau_floor to judge \(got plateau_floor=None\)"),
    ({"plateau_floor": 0.1, "plateau_floor_score": 3}, TypeError, r"plateau_floor_score must be a score's name"),
])
def test_train_config_rejects_bad_values_naming_the_field(changes, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**changes)


def test_train_config_accepts_the_edges_and_is_frozen():
    cfg = TrainConfig(clip=None, target_accuracy=None, eval_chars=None, warmup=0, min_lr_ratio=0.0,
                      weight_decay=0.0)
    assert TrainConfig(min_lr_ratio=1.0, target_accuracy=1.0).min_lr_ratio == 1.0
    with pytest.raises(AttributeError):
        cfg.lr = 1.0
    with pytest.raises(ValueError, match="loop must be one of"):
        cfg.settings("sgd")


# ---------------------------------------------------------------------------- keys stay stable
DEMO_TRAIN = {"batch_size": 32, "clip": 1.0, "eval_batch": 256, "eval_every": 50, "lr": 0.02, "min_lr_ratio": 0.05,
              "schedule": "cosine", "steps": 800, "target_accuracy": 0.99, "warmup": 0}


def test_capacity_keys_of_stores_written_before_the_one_train_config_stay_the_same():
    """A model's key hashes the fit loop's settings only: the keys of the shipped demo results (written
    when TrainConfig had just these ten fields) are what the demo preset gives today, so stores resume."""
    spec = ModelSpec(cell="gru", hidden_size=2, alphabet=4, n_targets=1, n_interfering=4, interference="blank",
                     seed=0, n_test=1000, train=DEMO_TRAIN)
    assert spec.key == "c16b650f70278de2"
    demo = PRESETS["demo"]
    assert demo.train.settings("fit") == DEMO_TRAIN
    specs = sweep_specs(demo.cells, demo.hidden_sizes, demo.targeted_bits, demo.interfering, demo.seeds,
                        alphabet=demo.alphabet, train=demo.train, n_test=demo.n_test)
    shipped = pd.read_csv(Path(__file__).parents[1] / "data" / "capacity_demo.csv", usecols=["key", "config"])
    assert {s.key for s in specs} == set(shipped["key"])
    assert all(json.loads(c)["train"] == DEMO_TRAIN for c in shipped["config"])  # what the old code hashed
    # A fit setting added later is hashed only when set, so it makes new keys without changing old ones.
    decayed = TrainConfig(**DEMO_TRAIN, weight_decay=1e-4).settings("fit")
    assert decayed == {**DEMO_TRAIN, "weight_decay": 1e-4}
    assert TrainConfig(**decayed) == TrainConfig(**DEMO_TRAIN, weight_decay=1e-4)
    # Fields only the TBPTT loop reads change nothing here.
    assert TrainConfig(**DEMO_TRAIN, seq_len=7, eval_chars=None, seed=3).settings("fit") == DEMO_TRAIN
    assert set(LM_TRAIN.settings("tbptt")) == {
        "steps", "batch_size", "seq_len", "lr", "clip", "schedule", "warmup", "min_lr_ratio", "weight_decay",
        "eval_every", "eval_batch", "eval_chars", "eval_seq_len", "seed"}


def test_checkpoint_round_trip_and_resume(tmp_path):
    task = Memorization(2, 3)
    cfg = TrainConfig(
        steps=40, batch_size=8, eval_every=10, eval_batch=32, target_accuracy=None, schedule="constant"
    )
    straight = build(3)
    fit(straight, task, cfg, data_seed=5, progress=False)
    # stopped at step 20 (the checkpoint holds optimizer, generators, step), then resumed: same weights
    first = build(3)
    fit(
        first,
        task,
        cfg,
        data_seed=5,
        progress=False,
        checkpoint=tmp_path / "run",
        checkpoint_every=20,
        steps=20,
    )
    resumed = build(99)
    fit(resumed, task, cfg, data_seed=5, progress=False, checkpoint=tmp_path / "run", checkpoint_every=20)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    loaded, meta = load_checkpoint(tmp_path / "run")
    assert isinstance(loaded, SequenceModel) and loaded.readout_weight.dtype == torch.float64
    assert meta["step"] == 40 and meta["train"] == cfg.settings("fit") and meta["data_seed"] == [5]
    for a, b in zip(straight.parameters(), loaded.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    state = torch.load(tmp_path / "run.pt", weights_only=True)["training_state"]
    assert state["step"] == 40 and {"optimizer", "schedule", "generators", "active", "frozen"} <= set(state)


def test_fit_resumes_a_checkpoint_written_by_rnnviz_0_1(tmp_path):
    """0.1's fit kept its training state beside the weights and its run description at the JSON's top."""
    task = Memorization(2, 3)
    cfg = TrainConfig(steps=30, batch_size=8, eval_every=10, eval_batch=32, target_accuracy=None,
                      schedule="constant")
    straight = build(3)
    fit(straight, task, cfg, data_seed=5, progress=False)
    fit(build(3), task, cfg, data_seed=5, progress=False, checkpoint=tmp_path / "run", steps=10)
    payload = torch.load(tmp_path / "run.pt", weights_only=True)
    header = json.loads((tmp_path / "run.json").read_text())
    torch.save({"model": payload["model"], **payload["training_state"]}, tmp_path / "run.pt")
    (tmp_path / "run.json").write_text(json.dumps(header["metadata"]))  # it repeats model and dtype
    resumed = build(99)
    fit(resumed, task, cfg, data_seed=5, progress=False, checkpoint=tmp_path / "run")
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    assert json.loads((tmp_path / "run.json").read_text())["format"] == "rnnviz.checkpoint/1"  # rewritten


def test_a_0_1_checkpoint_named_with_a_dot_suffix_is_found():
    """0.1's fit wrote checkpoint="run.v1" as run.pt / run.json; today's rule writes run.v1.pt. A path
    whose pair exists only under the old rule resolves to it; otherwise the new rule holds."""
    import tempfile

    from rnnviz.train._checkpoint import checkpoint_paths

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        assert checkpoint_paths(folder / "run.v1") == (folder / "run.v1.pt", folder / "run.v1.json")
        (folder / "run.pt").write_bytes(b"x")
        (folder / "run.json").write_text("{}")
        assert checkpoint_paths(folder / "run.v1") == (folder / "run.pt", folder / "run.json")
        assert checkpoint_paths(folder / "run") == (folder / "run.pt", folder / "run.json")
        (folder / "run.v1.pt").write_bytes(b"x")  # a new-style file exists: it wins
        assert checkpoint_paths(folder / "run.v1")[0] == folder / "run.v1.pt"


def test_checkpoint_of_another_run_is_refused(tmp_path):
    """A checkpoint resumes only the run that wrote it; otherwise the error says what differs."""
    cfg = TrainConfig(steps=10, batch_size=8, eval_every=5, eval_batch=16, target_accuracy=None)
    ck = tmp_path / "run"
    fit(build(0), Memorization(2, 3), cfg, data_seed=1, progress=False, checkpoint=ck)
    with pytest.raises(ValueError, match=r"(?s)run\.pt.*tasks\[0\]\.n_targets: checkpoint 2, this run 1.*"
                       r"train\.lr: checkpoint 0\.01, this run 0\.03.*delete run\.pt and run\.json"):
        fit(build(0), Memorization(1, 3), cfg, data_seed=1, progress=False, checkpoint=ck, lr=0.03)
    with pytest.raises(ValueError, match=r"data_seed\[0\]: checkpoint 1, this run 2"):
        fit(build(0), Memorization(2, 3), cfg, data_seed=2, progress=False, checkpoint=ck)
    with pytest.raises(ValueError, match=r"model\.hidden_size: checkpoint 6, this run 7"):
        torch.manual_seed(0)
        fit(SequenceModel("gru", 5, 7, 3, dtype=torch.float64), Memorization(2, 3), cfg, data_seed=1,
            progress=False, checkpoint=ck)
    with pytest.raises(ValueError, match=r"train\.steps: checkpoint 10, this run 20"):  # cosine: steps matter
        fit(build(0), Memorization(2, 3), cfg, data_seed=1, progress=False, checkpoint=ck, steps=20)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    """A save interrupted while writing leaves the previous checkpoint whole and no temporary file."""
    model = build(0)
    save_checkpoint(model, tmp_path / "ck", metadata={"step": 1})
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"truncated")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with torch.no_grad():
        model.readout_weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, tmp_path / "ck", metadata={"step": 2})
    monkeypatch.undo()
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir()} == before
    loaded, meta = load_checkpoint(tmp_path / "ck")
    assert meta == {"step": 1}
    torch.testing.assert_close(loaded.readout_weight, model.readout_weight - 1.0)


@pytest.mark.parametrize("kind", ["SequenceModel", "CharLM"])
def test_checkpoint_round_trip_of_both_model_kinds(tmp_path, kind):
    """One format: the .pt loads with weights_only=True; the JSON names the format, the model class,
    its configuration and dtype; load_checkpoint rebuilds the same model, without touching torch's RNG."""
    torch.manual_seed(0)
    if kind == "CharLM":
        model = CharLM(LMConfig("lstm", 6, "abcdef\n", dropout=0.1), dtype=torch.float64)
        x = torch.randint(0, 7, (9, 2))
    else:
        model = SequenceModel("irc_gru", 5, 6, 3, n_models=2, dtype=torch.float64)
        x = torch.randn(4, 2, 5, dtype=torch.float64)
    meta = {"test_bpc": 2.5, "note": "ünïcode", "steps": [1, 2]}
    weights, sidecar = save_checkpoint(model, tmp_path / "ck" / "model.v1", meta)
    assert (weights.name, sidecar.name) == ("model.v1.pt", "model.v1.json")
    payload = torch.load(weights, weights_only=True)
    assert set(payload) == {"model"} and set(payload["model"]) == set(model.state_dict())
    header = json.loads(sidecar.read_text(encoding="utf-8"))
    assert header["format"] == "rnnviz.checkpoint/1" and header["model"] == kind
    assert header["dtype"] == "float64" and header["metadata"] == meta
    assert header["config"] == (model.config.to_dict() if kind == "CharLM" else model.config())
    assert checkpoint_metadata(sidecar) == meta
    rng = torch.get_rng_state()
    loaded, got = load_checkpoint(weights)
    assert torch.equal(torch.get_rng_state(), rng)
    assert type(loaded) is type(model) and got == meta and next(loaded.parameters()).dtype == torch.float64
    model.eval()
    out, ref = loaded.eval()(x), model(x)
    if kind == "CharLM":
        out, ref = out[0], ref[0]
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_checkpoint_format_errors_are_clear(tmp_path):
    model = build(0)
    with pytest.raises(TypeError, match="model must be a SequenceModel or a CharLM, got Linear"):
        save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x")
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_checkpoint(model, tmp_path / "bad", {"x": object()})
    assert not list(tmp_path.iterdir())  # the metadata is checked before anything is written
    save_checkpoint(model, tmp_path / "ck")
    (tmp_path / "ck.json").write_text(json.dumps({"format": "someone-else/3"}))
    with pytest.raises(ValueError, match=r"is not an rnnviz checkpoint \(expected format 'rnnviz.checkpoint/1', "
                       r"got 'someone-else/3'\)"):
        load_checkpoint(tmp_path / "ck")
    (tmp_path / "ck.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not an rnnviz checkpoint"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(FileNotFoundError, match=r"nothing\.pt' is missing"):
        load_checkpoint(tmp_path / "nothing")


def test_checkpoints_written_by_rnnviz_0_1_load(tmp_path):
    """0.1 wrote fit's checkpoints (config and dtype beside the metadata, the training state beside the
    weights) and the language model's (format rnnviz.lm/1, a bare state dict) differently: both still load."""
    seq = build(4)
    torch.save({"model": seq.state_dict(), "step": 3}, tmp_path / "fit.pt")
    (tmp_path / "fit.json").write_text(json.dumps({"model": seq.config(), "dtype": "float64", "step": 3}))
    loaded, meta = load_checkpoint(tmp_path / "fit")
    assert meta == {"model": seq.config(), "dtype": "float64", "step": 3}
    torch.testing.assert_close(loaded.readout_weight, seq.readout_weight, rtol=0, atol=0)
    lm = CharLM(LMConfig("gru", 4, "abc\n"))
    torch.save(lm.state_dict(), tmp_path / "lm.pt")
    (tmp_path / "lm.json").write_text(json.dumps({"format": "rnnviz.lm/1", "config": lm.config.to_dict(),
                                                  "metadata": {"settings": 1}}))
    loaded, meta = load_checkpoint(tmp_path / "lm.pt")
    assert isinstance(loaded, CharLM) and meta == {"settings": 1} and loaded.config == lm.config
    torch.testing.assert_close(loaded.readout.weight, lm.readout.weight, rtol=0, atol=0)


def test_regression_targets_are_not_cut_to_the_sequence_length():
    """Adding's targets are (B, 1): a batch larger than T must be scored whole."""
    torch.manual_seed(0)
    res = fit(SequenceModel("gru", 2, 4, 1), Adding(8), steps=3, eval_every=3, eval_batch=32, progress=False)
    assert set(res.metrics[0]) == {"loss", "accuracy"}


def test_model_bad_configurations():
    with pytest.raises(ValueError, match="cell must be one of .* got 'gruu'"):
        SequenceModel("gruu", 3, 4, 2)
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1, got 0"):
        SequenceModel("gru", 3, 0, 2)
    with pytest.raises(ValueError, match="x has 4 features on its last axis, expected input_size=5"):
        build(0)(torch.zeros(3, 2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="do not match the task"):
        fit(build(0), Memorization(2, 5), steps=1, progress=False)


def test_irc_cells_get_an_embedding_and_ensembles_round_trip():
    torch.manual_seed(0)
    model = SequenceModel("irc_gru", 5, 6, 3, n_models=2, n_layers=2)
    assert model.embedding and model.embedding_weight.shape == (2, 6, 5)
    x = torch.randn(4, 2, 5)
    y = model(x)
    assert y.shape == (2, 4, 2, 3)
    for i in range(2):
        torch.testing.assert_close(model.member(i)(x), y[i])
    assert model.cell_parameters < model.total_parameters
    # the capacity study's n_parameters: the 6 x 5 input map and both cells, not the readout (3 x 6 + 3)
    assert model.input_and_cell_parameters == model.cell_parameters + 6 * 5 == model.total_parameters - 21
    plain = SequenceModel("gru", 5, 6, 3, n_models=2)
    assert plain.input_and_cell_parameters == plain.cell_parameters


# ----------------------------------------------------------------------------------- the plateau rule
def test_window_improvement_known_answers():
    steps, bpc = [100, 200, 300, 400, 500], [3.0, 2.5, 2.2, 2.19, 2.185]
    # last fifth of 500 steps: after step 400; best before 2.19, best overall 2.185
    assert window_improvement(steps, bpc, window=0.2) == pytest.approx((2.19 - 2.185) / 2.19)
    # the last half: after step 250; best before 2.5
    assert window_improvement(steps, bpc, window=0.5) == pytest.approx((2.5 - 2.185) / 2.5)
    # a worse last score changes nothing: the best counts, not the last
    assert window_improvement(steps + [600], bpc + [2.3], window=0.1) == 0.0
    # higher is better (recalled bits), and the edge at zero
    assert window_improvement([1, 2], [4.0, 5.0], window=0.5, lower_is_better=False) == pytest.approx(0.25)
    assert window_improvement([1, 2], [0.0, 0.0], window=0.5, lower_is_better=False) == 0.0
    assert window_improvement([1, 2], [0.0, 1.0], window=0.5, lower_is_better=False) == math.inf
    assert window_improvement([100], [3.0], window=0.2) is None  # nothing before the window
    assert window_improvement([100, 200], [math.nan, 2.0], window=0.2) is None  # NaN skipped
    with pytest.raises(ValueError, match="steps and scores must have the same length"):
        window_improvement([1, 2], [1.0], window=0.2)


def test_plateau_rule_drops_the_learning_rate_then_stops():
    config = TrainConfig(plateau=0.01, plateau_window=0.2, plateau_min_steps=200, lr_drops=1)
    rule = PlateauRule(config)
    curve = [(100, 3.0), (200, 2.5), (300, 2.2), (400, 2.19),  # 0.45 % over the last fifth: a plateau
             (500, 2.1),                                        # the new phase, too short to judge
             (600, 2.05), (700, 2.049),                         # the drop's gain is in the window
             (800, 2.048)]                                      # 0.1 % since step 640: stop
    decisions = [rule.observe(step, bpc) for step, bpc in curve]
    assert decisions == ["continue"] * 3 + ["drop"] + ["continue"] * 3 + ["stop"]
    assert rule.last_improvement == pytest.approx((2.05 - 2.048) / 2.05)
    never = PlateauRule(TrainConfig())  # plateau None: the rule is off
    assert {never.observe(step, 1.0) for step in range(1, 50)} == {"continue"}


def test_plateau_min_gain_stops_a_power_law_that_the_relative_rule_never_stops():
    """An MSE falling as 1e-2·(t/100)^-1 improves by 20 % per fifth of the steps forever: the relative
    rule alone never declares a plateau; with an absolute resolution of 1e-3 the window's gain
    (best before the window − best in it) falls below it, and the rule drops, then stops."""
    curve = [(step, 1e-2 * (step / 100) ** -1.0) for step in range(100, 20_100, 100)]
    assert window_improvement([s for s, _ in curve], [v for _, v in curve], window=0.2,
                              relative=False) == pytest.approx(curve[159][1] - curve[-1][1])  # step 16,000 vs 20,000
    relative = PlateauRule(TrainConfig(plateau=0.01, plateau_min_steps=1000, lr_drops=1))
    assert {relative.observe(s, v) for s, v in curve} == {"continue"}
    config = TrainConfig(plateau=0.01, plateau_min_steps=1000, lr_drops=1, plateau_min_gain=1e-3)
    rule = PlateauRule(config)
    decisions = [rule.observe(s, v) for s, v in curve]
    first, stop = decisions.index("drop"), decisions.index("stop")
    # gain over the last fifth at step t: 1e-2·100·(1/(0.8t) − 1/t) = 0.25/t < 1e-3 from t > 250, but
    # the first phase needs 1,000 steps: the drop comes at step 1,000, the stop 1,000 steps later
    assert curve[first][0] == 1000 and curve[stop][0] == 2000
    # a gain at or above the resolution and above 1 % keeps training
    steep = PlateauRule(config)
    assert {steep.observe(s, 1.0 - s * 1e-4) for s in range(100, 5000, 100)} == {"continue"}
    with pytest.raises(ValueError, match="plateau_min_gain"):
        TrainConfig(plateau_min_gain=-1e-3, plateau=0.01)
    off = PlateauRule(TrainConfig(plateau_min_gain=1e-3))  # plateau None: the rule is off, the gain unread
    assert {off.observe(s, v) for s, v in curve} == {"continue"}


def test_plateau_floor_judges_a_model_only_once_it_has_left_chance():
    """Recalled bits at 0 for 1,500 steps, then learning: without a floor the flat zero reads as a
    plateau at step 1,000; with a floor of 0.1 bit the clock starts at the first score above it."""
    at_chance = [(step, 0.0) for step in range(100, 1600, 100)]
    learning = [(1600, 0.5), (1700, 1.5), (1800, 2.5), (1900, 3.0), (2000, 3.2)]
    flat = [(step, 3.2) for step in range(2100, 3100, 100)]
    curve = at_chance + learning + flat
    old = PlateauRule(TrainConfig(plateau=0.01, plateau_min_steps=1000), lower_is_better=False)
    assert [old.observe(s, b) for s, b in curve].index("stop") == 9  # step 1,000, at zero
    config = TrainConfig(plateau=0.01, plateau_min_steps=1000, plateau_floor=0.1)
    rule = PlateauRule(config, lower_is_better=False)
    decisions = [rule.observe(s, b) for s, b in curve]
    assert rule.started_at == 1600
    assert decisions.index("stop") == curve.index((2600, 3.2))  # 1,000 steps after it started, then flat
    never = PlateauRule(config, lower_is_better=False)  # never leaves chance: trains to its budget
    assert {never.observe(s, 0.0) for s in range(100, 20_000, 100)} == {"continue"}
    assert never.started_at is None
    resumed = PlateauRule(config, lower_is_better=False)
    resumed.load_state(rule.state())
    assert resumed.started_at == 1600
    legacy = {k: v for k, v in rule.state().items() if k != "started_at"}  # a checkpoint from before the floor
    resumed.load_state(legacy)
    assert resumed.started_at == 0
    loss = PlateauRule(TrainConfig(plateau=0.01, plateau_floor=2.0))  # lower is better: started below it
    loss.observe(100, 2.5)
    assert loss.started_at is None
    loss.observe(200, 1.9)
    assert loss.started_at == 200
    lm = PlateauRule(TrainConfig(plateau=0.01))  # no floor (the language model's bpc): judged from step 0
    assert lm.started_at == 0
    assert TrainConfig(plateau_floor=0.1).settings("fit")["plateau_floor"] == 0.1
    assert "plateau_floor" not in TrainConfig().settings("fit") and "plateau_floor" not in TrainConfig().settings("tbptt")


def test_plateau_floor_can_be_judged_on_another_score():
    """A biased estimate sits above the floor at chance (0.3 bit) while an unbiased one stays at 0:
    judged on the biased score the flat chance reads as a plateau; on the other, the model has not
    started until that one passes the floor."""
    config = TrainConfig(plateau=0.01, plateau_min_steps=500, plateau_floor=0.1)
    biased = PlateauRule(config, lower_is_better=False)
    assert [biased.observe(s, 0.3) for s in range(100, 1100, 100)][-1] == "stop"
    config = replace(config, plateau_floor_score="recalled_bits_ce_bound")
    judged = PlateauRule(config, lower_is_better=False)
    assert {judged.observe(s, 0.3, 0.0) for s in range(100, 5000, 100)} == {"continue"}
    assert judged.started_at is None
    assert judged.observe(5000, 2.0, 0.5) == "continue" and judged.started_at == 5000
    settings = config.settings("fit")
    assert settings["plateau_floor_score"] == "recalled_bits_ce_bound"
    assert "plateau_floor_score" not in replace(config, plateau_floor_score=None).settings("fit")


def _at_chance_fit(**changes):
    """A model that cannot learn in its steps (lr 1e-9): recalled bits 0 and accuracy about 1/4 at
    every evaluation."""
    torch.manual_seed(0)
    task = Memorization(8, 4, 4, protocol=2, n_random=0)
    model = SequenceModel("rnn", task.input_size, 4, task.output_size)
    config = TrainConfig(steps=60, batch_size=8, lr=1e-9, eval_every=10, eval_batch=64, target_accuracy=None,
                         plateau=0.01, plateau_min_steps=20, schedule="constant", **changes)
    return fit(model, task, config, progress=False)


def test_fit_judges_the_floor_on_the_named_score():
    on_bits = _at_chance_fit(plateau_floor=-0.5)  # recalled bits 0 pass it: the flat zero reads as a plateau
    assert on_bits.stop_reason == ["plateau"]
    on_accuracy = _at_chance_fit(plateau_floor=0.5, plateau_floor_score="accuracy")  # never passed
    assert (on_accuracy.to_frame()["accuracy"] < 0.5).all()
    assert on_accuracy.stop_reason == ["budget"]
    with pytest.raises(ValueError, match=r"plateau_floor_score='bits': the task's score\(\) reports no such score"):
        _at_chance_fit(plateau_floor=0.1, plateau_floor_score="bits")


def test_dropping_the_learning_rate_scales_the_rest_of_the_schedule():
    p = torch.nn.Parameter(torch.zeros(1))
    config = TrainConfig(lr=1e-2, warmup=4, schedule="cosine", steps=20)
    optimizer, schedule = adam([p], config)
    for _ in range(6):
        optimizer.step()
        schedule.step()
    drop_learning_rate(schedule)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(LR_DROP * learning_rate(6, config))
    optimizer.step()
    schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(LR_DROP * learning_rate(7, config))


def test_adam_is_fused_on_cpu_and_steps_as_torchs_default_adam_with_clipping_and_drops():
    """The training loops' Adam (fused on CPU) against torch's for-loop Adam, through per-member
    clipping, the schedule and a learning-rate drop: the same weights to float64 rounding."""
    torch.manual_seed(0)
    config = TrainConfig(lr=3e-2, warmup=3, schedule="cosine", steps=12, clip=0.5, weight_decay=1e-3)
    start = [torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(3, 7, dtype=torch.float64)]
    grads = [[torch.randn_like(w) for w in start] for _ in range(config.steps)]

    def train(make):
        params = [torch.nn.Parameter(w.clone()) for w in start]
        optimizer, schedule = make(params)
        for k, step_grads in enumerate(grads):
            for p, g in zip(params, step_grads, strict=True):
                p.grad = g.clone()
            clip_grad_norm_per_member(params, config.clip, 3)
            optimizer.step()
            schedule.step()
            if k == 5:
                drop_learning_rate(schedule)
        return optimizer, params

    def reference(params):
        optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, foreach=False)
        return optimizer, lr_scheduler(optimizer, config)

    def torch_fused(params):
        optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
        return optimizer, lr_scheduler(optimizer, config)

    fused, ours = train(lambda params: adam(params, config))
    assert isinstance(fused, FusedAdam) and fused.defaults["fused"] is True
    _, theirs = train(reference)
    torch_optimizer, torch_steps = train(torch_fused)
    for a, b, c in zip(ours, theirs, torch_steps, strict=True):
        assert not torch.equal(a, torch.zeros_like(a))
        torch.testing.assert_close(a, b, atol=1e-13, rtol=0)
        assert torch.equal(a, c)  # FusedAdam.step runs torch's fused kernel: the same bits
    # the same state: torch's fused Adam's state loads into FusedAdam and steps on identically
    params = [torch.nn.Parameter(p.detach().clone()) for p in torch_steps]
    ours_again = adam(params, config)[0]
    ours_again.load_state_dict(copy.deepcopy(torch_optimizer.state_dict()))  # loading shares the tensors
    for p, q in zip(params, torch_steps, strict=True):
        p.grad, q.grad = torch.ones_like(p), torch.ones_like(q)  # two tensors: the step may change them
    ours_again.step()
    torch_optimizer.step()
    for p, q in zip(params, torch_steps, strict=True):
        assert torch.equal(p, q)
    meta = [torch.nn.Parameter(torch.zeros(2, device="meta"))]  # no fused Adam there: torch's default
    assert not adam(meta, config)[0].defaults.get("fused")


def test_training_never_imports_torch_dynamo():
    """torch.optim's wrappers import torch._dynamo on their first call (~1.2 s in every fresh
    process: each study worker, a notebook's first fit); the training loop's Adam avoids them."""
    code = (
        "import sys, torch\n"
        "from rnnviz.tasks import Memorization\n"
        "from rnnviz.train import SequenceModel, TrainConfig, fit\n"
        "task = Memorization(n_targets=2, n_interfering=1, alphabet=4)\n"
        "model = SequenceModel('gru', task.input_size, 4, task.output_size, n_models=2)\n"
        "fit(model, task, TrainConfig(steps=3, eval_every=2, batch_size=4, eval_batch=8), data_seed=[0, 1],"
        " progress=False)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False", done.stdout + done.stderr


def test_plateau_settings_are_recorded_only_when_used():
    """Keys of capacity models and settings of LM runs made before the rule existed stay the same."""
    assert "plateau" not in TrainConfig().settings("fit") and "plateau" not in TrainConfig().settings("tbptt")
    used = TrainConfig(plateau=0.01, lr_drops=1).settings("tbptt")
    assert used["plateau"] == 0.01 and used["lr_drops"] == 1 and "plateau_window" not in used


# ----------------------------------------------------------------------------- fit to the plateau
class ScriptedRecall(Memorization):
    """A memorization task whose validation ``recalled_bits`` follow a script, one value per evaluation."""

    def __init__(self, script):
        super().__init__(1, 3)
        self.script = list(script)

    def score(self, outputs, targets, mask=None, correction="miller-madow"):
        scores = super().score(outputs, targets, mask, correction)
        scores["recalled_bits"] = torch.tensor(self.script.pop(0))
        return scores


def test_fit_stops_each_member_on_its_own_plateau_of_recalled_bits():
    """Scripted curves: a rise then a flat (drop at 60, stop at 80), a steady rise (budget) and a flat
    line (drop at 20, stop at 40), evaluated every 10 steps with a window of half a phase."""
    cfg = TrainConfig(steps=100, batch_size=4, lr=1e-2, eval_every=10, eval_batch=8, target_accuracy=None,
                      schedule="constant", plateau=0.01, plateau_window=0.5, plateau_min_steps=20, lr_drops=1)
    scripts = [[1.0, 2.0] + [3.0] * 8, [float(k) for k in range(1, 11)], [1.0] * 10]
    tasks = [ScriptedRecall(s) for s in scripts]
    result = fit(SequenceModel.stack([build(s) for s in (1, 2, 3)]), tasks, cfg,
                 data_seed=[1, 2, 3], progress=False)
    assert result.stop_reason == ["plateau", "budget", "plateau"] and result.stopped_at == [80, 100, 40]
    assert result.plateaued == [True, False, True] and result.reached == [False] * 3
    lrs = pd.DataFrame(result.history).pivot(index="step", columns="member", values="lr")
    assert list(lrs[0].dropna()) == pytest.approx([1e-2] * 5 + [1e-3] * 3)  # the next step's rate
    assert list(lrs[1]) == pytest.approx([1e-2] * 10)
    assert list(lrs[2].dropna()) == pytest.approx([1e-2] + [1e-3] * 3)
    assert [len(t.script) for t in tasks] == [2, 0, 6]  # stopped members are no longer scored


PLATEAU = TrainConfig(steps=200, batch_size=16, lr=3e-2, eval_every=5, eval_batch=64, target_accuracy=0.95,
                      schedule="constant", plateau=0.05, plateau_window=0.5, plateau_min_steps=20, lr_drops=1)


def test_members_that_plateau_end_where_they_would_alone():
    """A real run: one member reaches the target, two drop their learning rate at their own plateaus and
    then stop there; each member's weights, steps and reason equal those of the model trained alone."""
    tasks = [Memorization(k, 3) for k in (2, 5, 8)]
    seeds = [11, 12, 13]
    singles = [build(s) for s in seeds]
    ensemble = SequenceModel.stack(singles)
    res = fit(ensemble, tasks, PLATEAU, data_seed=seeds, progress=False)
    assert res.stop_reason == ["target", "plateau", "plateau"] and max(res.stopped_at) < PLATEAU.steps
    dropped = pd.DataFrame(res.history).groupby("member")["lr"].min()
    assert list(dropped) == pytest.approx([3e-2, 3e-3, 3e-3])
    for i, single in enumerate(singles):
        alone = fit(single, tasks[i], PLATEAU, data_seed=seeds[i], progress=False)
        assert alone.stop_reason == [res.stop_reason[i]] and alone.stopped_at == [res.stopped_at[i]]
        for a, b in zip(single.parameters(), ensemble.parameters(), strict=True):
            torch.testing.assert_close(a, b[i], atol=1e-12, rtol=0)


@pytest.mark.parametrize("shared_batch", [False, True])
def test_stopped_members_are_set_aside_without_changing_any_member(monkeypatch, shared_batch):
    """An ensemble trains on without its stopped members (a smaller ensemble, SequenceModel.select):
    each member's stop, reason, history (its own index and learning rate, drops included) and final
    weights agree in float64 with a run that keeps every member to the end; with per-member batches
    and with one batch shared by every member (one task, one data seed)."""
    tasks = Memorization(3, 3) if shared_batch else [Memorization(k, 3) for k in (2, 5, 8)]
    seeds = 11 if shared_batch else [11, 12, 13]
    runs = []
    for keep_every_member in (False, True):
        with monkeypatch.context() as m:
            if keep_every_member:
                m.setattr(_Working, "without_stopped", lambda self, model, tasks, config: self)
            model = SequenceModel.stack([build(s) for s in (11, 12, 13)])
            runs.append((model, fit(model, tasks, PLATEAU, data_seed=seeds, progress=False)))
    (aside, result), (whole, reference) = runs
    assert len(set(result.stopped_at)) > 1 and result.stopped_at == reference.stopped_at  # stops set aside
    assert result.stop_reason == reference.stop_reason
    assert [(h["step"], h["member"], h["lr"]) for h in result.history] == \
        [(h["step"], h["member"], h["lr"]) for h in reference.history]
    for a, b in zip(result.metrics, reference.metrics, strict=True):
        assert a == pytest.approx(b, abs=1e-10)
    for a, b in zip(aside.parameters(), whole.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_select_builds_an_ensemble_of_some_members_without_drawing_random_numbers():
    torch.manual_seed(0)
    model = SequenceModel("lstm", 5, 4, 3, n_models=4, cell_options={"forget_bias": 1.0})
    state = torch.random.get_rng_state()
    picked = model.select([3, 1])
    assert torch.equal(torch.random.get_rng_state(), state)
    assert picked.n_models == 2 and picked.config() == {**model.config(), "n_models": 2}
    for a, b in zip(picked.parameters(), model.parameters(), strict=True):
        assert torch.equal(a[0], b[3]) and torch.equal(a[1], b[1])
    x = torch.randn(4, 7, 2, 5)
    torch.testing.assert_close(picked(x[[3, 1]]), model(x)[[3, 1]])
    with pytest.raises(ValueError, match=r"indices in \[0, 4\), got \[4\]"):
        model.select([4])
    with pytest.raises(ValueError, match="needs an ensemble"):
        model.member(0).select([0])


def test_select_does_not_import_sympy():
    """select() runs once per set-aside in every study worker: building on the meta device (to_empty)
    imported sympy, about half a second per fresh process."""
    code = ("import sys\nfrom rnnviz.train import SequenceModel\n"
            "SequenceModel('gru', 6, 2, 4, n_models=4).select([0, 2])\n"
            "print('sympy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_adam_for_members_steps_the_kept_members_as_the_whole_optimizer_would():
    torch.manual_seed(0)
    config = TrainConfig(lr=3e-2, warmup=2, schedule="cosine", steps=10, weight_decay=1e-3)
    whole = [torch.nn.Parameter(torch.randn(4, 3, 2, dtype=torch.float64)),
             torch.nn.Parameter(torch.randn(4, 5, dtype=torch.float64))]
    optimizer, schedule = adam(whole, config)
    for _ in range(3):
        for p in whole:
            p.grad = torch.randn_like(p)
        optimizer.step()
        schedule.step()
    drop_learning_rate(schedule)
    keep = [2, 0]
    part = [torch.nn.Parameter(p.detach()[keep].clone()) for p in whole]
    part_optimizer, part_schedule = adam_for_members(optimizer, schedule, part, keep, config)
    assert part_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    for _ in range(3):
        grads = [torch.randn_like(p) for p in whole]
        for p, q, g in zip(whole, part, grads, strict=True):
            p.grad, q.grad = g.clone(), g[keep].clone()
        optimizer.step()
        schedule.step()
        part_optimizer.step()
        part_schedule.step()
        assert part_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    for p, q in zip(whole, part, strict=True):
        assert torch.equal(p.detach()[keep], q.detach())


def test_a_plateau_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """Interrupted twice, each time after a member was set aside (member 1 stops at step 60, member 2
    at 120, member 0 at 125): the checkpoint names the members still training, and the resumed run
    ends where the straight one does (stops, reasons, history, every member's weights, float64)."""
    tasks = [Memorization(k, 3) for k in (2, 5, 8)]
    seeds = [11, 12, 13]
    straight = SequenceModel.stack([build(s) for s in seeds])
    whole = fit(straight, tasks, PLATEAU, data_seed=seeds, progress=False)
    assert whole.stopped_at == [125, 60, 120]
    for stop, working in ((70, [0, 2]), (120, [0])):  # killed after this checkpoint; these still training
        def save_then_die(model, path, metadata, stop=stop, **kw):
            save_checkpoint(model, path, metadata, **kw)
            if metadata["step"] == stop:
                raise KeyboardInterrupt
        with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
            m.setattr(_fit, "save_checkpoint", save_then_die)
            fit(SequenceModel.stack([build(s) for s in seeds]), tasks, PLATEAU, data_seed=seeds, progress=False,
                checkpoint=tmp_path / "run", checkpoint_every=10)
        _, payload = read_checkpoint(tmp_path / "run")
        assert payload["training_state"]["working"].tolist() == working
    resumed = SequenceModel.stack([build(s) for s in seeds])
    again = fit(resumed, tasks, PLATEAU, data_seed=seeds, progress=False, checkpoint=tmp_path / "run")
    assert again.stop_reason == whole.stop_reason and again.stopped_at == whole.stopped_at
    assert [(h["step"], h["member"], h["lr"]) for h in again.history] == \
        [(h["step"], h["member"], h["lr"]) for h in whole.history]
    for a, b in zip(again.metrics, whole.metrics, strict=True):
        assert a == pytest.approx(b, abs=1e-10)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_a_run_paused_at_a_checkpoint_resumes_to_the_straight_run(tmp_path):
    """pause_when is asked after each checkpoint: the run stops there (TrainingPaused names the step,
    and survives pickling: a worker sends it) and the same call resumes it to the straight run's end."""
    tasks = [Memorization(k, 3) for k in (2, 5, 8)]
    seeds = [11, 12, 13]
    straight = SequenceModel.stack([build(s) for s in seeds])
    whole = fit(straight, tasks, PLATEAU, data_seed=seeds, progress=False)
    asked = []

    def pause_at_80():
        asked.append(True)
        return len(asked) == 4  # after the checkpoint of step 80

    options = dict(data_seed=seeds, progress=False, checkpoint=tmp_path / "run", checkpoint_every=20)
    with pytest.raises(TrainingPaused, match="paused at step 80") as paused:
        fit(SequenceModel.stack([build(s) for s in seeds]), tasks, PLATEAU, pause_when=pause_at_80, **options)
    again = pickle.loads(pickle.dumps(paused.value))
    assert (again.step, again.checkpoint) == (80, tmp_path / "run")
    resumed = SequenceModel.stack([build(s) for s in seeds])
    result = fit(resumed, tasks, PLATEAU, pause_when=lambda: False, **options)
    assert result.stop_reason == whole.stop_reason and result.stopped_at == whole.stopped_at
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="pause_when needs checkpoint and checkpoint_every"):
        fit(build(1), tasks[0], PLATEAU, pause_when=lambda: True, progress=False)


def test_fit_reports_its_progress_at_start_at_each_evaluation_and_at_the_end(tmp_path):
    """on_progress(step, steps): before training (the checkpoint's step when resumed), after every
    evaluation, and at the end with the last step trained (below the budget when every member
    stopped early)."""
    tasks = [Memorization(k, 3) for k in (2, 5, 8)]
    seeds = [11, 12, 13]
    seen = []
    result = fit(SequenceModel.stack([build(s) for s in seeds]), tasks, PLATEAU, data_seed=seeds, progress=False,
                 on_progress=lambda step, steps: seen.append((step, steps)))
    last = max(result.stopped_at)
    every, budget = PLATEAU.eval_every, PLATEAU.steps
    assert last < budget and seen == [(0, budget), *[(s, budget) for s in range(every, last + 1, every)], (last, budget)]
    options = dict(data_seed=seeds, progress=False, checkpoint=tmp_path / "run", checkpoint_every=20)
    with pytest.raises(TrainingPaused):
        fit(SequenceModel.stack([build(s) for s in seeds]), tasks, PLATEAU, pause_when=lambda: True, **options)
    resumed = []
    fit(SequenceModel.stack([build(s) for s in seeds]), tasks, PLATEAU, on_progress=lambda *a: resumed.append(a),
        **options)
    assert resumed[0] == (20, budget) and resumed[1:] == [p for p in seen[1:] if p[0] > 20]


def test_lstm_forget_bias_option_reaches_the_cell_and_keeps_the_other_weights():
    torch.manual_seed(0)
    plain = SequenceModel("lstm", 5, 4, 3, n_models=2)
    torch.manual_seed(0)
    biased = SequenceModel("lstm", 5, 4, 3, n_models=2, cell_options={"forget_bias": 1.0})
    cell = biased.cells[0]
    total = cell.bias_ih + cell.bias_hh  # (E, 4n), gates (i, f, g, o)
    assert torch.equal(total[:, 4:8], torch.ones(2, 4)) and torch.equal(cell.bias_hh[:, 4:8], torch.zeros(2, 4))
    for (name, a), b in zip(plain.named_parameters(), biased.parameters(), strict=True):
        keep = torch.ones_like(a, dtype=torch.bool)
        if name.endswith(("bias_ih", "bias_hh")):
            keep[:, 4:8] = False
        assert torch.equal(a[keep], b[keep]), name  # the same draws elsewhere
    member = biased.member(1)
    assert member.cells[0].forget_bias == 1.0 and torch.equal(member.cells[0].bias_ih, cell.bias_ih[1])
    assert "forget_bias=1.0" in repr(cell)
    with pytest.raises(TypeError, match="forget_bias must be a finite number"):
        SequenceModel("lstm", 5, 4, 3, cell_options={"forget_bias": "1"})
    with pytest.raises(ValueError, match=r"forget_bias must be a finite number in \[-100, 100\], got 1000.0"):
        SequenceModel("lstm", 5, 4, 3, cell_options={"forget_bias": 1000.0})
    with pytest.raises(ValueError, match="unknown option"):
        SequenceModel("gru", 5, 4, 3, cell_options={"forget_bias": 1.0})


# ----------------------------------------------------------------------------- the score a plateau reads
class ScriptedAdding(Adding):
    """An adding task whose validation MSE (``loss``) and accuracy follow scripts, one value per evaluation."""

    def __init__(self, mse, accuracy):
        super().__init__(4)
        self.mse, self.accuracy = list(mse), list(accuracy)

    def score(self, outputs, targets, mask=None):
        return {**super().score(outputs, targets, mask), "loss": torch.tensor(self.mse.pop(0)),
                "accuracy": torch.tensor(self.accuracy.pop(0))}


class ScriptedAddingReadByDefault(ScriptedAdding):
    plateau_score = None  # fit's default: the first of recalled bits, accuracy, loss that the task reports


# Per member, 10 evaluations (every 10 steps): the MSE falls to 0.01 and stays there while the accuracy
# keeps rising; the MSE stays at the baseline 1/6; the MSE halves at every evaluation down to 2e-4
# (1/2 over every window: still learning) while the accuracy saturates at 1 from step 20.
ADDING_SCRIPTS = [([0.16, 0.1] + [0.01] * 8, [0.1 * k for k in range(1, 11)]),
                  ([1 / 6] * 10, [0.08] * 10),
                  ([0.1 / 2**k for k in range(10)], [0.5] + [1.0] * 9)]
ADDING_PLATEAU = TrainConfig(steps=100, batch_size=4, lr=1e-2, eval_every=10, eval_batch=8, target_accuracy=None,
                             schedule="constant", plateau=0.01, plateau_window=0.5, plateau_min_steps=20,
                             plateau_floor=0.125)


def adding_ensemble():
    torch.manual_seed(0)
    return SequenceModel("gru", 2, 3, 1, n_models=3, dtype=torch.float64)


def test_the_plateau_rule_reads_the_adding_problems_mse():
    """Adding declares its plateau score (the MSE, lower is better): the first member stops on the flat
    MSE (its floor 0.125 passed at step 20, judged from step 40, the best MSE of steps 30-60 no better
    than that of step 30), though its accuracy still rises; the member at the baseline never passes the
    floor and trains to its budget; the member whose MSE halves at every evaluation is still improving at
    MSE 2e-4 (a relative gain), though its accuracy has been 1 since step 20."""
    assert Adding(8).plateau_score == PlateauScore("loss", lower_is_better=True)
    tasks = [ScriptedAdding(*s) for s in ADDING_SCRIPTS]
    result = fit(adding_ensemble(), tasks, ADDING_PLATEAU, data_seed=[1, 2, 3], progress=False)
    assert result.stop_reason == ["plateau", "budget", "budget"] and result.stopped_at == [60, 100, 100]
    assert [len(t.mse) for t in tasks] == [4, 0, 0]  # the stopped member is no longer scored
    # Read as fit reads a task that names no score (its accuracy): the reverse.
    default = [ScriptedAddingReadByDefault(*s) for s in ADDING_SCRIPTS]
    result = fit(adding_ensemble(), default, ADDING_PLATEAU, data_seed=[1, 2, 3], progress=False)
    assert result.stop_reason == ["budget", "budget", "plateau"] and result.stopped_at == [100, 100, 40]
    # Without a floor the member at the baseline is "plateaued" once the first phase has run.
    flat = [ScriptedAdding(*ADDING_SCRIPTS[1])]
    result = fit(adding_ensemble().member(0), flat[0], replace(ADDING_PLATEAU, plateau_floor=None), progress=False)
    assert result.stop_reason == ["plateau"] and result.stopped_at == [20]


def test_a_plateau_score_the_task_does_not_report_or_does_not_share_is_refused():
    class Misnamed(Adding):
        plateau_score = PlateauScore("mse", lower_is_better=True)

    config = replace(ADDING_PLATEAU, steps=10)
    with pytest.raises(ValueError, match=r"plateau_score names 'mse', but its score\(\) reports only \['accuracy', 'loss'\]"):
        fit(adding_ensemble().member(0), Misnamed(4), config, progress=False)
    with pytest.raises(ValueError, match="every member's task must have the same plateau_score"):
        fit(adding_ensemble(), [Adding(4), ScriptedAddingReadByDefault([], []), Adding(4)], config,
            data_seed=[1, 2, 3], progress=False)


def test_a_checkpoint_whose_plateau_rule_read_another_score_is_refused(tmp_path):
    """A run checkpointed while its plateau rule read the accuracy does not resume reading the MSE."""
    model = adding_ensemble().member(0)
    config = replace(ADDING_PLATEAU, steps=30)
    fit(model, ScriptedAddingReadByDefault([0.1] * 3, [0.5] * 3), config, checkpoint=tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="the checkpoint's plateau rule read the validation 'accuracy', this "
                                         "task's plateau_score is 'loss'"):
        fit(model, ScriptedAdding([0.1] * 3, [0.5] * 3), replace(config, steps=40), checkpoint=tmp_path / "run",
            progress=False)


def test_the_capacity_paper_keys_do_not_change():
    """The capacity paper sweep's keys (a task's plateau score is no TrainConfig field): pinned, and every
    model of its committed partial store (data/capacity_paper_run) is one of them, so the sweep resumes."""
    paper = PRESETS["paper"]
    specs = sweep_specs(paper.cells, paper.hidden_sizes, paper.targeted_bits, paper.interfering, paper.seeds,
                        alphabet=paper.alphabet, train=paper.train, n_test=paper.n_test, protocol=paper.protocol,
                        lr=paper.lr)
    keys = [s.key for s in specs]
    assert len(keys) == 1890 and keys[:2] == ["fdb5d30443f65b90", "2d88da2da3eb3911"] and keys[-1] == "a805f2d7565c782b"
    assert hashlib.sha256("".join(keys).encode()).hexdigest()[:16] == "820fbd3ead7938f7"
    store = Path(__file__).parents[1] / "data" / "capacity_paper_run" / "capacity.sqlite"
    with closing(sqlite3.connect(f"file:{store}?mode=ro&immutable=1", uri=True)) as db:
        stored = {key for (key,) in db.execute("SELECT key FROM models")}
    assert len(stored) >= 477 and stored <= set(keys)  # the store grows as the sweep resumes; every key is planned
