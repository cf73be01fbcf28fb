"""Tasks: statistics, information quantities, baselines, bad configurations, memory capacity."""

import math

import pytest
import torch

from rnnviz.tasks import (
    Adding,
    Copy,
    FlipFlop,
    Memorization,
    Task,
    confusion_counts,
    from_config,
    memory_capacity,
    mutual_information,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_memorization_layout_and_statistics():
    task = Memorization(n_targets=5, alphabet=4, n_interfering=7, interference="random")
    assert task.length == 2 * 5 + 7 + 1 and task.input_size == 6 and task.output_size == 4
    x, y, mask = task.sample(20000, gen())
    tokens = x.argmax(-1)  # (T, B)
    assert torch.equal(x.sum(-1), torch.ones_like(x.sum(-1)))  # one-hot
    assert torch.equal(tokens[12], torch.full_like(tokens[12], task.marker))
    assert torch.equal(tokens[13:], torch.full_like(tokens[13:], task.blank))
    assert torch.equal(y[13:], tokens[:5]) and mask[13:].all() and not mask[:13].any()
    # targets and interference are uniform over the alphabet and independent across positions
    freq = torch.bincount(tokens[:12].reshape(-1), minlength=6).double() / tokens[:12].numel()
    assert (
        torch.allclose(freq[:4], torch.full((4,), 0.25, dtype=torch.float64), atol=0.01)
        and freq[4:].sum() == 0
    )
    corr = torch.corrcoef(tokens[:2].double())[0, 1]
    assert abs(float(corr)) < 0.03
    assert task.targeted_bits == 10.0 and task.interfering_bits == 14.0


def test_memorization_blank_interference_carries_no_information():
    task = Memorization(3, alphabet=8, n_interfering=4, interference="blank")
    x, _, _ = task.sample(50, gen())
    assert (x.argmax(-1)[3:7] == task.blank).all()
    assert task.targeted_bits == 9.0 and task.interfering_bits == 0.0


def test_memorization_baseline_and_score():
    task = Memorization(4, alphabet=4)
    x, y, mask = task.sample(4096, gen(1))
    assert task.baseline.loss == pytest.approx(math.log(4)) and task.baseline.accuracy == 0.25
    uniform = torch.zeros(task.length, 4096, 4)
    s = task.score(uniform, y, mask)
    assert float(s["loss"]) == pytest.approx(math.log(4), rel=1e-6)
    perfect = torch.nn.functional.one_hot(y, 4).float() * 10
    s = task.score(perfect, y, mask)
    assert float(s["accuracy"]) == 1.0 and torch.all(s["accuracy_per_position"] == 1)
    assert float(s["recalled_bits"]) == pytest.approx(task.targeted_bits, abs=0.01)
    # a random guesser: chance accuracy, almost no information
    guess = torch.randn(task.length, 4096, 4, generator=gen(2))
    s = task.score(guess, y, mask)
    assert float(s["accuracy"]) == pytest.approx(0.25, abs=0.02)
    assert float(s["recalled_bits"]) < 0.02
    # ensemble axis: one score per member
    s = task.score(torch.stack([perfect, guess]), y, mask)
    assert s["recalled_bits"].shape == (2,) and s["accuracy_per_position"].shape == (2, 4)


def test_recalled_bits_of_a_chance_guesser_are_bias_corrected():
    """K = 128 positions, A = 16, B = 4000 (the paper grid's largest amount): the plug-in estimate
    credits a guesser with about K (A-1)^2 / (2 B ln 2) = 5.2 bits; Miller-Madow removes that."""
    task = Memorization(128, alphabet=16)
    _, y, mask = task.sample(4000, gen(3))
    guess = torch.randn(task.length, 4000, 16, generator=gen(4))
    s = task.score(guess, y, mask)
    expected_bias = 128 * 15**2 / (2 * 4000 * math.log(2))
    assert float(s["recalled_bits_plugin"]) == pytest.approx(expected_bias, rel=0.1)
    assert float(s["recalled_bits"]) < 0.1 * expected_bias
    plugin = task.score(guess, y, mask, correction=None)
    assert float(plugin["recalled_bits"]) == float(plugin["recalled_bits_plugin"]) == float(s["recalled_bits_plugin"])
    perfect = torch.nn.functional.one_hot(y, 16).float() * 10
    assert float(task.score(perfect, y, mask)["recalled_bits"]) == pytest.approx(task.targeted_bits, abs=0.1)
    with pytest.raises(ValueError, match="correction must be one of"):
        task.score(guess, y, mask, correction="jackknife")


def test_memorization_same_batch_from_same_generator_state():
    task = Memorization(3, 5, 2, "random")
    a, b = task.sample(8, gen(3)), task.sample(8, gen(3))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert from_config(task.config()).config() == task.config()


def reference_memorization_batch(task, batch_size, generator):
    """The protocol spelled out: targets, then noise (if random) from the generator, as separate draws."""
    K, L, A = task.n_targets, task.n_interfering, task.alphabet
    recall = torch.randint(0, A, (K, batch_size), generator=generator)
    noise = (
        torch.randint(0, A, (L, batch_size), generator=generator)
        if task.interference == "random"
        else torch.full((L, batch_size), task.blank)
    )
    tokens = torch.cat([recall, noise, torch.full((1, batch_size), task.marker), torch.full((K, batch_size), A)])
    targets = torch.cat([torch.zeros((K + L + 1, batch_size), dtype=torch.int64), recall])
    mask = torch.arange(task.length)[:, None].expand(-1, batch_size) >= K + L + 1
    return torch.nn.functional.one_hot(tokens, A + 2), targets, mask


def pad_to(x, length):
    return torch.cat([x, x.new_zeros((length - len(x), *x.shape[1:]))])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_memorization_ensemble_batches_equal_each_members_own_batch(dtype):
    """The fast ensemble sampler draws, per member and generator, exactly the member's own batch."""
    tasks = [
        Memorization(k, 5, n_interfering=l, interference=kind)
        for k, l, kind in [(1, 0, "blank"), (3, 4, "random"), (2, 7, "blank"), (4, 1, "random")]
    ]
    for e, task in enumerate(tasks):  # a single task's sample follows the protocol
        x, y, m = reference_memorization_batch(task, 6, gen(e))
        assert all(torch.equal(a, b) for a, b in zip(task.sample(6, gen(e)), (x.float(), y, m), strict=True))
    sampler = Memorization.ensemble_sampler(tasks, 6, dtype=dtype)
    gens, ref_gens = [gen(10 + i) for i in range(4)], [gen(10 + i) for i in range(4)]
    T = max(t.length for t in tasks)
    for _ in range(2):  # consecutive draws: the generators advance as the members' own would
        inputs, targets, mask = sampler(gens)
        assert inputs.shape == (4, T, 6, 7) and inputs.dtype == dtype
        assert targets.dtype == torch.int64 and mask.dtype == torch.bool
        for e, (task, g) in enumerate(zip(tasks, ref_gens, strict=True)):
            x, y, m = reference_memorization_batch(task, 6, g)
            assert torch.equal(inputs[e], pad_to(x.to(dtype), T))
            assert torch.equal(targets[e], pad_to(y, T)) and torch.equal(mask[e], pad_to(m, T))
    generic = Task.ensemble_sampler(tasks, 6, dtype=dtype)  # each member's own sample, padded and stacked
    assert type(generic) is not type(sampler)
    same = zip(generic([gen(10 + i) for i in range(4)]), sampler([gen(10 + i) for i in range(4)]), strict=True)
    assert all(torch.equal(a, b) for a, b in same)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_targets": 0}, "n_targets must be an integer >= 1, got 0"),
        ({"n_targets": 2, "alphabet": 1}, "alphabet must be an integer >= 2, got 1"),
        ({"n_targets": 2, "n_interfering": -1}, "n_interfering must be an integer >= 0, got -1"),
        ({"n_targets": 2, "interference": "noise"}, "interference must be one of"),
    ],
)
def test_memorization_bad_configurations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Memorization(**kwargs)


