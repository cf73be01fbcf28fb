"""probes.iterated: the k-step map, whose fixed points are a cell's period-k points."""

import pytest
import torch

from rnnviz import cells, probes


def flipping_rnn():
    """h ↦ tanh(−2h): one unstable fixed point (0) and a stable 2-cycle ±a, a = tanh(2 tanh(2a)) ≈ 0.957."""
    cell = cells.make("rnn", 1, 1, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.fill_(-2.0)
        cell.weight_ih.zero_()
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    return cell


def test_a_two_cycle_is_a_pair_of_stable_fixed_points_of_two_steps():
    cell = flipping_rnn()
    x = torch.zeros(1, dtype=torch.float64)
    starts = torch.linspace(-0.9, 0.9, 10, dtype=torch.float64).unsqueeze(-1)
    one = probes.fixed_points(cell, x, starts)
    assert one.converged.any() and not one.is_stable[one.converged].any()  # one step: only the unstable 0
    assert one.states[one.converged].abs().max() < 1e-6
    two = probes.fixed_points(probes.iterated(cell, 2), x, starts)
    found = two.states[two.converged & two.is_stable].squeeze(-1)
    a = 0.957
    for _ in range(60):
        a = torch.tanh(2 * torch.tanh(torch.tensor(2 * a))).item()
    assert found.numel() > 0
    assert torch.allclose(found.abs(), torch.full_like(found, a), atol=1e-8)
    assert {1.0, -1.0} <= set(found.sign().tolist())  # both points of the cycle
    # one step maps each point of the cycle to the other
    assert torch.allclose(cell.step(x.expand(1, 1), found[:1].view(1, 1)), -found[:1].view(1, 1), atol=1e-8)


def test_iterated_checks_its_arguments():
    cell = flipping_rnn()
    assert probes.iterated(cell, 1).step(torch.zeros(1, 1, dtype=torch.float64), torch.full((1, 1), 0.5,
                                                                                        dtype=torch.float64)).item() \
        == pytest.approx(torch.tanh(torch.tensor(-1.0)).item())
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        probes.iterated(cell, 0)
    with pytest.raises(ValueError, match="single cell"):
        probes.iterated(cells.make("gru", 2, 2, n_models=2))
    with pytest.raises(TypeError, match="with .step"):
        probes.iterated(torch.nn.Linear(2, 2))
