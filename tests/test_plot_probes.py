"""Probe plots: each takes ax=None, draws what the data says, and returns its artists."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from probes_support import tanh_rnn

from rnnviz import cells, plot, probes


@pytest.fixture(scope="module")
def two_unit():
    """A 2-unit tanh RNN with a saddle at 0 and attractors at (±h*, 0), its trace and fixed points."""
    cell = tanh_rnn(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)), input_weight=0.5)
    tr = cell.trace(torch.zeros(15, 6, 1, dtype=torch.float64), 0.3 * torch.randn(6, 2, dtype=torch.float64))
    fps = probes.fixed_points(cell, torch.zeros(1, dtype=torch.float64), probes.sample_initial_states(tr, 32))
    return cell, tr, fps


def test_trajectories_2d_and_3d_with_fixed_points(two_unit):
    cell, tr, fps = two_unit
    traj = probes.trajectories(tr, 2)
    with plot.style("paper"):
        out = plot.plot_trajectories(traj, fixed_points=fps)
        assert len(out["lines"]) == 6
        assert len(out["stable"].get_offsets()) == 2 and len(out["unstable"].get_offsets()) == 1
        assert len(out["directions"]) == 1  # the saddle's one unstable direction
        seq = plot.plot_trajectories(traj, color_by=np.array([0, 1, 0, 1, 0, 1]))
        assert seq["lines"][0].get_color() == seq["lines"][2].get_color() != seq["lines"][1].get_color()
    lstm = cells.make("lstm", 2, 3)
    traj3 = probes.trajectories(lstm.trace(torch.randn(10, 3, 2)), 3)
    out3 = plot.plot_trajectories(traj3, components=(0, 1, 2))
    assert out3.ax.name == "3d" and len(out3["lines"]) == 3
    _, flat = plt.subplots()
    with pytest.raises(ValueError, match="3-D Axes"):
        plot.plot_trajectories(traj3, components=(0, 1, 2), ax=flat)
    plt.close("all")


def test_saturation_scatter_and_histograms():
    lstm = cells.make("lstm", 2, 5)
    tr = lstm.trace(torch.randn(20, 3, 2))
    frame = probes.gate_saturation(tr)
    fig, (a, b) = plt.subplots(1, 2)
    out = plot.plot_saturation(frame, ax=a)
    assert out.ax is a and set(out["points"]) == {"input", "forget", "output"}
    np.testing.assert_allclose(out["points"]["forget"].get_offsets(), frame[frame.gate == "forget"][["left", "right"]])
    layered = plot.plot_saturation(probes.gate_saturation([tr, tr], layer_names=["l0", "l1"]), ax=a)
    assert {"input (l0)", "output (l1)"} <= set(layered["points"])
    hist = plot.plot_gate_histograms(tr, ax=b)
    assert hist.ax is b and len(hist["histograms"]["input"]) > 0
    plt.close(fig)


def test_energy_landscape_and_eigenvalues(two_unit, tmp_path):
    cell, tr, fps = two_unit
    land = probes.energy_landscape(cell, torch.zeros(1, dtype=torch.float64), probes.trajectories(tr, 2),
                                   resolution=25)
    out = plot.plot_energy_landscape(land, fixed_points=fps)
    assert out["contour"] is not None and len(out["lines"]) == 6 and out["colorbar"] is not None
    eig = plot.plot_eigenvalues(fps)
    lam = eig["unstable"].get_offsets()
    np.testing.assert_allclose(sorted(lam[:, 0]), [0.5, 2.0])  # the saddle: eigenvalues 2 and 0.5
    assert len(eig["stable"].get_offsets()) == 4
    written = plot.save(out.figure, tmp_path / "landscape", formats=("png",))
    assert written[0].stat().st_size > 0
    plt.close("all")


def test_states_by_label_colours_each_step():
    from rnnviz import plot as rplot
    from rnnviz import probes

    cell = tanh_rnn(torch.tensor([[0.5, 0.2], [-0.3, 0.4]], dtype=torch.float64), input_weight=1.0)
    x = torch.randn(12, 1, 1, dtype=torch.float64)
    traj = probes.trajectories(cell.trace(x), n_components=2)
    labels = (x[:, 0, 0] > 0).long().view(-1, 1)  # (T, 1)
    drawn = rplot.plot_states_by_label(traj, labels, label_names=["negative", "positive"])
    n_pos = int(labels.sum())
    assert drawn["points"]["positive"].get_offsets().shape == (n_pos, 2)
    assert drawn["points"]["negative"].get_offsets().shape == (12 - n_pos, 2)
    with pytest.raises(ValueError, match="labels must hold one label per step"):
        rplot.plot_states_by_label(traj, labels[:5])


def test_gate_activity_draws_the_gate_matrix():
    from rnnviz import plot as rplot

    cell = cells.GRU(2, 3)
    tr = cell.trace(torch.randn(6, 2, 2))
    drawn = rplot.plot_gate_activity(tr, "update", batch_index=1, steps=4, tick_labels="abcd")
    np.testing.assert_allclose(drawn["image"].get_array(), tr.gates["update"][:4, 1].T.detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="gate must be one of"):
        rplot.plot_gate_activity(tr, "forget")
    with pytest.raises(ValueError, match="tick_labels must hold one label per drawn step"):
        rplot.plot_gate_activity(tr, "update", steps=4, tick_labels="ab")
    plt.close("all")