def test_memorization_rejects_non_integers():
    with pytest.raises(TypeError, match="n_targets must be an int"):
        Memorization(2.5)


def test_copy_layout_and_baseline():
    task = Copy(delay=100)
    assert task.baseline.loss == pytest.approx(0.1733, abs=1e-4)
    assert Copy(delay=500).baseline.loss == pytest.approx(0.0400, abs=1e-4)
    assert task.targeted_bits == pytest.approx(30.0)
    x, y = task.sample(3, gen())
    tokens = x.argmax(-1)
    assert task.length == 120 and (tokens[10 + 99] == task.marker).all()
    assert torch.equal(y[-10:], tokens[:10]) and (y[:-10] == 0).all()
    # the baseline predictor: blank until the recall, then uniform over the 8 symbols
    logits = torch.full((120, 3, 9), -30.0)
    logits[:-10, :, 0] = 30.0
    logits[-10:, :, 1:] = 0.0
    assert float(task.score(logits, y)["loss"]) == pytest.approx(task.baseline.loss, rel=1e-4)


def test_adding_statistics_and_baseline():
    task = Adding(length=50)
    x, y = task.sample(50000, gen())
    markers = x[..., 1]
    assert torch.equal(markers.sum(0), torch.full((50000,), 2.0))
    assert (markers[:25].sum(0) == 1).all() and (markers[25:].sum(0) == 1).all()
    assert torch.allclose(y[:, 0], (x[..., 0] * markers).sum(0))
    mse = float(task.loss(torch.ones(50, 50000, 1), y))
    assert mse == pytest.approx(task.baseline.loss, rel=0.03)
    assert task.baseline.loss == pytest.approx(1 / 6)


