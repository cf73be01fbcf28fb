"""Property-based tests (hypothesis) of the public constructors and the tasks: whatever is passed,
a constructor either builds a working object or refuses with a TypeError/ValueError naming the
argument; tasks sample the shapes they promise and score in their documented ranges.

Few, derandomized examples (fixed across runs, no example database) keep this file at a few seconds.
"""

import math
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnviz import cells
from rnnviz.study import sweep_specs
from rnnviz.tasks import Adding, Copy, FlipFlop, Memorization
from rnnviz.train import TrainConfig, learning_rate

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# anything a caller might pass by mistake
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=3), st.just([1]))


def is_int(v, low):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def is_real(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ------------------------------------------------------------------------------------ cells
def options_of(name):
    """A strategy of valid options for cell ``name``."""
    allowed = set(cells.allowed_options(name))
    choices = {
        "output_map": st.booleans(), "irc": st.booleans(), "ihc": st.booleans(), "highway": st.booleans(),
        "rescale": st.booleans(), "version": st.sampled_from([1, 2]), "highway_bias": st.floats(-5, 5),
        "nonlinearity": st.sampled_from(["tanh", "relu"]), "batch_first": st.booleans(),
    }
    return st.fixed_dictionaries({}, optional={k: v for k, v in choices.items() if k in allowed})


@FAST
@given(data=st.data(), name=st.sampled_from(cells.names()), m=st.integers(1, 4), n=st.integers(1, 4),
       E=st.one_of(st.none(), st.integers(1, 3)), T=st.integers(1, 3), B=st.integers(0, 3))
def test_any_valid_cell_runs_with_the_shapes_it_promises(data, name, m, n, E, T, B):
    options = data.draw(options_of(name))
    square = name.startswith(("irc_", "ihc_")) or options.get("irc") or options.get("ihc")
    m = n if square else m
    cell = cells.make(name, m, n, n_models=E, **options)
    lead = () if E is None else (E,)
    x = torch.randn(*lead, T, B, m)
    if options.get("batch_first"):
        x = x.transpose(-3, -2)
    y, s = cell(x)
    steps = (B, T) if options.get("batch_first") else (T, B)
    assert y.shape == (*lead, *steps, cell.output_size) and s.shape == (*lead, B, cell.state_size)
    assert torch.isfinite(y).all() and torch.isfinite(s).all()
    if E is not None and B > 0:  # member i of the ensemble is the single cell member(i)
        y0, s0 = cell.member(E - 1)(x[E - 1])
        torch.testing.assert_close(y0, y[E - 1], rtol=1e-5, atol=1e-5)


@FAST
@given(data=st.data(), name=st.sampled_from(cells.names()))
def test_cell_options_of_the_wrong_kind_are_refused_by_name(data, name):
    option = data.draw(st.sampled_from(sorted(set(cells.allowed_options(name)) - {"device", "dtype", "generator"})))
    value = data.draw(JUNK)
    valid = {
        "output_map": lambda v: isinstance(v, bool), "irc": lambda v: isinstance(v, bool),
        "ihc": lambda v: isinstance(v, bool), "highway": lambda v: isinstance(v, bool),
        "rescale": lambda v: isinstance(v, bool), "batch_first": lambda v: isinstance(v, bool),
        "version": lambda v: v in (1, 2) and not isinstance(v, bool),
        "highway_bias": lambda v: is_real(v) and v <= 700,
        "forget_bias": lambda v: v is None or (is_real(v) and abs(v) <= 100),
        "nonlinearity": lambda v: v in ("tanh", "relu"),
        "n_models": lambda v: v is None or is_int(v, 1),
    }[option]
    n = 3
    if valid(value):
        cells.make(name, n, n, **{option: value})
    else:
        with pytest.raises((TypeError, ValueError), match=option):
            cells.make(name, n, n, **{option: value})


@FAST
@given(m=JUNK, n=JUNK)
def test_cell_sizes_must_be_positive_integers(m, n):
    if is_int(m, 1) and is_int(n, 1):
        assert cells.make("gru", m, n).state_size == n
    else:
        with pytest.raises((TypeError, ValueError), match="input_size|hidden_size"):
            cells.make("gru", m, n)


# ------------------------------------------------------------------------------------ TrainConfig
RULES = {
    **{f: (lambda v: is_int(v, 1)) for f in ("steps", "batch_size", "eval_every", "eval_batch", "seq_len",
                                              "eval_seq_len")},
    "warmup": lambda v: is_int(v, 0),
    "seed": lambda v: is_int(v, 0),
    "eval_chars": lambda v: v is None or is_int(v, 2),
    "lr": lambda v: is_real(v) and v > 0,
    "clip": lambda v: v is None or (is_real(v) and v > 0),
    "schedule": lambda v: isinstance(v, str) and v in ("constant", "cosine"),
    "min_lr_ratio": lambda v: is_real(v) and 0 <= v <= 1,
    "target_accuracy": lambda v: v is None or (is_real(v) and 0 < v <= 1),
    "weight_decay": lambda v: is_real(v) and v >= 0,
}


@FAST
@given(changes=st.dictionaries(st.sampled_from(sorted(RULES)), st.one_of(JUNK, st.sampled_from(["cosine", "constant"])),
                               max_size=3))
def test_train_config_builds_exactly_when_every_field_is_valid(changes):
    bad = sorted(k for k, v in changes.items() if not RULES[k](v))
    if not bad:
        config = TrainConfig(**changes)
        for step in (0, config.warmup, config.steps, config.steps + 5):
            assert 0 <= learning_rate(step, config) <= config.lr and math.isfinite(learning_rate(step, config))
    else:
        with pytest.raises((TypeError, ValueError)) as caught:
            TrainConfig(**changes)
        assert any(k in str(caught.value) for k in bad), (bad, caught.value)


# ------------------------------------------------------------------------------------ tasks
@FAST
@given(K=st.integers(1, 4), A=st.integers(2, 5), L=st.integers(0, 3), kind=st.sampled_from(["blank", "random"]),
       B=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_memorization_samples_and_scores_within_their_ranges(K, A, L, kind, B, seed):
    task = Memorization(K, A, L, kind)
    x, y, mask = task.sample(B, torch.Generator().manual_seed(seed))
    T = 2 * K + L + 1
    assert x.shape == (T, B, A + 2) and y.shape == (T, B) and mask.shape == (T, B)
    assert (x.sum(-1) == 1).all() and int(mask.sum()) == K * B
    assert ((y[mask] >= 0) & (y[mask] < A)).all() and (y[~mask] == 0).all()
    torch.testing.assert_close(x[:K].argmax(-1), y[T - K:])  # the recall steps reproduce the stored symbols
    for logits in (torch.randn(T, B, A, generator=torch.Generator().manual_seed(seed)),
                   100.0 * torch.nn.functional.one_hot(y, A).float()):
        sc = task.score(logits, y, mask)
        assert 0 <= float(sc["accuracy"]) <= 1 and float(sc["loss"]) >= 0
        for bits in ("recalled_bits", "recalled_bits_plugin"):  # at most log2 A bits per recalled symbol
            assert 0 <= float(sc[bits]) <= task.targeted_bits + 1e-9
        assert (sc["recalled_bits_per_position"] <= math.log2(A) + 1e-9).all()
        assert sc["accuracy_per_position"].shape == sc["recalled_bits_per_position"].shape == (K,)
    assert float(sc["accuracy"]) == 1.0  # the perfect logits


@FAST
@given(K=JUNK, A=JUNK, L=JUNK, kind=st.one_of(JUNK, st.sampled_from(["blank", "random"])))
def test_memorization_refuses_bad_settings_by_name(K, A, L, kind):
    if is_int(K, 1) and is_int(A, 2) and is_int(L, 0) and kind in ("blank", "random"):
        assert Memorization(K, A, L, kind).length == 2 * K + L + 1
    else:
        with pytest.raises((TypeError, ValueError), match="n_targets|alphabet|n_interfering|interference"):
            Memorization(K, A, L, kind)


@FAST
@given(B=st.integers(1, 5), T=st.integers(2, 8), seed=st.integers(0, 2**31))
def test_classic_tasks_sample_their_shapes(B, T, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = Copy(T, 2, 3).sample(B, g)
    assert x.shape == (T + 4, B, 5) and y.shape == (T + 4, B) and int(y.max()) <= 3
    x, y = Adding(T).sample(B, g)
    assert x.shape == (T, B, 2) and y.shape == (B, 1) and (x[..., 1].sum(0) == 2).all() and (0 <= y).all() and (y <= 2).all()
    x, y = FlipFlop(2, T).sample(B, g)
    assert x.shape == y.shape == (T, B, 2) and set(y.unique().tolist()) <= {-1.0, 0.0, 1.0}
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        Memorization(2).sample(0, g)


# ------------------------------------------------------------------------------------ sweep grids
@FAST
@given(cells_=st.lists(st.sampled_from(["gru", "pru", "rnn"]), min_size=1, max_size=4),
       sizes=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       bits=st.lists(st.sampled_from([2, 2.0, 4.0, 6]), min_size=1, max_size=3),
       interfering=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["blank", "random"])), min_size=1, max_size=3),
       seeds=st.lists(st.integers(0, 3), min_size=1, max_size=3), as_generators=st.booleans())
def test_a_sweep_has_each_distinct_model_once(cells_, sizes, bits, interfering, seeds, as_generators):
    axes = [cells_, sizes, bits, interfering, seeds]
    expected = math.prod(len(set(a if a is not bits else [float(b) for b in bits])) for a in axes)
    given_axes = [iter(a) for a in axes] if as_generators else axes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        specs = sweep_specs(*given_axes)
    assert len(specs) == len({s.key for s in specs}) == expected
    repeated = any(len(set(a if a is not bits else [float(b) for b in bits])) < len(a) for a in axes)
    assert bool(caught) == repeated
