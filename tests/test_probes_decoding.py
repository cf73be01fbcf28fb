"""The decoding probe against known answers: a linear code decodes perfectly, a label-free state at
chance, an ensemble like its members alone, the optimiser at scipy's optimum, a trained model."""


import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from rnnviz import plot, probes
from rnnviz.probes._decoding import _fit, _standardise, _wilson
from rnnviz.train import train_memorization

A, B, S, T = 4, 240, 12, 6


def balanced_labels(K: int, generator: torch.Generator) -> torch.Tensor:
    """``(B, K)`` labels, each class exactly B/A times per column (chance = 1/A exactly)."""
    return torch.stack([torch.randperm(B, generator=generator) % A for _ in range(K)], dim=1)


def linear_code(labels: torch.Tensor, stored_at, generator: torch.Generator, noise: float = 0.05):
    """States ``(T+1, B, S)``: noise, plus a random linear embedding of label k from step stored_at[k] on."""
    states = noise * torch.randn(T + 1, B, S, generator=generator, dtype=torch.float64)
    for k, t in enumerate(stored_at):
        embedding = torch.randn(A, S, generator=generator, dtype=torch.float64)
        states[t:] += embedding[labels[:, k]]
    return states


@pytest.fixture(scope="module")
def coded():
    g = torch.Generator().manual_seed(1)
    labels = balanced_labels(2, g)
    return linear_code(labels, (1, 3), g), labels


def test_a_linear_code_decodes_at_accuracy_one_and_log2_a_bits(coded):
    states, labels = coded
    d = probes.decoding(states, labels, n_classes=A)
    assert d.accuracy.shape == d.bits.shape == d.bits_low.shape == (2, T + 1) and not d.ensemble
    assert d.predictions.shape == (2, T + 1, B) and d.times.tolist() == list(range(T + 1))
    torch.testing.assert_close(d.chance, torch.full((2,), 1 / A, dtype=torch.float64))
    stored = torch.zeros(2, T + 1, dtype=torch.bool)
    stored[0, 1:] = stored[1, 3:] = True
    assert bool((d.accuracy[stored] == 1.0).all())
    # perfect decoding of balanced labels: log2 A (Miller-Madow's + (A - 1) / (2 B ln 2) is clipped to the range)
    torch.testing.assert_close(d.bits[stored], torch.full_like(d.bits[stored], 2.0))
    assert bool((d.bits_low[stored] > 1.95).all())
    assert bool((d.bits[~stored] < 0.1).all()) and bool((d.accuracy[~stored] < 0.4).all())
    assert d.info["max_gradient"] < 1e-5 and d.max_bits == 2.0
    frame = d.to_frame()
    assert list(frame.columns) == ["label", "time", "accuracy", "accuracy_low", "accuracy_high", "bits",
                                   "bits_low", "bits_high", "chance"]
    assert len(frame) == 2 * (T + 1)
    row = frame[(frame.label == 1) & (frame.time == 4)].iloc[0]
    assert row.accuracy == d.accuracy[1, 4].item() and row.bits_high == d.bits_high[1, 4].item()


def test_a_subset_of_times_gives_the_same_answers_and_seeds_repeat(coded):
    states, labels = coded
    full = probes.decoding(states, labels, n_classes=A)
    part = probes.decoding(states, labels, n_classes=A, times=[5, 0, 3])
    assert part.times.tolist() == [5, 0, 3] and part.n_states == T + 1
    for name in ("accuracy", "bits", "bits_low", "bits_high", "predictions"):
        torch.testing.assert_close(getattr(part, name), getattr(full, name)[:, [5, 0, 3]])
    again = probes.decoding(states, labels, n_classes=A)
    torch.testing.assert_close(again.bits_low, full.bits_low)


def test_a_state_independent_of_the_label_decodes_at_chance():
    g = torch.Generator().manual_seed(2)
    labels = balanced_labels(3, g)
    states = torch.randn(30, B, S, generator=g)
    d = probes.decoding(states, labels, n_classes=A)
    chance = d.chance[:, None]
    assert torch.allclose(d.chance, torch.full((3,), 0.25, dtype=torch.float64))
    covered = (d.accuracy_low <= chance) & (chance <= d.accuracy_high)
    assert covered.double().mean() >= 0.8  # nominal 95 %; CV predictions are not independent
    assert abs(d.accuracy.mean().item() - 0.25) < 0.02
    assert d.bits.mean() < 0.02 and (d.bits_low == 0).double().mean() >= 0.8
    assert bool((d.bits_low <= d.bits_high).all()) and bool((d.accuracy_low <= d.accuracy).all())