def test_flipflop_targets_and_baseline():
    task = FlipFlop(bits=3, length=60, p_pulse=0.1)
    x, y = task.sample(4000, gen())
    # the target holds the latest pulse: check with a plain loop on a few sequences
    for b in range(5):
        held = torch.zeros(3)
        for t in range(60):
            held = torch.where(x[t, b] != 0, x[t, b], held)
            assert torch.equal(y[t, b], held)
    # the memoryless predictor (the current pulse, else 0) reaches the analytic baseline MSE
    s = task.score(x.clone(), y)
    assert float(s["loss"]) == pytest.approx(task.baseline.loss, rel=0.03)
    assert float(task.score(y.clone(), y)["accuracy"]) == 1.0


def test_sampling_device_follows_generator():
    task = Memorization(2, 3)
    x, y, mask = task.sample(4, gen(), device="cpu")
    assert x.device.type == "cpu" and y.dtype == torch.int64 and mask.dtype == torch.bool


class DelayLine(torch.nn.Module):
    """A shift register of n units: s_t = [u_t, u_{t-1}, ..., u_{t-n+1}]; memory capacity n (lags 0..n-1)."""

    def __init__(self, n):
        super().__init__()
        self.input_size, self.state_size, self.n_models = 1, n, None

    def trace(self, x):
        T, B, _ = x.shape
        states = torch.zeros(T + 1, B, self.state_size, dtype=x.dtype)
        for t in range(T):
            states[t + 1, :, 1:] = states[t, :, :-1]
            states[t + 1, :, 0] = x[t, :, 0]
        return type("Trace", (), {"states": states})()


def test_memory_capacity_delay_line_and_noise():
    line = DelayLine(6)
    res = memory_capacity(line, lags=range(0, 12), n_steps=600, generator=gen())
    assert res.mc == pytest.approx(6.0, abs=0.03) and res.input_scale == 0.1
    assert all(m > 0.999 for m in res.mc_k[:6]) and all(m < 0.02 for m in res.mc_k[6:])
    default = memory_capacity(line, n_steps=600, generator=gen())  # lags 1..2n (Jaeger)
    assert default.lags == tuple(range(1, 13)) and default.mc == pytest.approx(5.0, abs=0.05)
    assert "U(-0.1, 0.1)" in str(default)


