"""The training curricula (TrainConfig(curriculum=...)): "mixed" and "combined", Memorization batches
whose sequences hold K' ≤ K targets, laid out so that the recall ends the sequence; "prefix" and
"suffix", the task itself scored on its first or last K' recall steps."""

import pytest
import torch

from rnnviz.tasks import CURRICULA, Copy, Memorization
from rnnviz.tasks._memorization import (
    MemorizationBatches,
    MixedMemorizationBatches,
    PartialRecallBatches,
)
from rnnviz.train import SequenceModel, TrainConfig, fit


def _draw(tasks, batch_size=400, seed=0):
    sampler = Memorization.curriculum_sampler(tasks, batch_size, "mixed")
    gens = [torch.Generator().manual_seed(seed + e) for e in range(len(tasks))]
    return sampler(gens)


@pytest.mark.parametrize("task", [
    Memorization(5, 4, 6, protocol=2, n_random=3),
    Memorization(4, 3, 5, protocol=2, n_random=0),
    Memorization(3, 4, 4, "random"),
    Memorization(6, 2, 2, "blank"),
], ids=["p2-mixed-dose", "p2-blank", "p1-random", "p1-blank"])
def test_each_sequence_is_the_task_at_a_smaller_k_shifted_to_end_at_t(task):
    inputs, targets, mask = _draw([task])
    T, B, C = inputs.shape[1:]
    assert (T, C) == (task.length, task.input_size) and targets.shape == mask.shape == (1, T, B)
    pad = inputs[0].sum(-1) == 0  # padding steps: a zero input
    tokens = inputs[0].argmax(-1)
    K, A, L, R = task.n_targets, task.alphabet, task.n_interfering, task.n_random
    seen = set()
    for b in range(B):
        k = int(mask[0, :, b].sum())
        seen.add(k)
        assert 1 <= k <= K
        start = 2 * (K - k)
        assert pad[:start, b].all() and not pad[start:, b].any()
        stored = tokens[start:start + k, b]
        assert (stored < A).all()
        assert mask[0, T - k:, b].all() and not mask[0, :T - k, b].any()
        assert torch.equal(targets[0, T - k:, b], stored)  # recall in order
        assert (targets[0, :T - k, b] == 0).all()
        assert tokens[T - k - 1, b] == task.marker and (tokens[T - k:, b] == task.blank).all()
        # the instance at k: what the task at K' = k would present, shifted by `start`
        small = Memorization(k, A, L, protocol=task.protocol, n_random=R) if task.protocol == 2 else \
            Memorization(k, A, L, task.interference)
        expected = small._fixed_tokens()
        drawn = torch.zeros(small.length, dtype=torch.bool)
        for span in small._drawn_spans:
            drawn[span] = True
        assert torch.equal(tokens[start:, b][~drawn], expected[~drawn])
        assert (tokens[start:, b][drawn] < A).all()
        assert int(drawn.sum()) == k + R  # the interference dose is the task's own
    assert seen == set(range(1, K + 1))  # every K' drawn (B = 400 sequences)


def test_members_draw_from_their_own_generators_and_repeat_with_the_seed():
    tasks = [Memorization(4, 4, 4, protocol=2, n_random=2), Memorization(4, 4, 4, protocol=2, n_random=4)]
    a, b = _draw(tasks, 32, seed=0), _draw(tasks, 32, seed=0)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    alone = _draw(tasks[1:], 32, seed=1)  # member 1 of the pair drew with seed 0 + 1
    assert all(torch.equal(x[1], y[0]) for x, y in zip(a, alone, strict=True))
    assert not torch.equal(a[2][0], a[2][1])  # K' drawn per member


def test_members_must_share_alphabet_protocol_and_length():
    with pytest.raises(ValueError, match="one alphabet, protocol, length and input size"):
        MixedMemorizationBatches([Memorization(4, 4, 2), Memorization(3, 4, 2)], 8)


def test_a_task_without_a_curriculum_says_so():
    assert Memorization.curricula == CURRICULA == ("mixed", "combined", "prefix", "suffix", "delay", "combined-delay")
    with pytest.raises(ValueError, match="Copy offers no training curriculum"):
        Copy.curriculum_sampler([Copy(3, 4)], 8, "mixed")
    with pytest.raises(ValueError, match="curriculum"):
        Memorization.curriculum_sampler([Memorization(3)], 8, "naive")


def test_config_checks_and_records_the_curriculum_only_when_set():
    with pytest.raises(ValueError, match="curriculum"):
        TrainConfig(curriculum="naive")
    assert "curriculum" not in TrainConfig().settings("fit")  # the keys of earlier runs are unchanged
    assert TrainConfig(curriculum="mixed").settings("fit")["curriculum"] == "mixed"


