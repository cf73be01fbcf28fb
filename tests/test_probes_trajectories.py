"""PCA of states, gate saturation, initial-state sampling and Lyapunov exponents with known answers."""

import math

import pandas as pd
import pytest
import torch
from probes_support import tanh_rnn

from rnnviz import cells
from rnnviz.probes import gate_saturation, lyapunov_spectrum, sample_initial_states, trajectories


def test_pca_recovers_known_axes_and_variances():
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    std = torch.tensor([3.0, 1.0, 0.3, 0.0, 0.0], dtype=torch.float64)
    coords = torch.randn(4000, 5, generator=g, dtype=torch.float64) * std
    coords = coords - coords.mean(0)
    mean = torch.arange(5, dtype=torch.float64)
    states = (mean + coords @ Q.T).reshape(100, 40, 5)  # (T+1, B, S)
    traj = trajectories(states, n_components=3)
    for k in range(3):
        assert abs(float(traj.basis[:, k] @ Q[:, k])) == pytest.approx(1.0, abs=1e-2)
    var = coords.var(0)[:3]
    torch.testing.assert_close(traj.explained_variance, var, rtol=2e-2, atol=0)
    torch.testing.assert_close(traj.explained_variance_ratio, traj.explained_variance / coords.var(0).sum())
    torch.testing.assert_close(traj.explained_variance_ratio, std[:3] ** 2 / std.pow(2).sum(), rtol=2e-2, atol=0)
    torch.testing.assert_close(traj.mean, mean, atol=1e-12, rtol=0)
    assert traj.projected.shape == (100, 40, 3)
    torch.testing.assert_close(traj.project(states), traj.projected)
    # deterministic sign: each column's largest entry is positive
    assert (traj.basis.gather(0, traj.basis.abs().argmax(0, keepdim=True)) > 0).all()


def test_trajectories_of_a_trace_and_an_ensemble():
    cell = cells.make("lstm", 2, 3)
    tr = cell.trace(torch.randn(10, 4, 2))
    traj = trajectories(tr, 2)
    assert traj.basis.shape == (6, 2) and traj.projected.shape == (11, 4, 2)
    ens = cells.make("gru", 2, 3, n_models=3)
    out = trajectories(ens.trace(torch.randn(3, 10, 4, 2)), 2)
    assert len(out) == 3 and out[0].projected.shape == (11, 4, 2)
    with pytest.raises(ValueError, match="n_components must be"):
        trajectories(tr, 7)


def test_saturation_fractions_on_synthetic_gates():
    T, B, n = 10, 2, 3
    g = torch.full((T, B, n), 0.5)
    g[:3, :, 0] = 0.05  # unit 0: 30% left-saturated
    g[:, :, 1] = 0.95  # unit 1: always right-saturated
    g[0, 0, 2] = 0.1  # exactly at the threshold: not saturated
    g[1, 0, 2] = 0.9
    df = gate_saturation({"forget": g, "input": 1 - g})
    assert list(df.columns) == ["gate", "unit", "left", "right"]
    f = df[df.gate == "forget"].set_index("unit")
    assert f.loc[0, "left"] == pytest.approx(0.3) and f.loc[0, "right"] == 0
    assert f.loc[1, "right"] == 1.0 and f.loc[1, "left"] == 0
    assert f.loc[2, "left"] == 0 and f.loc[2, "right"] == 0
    i = df[df.gate == "input"].set_index("unit")
    assert i.loc[0, "right"] == pytest.approx(0.3) and i.loc[1, "left"] == 1.0
    # layers and ensemble members get their own columns
    layered = gate_saturation([{"forget": g}, {"forget": g}], layer_names=["l0", "l1"])
    assert list(layered.columns)[:2] == ["layer", "gate"] and len(layered) == 2 * n
    ens = gate_saturation({"forget": torch.stack([g, 1 - g])})
    assert set(ens.member) == {0, 1} and ens[ens.member == 1].set_index("unit").loc[1, "left"] == 1.0