def test_memory_capacity_of_a_cell_is_bounded_by_its_state_size():
    from rnnviz.cells import make

    torch.manual_seed(0)
    cell = make("rnn", 1, 8)
    res = memory_capacity(cell, n_steps=800, generator=gen(1))
    assert 0.5 < res.mc <= 8.2 and len(res.mc_k) == 16
    with pytest.raises(ValueError, match="input_scale must be > 0"):
        memory_capacity(cell, input_scale=0.0)
    with pytest.raises(ValueError, match="cell must be a single cell"):
        memory_capacity(make("rnn", 1, 8, n_models=2))


def test_memory_capacity_draws_its_inputs_on_the_generator_device(monkeypatch):
    # A CUDA generator cannot fill a CPU tensor: torch.rand must be told the generator's device.
    calls, real_rand = [], torch.rand

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_rand(*args, **kwargs)

    monkeypatch.setattr(torch, "rand", spy)
    g = gen(3)
    first = memory_capacity(DelayLine(3), n_steps=200, generator=g)
    assert calls and all(c.get("device") == g.device for c in calls)
    assert memory_capacity(DelayLine(3), n_steps=200, generator=gen(3)) == first  # same state, same result
    torch.manual_seed(3)
    assert memory_capacity(DelayLine(3), n_steps=200) == first  # None: the global CPU generator


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA generator")
def test_memory_capacity_with_a_cuda_generator():
    res = memory_capacity(DelayLine(3), n_steps=200, generator=torch.Generator("cuda").manual_seed(0))
    assert res.mc == pytest.approx(2.0, abs=0.05)


# --- protocol 2: store-end cue, a dose of interference at a fixed length -----------------------------


def test_memorization_protocol_1_samples_unchanged():
    """Protocol 1 stays bit-for-bit the original task (tokens recorded from the code before protocol 2)."""
    expected = {
        (3, 4, 2, "random"): [[3, 1, 3, 3, 0, 5, 4, 4, 4], [0, 2, 3, 3, 1, 5, 4, 4, 4]],
        (2, 3, 3, "blank"): [[0, 1, 3, 3, 3, 4, 3, 3], [1, 2, 3, 3, 3, 4, 3, 3]],
    }
    for args, rows in expected.items():
        task = Memorization(*args)
        tokens, _ = task.sample_symbols(2, gen(7))
        assert tokens.T.tolist() == rows
        assert task.protocol == 1 and task.input_size == args[1] + 2
        assert set(task.config()) == {"task", "n_targets", "alphabet", "n_interfering", "interference"}
    assert Memorization(2).interference == "blank"


def protocol_2_reference(task, batch_size, generator):
    """Protocol 2 spelled out: targets, then the random steps of the dose, as separate draws."""
    K, L, A, n = task.n_targets, task.n_interfering, task.alphabet, task.n_random
    recall = torch.randint(0, A, (K, batch_size), generator=generator)
    noise = torch.randint(0, A, (n, batch_size), generator=generator)
    column = lambda token, steps: torch.full((steps, batch_size), token)  # noqa: E731
    tokens = torch.cat([recall, column(A + 2, 1), noise, column(A, L - n), column(A + 1, 1), column(A, K)])
    targets = torch.cat([torch.zeros((K + L + 2, batch_size), dtype=torch.int64), recall])
    mask = torch.arange(task.length)[:, None].expand(-1, batch_size) >= K + L + 2
    return torch.nn.functional.one_hot(tokens, A + 3), targets, mask


