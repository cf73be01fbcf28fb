"""The probes and plots behind the teaching figures: the discriminant projection (where labelled
states separate), the pulse response (memory time scale), and their plots."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
from probes_support import tanh_rnn

from rnnviz import cells, probes
from rnnviz import plot as rplot


def _clusters(seed=0):
    """Three labels separated along one direction of 6-D space; large label-free variance elsewhere."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(300) % 3
    points = torch.randn(300, 6, generator=g) * torch.tensor([5.0, 5.0, 5.0, 5.0, 5.0, 0.1])
    points[:, 5] += labels.double().float()  # the labels differ only along the last axis
    return points.double(), labels


def test_discriminant_finds_the_separating_direction_that_pca_misses():
    points, labels = _clusters()
    lda = probes.discriminant_projection(points, labels, n_components=2)
    assert torch.allclose(lda.basis.T @ lda.basis, torch.eye(2, dtype=torch.float64), atol=1e-10)
    assert abs(float(lda.basis[5, 0])) > 0.999  # the first axis is the separating one
    assert float(lda.separation[0]) > 10 > float(lda.separation[1])
    pca = probes.trajectories(points, 2)
    assert abs(float(pca.basis[5, 0])) < 0.1  # PCA is spent on the label-free variance
    coords = lda.project(points)
    assert torch.allclose(coords, lda.projected)
    assert torch.allclose(lda.project(lda.reconstruct(coords)), coords, atol=1e-10)
    frame = lda.to_frame()
    assert list(frame.columns) == ["point", "label", "ld1", "ld2"] and len(frame) == 300
    assert lda.labels.tolist() == [0, 1, 2]


def test_discriminant_accepts_leading_axes_and_checks_its_arguments():
    points, labels = _clusters()
    lda = probes.discriminant_projection(points.view(3, 100, 6), labels.view(3, 100), n_components=1)
    assert lda.projected.shape == (300, 1)
    with pytest.raises(ValueError, match="labels must have one label per state"):
        probes.discriminant_projection(points, labels[:10])
    with pytest.raises(ValueError, match="at least 2 distinct"):
        probes.discriminant_projection(points, torch.zeros(300, dtype=torch.int64))
    with pytest.raises(ValueError, match="n_components"):
        probes.discriminant_projection(points, labels, n_components=3)  # at most C - 1 = 2
    with pytest.raises(TypeError, match="labels must be integers"):
        probes.discriminant_projection(points, labels.double())


def test_pulse_response_of_a_linear_regime_decays_geometrically():
    a = 0.8  # h' = tanh(a h + x): for a tiny pulse, d_t = a^(t-1) d_1, so tau = 1 + 1/ln(1/a)
    cell = tanh_rnn(a * torch.eye(3, dtype=torch.float64), input_weight=1.0)
    resp = probes.pulse_response(cell, steps=20, n_pulses=4, scale=1e-4, generator=torch.Generator().manual_seed(0))
    expected = a ** torch.arange(-1, 20, dtype=torch.float64).clamp_min(0)
    assert resp.response[0] == 0 and torch.allclose(resp.response[1:], expected[1:], rtol=1e-4)
    assert float(resp.memory_time) == pytest.approx(1 + 1 / math.log(1 / a), rel=1e-3)
    assert list(resp.to_frame().columns) == ["step", "response"]
    fast = probes.pulse_response(tanh_rnn(0.0 * torch.eye(3, dtype=torch.float64), input_weight=1.0), steps=5)
    assert float(fast.memory_time) == pytest.approx(1.0, abs=0.01)  # gone after one step
    slow = probes.pulse_response(cell, steps=2, scale=1e-4)
    assert math.isinf(float(slow.memory_time))  # still above 1/e after 2 steps


def test_pulse_response_of_an_ensemble_has_a_member_axis():
    ens = cells.make("gru", 3, 4, n_models=2, generator=torch.Generator().manual_seed(0))
    resp = probes.pulse_response(ens, steps=6, n_pulses=5)
    assert resp.distances.shape == (2, 7, 5) and resp.response.shape == (2, 7)
    assert resp.memory_time.shape == (2,)
    assert resp.members_mean().response.shape == (7,)
    assert set(resp.to_frame().columns) == {"member", "step", "response"}
    with pytest.raises(ValueError, match="steps"):
        probes.pulse_response(ens, steps=0)


def test_memory_states_draw_fixed_and_slow_points_in_a_discriminant_plane():
    points, labels = _clusters()
    lda = probes.discriminant_projection(points, labels)
    cell = tanh_rnn(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)), input_weight=0.5)
    fps = probes.fixed_points(cell, torch.zeros(1, dtype=torch.float64),
                              torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)),
                              max_iter=3, newton_steps=0)  # too few steps: slow points only
    assert len(fps) == 0 and len(fps.slow_points) > 0
    plane = probes.trajectories(torch.randn(20, 2, dtype=torch.float64), 2)
    drawn = rplot.plot_memory_states(plane, torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 2]),
                                     fixed_points=fps)
    assert drawn["slow"] is not None and drawn["stable"] is None and set(drawn["points"]) == {0, 1, 2}
    drawn = rplot.plot_memory_states(lda, points[:10], labels[:10], paths=points.view(30, 10, 6),
                                     label_names=["a", "b", "c"], max_paths=4)
    assert set(drawn["points"]) == {"a", "b", "c"} and sum(len(v) for v in drawn["paths"].values()) == 4
    assert drawn.ax.get_xlabel().startswith("discriminant 1")
    with pytest.raises(ValueError, match="labels must hold one label per state"):
        rplot.plot_memory_states(lda, points[:10], labels[:3])
    plt.close("all")
