"""Mutual-information estimator on analytic cases."""

import math

import pytest
import torch

from rnnviz.tasks import confusion_counts, entropy, mutual_information, recalled_information


def test_perfect_recall_gives_log2_alphabet():
    for A in (2, 4, 16):
        counts = torch.eye(A, dtype=torch.int64) * 25
        assert float(mutual_information(counts)) == pytest.approx(math.log2(A))


def test_independent_counts_give_zero_exactly():
    counts = torch.outer(torch.tensor([1, 2, 3]), torch.tensor([4, 1, 1, 2]))  # p(x,y) = p(x) p(y)
    assert float(mutual_information(counts)) == pytest.approx(0.0, abs=1e-12)


def test_chance_predictions_are_near_zero_and_bias_matches_theory():
    g = torch.Generator().manual_seed(0)
    A, N = 4, 20000
    t = torch.randint(0, A, (50, N), generator=g)
    p = torch.randint(0, A, (50, N), generator=g)
    mi = recalled_information(t, p, A)  # (50,)
    expected_bias = (A - 1) ** 2 / (2 * N * math.log(2))  # Miller 1955
    assert float(mi.mean()) == pytest.approx(expected_bias, rel=0.3)
    corrected = recalled_information(t, p, A, correction="miller-madow")
    assert float(corrected.mean()) < 0.3 * expected_bias


def test_known_confusion_matrix_binary_symmetric_channel():
    # binary symmetric channel with error e and uniform input: I = 1 - H2(e)
    e = 0.1
    counts = torch.tensor([[900, 100], [100, 900]])
    h2 = -(e * math.log2(e) + (1 - e) * math.log2(1 - e))
    assert float(mutual_information(counts)) == pytest.approx(1 - h2, abs=1e-12)


def test_known_confusion_matrix_hand_computed():
    # p = [[1/4, 1/4], [0, 1/2]]: px = (1/2, 1/2), py = (1/4, 3/4)
    counts = torch.tensor([[1, 1], [0, 2]])
    hand = (
        0.25 * math.log2(0.25 / (0.5 * 0.25))
        + 0.25 * math.log2(0.25 / (0.5 * 0.75))
        + 0.5 * math.log2(0.5 / (0.5 * 0.75))
    )
    assert float(mutual_information(counts)) == pytest.approx(hand, abs=1e-12)
    # I = H(X) + H(Y) - H(X, Y)
    hx, hy, hxy = entropy(counts.sum(1)), entropy(counts.sum(0)), entropy(counts.reshape(-1))
    assert float(mutual_information(counts)) == pytest.approx(float(hx + hy - hxy), abs=1e-12)


def test_confusion_counts_batched_and_checked():
    t = torch.tensor([[0, 1, 2, 2], [1, 1, 1, 0]])
    p = torch.tensor([[0, 1, 2, 1], [1, 1, 1, 1]])
    c = confusion_counts(t, p, 3)
    assert c.shape == (2, 3, 3) and c.sum() == 8
    assert c[0, 2, 1] == 1 and c[1, 1, 1] == 3 and c[1, 0, 1] == 1
    with pytest.raises(ValueError, match="predictions must lie in"):
        confusion_counts(t, p + 5, 3)
    with pytest.raises(TypeError, match="targets must be an integer tensor"):
        confusion_counts(t.float(), p, 3)
    with pytest.raises(ValueError, match="correction must be one of"):
        mutual_information(c, correction="jackknife")


def test_unclipped_estimate_is_the_clipped_one_before_the_clip():
    g = torch.Generator().manual_seed(1)
    t, p = torch.randint(0, 4, (2, 200, 500), generator=g)
    counts = confusion_counts(t, p, 4)  # (200, 4, 4): independent target and prediction
    raw = mutual_information(counts, "miller-madow", clip=False)
    assert (raw < 0).any() and (raw > 0).any()  # at chance Miller-Madow scatters around 0
    assert torch.equal(mutual_information(counts, "miller-madow"), raw.clamp(0.0, 2.0))
    assert abs(float(raw.mean())) < float(raw.clamp_min(0).mean())  # clipping each term biases upward
    assert torch.allclose(mutual_information(counts, clip=False), mutual_information(counts), atol=1e-12)  # plug-in
    with pytest.raises(TypeError, match="clip"):
        mutual_information(counts, clip="no")