@pytest.mark.parametrize("n_random", [0, 1, 3, 5])
def test_memorization_protocol_2_layout_and_information(n_random):
    K, A, L, B = 3, 4, 5, 200
    task = Memorization(K, A, L, protocol=2, n_random=n_random)
    assert task.length == 2 * K + L + 2 == 13  # independent of the dose
    assert task.input_size == A + 3 and task.store_end == A + 2
    assert task.targeted_bits == pytest.approx(K * 2.0)
    assert task.interfering_bits == pytest.approx(n_random * math.log2(A))
    assert task.interference == {0: "blank", 5: "random"}.get(n_random, "mixed")
    x, y, m = task.sample(B, gen(1))
    assert x.shape == (13, B, A + 3) and y.shape == m.shape == (13, B)
    tokens = x.argmax(-1)
    assert (tokens[K] == task.store_end).all()  # the cue sits right after the K targets, always
    assert (tokens[:K] < A).all() and (tokens[K + 1 : K + 1 + n_random] < A).all()  # symbols where dosed
    assert (tokens[K + 1 + n_random : K + 1 + L] == task.blank).all()  # blanks elsewhere in the delay
    assert (tokens[K + 1 + L] == task.marker).all() and (tokens[K + L + 2 :] == task.blank).all()
    assert ((tokens == task.store_end).sum(0) == 1).all()
    if n_random:  # the random steps really vary
        assert len(tokens[K + 1 : K + 1 + n_random].unique()) == A
    assert torch.equal(y[K + L + 2 :], tokens[:K]) and m[K + L + 2 :].all() and not m[: K + L + 2].any()
    ref = protocol_2_reference(task, B, gen(1))
    assert all(torch.equal(a, b) for a, b in zip((x, y, m), (ref[0].float(), ref[1], ref[2]), strict=True))
    assert from_config(task.config()).config() == task.config()
    assert task.config()["protocol"] == 2 and task.config()["n_random"] == n_random
    assert task.baseline.accuracy == 1 / A and task.baseline.loss == pytest.approx(math.log(A))


def test_memorization_protocol_2_alphabet_varies_targeted_bits_at_a_fixed_length():
    tasks = [Memorization(4, A, 3, protocol=2, n_random=1) for A in (2, 4, 16)]
    assert {t.length for t in tasks} == {13}
    assert [t.targeted_bits for t in tasks] == [4.0, 8.0, 16.0]


def test_memorization_protocol_2_interference_label_alone_sets_the_dose():
    assert Memorization(2, 4, 3, "random", protocol=2).n_random == 3
    assert Memorization(2, 4, 3, "blank", protocol=2).n_random == 0
    assert Memorization(2, 4, 3, "mixed", protocol=2, n_random=2).interfering_bits == pytest.approx(4.0)
    assert Memorization(2, 4, 0, "random", protocol=2).config()["interference"] == "random"  # L = 0: kept


def test_memorization_protocol_2_ensemble_batches_equal_each_members_own_batch():
    tasks = [Memorization(k, 5, l, protocol=2, n_random=n) for k, l, n in [(1, 0, 0), (3, 4, 2), (2, 7, 7), (4, 1, 0)]]
    sampler = Memorization.ensemble_sampler(tasks, 6)
    T = max(t.length for t in tasks)
    gens, refs = [gen(20 + i) for i in range(4)], [gen(20 + i) for i in range(4)]
    for _ in range(2):  # consecutive draws: the generators advance as the members' own would
        inputs, targets, mask = sampler(gens)
        assert inputs.shape == (4, T, 6, 8)
        for e, (task, g) in enumerate(zip(tasks, refs, strict=True)):
            x, y, m = task.sample(6, g)
            assert torch.equal(inputs[e], pad_to(x, T))
            assert torch.equal(targets[e], pad_to(y, T)) and torch.equal(mask[e], pad_to(m, T))
    mixed = [Memorization(2, 5, 1), Memorization(2, 5, 1, protocol=2, n_random=1)]  # different input sizes
    assert type(Memorization.ensemble_sampler(mixed, 6)) is not type(sampler)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"protocol": 4}, r"protocol must be an integer in \[1, 3\], got 4"),
        ({"n_random": 1}, "n_random needs protocol 2 or 3"),
        ({"protocol": 3}, "protocol 3 needs n_random"),
        ({"protocol": 2}, "protocol 2 needs n_random"),
        ({"protocol": 2, "interference": "mixed"}, "protocol 2 needs n_random"),
        ({"protocol": 2, "n_random": 4}, "n_random must be an integer <= 3, got 4|n_random must be an integer"),
        ({"protocol": 2, "n_random": -1}, "n_random must be an integer >= 0, got -1"),
        ({"protocol": 2, "n_random": 1, "interference": "random"}, "interference='random' disagrees with n_random=1"),
        ({"protocol": 2, "n_random": 0, "interference": "mixed"}, "disagrees"),
        ({"protocol": 2, "interference": "noise"}, "interference must be one of"),
        ({"interference": "mixed"}, "interference must be one of"),
    ],
)
def test_memorization_protocol_2_bad_configurations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Memorization(2, 4, 3, **kwargs)