@pytest.mark.parametrize("per_member", [True, False])
def test_fit_trains_on_the_curriculum_and_validates_on_the_task(per_member, monkeypatch):
    import rnnviz.train._fit as fit_module

    task = Memorization(3, 4, 2, protocol=2, n_random=1)
    masks = []
    original = fit_module._batch_sampler

    def spy(*args, **kwargs):
        draw = original(*args, **kwargs)

        def wrapped(generators):
            batch = draw(generators)
            masks.append(batch[2])
            return batch
        return wrapped

    monkeypatch.setattr(fit_module, "_batch_sampler", spy)
    torch.manual_seed(0)
    model = SequenceModel("gru", task.input_size, 8, task.output_size, n_models=2)
    config = TrainConfig(steps=20, batch_size=16, eval_every=10, eval_batch=32, curriculum="mixed")
    result = fit(model, [task, task] if per_member else task, config, data_seed=[0, 1] if per_member else 0,
                 progress=False)
    val, train = masks[0], masks[1:]  # the validation batch is drawn first
    per_sequence = lambda m: m.sum(-2).flatten()  # noqa: E731  recall steps per sequence
    assert (per_sequence(val) == task.n_targets).all()  # validation: the task itself
    assert any((per_sequence(m) < task.n_targets).any() for m in train)  # training: easier instances too
    assert len(result.metrics) == 2 and all("recalled_bits" in m for m in result.metrics)


def test_protocol_names_the_curriculum_and_groups_share_a_length():
    from rnnviz.study import ModelSpec
    from rnnviz.study._protocol import protocol_name, task_protocol

    assert protocol_name(2) == "memorization/2" and protocol_name(2, "mixed") == "memorization/2+mixed"
    assert task_protocol(protocol_name(2, "mixed")) == task_protocol("memorization/2") == "memorization/2"
    with pytest.raises(ValueError, match="curriculum"):
        protocol_name(1, "naive")
    mixed = TrainConfig(curriculum="mixed").settings("fit")
    def spec(k, train):
        return ModelSpec("gru", 4, alphabet=4, n_targets=k, n_interfering=2, interference="blank", seed=0,
                         train=train)

    a, b = spec(2, mixed), spec(3, mixed)
    assert a.group != b.group  # protocol 1 with a curriculum: one length per ensemble
    plain = [spec(k, TrainConfig().settings("fit")) for k in (2, 3)]
    assert plain[0].group == plain[1].group  # without one, protocol 1 groups are what they were


def test_a_capacity_sweep_on_the_curriculum_records_it():
    from rnnviz.study import capacity

    train = TrainConfig(steps=20, batch_size=8, eval_every=10, eval_batch=32, curriculum="mixed")
    rows = capacity(["gru"], [4], [2.0, 4.0], [(2, 1)], [0], train=train, n_test=50, protocol=2, progress=False)
    assert len(rows) == 2 and set(rows["protocol"]) == {"memorization/2+mixed"}
    assert rows["recalled_bits"].notna().all()


def test_combined_holds_about_half_of_its_sequences_at_the_full_k():
    task = Memorization(6, 4, 4, protocol=2, n_random=2)
    assert "combined" in CURRICULA and "combined" in Memorization.curricula
    sampler = Memorization.curriculum_sampler([task], 4000, "combined")
    _, targets, mask = sampler([torch.Generator().manual_seed(3)])
    k = mask[0].sum(0)  # K' per sequence
    full = (k == task.n_targets).float().mean().item()
    # P(K' = K) = 1/2 + 1/2 · 1/6 = 7/12; binomial sd over 4,000 sequences ≈ 0.008
    assert abs(full - 7 / 12) < 0.03
    assert set(k.tolist()) == set(range(1, 7))
    # mixed draws the same targets, noise and K' from the same seed (the extra uniform comes last)
    mixed = Memorization.curriculum_sampler([task], 4000, "mixed")([torch.Generator().manual_seed(3)])
    smaller = k < task.n_targets
    assert torch.equal(mixed[2][0].sum(0)[smaller], k[smaller])


def test_full_fraction_and_vary_are_checked():
    with pytest.raises(ValueError, match=r"full_fraction=1\.0: expected a number in \[0, 1\)"):
        MixedMemorizationBatches([Memorization(4, 4, 2)], 8, full_fraction=1.0)
    with pytest.raises(ValueError, match="vary"):
        MixedMemorizationBatches([Memorization(4, 4, 2)], 8, vary="length")