def test_wilson_interval_matches_the_textbook():
    low, high = _wilson(torch.tensor([0.5, 0.0, 1.0], dtype=torch.float64), 100, 0.95)
    torch.testing.assert_close(low, torch.tensor([0.403832, 0.0, 0.963007], dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(high, torch.tensor([0.596168, 0.036993, 1.0], dtype=torch.float64), atol=1e-6, rtol=0)


def test_the_batched_optimiser_reaches_scipys_optimum():
    """Every (time, label, fold) problem against scipy's L-BFGS-B on the same penalised loss."""
    g = torch.Generator().manual_seed(3)
    n, s, classes, folds, l2 = 60, 3, 3, 3, 0.05
    states = torch.randn(2, 1, n, s, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (1, 2, n), generator=g)
    states[0, 0] += y[0, 0, :, None] * 0.7  # time 0 holds label 0 (weakly); time 1 is noise
    fold_of = torch.randint(0, folds, (1, 2, n), generator=g)
    x = _standardise(states.transpose(0, 1))  # (E=1, t=2, n, s + 1)
    W, _, gradient, _ = _fit(x, y, fold_of, classes, folds, l2, max_iter=500, tol=1e-9)
    assert gradient < 1e-7  # the loss stops resolving progress near 1e-8: weights within 1e-7 / l2 = 2e-6
    for t in range(2):
        for k in range(2):
            for f in range(folds):
                train = fold_of[0, k] != f
                xt, yt = x[0, t][train].numpy(), y[0, k][train].numpy()

                def loss(w, xt=xt, yt=yt):
                    w = w.reshape(s + 1, classes)
                    z = xt @ w
                    z = z - z.max(1, keepdims=True)
                    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
                    onehot = np.eye(classes)[yt]
                    value = -np.log(p[np.arange(len(yt)), yt]).mean() + 0.5 * l2 * (w[:-1] ** 2).sum()
                    grad = xt.T @ (p - onehot) / len(yt)
                    grad[:-1] += l2 * w[:-1]
                    return value, grad.ravel()

                best = minimize(loss, np.zeros((s + 1) * classes), jac=True, method="L-BFGS-B",
                                options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
                np.testing.assert_allclose(W[0, t, k, f].numpy().ravel(), best.x, atol=1e-5)


def test_an_ensemble_equals_its_members_decoded_alone():
    g = torch.Generator().manual_seed(4)
    labels = balanced_labels(2, g)
    ensemble = torch.stack([linear_code(labels, (1, 2), g, noise=2.0), torch.randn(T + 1, B, S, generator=g,
                                                                                  dtype=torch.float64)])
    d = probes.decoding(ensemble, labels, n_classes=A)
    assert d.ensemble and d.accuracy.shape == (2, 2, T + 1) and d.chance.shape == (2, 2)
    for e in range(2):
        alone = probes.decoding(ensemble[e], labels, n_classes=A)
        member = d.member(e)
        assert torch.equal(member.predictions, alone.predictions)
        for name in ("accuracy", "accuracy_low", "accuracy_high", "bits", "bits_low", "bits_high", "chance"):
            torch.testing.assert_close(getattr(member, name), getattr(alone, name))
    assert d.accuracy[0, :, -1].min() > 0.5 > d.accuracy[1].max()  # member 0 holds the labels (noisily), 1 not
    frame = d.to_frame()
    assert frame.columns[0] == "member" and len(frame) == 2 * 2 * (T + 1)
    # labels per member, (E, B, K)
    per_member = probes.decoding(ensemble, torch.stack([labels, labels.flip(0)]), n_classes=A)
    torch.testing.assert_close(per_member.member(0).bits, d.member(0).bits)
    assert torch.equal(per_member.labels[1], labels.flip(0).T)


def test_a_trace_and_one_label_per_sequence():
    from rnnviz import cells

    cell = cells.make("gru", 3, 8, dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    symbol = torch.randint(0, 3, (64,), generator=g)
    x = torch.zeros(4, 64, 3, dtype=torch.float64)
    x[0] = torch.nn.functional.one_hot(symbol, 3).double()
    tr = cell.trace(x)
    d = probes.decoding(tr, symbol, folds=4)
    assert d.n_classes == 3 and d.accuracy.shape == (1, 5)
    torch.testing.assert_close(d.bits, probes.decoding(tr.states, symbol, folds=4).bits)
    assert d.accuracy[0, 0] < 0.6 and d.accuracy[0, 1] == 1.0  # s0 knows nothing; s1 has read the symbol


def test_bad_inputs_are_named():
    states = torch.randn(T + 1, B, S)
    labels = torch.randint(0, A, (B, 2))
    with pytest.raises(ValueError, match=r"\(T\+1, B, S\)"):
        probes.decoding(states[0], labels)
    with pytest.raises(TypeError, match="floating-point tensor"):
        probes.decoding(states.long(), labels)
    with pytest.raises(ValueError, match="B=240 sequences"):
        probes.decoding(states, labels[:10])
    with pytest.raises(TypeError, match="integer classes"):
        probes.decoding(states, labels.float())
    with pytest.raises(ValueError, match=r"\[0, n_classes=3\)"):
        probes.decoding(states, labels, n_classes=3)
    with pytest.raises(ValueError, match="classes >= 0"):
        probes.decoding(states, labels - 1)
    with pytest.raises(ValueError, match="labels must have shape"):
        probes.decoding(states, labels[None])  # (E, B, K) needs an ensemble
    with pytest.raises(ValueError, match="E=2 members"):
        probes.decoding(states.expand(2, -1, -1, -1), labels[None])
    with pytest.raises(ValueError, match="finite"):
        probes.decoding(torch.full_like(states, float("nan")), labels)
    for kwargs, error, message in [
        ({"folds": 1}, ValueError, "folds"), ({"folds": B + 1}, ValueError, "folds"),
        ({"l2": -1.0}, ValueError, "l2"), ({"confidence": 1.0}, ValueError, "confidence"),
        ({"correction": "jackknife"}, ValueError, "correction"), ({"n_classes": 1}, ValueError, "n_classes"),
        ({"times": [0, T + 1]}, ValueError, r"times\[1\]"), ({"times": []}, TypeError, "times"),
        ({"times": [0.5]}, TypeError, r"times\[0\]"), ({"n_bootstrap": 0}, ValueError, "n_bootstrap"),
    ]:
        with pytest.raises(error, match=message):
            probes.decoding(states, labels, **kwargs)
    with pytest.raises(ValueError, match="ensemble"):
        probes.decoding(states, labels).member(0)


def test_plot_decoding_draws_lines_bands_chance_and_the_readout(coded, monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plot_decoding must not call plt.show()"))
    states, labels = coded
    d = probes.decoding(states, labels, n_classes=A)
    _, ax = plt.subplots()
    out = plot.plot_decoding(d, recalled_bits=torch.tensor([1.5, 0.5]), ax=ax)
    assert out.ax is ax and set(out) == {"lines", "bands", "chance", "max", "recalled"}
    assert set(out["lines"]) == set(out["bands"]) == {"symbol 1", "symbol 2"}
    np.testing.assert_allclose(out["lines"]["symbol 2"].get_ydata(), d.bits[1].numpy())
    np.testing.assert_allclose(out["chance"].get_ydata(), [0, 0])
    np.testing.assert_allclose(out["recalled"].get_offsets(), [[T - 1, 1.5], [T, 0.5]])  # the last K states
    assert out["lines"]["symbol 1"].get_color() != out["lines"]["symbol 2"].get_color()
    bare = plot.plot_decoding(d, label_names=["first", "second"])
    assert bare["recalled"] is None and bare["lines"]["second"].get_label() == "second"
    with pytest.raises(ValueError, match="recalled_bits"):
        plot.plot_decoding(d, recalled_bits=[1.0])
    ens = probes.decoding(torch.stack([states, states]), labels, n_classes=A, times=[0, 1])
    with pytest.raises(ValueError, match=r"member\(i\)"):
        plot.plot_decoding(ens)
    plt.close("all")


def test_a_trained_memorization_model_end_to_end():
    """Symbol k cannot be in the state before it is read (s_t, t <= k), is in it once read (s_{k+1}),
    and at the recall step the decoder reads about as much as the trained readout recalls."""
    example = train_memorization("gru", 16, n_targets=3, alphabet=4, n_interfering=2, steps=120, seed=0)
    task, model = example.task, example.model
    inputs, targets, mask = task.sample(300, torch.Generator().manual_seed(1))
    tr = model.trace(inputs)[0]
    d = probes.decoding(tr, targets[task.recall_slice].T, n_classes=task.alphabet)
    assert d.accuracy.shape == (3, task.length + 1)
    for k in range(3):
        assert d.bits[k, : k + 1].max() < 0.15, f"symbol {k} decoded before it was read"
        assert d.accuracy[k, k + 1] > 0.95 and d.bits[k, k + 1] > 1.7
    with torch.no_grad():
        recalled = task.score(model(inputs), targets, mask)["recalled_bits_per_position"]
    at_recall = d.bits[torch.arange(3), torch.arange(task.length + 1 - 3, task.length + 1)]
    assert bool((at_recall > recalled - 0.25).all()), (at_recall, recalled)
    out = plot.plot_decoding(d, recalled_bits=recalled)
    np.testing.assert_allclose(out["recalled"].get_offsets()[:, 0], [7, 8, 9])
    plt.close("all")
