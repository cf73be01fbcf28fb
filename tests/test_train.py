"""Models and training: ensembles equal independent models, per-member clipping, schedule, checkpoints."""

import pytest
import torch

from rnnviz.tasks import Adding, FlipFlop, Memorization
from rnnviz.train import (
    SequenceModel,
    TrainConfig,
    clip_grad_norm_per_member,
    fit,
    load_checkpoint,
    save_checkpoint,
)


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


def test_learns_the_flipflop_and_schedule_is_cosine():
    torch.manual_seed(0)
    task = FlipFlop(bits=2, length=20, p_pulse=0.2)
    model = SequenceModel("gru", 2, 12, 2)
    res = fit(
        model, task, steps=200, batch_size=32, lr=2e-2, eval_every=50, target_accuracy=None, progress=False
    )
    assert res.metrics[0]["loss"] < 0.5 * task.baseline.loss
    cfg = TrainConfig(steps=100, warmup=10, min_lr_ratio=0.1)
    assert cfg.lr_factor(0) == pytest.approx(0.1) and cfg.lr_factor(10) == pytest.approx(1.0)
    assert cfg.lr_factor(100) == pytest.approx(0.1) and cfg.lr_factor(55) == pytest.approx(0.55)


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
    loaded = load_checkpoint(tmp_path / "run")
    assert isinstance(loaded, SequenceModel) and loaded.readout_weight.dtype == torch.float64
    for a, b in zip(straight.parameters(), loaded.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    path = save_checkpoint(tmp_path / "plain", straight, metadata={"note": "x"})
    assert path.suffix == ".pt" and (tmp_path / "plain.json").exists()


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
    save_checkpoint(tmp_path / "ck", model, metadata={"step": 1})
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"truncated")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with torch.no_grad():
        model.readout_weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "ck", model, metadata={"step": 1})
    monkeypatch.undo()
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir()} == before
    loaded = load_checkpoint(tmp_path / "ck")
    torch.testing.assert_close(loaded.readout_weight, model.readout_weight - 1.0)


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
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig(schedule="linear")


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