@pytest.mark.parametrize("curriculum", ["delay", "combined-delay"])
@pytest.mark.parametrize("task", [
    Memorization(4, 4, 9, protocol=2, n_random=3),
    Memorization(3, 4, 6, protocol=2, n_random=0),
    Memorization(3, 4, 5, protocol=3, n_random=2),
    Memorization(4, 4, 5, "blank"),
], ids=["p2-dose", "p2-blank", "p3", "p1-blank"])
def test_delay_curricula_wait_a_shorter_delay(task, curriculum):
    """"delay": each sequence is the task at a delay L' in n_random..L (its own K, its own random
    symbols); "combined-delay": at K' in 1..K and L' in n_random..L, drawn independently; either way
    shifted right by 2 (K − K') + (L − L') so that its recall ends the sequence, and half the sequences
    the task itself."""
    from rnnviz.tasks import hold_steps

    B = 3000
    batch = Memorization.curriculum_sampler([task], B, curriculum)([torch.Generator().manual_seed(2)])
    inputs, targets, mask = batch
    T, K, A, L, R = task.length, task.n_targets, task.alphabet, task.n_interfering, task.n_random
    assert inputs.shape == (1, T, B, task.input_size)
    pad = inputs[0].sum(-1) == 0
    tokens = inputs[0].argmax(-1)
    drawn_k, delays = [], []
    for b in range(B):
        k = int(mask[0, :, b].sum())
        assert mask[0, T - k:, b].all()  # the recall ends the sequence
        start = int(pad[:, b].sum())  # the padding comes first
        assert not pad[start:, b].any()
        delay = L - (start - 2 * (K - k))
        assert (k == K or curriculum == "combined-delay") and 1 <= k <= K and R <= delay <= L
        drawn_k.append(k)
        delays.append(delay)
        short = Memorization(k, A, delay, protocol=task.protocol, n_random=R) if task.protocol > 1 else \
            Memorization(k, A, delay, task.interference)
        drawn = torch.zeros(short.length, dtype=torch.bool)
        for span in short._drawn_spans:
            drawn[span] = True
        assert torch.equal(tokens[start:, b][~drawn], short._fixed_tokens()[~drawn])
        assert int(drawn.sum()) == k + R and (tokens[start:, b][drawn] < A).all()
        assert torch.equal(targets[0, T - k:, b], tokens[start:start + k, b])  # recall in order
        assert (targets[0, :T - k, b] == 0).all()
        # target i is stored at start + i and recalled at T − k + i: the hold of the task at (k, L')
        assert (T - k) - start == hold_steps(k, delay, task.protocol)
    drawn_k, delays = torch.tensor(drawn_k), torch.tensor(delays)
    assert set(delays.tolist()) == set(range(R, L + 1))
    varied = L - R + 1
    if curriculum == "delay":
        # P(L' = L) = 1/2 + 1/2 · 1/(L − R + 1); binomial sd over 3,000 sequences < 0.01
        assert abs((delays == L).float().mean().item() - (0.5 + 0.5 / varied)) < 0.04
    else:
        assert set(drawn_k.tolist()) == set(range(1, K + 1))
        itself = ((drawn_k == K) & (delays == L)).float().mean().item()
        assert abs(itself - (0.5 + 0.5 / (K * varied))) < 0.04  # P(the task itself)
        # drawn independently: at the shortest delay (drawn sequences only) K' is uniform, P(K' = 1) = 1/K
        # (~200 sequences: sd about 0.03)
        assert abs((drawn_k[delays == R] == 1).float().mean().item() - 1 / K) < 0.1


def test_delay_of_a_task_whose_delay_is_all_noise_is_the_task_itself():
    """Protocol 1 "random": the delay is the interference, n_random = L, so there is nothing to vary:
    the curriculum's batch is the task's own batch, drawn from the same numbers."""
    task = Memorization(3, 4, 4, "random")
    sampler = Memorization.curriculum_sampler([task], 64, "delay")
    inputs, targets, mask = sampler([torch.Generator().manual_seed(9)])
    plain = MemorizationBatches([task], 64)([torch.Generator().manual_seed(9)])
    assert torch.equal(inputs, plain[0]) and torch.equal(targets, plain[1]) and torch.equal(mask, plain[2])


def test_delay_curriculum_trains_and_is_recorded():
    from rnnviz.study import capacity

    train = TrainConfig(steps=20, batch_size=8, eval_every=10, eval_batch=32, curriculum="delay")
    rows = capacity(["lstm"], [4], [4.0], [(6, 2)], [0], train=train, n_test=50, protocol=2, progress=False)
    assert len(rows) == 1 and set(rows["protocol"]) == {"memorization/2+delay"}
    assert rows["recalled_bits"].notna().all()