# --- protocol 3: protocol 2 with the position to recall named at every recall step -----------------------


@pytest.mark.parametrize("n_random", [0, 2])
def test_memorization_protocol_3_is_protocol_2_with_a_query_at_each_recall_step(n_random):
    K, A, L, B = 4, 4, 5, 300
    cued, plain = Memorization(K, A, L, protocol=3, n_random=n_random), Memorization(K, A, L, protocol=2, n_random=n_random)
    assert cued.length == plain.length and cued.recall_slice == plain.recall_slice
    assert cued.input_size == A + 3 + K and cued.first_query == A + 3 and cued.store_end == plain.store_end
    assert cued.targeted_bits == plain.targeted_bits and cued.interfering_bits == plain.interfering_bits
    x, y, m = cued.sample(B, gen(3))
    px, py, pm = plain.sample(B, gen(3))  # the same draws from the same generator
    assert torch.equal(y, py) and torch.equal(m, pm)
    tokens, plain_tokens = x.argmax(-1), px.argmax(-1)
    recall = cued.recall_slice
    assert torch.equal(tokens[: recall.start], plain_tokens[: recall.start])  # store, cue, dose, marker
    assert torch.equal(x[: recall.start, :, : A + 3], px[: recall.start]) and not x[: recall.start, :, A + 3 :].any()
    # recall step j holds the query for position j, and its target is the j-th stored symbol
    assert torch.equal(tokens[recall], (A + 3 + torch.arange(K))[:, None].expand(K, B))
    assert torch.equal(y[recall], tokens[:K])
    assert from_config(cued.config()).config() == cued.config() and cued.config()["protocol"] == 3
    # the ensemble sampler draws the same batch
    ex, ey, em = Memorization.ensemble_sampler([cued, cued], B)([gen(3), gen(3)])
    assert torch.equal(ex[1], x) and torch.equal(ey[1], y) and torch.equal(em[1], m)


def test_memorization_protocol_3_curricula_ask_for_each_instances_own_positions():
    task = Memorization(5, 4, 3, protocol=3, n_random=1)
    inputs, targets, mask = Memorization.curriculum_sampler([task], 400, "mixed")([gen(8)])
    tokens = inputs[0].argmax(-1)  # (T, B)
    T = task.length
    for b in range(0, 400, 7):
        k = int(mask[0, :, b].sum())
        assert torch.equal(tokens[T - k :, b], task.first_query + torch.arange(k))
        assert torch.equal(targets[0, T - k :, b], tokens[2 * (5 - k) : 2 * (5 - k) + k, b])
    # a model trains on it: one step of fit on the cued task through the study's path
    from rnnviz.study import capacity
    from rnnviz.train import TrainConfig

    rows = capacity(["gru"], [4], [4.0], [(2, 1)], [0], protocol=3, n_test=50, progress=False,
                    train=TrainConfig(steps=10, batch_size=8, eval_every=5, eval_batch=16, curriculum="combined"))
    assert rows["protocol"].tolist() == ["memorization/3+combined"] and rows["recalled_bits"].notna().all()


def test_protocol_3_models_have_their_own_keys_and_one_input_size_per_ensemble():
    from rnnviz.study import sweep_specs
    from rnnviz.study._run import group_specs

    grid = (["gru", "lstm"], [4], [2.0, 4.0, 8.0], [(3, 0), (3, 3)], [0, 1])
    cued, plain = sweep_specs(*grid, protocol=3), sweep_specs(*grid, protocol=2)
    assert not {s.key for s in cued} & {s.key for s in plain}
    assert {s.forget_bias for s in cued if s.cell == "lstm"} == {1.0}  # as in protocol 2
    groups = group_specs(cued)
    assert all(len({s.task().input_size for s in g}) == 1 for g in groups)
    assert {s.task().input_size for s in cued} == {4 + 3 + k for k in (1, 2, 4)}
    # K = 4, L = 8 and K = 5, L = 6 share a length (18) but not an input size: never one ensemble
    shared = sweep_specs(["gru"], [4], [8.0, 10.0], [(8, 0), (6, 0)], [0], protocol=3)
    assert len({s.task().length for s in shared if (s.n_targets, s.n_interfering) in ((4, 8), (5, 6))}) == 1
    assert all(len({s.task().input_size for s in g}) == 1 for g in group_specs(shared))


