"""Hopfield energy: exact descent where the theory says so, honest diagnostics elsewhere."""

import math

import pytest
import torch

from rnnviz import cells
from rnnviz.probes import (
    descent_condition,
    energy,
    energy_diagnostics,
    energy_gradient,
    energy_landscape,
    hopfield_energy,
    hopfield_reading,
    trajectories,
)


def symmetric(n, low, high, seed=0):
    """A random symmetric matrix with eigenvalues spread over [low, high]."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q @ torch.diag(torch.linspace(low, high, n, dtype=torch.float64)) @ Q.T


def test_potential_is_the_integral_of_atanh():
    v = torch.linspace(-0.99, 0.99, 7, dtype=torch.float64)
    U = torch.zeros(7, 7, dtype=torch.float64)
    E = hopfield_energy(torch.diag(v), U, torch.zeros(7, dtype=torch.float64))  # one unit at a time
    expected = torch.tensor([v_ * math.atanh(v_) + 0.5 * math.log(1 - v_**2) for v_ in v.tolist()],
                            dtype=torch.float64)
    torch.testing.assert_close(E, expected)
    assert hopfield_energy(torch.tensor([1.5], dtype=torch.float64), U[:1, :1],
                           torch.zeros(1, dtype=torch.float64)).isinf().all()


def test_gradient_matches_autograd_for_every_cell():
    for name in cells.names():
        cell = cells.make(name, 4, 4).double()
        s = (0.9 * torch.tanh(torch.randn(3, cell.state_size, dtype=torch.float64))).requires_grad_(True)
        x = torch.randn(3, 4, dtype=torch.float64)
        (auto,) = torch.autograd.grad(energy(cell, s, x).sum(), s)
        r = hopfield_reading(cell)
        torch.testing.assert_close(energy_gradient(cell, s.detach(), x), auto[:, r.coords], msg=name)


def test_symmetric_hopfield_rnn_never_increases_energy():
    # α = 1: descent needs λ_min(W) > −1; inputs change every step (I_t held within a step)
    n = 6
    cell = cells.RNN(3, n, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.copy_(symmetric(n, -0.9, 2.5))
    x = torch.randn(40, 8, 3, dtype=torch.float64)
    d = energy_diagnostics(cell, x, torch.rand(8, n, dtype=torch.float64) * 2 - 1)
    assert d.asymmetry < 1e-12 and d.reading.exact
    assert (d.condition > 0).all()
    assert (d.change <= 1e-12).all() and d.fraction_decreasing == 1.0
    # the same matrix shifted below −1 loses the guarantee: period-2 oscillations raise E_S
    with torch.no_grad():
        cell.weight_hh.copy_(symmetric(n, -3.0, -2.0))
    bad = energy_diagnostics(cell, torch.zeros(40, 8, 3, dtype=torch.float64),
                             0.1 * torch.randn(8, n, dtype=torch.float64))
    assert (bad.condition < 0).all() and bad.fraction_decreasing < 1.0


def gru_with_reset_open(U, z_bias):
    """A GRU with r ≡ 1 (reset weights 0, bias 40), candidate weights U, and update gate z = σ(z_bias + W_hz h)."""
    n = U.shape[0]
    cell = cells.GRU(2, n, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih[:n].zero_()
        cell.weight_hh[:n].zero_()
        cell.bias_ih[:n].fill_(40.0)
        cell.bias_hh[:n].zero_()
        cell.weight_hh[2 * n:].copy_(U)
        cell.bias_ih[n:2 * n].copy_(z_bias)
        cell.bias_hh[n:2 * n].zero_()
    return cell


def test_gru_with_symmetric_U_descends_within_the_stated_condition():
    n = 5
    U = symmetric(n, -3.0, 1.5)  # λ_min(U) = −3: fails at α = 1, holds once 2/α − 1 > 3
    z_bias = torch.full((n,), 1.5, dtype=torch.float64)  # z ≈ 0.82, α = 1 − z ≈ 0.18
    # frozen update gate: no input or state dependence
    cell = gru_with_reset_open(U, z_bias)
    with torch.no_grad():
        cell.weight_ih[n:2 * n].zero_()
        cell.weight_hh[n:2 * n].zero_()
    x = torch.randn(1, 4, 2, dtype=torch.float64).expand(60, 4, 2)  # clamped input
    d = energy_diagnostics(cell, x, torch.rand(4, n, dtype=torch.float64) * 2 - 1)
    assert (descent_condition(U, 1 - torch.sigmoid(z_bias)) > 0)
    assert (d.condition > 0).all() and (d.change <= 1e-12).all()
    assert d.mean_cosine > 0
    # a state-dependent update gate keeps the per-step guarantee while the condition holds
    cell = gru_with_reset_open(U, torch.full((n,), 2.5, dtype=torch.float64))
    with torch.no_grad():
        cell.weight_hh[n:2 * n].copy_(0.3 * torch.randn(n, n, dtype=torch.float64))
    d = energy_diagnostics(cell, torch.randn(60, 4, 2, dtype=torch.float64),
                           torch.rand(4, n, dtype=torch.float64) * 2 - 1)
    assert (d.condition > 0).all() and (d.change <= 1e-12).all()


def test_sru_energy_is_exact_and_never_increases():
    cell = cells.SRU(4, 4, dtype=torch.float64)
    d = energy_diagnostics(cell, torch.randn(30, 5, 4, dtype=torch.float64))
    assert d.reading.nonlinearity == "identity" and d.asymmetry == 0.0
    assert (d.change <= 1e-12).all() and (d.condition > 0).all()
    assert (d.cosine > 0).all()  # Δc = −α ⊙ ∇E: a positive rescaling of the descent direction


def test_rotation_is_reported_as_non_gradient():
    # U antisymmetric: S = 0, the dynamics rotate; the asymmetry is 1
    cell = cells.RNN(1, 2, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.copy_(torch.tensor([[0.0, -3.0], [3.0, 0.0]]))
        cell.bias_hh.zero_()
        cell.bias_ih.zero_()
    d = energy_diagnostics(cell, torch.zeros(30, 4, 1, dtype=torch.float64),
                           0.5 * torch.randn(4, 2, dtype=torch.float64))
    assert d.asymmetry == pytest.approx(1.0)
    assert d.fraction_decreasing < 0.9


def test_every_cell_has_a_reading_and_ensembles_go_member_by_member():
    for name in cells.names():
        cell = cells.make(name, 3, 3)
        r = hopfield_reading(cell)
        assert r.U.shape == (3, 3) and r.description
        tr = cell.trace(torch.randn(5, 2, 3))
        d = energy_diagnostics(cell, tr.inputs, tr.states[0])
        assert d.energy_before.shape == (5, 2) and d.cosine.shape == (5, 2)
        land = energy_landscape(cell, torch.zeros(3), trajectories(tr, 2), resolution=5)
        assert land.energy.shape == (5, 5) and not land.energy.isnan().any()
    # an ensemble of two independently made GRUs: each member's diagnostics are those of its own
    # cell fed the same inputs from the same initial states
    singles = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        singles.append(cells.make("gru", 3, 4, dtype=torch.float64))
    ens = cells.Ensemble.stack(singles)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, 2, 3, generator=g, dtype=torch.float64)
    s0 = 0.5 * torch.randn(2, 2, 4, generator=g, dtype=torch.float64)
    for start in (s0, None):
        out = energy_diagnostics(ens, x, start)
        assert len(out) == 2
        for e, cell in enumerate(singles):
            ref = energy_diagnostics(cell, x[e], None if start is None else start[e])
            assert out[e].asymmetry == pytest.approx(ref.asymmetry)
            for key in ("energy_before", "energy_after", "cosine", "condition"):
                torch.testing.assert_close(getattr(out[e], key), getattr(ref, key), equal_nan=True, msg=key)
            assert out[e].fraction_decreasing == ref.fraction_decreasing
            torch.testing.assert_close(out[e].reading.U, ref.reading.U)
    assert out[0].asymmetry != pytest.approx(out[1].asymmetry)  # the members do differ
    with pytest.raises(ValueError, match="member"):
        hopfield_reading(ens)


def test_landscape_on_the_pca_plane():
    cell = cells.RNN(2, 6, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.copy_(symmetric(6, -0.5, 1.5))
    tr = cell.trace(torch.randn(30, 4, 2, dtype=torch.float64))
    plane = trajectories(tr, 2)
    x = torch.zeros(2, dtype=torch.float64)
    land = energy_landscape(cell, x, plane, resolution=11)
    assert land.energy.shape == (11, 11)
    # spot-check one grid point against energy() at the reconstructed state
    s = plane.reconstruct(torch.stack([land.a[3], land.b[7]]))
    torch.testing.assert_close(land.energy[7, 3], energy(cell, s, x))


def test_relaxation_ends_in_energy_minima_that_are_the_stable_fixed_points():
    # probes.md step 3: clamp the input, iterate, and compare end points with minima of E_S and
    # with the fixed points found by q-minimisation
    from rnnviz.probes import fixed_points, sample_initial_states

    n = 4
    cell = cells.RNN(2, n, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.copy_(symmetric(n, -0.5, 2.5, seed=3))
    x_star = torch.tensor([0.3, -0.2], dtype=torch.float64)
    s0 = torch.rand(16, n, dtype=torch.float64) * 2 - 1
    d = energy_diagnostics(cell, x_star.expand(200, 16, 2), s0)
    assert (d.change <= 1e-12).all()
    tr = cell.trace(x_star.expand(200, 16, 2), s0)
    ends = tr.states[-1]  # (B, S)
    grad = energy_gradient(cell, ends, x_star)
    assert grad.abs().max() < 1e-8  # stationary points of E_S
    hessian = torch.diag_embed(1 / (1 - ends**2)) - 0.5 * (cell.weight_hh + cell.weight_hh.T)
    assert (torch.linalg.eigvalsh(hessian)[:, 0] > 0).all()  # ... and minima
    fps = fixed_points(cell, x_star, sample_initial_states(tr, 128, noise=0.05))
    stable = fps[fps.is_stable]
    assert all(stable.contains(s, tol=1e-6) for s in ends)
    assert len(stable) == len({tuple(round(v, 6) for v in s.tolist()) for s in ends})