def test_saturation_of_real_cells_and_bad_thresholds():
    for name in ("lstm", "sru", "rnn"):
        cell = cells.make(name, 3, 4)
        df = gate_saturation(cell.trace(torch.randn(8, 2, 3)))
        assert isinstance(df, pd.DataFrame) and len(df) == 4 * len(cell.gate_names)
        assert set(df.gate) == set(cell.gate_names)
        assert ((df.left >= 0) & (df.left + df.right <= 1)).all()
    with pytest.raises(ValueError, match="low and high"):
        gate_saturation({}, low=0.9, high=0.1)


def test_initial_states_are_visited_states_plus_noise():
    states = torch.arange(12, dtype=torch.float64).reshape(3, 2, 2)  # (T+1, B, S)
    exact = sample_initial_states(states, 50, noise=0.0, generator=torch.Generator().manual_seed(0))
    visited = {tuple(v) for v in states.reshape(-1, 2).tolist()}
    assert exact.shape == (50, 2) and {tuple(v) for v in exact.tolist()} <= visited
    noisy = sample_initial_states(states.expand(2, 3, 2, 2), 20000, noise=0.5,
                                  generator=torch.Generator().manual_seed(0))
    assert noisy.shape == (2, 20000, 2)
    residual = noisy - noisy.round()  # visited states are integers; noise is N(0, 0.5²) around them
    assert abs(float(noisy.std()) - float(states.std())) < 1.0 and residual.abs().max() <= 0.5
    with pytest.raises(ValueError, match="n must be"):
        sample_initial_states(states, 0)


class LinearMap(torch.nn.Module):
    def __init__(self, A):
        super().__init__()
        self.A = torch.nn.Parameter(A)
        self.state_size, self.input_size = A.shape[0], 1

    def step(self, x, s):
        return s @ self.A.T


def test_lyapunov_of_a_linear_map_is_log_abs_eigenvalues():
    g = torch.Generator().manual_seed(0)
    P = torch.randn(3, 3, generator=g, dtype=torch.float64)
    lam = torch.tensor([1.2, 0.5, -0.3], dtype=torch.float64)
    A = P @ torch.diag(lam) @ torch.linalg.inv(P)
    cell = LinearMap(A)
    exps = lyapunov_spectrum(cell, torch.zeros(400, 1, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
                             warmup=50)
    torch.testing.assert_close(exps.exponents, lam.abs().log(), atol=1e-2, rtol=0)
    frame = exps.to_frame()  # unbatched: one row per exponent
    assert list(frame.columns) == ["index", "exponent"] and frame["index"].tolist() == [0, 1, 2]
    assert frame["exponent"].tolist() == exps.exponents.tolist()


def test_lyapunov_of_a_tanh_unit_at_its_fixed_point_and_ensembles():
    # h = tanh(0.5 h): the origin attracts with rate 0.5, so λ → log 0.5
    cell = tanh_rnn(torch.tensor([[0.5]], dtype=torch.float64))
    exps = lyapunov_spectrum(cell, torch.zeros(300, 2, 1, dtype=torch.float64),
                             torch.tensor([[1e-9], [-1e-9]], dtype=torch.float64))
    torch.testing.assert_close(exps.exponents, torch.full((2, 1), math.log(0.5), dtype=torch.float64))
    torch.testing.assert_close(exps.largest, exps.exponents[:, 0])
    ens = cells.make("gru", 2, 3, n_models=2)
    x = torch.randn(2, 30, 4, 2)
    both = lyapunov_spectrum(ens, x, torch.zeros(2, 4, 3), n_exponents=2)
    one = lyapunov_spectrum(ens.member(1), x[1], torch.zeros(4, 3), n_exponents=2)
    assert both.exponents.shape == (2, 4, 2) and both.exponents.dtype == torch.float64
    torch.testing.assert_close(both.exponents[1], one.exponents)
    frame = both.to_frame()  # one row per (member, sequence, index)
    assert list(frame.columns) == ["member", "sequence", "index", "exponent"] and len(frame) == 2 * 4 * 2
    row = frame[(frame.member == 1) & (frame.sequence == 3) & (frame["index"] == 1)]
    assert row["exponent"].item() == pytest.approx(float(one.exponents[3, 1]))