# --- estimators of recalled information ------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [1, 2])
def test_every_recalled_bits_measure_gives_targeted_bits_on_perfect_recall(protocol):
    kwargs = {"protocol": 2, "n_random": 1} if protocol == 2 else {"interference": "random"}
    task = Memorization(6, 4, 2, **kwargs)
    _, y, mask = task.sample(500, gen(5))
    perfect = torch.nn.functional.one_hot(y, 4).double() * 60  # CE ~ 3 e^-60 nats: the bound is I_T
    s = task.score(perfect, y, mask)
    for key in ("recalled_bits", "recalled_bits_plugin", "recalled_bits_total_clamp", "recalled_bits_ce_bound"):
        assert float(s[key]) == pytest.approx(task.targeted_bits, abs=0.05), key


def test_total_clamp_caps_the_overshoot_of_miller_madow_at_targeted_bits():
    """2 samples of 2 symbols per position: Miller-Madow gives 1.36 bits a position, above log2 A = 1."""
    task = Memorization(3, alphabet=2)  # T = 7, recall steps 4..6
    y = torch.zeros(7, 2, dtype=torch.int64)
    y[4:] = torch.tensor([[0, 1], [1, 0], [0, 1]])
    perfect = torch.nn.functional.one_hot(y, 2).double() * 60
    raw = mutual_information(confusion_counts(y[4:], y[4:], 2), "miller-madow", clip=False)
    assert raw.tolist() == pytest.approx([1 + 1 / (4 * math.log(2))] * 3)
    s = task.score(perfect, y)
    assert float(s["recalled_bits_total_clamp"]) == float(s["recalled_bits"]) == task.targeted_bits == 3.0


def test_total_clamp_removes_the_positive_bias_of_per_position_clamping_at_chance():
    task = Memorization(128, alphabet=16)
    _, y, mask = task.sample(4000, gen(3))
    guess = torch.randn(task.length, 4000, 16, generator=gen(4))
    s = task.score(guess, y, mask)
    per_position, total = float(s["recalled_bits"]), float(s["recalled_bits_total_clamp"])
    # clipping each of the 128 Miller-Madow terms at 0 keeps their positive half: about 0.2 bits here;
    # the unclipped terms scatter around 0 and mostly cancel in the total
    assert 0.0 <= total < 0.6 * per_position and per_position < 0.5
    assert float(s["recalled_bits_ce_bound"]) == 0.0  # random logits: CE > ln A, bound clamped at 0


def test_ce_bound_on_hand_made_logits():
    task = Memorization(2, alphabet=4, n_interfering=1)  # T = 6, recall steps 4 and 5
    y = torch.zeros(6, 2, dtype=torch.int64)
    y[4:] = torch.tensor([[1, 3], [0, 2]])
    mask = torch.zeros(6, 2, dtype=torch.bool)
    mask[4:] = True
    logits = torch.zeros(6, 2, 4, dtype=torch.float64)
    logits[4, 0, 1] = logits[4, 1, 3] = logits[5, 0, 0] = logits[5, 1, 2] = 2.0  # right class at logit 2
    ce = math.log(3 + math.exp(2.0)) - 2.0  # every recall step, nats
    s = task.score(logits, y, mask)
    assert float(s["loss"]) == pytest.approx(ce)
    assert float(s["recalled_bits_ce_bound"]) == pytest.approx(2 * (2.0 - ce / math.log(2)))
    wrong = logits.roll(1, dims=-1)  # confident and wrong: CE > ln A, clamped at 0
    assert float(task.score(wrong, y, mask)["recalled_bits_ce_bound"]) == 0.0