def test_members_with_different_k_at_one_length_are_each_drawn_as_alone():
    """Protocol 1: K = 4, L = 6 and K = 5, L = 4 share T = 15; the batch lays both out at once."""
    tasks = [Memorization(4, 4, 6, "blank"), Memorization(5, 4, 4, "random")]
    assert tasks[0].length == tasks[1].length
    for curriculum in CURRICULA:
        sampler = Memorization.curriculum_sampler(tasks, 16, curriculum)
        pair = sampler([torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)])
        for e, task in enumerate(tasks):
            alone = Memorization.curriculum_sampler([task], 16, curriculum)([torch.Generator().manual_seed(5 + e)])
            assert all(torch.equal(x[e], y[0]) for x, y in zip(pair, alone, strict=True))
            assert int(pair[2][e].sum(0).max()) <= task.n_targets


@pytest.mark.parametrize("scored", ["prefix", "suffix"])
@pytest.mark.parametrize("task", [
    Memorization(5, 4, 6, protocol=2, n_random=3),
    Memorization(3, 4, 4, "random"),
], ids=["p2", "p1-random"])
def test_prefix_and_suffix_are_the_task_itself_scored_on_k_prime_recall_steps(task, scored):
    B = 6000
    sampler = Memorization.curriculum_sampler([task], B, scored)
    assert isinstance(sampler, PartialRecallBatches) and sampler.scored == scored
    inputs, targets, mask = sampler([torch.Generator().manual_seed(4)])
    # the sequences are the task's own: the same tokens as the ensemble sampler draws from that seed
    plain = MemorizationBatches([task], B)([torch.Generator().manual_seed(4)])
    assert torch.equal(inputs, plain[0])
    K, r = task.n_targets, task.recall_slice.start
    assert not mask[0, :r].any()
    k = mask[0].sum(0)  # K' per sequence
    assert set(k.tolist()) == set(range(1, K + 1))
    # each sequence is scored on its first (last) K' recall steps, with the task's targets
    steps = torch.arange(task.length)[:, None]
    first = r if scored == "prefix" else r + K - k[None, :]
    assert torch.equal(mask[0], (steps >= first) & (steps < first + k[None, :]))
    assert torch.equal(targets[0], torch.where(mask[0], plain[1][0], 0))
    # recall step j is scored with probability (K - j + 1) / K (prefix) or j / K (suffix):
    # binomial sd <= 0.0065 over 6,000 sequences
    share = mask[0, r:].float().mean(-1)
    weight = [(K - j + 1) / K if scored == "prefix" else j / K for j in range(1, K + 1)]
    assert torch.allclose(share, torch.tensor(weight), atol=0.03), share


@pytest.mark.parametrize("scored", ["prefix", "suffix"])
def test_partial_recall_members_draw_from_their_own_generators_and_may_differ_in_length(scored):
    tasks = [Memorization(4, 4, 4, protocol=2, n_random=2), Memorization(6, 4, 2, protocol=2, n_random=2)]
    assert tasks[0].length != tasks[1].length
    pair = Memorization.curriculum_sampler(tasks, 32, scored)([torch.Generator().manual_seed(s) for s in (0, 1)])
    for e, task in enumerate(tasks):
        alone = Memorization.curriculum_sampler([task], 32, scored)([torch.Generator().manual_seed(e)])
        T = task.length
        assert torch.equal(pair[0][e, :T], alone[0][0]) and torch.equal(pair[2][e, :T], alone[2][0])
        assert not pair[2][e, T:].any()  # the shorter member's padding is never scored
    with pytest.raises(ValueError, match="one alphabet, protocol and input size"):
        PartialRecallBatches([Memorization(4, 4, 2), Memorization(4, 8, 2)], 8)
    with pytest.raises(ValueError, match="scored must be one of"):
        PartialRecallBatches([Memorization(4, 4, 2)], 8, scored="middle")


def test_fit_on_the_prefix_curriculum_holds_the_first_targets_best():
    """A 4-unit GRU asked for 6 symbols, 300 steps: on the task itself it recalls the last targets
    best (the most recent), on the prefix curriculum the first ones; validation scores every step."""
    task = Memorization(6, 4, 2, protocol=2, n_random=0)
    inputs, targets, mask = task.sample(2000, torch.Generator().manual_seed(9))
    lead = {}  # accuracy at the first recall step minus at the last
    for curriculum in (None, "prefix"):
        torch.manual_seed(0)
        model = SequenceModel("gru", task.input_size, 4, task.output_size)
        config = TrainConfig(steps=300, batch_size=64, lr=3e-2, eval_every=100, eval_batch=256,
                             curriculum=curriculum, target_accuracy=None)
        result = fit(model, task, config, data_seed=0, progress=False)
        assert result.metrics[0]["recalled_bits"] > 0.5  # validation on the whole task
        with torch.no_grad():
            per_position = task.score(model(inputs), targets, mask)["accuracy_per_position"]
        lead[curriculum] = float(per_position[0] - per_position[-1])
    assert lead[None] < 0.0 < lead["prefix"] and lead["prefix"] > lead[None] + 0.1, lead
