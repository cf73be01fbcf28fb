"""Character-level language modelling: corpus, batching, bits per character, training, checkpoints, study."""

import json
import math
import re
import subprocess
import sys
import time as time_module
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from rnnviz import count_parameters
from rnnviz.cli import main as rnnviz_main
from rnnviz.cli._lm import plan_text as lm_plan_text
from rnnviz.plot import plot_bpc_comparison, plot_learning_curves
from rnnviz.study import LM_PRESETS, LMPreset, language_model, lm_preset, run_id, wall_time
from rnnviz.tasks import CharCorpus, CharVocab, character_class, contiguous_batches, remainder
from rnnviz.train import (
    LM_TRAIN,
    CharLM,
    LMConfig,
    TrainConfig,
    evaluate_bpc,
    hidden_size_for_budget,
    learning_rate,
    lm_parameter_count,
    load_checkpoint,
    sample,
    save_checkpoint,
    train_lm,
)

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 3


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small recurrent steps run fastest on one thread (and the suite runs two workers on two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def shakespeare():
    return CharCorpus(max_chars=40_000)


class FixedPredictor(torch.nn.Module):
    """A model with known predictions: log-probabilities ``table[x_t]`` for the character after x_t."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = torch.nn.Parameter(table.double(), requires_grad=False)  # (V, V)

    def forward(self, x, state=None):
        return self.table[x], state  # (T, B, V)


# ----------------------------------------------------------------------------------- corpus and batches
def test_splits_are_contiguous_disjoint_and_cover_the_text():
    corpus = CharCorpus(text=TEXT, split=(0.8, 0.1, 0.1))
    ids = corpus.vocab.encode(TEXT)
    (a0, a1), (b0, b1), (c0, c1) = corpus.bounds.values()
    assert (a0, a1 == b0, b1 == c0, c1) == (0, True, True, len(TEXT))
    assert torch.equal(torch.cat([corpus.train, corpus.valid, corpus.test]), ids)
    assert corpus.split_text("train") + corpus.split_text("valid") + corpus.split_text("test") == TEXT
    assert corpus.vocab.decode(corpus.valid) == corpus.split_text("valid")
    assert corpus.vocab.chars == "".join(sorted(set(TEXT)))


@pytest.mark.parametrize("batch_size,seq_len", [(1, 7), (3, 5), (4, 64), (7, 1), (10, 9)])
def test_batches_and_remainder_reconstruct_the_split_exactly(batch_size, seq_len):
    corpus = CharCorpus(text=TEXT, split=(0.8, 0.1, 0.1))
    for split in corpus.SPLITS:
        ids = corpus.ids(split)
        if len(ids) - 1 < batch_size:
            continue
        xs, ys = zip(*corpus.batches(split, batch_size, seq_len), strict=True)
        assert all(x.shape[0] <= seq_len and x.shape == y.shape for x, y in zip(xs, ys, strict=True))
        x_streams, y_streams = torch.cat(xs), torch.cat(ys)  # (L, B): column b is stream b
        x_rest, y_rest = remainder(ids, batch_size)
        inputs = torch.cat([x_streams.t().reshape(-1), x_rest])
        targets = torch.cat([y_streams.t().reshape(-1), y_rest])
        assert torch.equal(inputs, ids[:-1])  # every character but the last is read once, in order
        assert torch.equal(targets, ids[1:])  # every character but the first is predicted once
        assert corpus.vocab.decode(torch.cat([inputs, targets[-1:]])) == corpus.split_text(split)


def test_training_batches_never_leave_the_training_split(shakespeare):
    train_text = shakespeare.split_text("train")
    x, y = zip(*shakespeare.batches("train", 16, 50), strict=True)
    streams = torch.cat(y).t()  # (B, L)
    for b in (0, 15):
        piece = shakespeare.vocab.decode(streams[b])
        assert piece in train_text
    assert torch.cat(x).numel() <= len(shakespeare.train) - 1


def test_vocabulary_round_trip_and_character_classes():
    vocab = CharVocab.from_text(TEXT)
    assert vocab.decode(vocab.encode(TEXT)) == TEXT
    assert [character_class(c) for c in "aZ \n,7\t"] == [
        "lowercase", "uppercase", "space", "newline", "punctuation", "digit", "space"]


# ----------------------------------------------------------------------------------- bits per character
def test_uniform_predictor_scores_log2_of_the_vocabulary_size():
    corpus = CharCorpus(text=TEXT, split=(0.8, 0.1, 0.1))
    V = corpus.vocab_size
    model = FixedPredictor(torch.zeros(V, V))
    for b in (1, 3, 8):
        assert evaluate_bpc(model, corpus, "train", batch_size=b, seq_len=5) == pytest.approx(math.log2(V), abs=1e-12)


def test_unigram_predictor_scores_the_unigram_cross_entropy(shakespeare):
    p = shakespeare.unigram("train")
    model = FixedPredictor(p.log().expand(shakespeare.vocab_size, -1))
    # the closed form, counted independently from the text
    train_counts = Counter(shakespeare.split_text("train"))
    V = shakespeare.vocab_size
    n_train = sum(train_counts.values())
    test_text = shakespeare.split_text("test")
    expected = -sum(math.log2((train_counts[c] + 1) / (n_train + V)) for c in test_text[1:]) / (len(test_text) - 1)
    assert shakespeare.unigram_bpc("test") == pytest.approx(expected, abs=1e-12)
    for b in (1, 5, 32):
        got = evaluate_bpc(model, shakespeare, "test", batch_size=b, seq_len=100)
        assert got == pytest.approx(expected, abs=1e-10)


def test_bigram_predictor_scores_the_bigram_cross_entropy():
    """Predictions that depend on the current character check that targets are the *next* characters."""
    corpus = CharCorpus(text=TEXT, split=(0.8, 0.1, 0.1))
    ids = corpus.train
    V = corpus.vocab_size
    counts = torch.ones(V, V, dtype=torch.float64)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1, dtype=torch.float64), accumulate=True)
    log_p = (counts / counts.sum(1, keepdim=True)).log()
    model = FixedPredictor(log_p)
    text = corpus.split_text("train")
    index = corpus.vocab.chars.index
    expected = -sum(log_p[index(a), index(b)].item() for a, b in zip(text, text[1:], strict=False)) / (len(text) - 1)
    assert evaluate_bpc(model, corpus, "train", batch_size=4, seq_len=9) == pytest.approx(expected / math.log(2), abs=1e-10)


def test_evaluation_carries_the_state_across_chunks_and_into_the_remainder():
    """Chunked evaluation with B streams equals reading each stream whole, the last one with the remainder."""
    corpus = CharCorpus(text=TEXT, split=(0.8, 0.1, 0.1))
    model = CharLM(LMConfig("lstm", 5, corpus.vocab.chars)).double()
    ids, B = corpus.train, 3
    L = (len(ids) - 1) // B
    assert (len(ids) - 1) % B, "the text must leave a remainder for this test"
    nats = 0.0
    for b in range(B):
        end = (b + 1) * L if b < B - 1 else len(ids) - 1  # the last stream runs on into the remainder
        logits, _ = model(ids[b * L: end].view(-1, 1))  # (L_b, 1, V)
        nats += torch.nn.functional.cross_entropy(logits[:, 0], ids[b * L + 1: end + 1], reduction="sum").item()
    expected = nats / (len(ids) - 1) / math.log(2)
    assert evaluate_bpc(model, corpus, "train", batch_size=B, seq_len=7) == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------------- model and training
def test_parameter_count_and_budget_solver():
    V = 65
    model = CharLM(LMConfig("gru", 24, "".join(chr(40 + i) for i in range(V))))
    assert lm_parameter_count("gru", 24, V) == count_parameters(model) == V * 24 + 3 * (24 * 48 + 48) + 24 * V + V
    for cell in ("pru", "lstm", "irc_gru"):
        budget = 30_000
        n = hidden_size_for_budget(cell, budget, V)
        gap = abs(lm_parameter_count(cell, n, V) - budget)
        assert gap <= abs(lm_parameter_count(cell, n - 1, V) - budget)
        assert gap <= abs(lm_parameter_count(cell, n + 1, V) - budget)


def test_irc_cells_need_embedding_equal_to_hidden_size():
    vocab = "abc"
    logits, s = CharLM(LMConfig("irc_gru", 8, vocab))(torch.zeros(5, 2, dtype=torch.long))
    assert logits.shape == (5, 2, 3) and s.shape == (2, 8)
    with pytest.raises(ValueError, match="input_size == hidden_size"):
        CharLM(LMConfig("irc_gru", 8, vocab, embedding_size=4))


def test_smoke_training_beats_the_unigram_baseline(shakespeare):
    torch.manual_seed(0)
    model = CharLM(LMConfig("gru", 48, shakespeare.vocab.chars))
    cfg = replace(LM_TRAIN, steps=80, batch_size=16, seq_len=32, lr=1e-2, warmup=5, eval_every=40,
                  eval_chars=2_000, eval_batch=16)
    curve = train_lm(model, shakespeare, cfg, progress=False)
    assert list(curve["step"]) == [40, 80]
    assert list(curve["lr"]) == [learning_rate(39, cfg), learning_rate(79, cfg)]  # the shared schedule
    unigram = shakespeare.unigram_bpc("test")
    test_bpc = evaluate_bpc(model, shakespeare, "test", batch_size=16)
    assert test_bpc < unigram - 0.5, (test_bpc, unigram)
    assert curve["valid_bpc"].iloc[-1] < curve["valid_bpc"].iloc[0]


def test_training_stops_on_a_plateau_and_keeps_the_best_weights(shakespeare, monkeypatch):
    """The valid bpc is scripted: the rule must stop where the plateau says, and the model must hold
    the weights it had at the best evaluation, not at the last one."""
    import rnnviz.train._tbptt as tbptt

    scripted = iter([3.0, 2.6, 2.4, 2.5, 2.45, 2.44, 2.43, 2.42, 2.41, 2.4])
    snapshots = {}
    model = CharLM(LMConfig("gru", 16, shakespeare.vocab.chars))

    def fake_bpc(m, corpus, split, **kw):
        value = next(scripted)
        snapshots[value] = m.readout.weight.detach().clone()
        return value

    monkeypatch.setattr(tbptt, "evaluate_bpc", fake_bpc)
    cfg = replace(LM_TRAIN, steps=1000, batch_size=8, seq_len=16, eval_every=10, warmup=0, schedule="constant",
                  plateau=0.01, plateau_window=0.5, plateau_min_steps=40)
    curve = train_lm(model, shakespeare, cfg, progress=False)
    # step 50: the best of steps <= 25 is 2.6, the best since is 2.4: 7.7 %; step 60: 2.4 vs 2.4: stop
    assert list(curve["step"]) == [10, 20, 30, 40, 50, 60]
    assert curve.attrs["stop_reason"] == "plateau"
    assert curve.attrs["best_step"] == 30 and curve.attrs["best_valid_bpc"] == 2.4
    assert torch.equal(model.readout.weight, snapshots[2.4])
    assert curve.attrs["last_fifth_gain"] == 0.0  # steps after 48: best 2.44 vs 2.4 before


def test_training_to_the_budget_reports_the_last_fifth_gain(shakespeare):
    torch.manual_seed(0)
    model = CharLM(LMConfig("gru", 16, shakespeare.vocab.chars))
    cfg = replace(LM_TRAIN, steps=50, batch_size=8, seq_len=16, eval_every=10, eval_chars=2_000, eval_batch=8)
    curve = train_lm(model, shakespeare, cfg, progress=False, keep_best=False)
    assert curve.attrs["stop_reason"] == "budget"
    valid = curve["valid_bpc"].tolist()
    assert curve.attrs["best_valid_bpc"] == min(valid)
    before = min(valid[:4])  # steps 10..40 lie at or before 0.8 * 50
    assert curve.attrs["last_fifth_gain"] == pytest.approx((before - min(valid)) / before)


def test_a_paused_run_resumes_to_the_straight_run(tmp_path):
    """train_lm with a checkpoint every 10 steps, paused twice (after steps 20 and 40) and resumed each
    time into a fresh model built from another seed: the same curve, stop and best step, and the same
    weights as a run never interrupted, with dropout (the random generator), the plateau rule's drop
    (after step 30) and stop (60), the carried state and a new pass over the training split (42
    batches each) in between."""
    from rnnviz.train import CheckpointMismatch, TrainingPaused

    corpus = CharCorpus(max_chars=6_000)
    config = LMConfig("gru", 24, corpus.vocab.chars, dropout=0.2)
    cfg = replace(LM_TRAIN, steps=120, batch_size=8, seq_len=16, lr=1e-2, warmup=5, eval_every=10, schedule="constant",
                  eval_chars=1_000, eval_batch=8, plateau=0.15, plateau_window=0.5, plateau_min_steps=30, lr_drops=1)

    def model(seed):
        torch.manual_seed(seed)
        return CharLM(config)

    straight = model(0)
    expected = train_lm(straight, corpus, cfg, progress=False)
    assert expected["lr"].tolist()[2:4] == [1e-2, 1e-3] and expected.attrs["stop_reason"] == "plateau"
    assert expected["step"].iloc[-1] == 60 > len(corpus.ids("train")) // (8 * 16)  # past one pass
    path = tmp_path / "run"
    answers = iter([False, True, False, True])  # asked after steps 10, 20, 30, 40, ...
    pauses, curve = [], None
    for seed in (0, 5, 6):
        try:
            resumed = model(seed)
            curve = train_lm(resumed, corpus, cfg, progress=False, checkpoint=path, checkpoint_every=10,
                             pause_when=lambda: next(answers, False))
        except TrainingPaused as paused:
            pauses.append(paused.step)
    assert pauses == [20, 40]
    pd.testing.assert_frame_equal(curve[["step", "lr", "train_bpc", "valid_bpc"]],
                                  expected[["step", "lr", "train_bpc", "valid_bpc"]])
    assert {k: curve.attrs[k] for k in ("stop_reason", "best_step", "best_valid_bpc")} == \
        {k: expected.attrs[k] for k in ("stop_reason", "best_step", "best_valid_bpc")}
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(CheckpointMismatch, match=r"train\.lr: checkpoint 0\.01, this run 0\.02"):
        train_lm(model(0), corpus, replace(cfg, lr=2e-2), progress=False, checkpoint=path, checkpoint_every=10)


def test_checkpointing_options_are_checked(tmp_path, shakespeare):
    corpus = CharCorpus(text=TEXT, split=(0.8, 0.1, 0.1))
    cfg = replace(LM_TRAIN, steps=5, batch_size=2, seq_len=8, eval_every=5, eval_chars=100)
    lm = CharLM(LMConfig("gru", 8, corpus.vocab.chars))
    with pytest.raises(ValueError, match="pause_when needs checkpoint and checkpoint_every"):
        train_lm(lm, corpus, cfg, progress=False, pause_when=lambda: True)
    with pytest.raises(ValueError, match="checkpoint_every must be an integer >= 1, got 0"):
        train_lm(lm, corpus, cfg, progress=False, checkpoint=tmp_path / "c", checkpoint_every=0)
    table = torch.full((corpus.vocab_size, corpus.vocab_size), -math.log(corpus.vocab_size))
    with pytest.raises(TypeError, match="checkpoint needs a CharLM"):
        train_lm(FixedPredictor(table), corpus, cfg, progress=False, checkpoint=tmp_path / "c", checkpoint_every=2)


# ----------------------------------------------------------------------------------- checkpoints and sampling
def test_checkpoint_round_trip(tmp_path):
    model = CharLM(LMConfig("lstm", 6, "abcdef\n", dropout=0.1))
    meta = {"test_bpc": 2.5, "note": "ünïcode"}
    weights, meta_path = save_checkpoint(model, tmp_path / "ck" / "lstm", meta)
    assert weights.name == "lstm.pt" and meta_path.name == "lstm.json"
    assert set(torch.load(weights, weights_only=True)["model"]) == set(model.state_dict())
    loaded, got_meta = load_checkpoint(tmp_path / "ck" / "lstm.pt")
    assert got_meta == meta and loaded.config == model.config and loaded.vocab == model.vocab
    ids = torch.randint(0, 7, (9, 2))
    model.eval()
    torch.testing.assert_close(loaded.eval()(ids)[0], model(ids)[0], rtol=0, atol=0)


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = CharLM(LMConfig("gru", 4, "abc\n"))
    weights, meta_path = save_checkpoint(model, tmp_path / "gru", {"step": 1})
    before = weights.read_bytes(), meta_path.read_bytes()

    def killed(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, tmp_path / "gru", {"step": 2})
    monkeypatch.undo()
    assert (weights.read_bytes(), meta_path.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gru.json", "gru.pt"]
    assert load_checkpoint(tmp_path / "gru")[1] == {"step": 1}  # the previous checkpoint, whole


def test_loading_something_else_fails_clearly(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "other"}))
    (tmp_path / "x.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="not an rnnviz checkpoint"):
        load_checkpoint(tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_checkpoint(tmp_path / "nothing")


def test_sampling_is_seeded_and_greedy_at_zero_temperature():
    torch.manual_seed(1)
    model = CharLM(LMConfig("pru", 8, "abc \n"))
    a = sample(model, 30, prime="ab", seed=3)
    assert a == sample(model, 30, prime="ab", seed=3) and a.startswith("ab") and len(a) == 32
    greedy = sample(model, 5, prime="a", temperature=0)
    # greedy decoding by hand
    text, ids = "a", torch.tensor([[0]])
    logits, s = model(ids)
    for _ in range(5):
        nxt = int(logits[-1, 0].argmax())
        text += "abc \n"[nxt]
        logits, s = model(torch.tensor([[nxt]]), s)
    assert greedy == text


# ----------------------------------------------------------------------------------- the study
def test_language_model_study_resumes_and_guards_its_results(tmp_path, shakespeare, monkeypatch):
    cfg = replace(LM_TRAIN, steps=4, batch_size=8, seq_len=16, eval_every=2, eval_chars=500, eval_batch=8,
                  eval_seq_len=64)
    corpus = CharCorpus(max_chars=6_000)
    rows = language_model(["pru", "irc_gru"], parameter_budget=3_000, out=tmp_path, corpus=corpus, train=cfg,
                          device="cpu", progress=False)
    assert list(rows["cell"]) == ["pru", "irc_gru"] and set(rows["comparison"]) == {"parameters"}
    for r in rows.itertuples():
        assert r.hidden_size == hidden_size_for_budget(r.cell, 3_000, corpus.vocab_size)
        assert r.n_parameters == lm_parameter_count(r.cell, r.hidden_size, corpus.vocab_size)
        assert (tmp_path / f"{r.checkpoint}.pt").is_file()
    saved = pd.read_csv(tmp_path / "lm.csv")
    assert list(saved["run_id"]) == [run_id("pru", rows["hidden_size"][0]), run_id("irc_gru", rows["hidden_size"][1])]
    assert set(pd.read_csv(tmp_path / "lm_curves.csv")["step"]) == {2, 4}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("rnnviz.study._lm.train_lm", no_training)
    again = language_model(["pru", "irc_gru"], parameter_budget=3_000, out=tmp_path, corpus=corpus, train=cfg,
                           device="cpu", progress=False)
    assert list(again["test_bpc"]) == pytest.approx(list(rows["test_bpc"]))
    # the same models asked for by another comparison are the same runs: reused, each with its own row
    n_pru = int(rows["hidden_size"][0])
    shared = language_model(["pru"], hidden_size=n_pru, out=tmp_path, corpus=corpus, train=cfg, device="cpu",
                            progress=False)
    assert shared["run_id"][0] == rows["run_id"][0] and shared["test_bpc"][0] == rows["test_bpc"][0]
    saved = pd.read_csv(tmp_path / "lm.csv")
    assert sorted(saved["comparison"]) == ["hidden_size", "parameters", "parameters"]
    with pytest.raises(ValueError, match="other settings"):
        language_model(["pru"], parameter_budget=3_000, out=tmp_path, corpus=corpus,
                       train=TrainConfig(steps=5, batch_size=8, seq_len=16), device="cpu", progress=False)
    # A run finished by rnnviz 0.1 (its own checkpoint format and name "<cell>-p<budget>"; warmup_steps,
    # eval_batch_size and no schedule in its settings) is reused, not trained again.
    base = tmp_path / "checkpoints" / rows["run_id"][0]
    legacy = tmp_path / "checkpoints" / "pru-p3000"
    header = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
    old_train = {{"warmup": "warmup_steps", "eval_batch": "eval_batch_size"}.get(k, k): v
                 for k, v in header["metadata"]["settings"]["train"].items() if k != "schedule"}
    header["metadata"]["settings"]["train"] = old_train
    del header["metadata"]["result"]  # 0.1 kept the row in lm.csv only
    legacy.with_suffix(".json").write_text(json.dumps({"format": "rnnviz.lm/1", "config": header["config"],
                                                       "metadata": header["metadata"]}), encoding="utf-8")
    torch.save(torch.load(base.with_suffix(".pt"), weights_only=True)["model"], legacy.with_suffix(".pt"))
    for path in base.parent.glob(base.name + ".*"):
        path.unlink()
    table = pd.read_csv(tmp_path / "lm.csv")
    table.loc[table["run_id"] == rows["run_id"][0], "run_id"] = "pru-p3000"
    table.to_csv(tmp_path / "lm.csv", index=False)
    old = language_model(["pru"], parameter_budget=3_000, out=tmp_path, corpus=corpus, train=cfg, device="cpu",
                         progress=False)
    assert old["run_id"].iloc[0] == "pru-p3000"
    assert old["test_bpc"].iloc[0] == pytest.approx(rows["test_bpc"].iloc[0])
    with pytest.raises(ValueError, match="other settings"):  # a constant schedule is not what 0.1 ran
        language_model(["pru"], parameter_budget=3_000, out=tmp_path, corpus=corpus, device="cpu", progress=False,
                       train=replace(cfg, schedule="constant"))


def test_a_diverged_run_stops_and_reports_no_score(tmp_path, monkeypatch):
    """A model whose loss turns NaN stops at that step; the study records it as diverged, with NaN
    scores instead of a bits-per-character figure of a broken model."""
    cfg = replace(LM_TRAIN, steps=6, batch_size=8, seq_len=16, eval_every=2, eval_chars=500, eval_batch=8,
                  eval_seq_len=64)
    corpus = CharCorpus(text=TEXT * 20)
    model = CharLM(LMConfig("gru", 8, corpus.vocab.chars))
    fine = train_lm(model, corpus, cfg, progress=False)
    assert fine.attrs["stop_reason"] == "budget" and list(fine["step"]) == [2, 4, 6]
    with torch.no_grad():
        model.readout.bias[0] = float("nan")
    broken = train_lm(model, corpus, cfg, progress=False)
    assert broken.attrs["stop_reason"] == "diverged" and list(broken["step"]) == [1]
    assert math.isnan(broken["valid_bpc"].iloc[0])

    real_train_lm = train_lm

    def diverging(model, *args, **kwargs):
        with torch.no_grad():
            model.readout.bias[0] = float("nan")
        return real_train_lm(model, *args, **kwargs)

    monkeypatch.setattr("rnnviz.study._lm.train_lm", diverging)
    rows = language_model(["gru"], hidden_size=8, out=tmp_path, corpus=corpus, train=cfg, device="cpu",
                          progress=False)
    row = rows.iloc[0]
    assert row["stop_reason"] == "diverged" and row["steps"] == 1
    assert math.isnan(row["test_bpc"]) and math.isnan(row["valid_bpc"])


def test_presets_of_both_studies_have_one_shape():
    import rnnviz.study

    chosen = lm_preset("smoke", cells=["gru"])
    assert isinstance(chosen, LMPreset) and chosen.cells == ("gru",) and chosen.n_models == 2
    # lstm at n = 32 is also the lstm closest to 12,000 parameters: one model serves both comparisons
    assert LM_PRESETS["smoke"].n_models == 5 and lm_preset("smoke") == LM_PRESETS["smoke"]
    plan = LM_PRESETS["smoke"].plan()
    assert len(plan) == 6 and list(plan[plan["cell"] == "lstm"]["run_id"]) == ["lstm-n32", "lstm-n32"]
    assert rnnviz.study.capacity_preset("smoke") == rnnviz.study.PRESETS["smoke"]
    assert rnnviz.study.capacity_preset("smoke", seeds=(0, 1)).n_models == 8
    for study_preset in (lm_preset, rnnviz.study.capacity_preset):
        with pytest.raises(ValueError, match=r"preset must be one of \['smoke', 'demo', 'paper'(, 'alphabet', 'paper-mixed', 'paper-combined', 'paper-cosine')?(, 'gpu')?\], got 'huge'"):
            study_preset("huge")
    with pytest.raises(ValueError, match="cells must be names"):
        lm_preset("smoke", cells=("grux",))
    with pytest.warns(DeprecationWarning, match=r"capacity_preset\(name\)\.run"):
        with pytest.raises(ValueError, match="preset must be one of"):
            rnnviz.study.run_preset("huge", "unused")


def test_plots_draw_the_study(tmp_path):
    results = pd.DataFrame({"cell": ["pru", "gru", "pru"], "comparison": ["hidden_size", "hidden_size", "parameters"],
                            "hidden_size": [8, 8, 11], "n_parameters": [900, 1000, 1000],
                            "test_bpc": [3.0, 2.9, 2.95], "unigram_bpc": [4.7] * 3})
    drawn = plot_bpc_comparison(results)
    assert set(drawn["bars"]) == {"hidden_size", "parameters"}
    assert len(drawn["bars"]["hidden_size"]) == 2 and len(drawn["bars"]["parameters"]) == 1
    assert drawn["baseline"].get_ydata()[0] == pytest.approx(4.7)
    assert len(drawn.ax.patches) == 3
    curves = pd.DataFrame({"run_id": ["a", "a", "b"], "cell": ["pru", "pru", "gru"],
                           "comparison": ["hidden_size"] * 3, "step": [1, 2, 1], "valid_bpc": [4.0, 3.5, 3.9]})
    lines = plot_learning_curves(curves)["lines"]
    assert set(lines) == {"a", "b"} and list(lines["a"].get_ydata()) == [4.0, 3.5]
    with pytest.raises(ValueError, match="missing the column"):
        plot_bpc_comparison(results.drop(columns="test_bpc"))
    plt.close("all")


def main(argv):
    return rnnviz_main(["lm", *argv])


def test_command_line_smoke_preset(tmp_path, capsys):
    assert main(["--preset", "smoke", "--out", str(tmp_path), "--cells", "gru", "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "lm.csv")
    assert list(table["run_id"]) == ["gru-n32", "gru-n36"]
    assert list(table["comparison"]) == ["hidden_size", "parameters"]
    summary = pd.read_csv(tmp_path / "lm_summary.csv")
    assert list(summary["test_bpc"]) == pytest.approx(list(table["test_bpc"]))  # one seed: the mean is the value
    assert (table["test_bpc"] < table["unigram_bpc"]).all()
    assert {"cell", "hidden_size", "n_parameters", "test_bpc", "train_seconds", "device"} <= set(table.columns)
    versions = json.loads(table["versions"].iloc[0])  # the same provenance as the capacity rows
    assert versions["torch"] == torch.__version__ and versions["cuda"] == torch.version.cuda
    assert (tmp_path / "figures" / "lm_bpc.pdf").is_file() and (tmp_path / "figures" / "lm_curves.png").is_file()
    assert "=== gru-n32" in (tmp_path / "samples.txt").read_text(encoding="utf-8")
    assert "unigram baseline" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["capacity", "lm"])
def test_both_commands_have_the_same_device_and_threads_options(command, tmp_path, capsys):
    from rnnviz.cli import build_parser

    args = build_parser().parse_args([command, "--out", str(tmp_path)])
    assert (args.device, args.threads) == ("auto", 1)
    for bad in ("0", "-2"):
        assert rnnviz_main([command, "--out", str(tmp_path), "--threads", bad]) == 2
        assert capsys.readouterr().err == f"rnnviz {command}: --threads must be an integer >= 1, got {bad}\n"
    assert not any(tmp_path.iterdir())  # refused before anything ran


def test_command_line_time_limit_stops_then_resumes(tmp_path, capsys, monkeypatch):
    import rnnviz.study._lm as study

    clock = iter(range(0, 10_000, 100))  # the study's clock: each reading is 100 s after the last
    monkeypatch.setattr(study, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))
    args = ["--preset", "smoke", "--out", str(tmp_path), "--cells", "gru", "pru", "--quiet"]
    assert main([*args, "--time-limit", "2.5"]) == 3  # deadline 150 s: the run checked at 100 s starts
    assert "3 of 4 models still to train" in capsys.readouterr().out
    assert list(pd.read_csv(tmp_path / "lm.csv")["run_id"]) == ["gru-n32"]
    monkeypatch.undo()
    assert main(args) == 0
    assert sorted(pd.read_csv(tmp_path / "lm.csv")["run_id"]) == ["gru-n32", "gru-n36", "pru-n32", "pru-n38"]
    assert main([*args, "--time-limit", "-1"]) == 2
    assert "--time-limit must be a positive" in capsys.readouterr().err
    # One JSON line per invocation (the stopped one too), so the cost of a resumed study adds up.
    log = [json.loads(line) for line in (tmp_path / "lm_runs.jsonl").read_text().splitlines()]
    assert [r["exit_status"] for r in log] == [3, 0]
    assert [(r["models_trained"], r["models_finished"], r["models_planned"]) for r in log] == [(1, 1, 4), (3, 4, 4)]
    assert all(r["device"] == "auto" and r["device_name"] and r["start"] <= r["end"] for r in log)
    assert log[1]["versions"]["torch"] == torch.__version__
    assert wall_time(tmp_path, "lm") == pytest.approx(sum(r["wall_seconds"] for r in log))
    assert wall_time(tmp_path, "lm") > 0


# ----------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("make, match", [
    (lambda: CharCorpus(text=TEXT, split=(0.5, 0.5)), "three positive fractions"),
    (lambda: CharCorpus(text=TEXT, split=(0.9, 0.2, -0.1)), "three positive fractions"),
    (lambda: CharCorpus(text=TEXT, max_chars=0), "max_chars must be an integer >= 1"),
    (lambda: CharCorpus(text="abc"), "too short"),
    (lambda: CharCorpus("/no/such/file.txt"), "is not a file"),
    (lambda: CharCorpus(text=TEXT).ids("dev"), "split must be one of"),
    (lambda: CharCorpus(text=TEXT, vocab="abc"), "outside the vocabulary"),
    (lambda: CharVocab("aab"), "distinct"),
    (lambda: list(contiguous_batches(torch.arange(5), 0, 3)), "batch_size must be an integer >= 1"),
    (lambda: list(contiguous_batches(torch.arange(3), 4, 3)), "too short"),
    (lambda: LMConfig("gruu", 8, "ab"), "cell must be one of"),
    (lambda: LMConfig("gru", 0, "ab"), "hidden_size must be an integer >= 1"),
    (lambda: LMConfig("gru", 8, "ab", dropout=1.5), "dropout must be in"),
    (lambda: TrainConfig(steps=0), "steps must be an integer >= 1"),
    (lambda: TrainConfig(lr=-1), r"lr must be a finite number in \(0, inf\)"),
    (lambda: hidden_size_for_budget("gru", 0, 65), "parameter_budget must be an integer >= 1"),
    (lambda: hidden_size_for_budget("gru", 10**12, 65), "max_hidden_size"),
    (lambda: language_model(["gru"], out="unused"), "exactly one of hidden_size, parameter_budget and state_size"),
        (lambda: language_model(["gru"], state_size=8, hidden_size=8, out="unused"), "exactly one"),
        (lambda: language_model(["lstm"], state_size=7, out="unused"), "state_size must be a multiple of 2"),
        (lambda: language_model(["gru"], hidden_size=8, seeds=(), out="unused"), "seeds must name at least one"),
        (lambda: language_model(["gru"], hidden_size=8, seeds=(-1,), out="unused"), r"seeds\[0\] must be an integer"),
        (lambda: language_model(["gru"], hidden_size=8, learning_rates={"gruu": 1e-3}, out="unused"),
         "learning_rates must map cell names"),
        (lambda: language_model(["gru"], hidden_size=8, learning_rates={"gru": 0}, out="unused"),
         r"learning_rates\['gru'\] must be a finite number"),
    (lambda: language_model(["gru"], hidden_size=8, parameter_budget=100, out="unused"), "exactly one"),
    (lambda: language_model(["grux"], hidden_size=8, out="unused"), "cells must be names"),
    (lambda: sample(CharLM(LMConfig("gru", 4, "ab")), 5, prime="abz"), "outside the vocabulary"),
    (lambda: sample(CharLM(LMConfig("gru", 4, "ab")), -1), "length must be an integer >= 0"),
    (lambda: sample(CharLM(LMConfig("gru", 4, "ab")), 3, temperature=-1.0), "temperature must be"),
])
def test_bad_inputs_raise_clear_errors(make, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        make()


def test_model_rejects_float_or_badly_shaped_ids():
    model = CharLM(LMConfig("gru", 4, "ab"))
    with pytest.raises(TypeError, match="int64 tensor"):
        model(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"shape \(T, B\)"):
        model(torch.zeros(3, dtype=torch.long))


def test_old_lm_paths_warn_and_point_to_the_new_homes():
    import rnnviz.lm
    import rnnviz.study
    import rnnviz.tasks

    with pytest.warns(DeprecationWarning, match="rnnviz.lm.CharCorpus moved to rnnviz.tasks.CharCorpus"):
        assert rnnviz.lm.CharCorpus is rnnviz.tasks.CharCorpus
    with pytest.warns(DeprecationWarning, match="rnnviz.study"):
        assert rnnviz.lm.language_model is rnnviz.study.language_model


# ----------------------------------------------------------------------------------- seeds, summaries, pilot
def test_mean_ci_and_paired_difference_known_answers():
    from scipy import stats as sps

    from rnnviz.study import mean_ci, paired_difference

    out = mean_ci([1.0, 2.0, 3.0])
    half = sps.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd = 1
    assert out["n_seeds"] == 3 and out["mean"] == 2.0 and out["sd"] == pytest.approx(1.0)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    one = mean_ci([2.5, float("nan")])  # a diverged seed is left out; one seed has no interval
    assert one["n_seeds"] == 1 and one["mean"] == 2.5 and math.isnan(one["ci_low"]) and math.isnan(one["sd"])
    assert mean_ci([])["n_seeds"] == 0
    d = paired_difference([2.0, 2.1, 2.3], [2.5, 2.5, 2.6])  # differences -0.5, -0.4, -0.3
    assert d["mean"] == pytest.approx(-0.4) and d["sd"] == pytest.approx(0.1)
    assert d["p_value"] == pytest.approx(sps.ttest_rel([2.0, 2.1, 2.3], [2.5, 2.5, 2.6]).pvalue)
    assert d["ci_high"] < 0  # clearly better
    with pytest.raises(ValueError, match="a and b must pair up"):
        paired_difference([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"confidence must be a finite number in \(0, 1\)"):
        mean_ci([1.0, 2.0], confidence=1.0)


def test_student_t_helpers_are_scipy_stats_bit_for_bit_without_importing_it():
    """t_quantile and t_two_sided_p call scipy.special (what scipy.stats.t calls): the same bits, and
    a study's tables (intervals, slopes, paired tests) no longer import scipy.stats (~1.3 s)."""
    from scipy import stats as sps

    from rnnviz._stats import t_quantile, t_two_sided_p

    for dof in (1, 2, 3, 7, 30, 1e4):
        for confidence in (0.5, 0.9, 0.95, 0.99):
            assert t_quantile(confidence, dof) == float(sps.t.ppf(0.5 + confidence / 2, dof))
        for t in (0.0, 0.4, -1.7, 3.0, -40.0):
            assert t_two_sided_p(t, dof) == float(2 * sps.t.sf(abs(t), dof))
    assert math.isnan(t_quantile(0.95, 0))
    code = ("import sys, numpy as np, pandas as pd\n"
            "from rnnviz.study import mean_ci, paired_difference\n"
            "from rnnviz.study._effects import within_slope\n"
            "mean_ci([1.0, 2.0, 4.0]); paired_difference([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])\n"
            "within_slope([1.0, 2.1, 2.9, 4.2], [1, 2, 3, 4], ['a', 'a', 'b', 'b'])\n"
            "print('scipy.stats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _synthetic_rows():
    """Three seeds of three cells at two comparisons, with known test bpc: gru 2.0+s/10, lstm 2.1+s/10,
    pru the gru's value minus 0.05 in every seed (so the paired difference has no spread)."""
    rows = []
    for comparison, at in (("hidden_size", 64), ("state_size", 64)):
        for cell, base in (("gru", 2.0), ("lstm", 2.1), ("pru", 1.95)):
            n = 32 if comparison == "state_size" and cell == "lstm" else 64
            for seed in (0, 1, 2):
                rows.append({"comparison": comparison, "compared_at": at, "cell": cell, "hidden_size": n,
                             "state_size": 2 * n if cell == "lstm" else n, "n_parameters": 1000 * n, "seed": seed,
                             "test_bpc": base + seed / 10, "unigram_bpc": 4.85})
    return pd.DataFrame(rows)


def test_summaries_of_seeds_and_differences_on_synthetic_numbers():
    from rnnviz.study import lm_differences, summarize_lm

    rows = _synthetic_rows()
    summary = summarize_lm(rows)
    assert len(summary) == 6 and set(summary["seeds"]) == {3} and set(summary["diverged"]) == {0}
    gru = summary[(summary["cell"] == "gru") & (summary["comparison"] == "hidden_size")].iloc[0]
    assert gru["test_bpc"] == pytest.approx(2.1) and gru["sd"] == pytest.approx(0.1)
    assert gru["ci_low"] < 2.1 < gru["ci_high"]
    lstm_state = summary[(summary["cell"] == "lstm") & (summary["comparison"] == "state_size")].iloc[0]
    assert (lstm_state["hidden_size"], lstm_state["state_size"]) == (32, 64)
    diff = lm_differences(rows, reference="gru")
    pru = diff[(diff["cell"] == "pru") & (diff["comparison"] == "hidden_size")].iloc[0]
    assert pru["difference"] == pytest.approx(-0.05) and pru["pairs"] == 3 and pru["sd"] == pytest.approx(0, abs=1e-12)
    lstm = diff[(diff["cell"] == "lstm") & (diff["comparison"] == "hidden_size")].iloc[0]
    assert lstm["difference"] == pytest.approx(0.1)
    assert set(diff["cell"]) == {"pru", "lstm"}  # the reference has no row of its own
    rows.loc[0, "test_bpc"] = float("nan")  # a diverged gru seed: left out, counted
    assert summarize_lm(rows).iloc[0]["diverged"] == 1
    assert lm_differences(rows, reference="gru").iloc[0]["pairs"] == 2
    with pytest.raises(ValueError, match=r"rows is missing the column\(s\) \['seed'\]"):
        summarize_lm(rows.drop(columns="seed"))


def test_equal_state_size_gives_the_lstm_family_half_the_units(tmp_path):
    from rnnviz.train import hidden_size_for_state

    assert [hidden_size_for_state(c, 64) for c in ("gru", "pru", "sru", "rnn", "irc_gru", "irc_sru")] == [64] * 6
    assert [hidden_size_for_state(c, 64) for c in ("lstm", "irc_lstm", "ihc_lstm")] == [32] * 3
    cfg = replace(LM_TRAIN, steps=2, batch_size=4, seq_len=8, eval_every=2, eval_chars=200, eval_batch=4,
                  eval_seq_len=32)
    corpus = CharCorpus(text=TEXT * 20)
    rows = language_model(["gru", "lstm"], state_size=8, out=tmp_path, corpus=corpus, train=cfg, seeds=(0, 3),
                          learning_rates={"lstm": 1e-2}, device="cpu", progress=False)
    assert list(rows["hidden_size"]) == [8, 8, 4, 4] and set(rows["state_size"]) == {8}
    assert list(rows["run_id"]) == ["gru-n8", "gru-n8-s3", "lstm-n4", "lstm-n4-s3"]
    assert list(rows["lr"]) == [cfg.lr, cfg.lr, 1e-2, 1e-2] and list(rows["seed"]) == [0, 3, 0, 3]
    assert set(rows["comparison"]) == {"state_size"} and set(rows["compared_at"]) == {8}
    from rnnviz.study import load_model

    weights = [load_model(tmp_path, r).readout.weight for r in ("gru-n8", "gru-n8-s3")]
    assert not torch.equal(*weights)  # the seed seeds the initial weights


def test_the_pilot_picks_each_cells_best_rate(tmp_path, monkeypatch):
    cfg = replace(LM_TRAIN, steps=2, batch_size=4, seq_len=8, eval_every=2, eval_chars=200, eval_batch=4,
                  eval_seq_len=32)
    chosen = LMPreset(description="tiny", cells=("gru", "pru"), hidden_sizes=(8,), parameter_budgets=(),
                      train=cfg, max_chars=4_000, pilot_lrs=(1e-3, 1e-2), pilot_train=cfg)
    rows = chosen.pilot(tmp_path, device="cpu", progress=False)
    assert len(rows) == 4 and (tmp_path / "lm_pilot.csv").is_file()
    for cell, sub in rows.groupby("cell"):
        best = sub.loc[sub["best_valid_bpc"].idxmin()]
        assert bool(best["chosen"]) and sub["chosen"].sum() == 1
        assert rows.attrs["learning_rates"][cell] == best["lr"]
    assert (tmp_path / "lr0.001" / "checkpoints" / "gru-n8.json").is_file()
    with pytest.raises(ValueError, match="has no pilot"):
        lm_preset("smoke").pilot(tmp_path)
    assert main(["--preset", "smoke", "--pilot", "--out", str(tmp_path)]) == 2


def test_paper_preset_plans_three_comparisons_and_shares_models():
    paper = LM_PRESETS["paper"]
    plan = paper.plan()
    assert set(plan["comparison"]) == {"hidden_size", "parameters", "state_size"} and set(plan["seed"]) == {0, 1, 2}
    assert len(plan) == 3 * 9 * 3 and paper.n_models == plan["run_id"].nunique() < len(plan)
    state = plan[(plan["comparison"] == "state_size") & (plan["seed"] == 0)].set_index("cell")["hidden_size"]
    assert state["lstm"] == 32 and state["gru"] == 64
    assert paper.train.plateau == 0.005 and paper.train.eval_chars is None  # best checkpoint on the whole valid split


def test_train_lm_refuses_a_floor_on_another_score():
    corpus = CharCorpus(text=TEXT, split=(0.8, 0.1, 0.1))
    config = replace(LM_TRAIN, steps=2, plateau=0.01, plateau_floor=3.0, plateau_floor_score="valid_bpc")
    with pytest.raises(ValueError, match="plateau_floor_score='valid_bpc': train_lm judges"):
        train_lm(CharLM(LMConfig("gru", 8, corpus.vocab.chars)), corpus, config, progress=False)


def test_command_line_hard_limit_pauses_the_run_in_flight_and_the_next_call_resumes_it(tmp_path, capsys,
                                                                                        monkeypatch):
    """--hard-limit: the model in flight stops at its next checkpoint (here every 10 steps; the study's
    clock passes the limit after step 10), nothing else starts, the exit status is 3; the same command
    resumes it from the checkpoint to the numbers of a study never interrupted, and deletes it."""
    import rnnviz.study._lm as study

    straight, paused = tmp_path / "straight", tmp_path / "paused"
    args = ["--preset", "smoke", "--cells", "gru", "--quiet"]
    assert main([*args, "--out", str(straight)]) == 0
    monkeypatch.setattr(study, "RUN_CHECKPOINT_EVERY", 10)
    readings = iter([0.0, 0.0, 0.0])  # the start, the first run's start, its checkpoint at step 10
    monkeypatch.setattr(study, "time", SimpleNamespace(monotonic=lambda: next(readings, 1e6)))
    capsys.readouterr()
    assert main([*args, "--out", str(paused), "--hard-limit", "1"]) == 3
    out = capsys.readouterr().out
    assert "stopped by --hard-limit before any model finished: 2 to train (gru-n32 stopped at its last " \
           "checkpoint and resumes from it)" in out
    assert (paused / "checkpoints" / "in_flight" / "gru-n32.pt").is_file() and not (paused / "lm.csv").exists()
    assert "(the same command with --plan shows what is left)" in out
    # --plan: what the same command would do, training and writing nothing
    written = sorted(p.name for p in paused.rglob("*"))
    assert main([*args, "--out", str(paused), "--plan"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("rnnviz lm --plan: 2 models in the preset (2 rows), 0 done in ")
    assert "2 to train (1 resume from a checkpoint), in the order they would start:" in text
    step = json.loads((paused / "checkpoints" / "in_flight" / "gru-n32.json").read_text())["metadata"]["step"]
    assert re.search(rf"gru-n32\s+hidden_size\s+step {step} of 30", text) and step in (10, 20)
    assert re.search(r"gru-n\d+\s+parameters\s+-", text)
    assert sorted(p.name for p in paused.rglob("*")) == written
    monkeypatch.setattr(study, "time", time_module)
    assert main([*args, "--out", str(paused)]) == 0
    assert not list((paused / "checkpoints" / "in_flight").iterdir())
    capsys.readouterr()
    assert main([*args, "--out", str(paused), "--plan"]) == 0
    assert "2 models in the preset (2 rows), 2 done in " in (text := capsys.readouterr().out) and "0 to train\n" in text
    assert main([*args, "--out", str(paused), "--plan", "--no-resume"]) == 0
    assert "0 done in " in (text := capsys.readouterr().out) and "2 to train, in the order" in text
    other = lm_preset("smoke", cells=("gru",), train=replace(lm_preset("smoke").train, lr=0.5))
    assert list(other.plan(paused)["status"]) == ["other settings"] * 2
    assert "trained with other settings: the study stops with an error there" in lm_plan_text(other.plan(paused), paused)
    assert main([*args, "--out", str(paused), "--plan", "--pilot"]) == 2
    assert "--plan" in (err := capsys.readouterr().err) and len(err.strip().splitlines()) == 1
    columns = ["run_id", "test_bpc", "valid_bpc", "best_valid_bpc", "best_step", "steps", "stop_reason"]
    pd.testing.assert_frame_equal(pd.read_csv(paused / "lm.csv")[columns], pd.read_csv(straight / "lm.csv")[columns])
    log = [json.loads(line) for line in (paused / "lm_runs.jsonl").read_text().splitlines()]
    assert [(r["exit_status"], r["hard_limit_minutes"]) for r in log] == [(3, 1.0), (0, None)]
    # a study resumed from a store that keeps each finished run's JSON and not its weights (the GPU
    # sessions' data/lm_<preset>_run/): nothing is retrained, and the samples name the model
    (paused / "checkpoints" / "gru-n32.pt").unlink()
    assert main([*args, "--out", str(paused)]) == 0
    assert "=== gru-n32 (test" in (samples := (paused / "samples.txt").read_text(encoding="utf-8"))
    assert "its weights are not kept here" in samples
    assert json.loads((paused / "lm_runs.jsonl").read_text().splitlines()[-1])["models_trained"] == 0


@pytest.mark.parametrize("more, needle", [
    (["--time-limit", "5", "--hard-limit", "2"], "--hard-limit must be at least --time-limit (5.0 minutes), got 2.0"),
    (["--hard-limit", "0"], "--hard-limit must be a positive number of minutes, got 0.0"),
    (["--hard-limit", "5", "--pilot"], "--hard-limit is for the study, not --pilot"),
])
def test_command_line_hard_limit_is_checked(more, needle, tmp_path, capsys):
    assert main(["--preset", "paper", "--out", str(tmp_path / "out"), *more]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rnnviz lm: {needle}") and err.count("\n") == 1, err  # one line, no traceback
    assert not (tmp_path / "out").exists()
