"""The probes' return convention (docs/api.md): tensor functions return one tensor; a probe returns a
DataFrame (one table) or a frozen dataclass with documented fields and a ``to_frame()``."""

import dataclasses

import pandas as pd
import pytest
import torch
from probes_support import tanh_rnn

from rnnviz import cells, probes

# every public function of rnnviz.probes, by the kind of result the rule gives it
TENSOR_FUNCTIONS = {"gate_values", "sample_initial_states", "step_jacobians", "input_jacobians", "hopfield_energy",
                    "hopfield_energy_gradient", "energy", "energy_gradient", "descent_condition"}
TABLE_PROBES = {"gate_saturation"}
RESULT_PROBES = {"trajectories": "Trajectories", "fixed_points": "FixedPoints", "lyapunov_spectrum": "LyapunovSpectrum",
                 "energy_diagnostics": "EnergyDiagnostics", "energy_landscape": "EnergyLandscape",
                 "decoding": "Decoding", "discriminant_projection": "Discriminant",
                 "pulse_response": "PulseResponse"}
DESCRIPTIONS = {"hopfield_reading": "HopfieldReading"}
ADAPTERS = {"iterated"}  # a cell-like module for the other probes (docs/api.md, rule 5)


def test_every_public_name_has_a_kind():
    functions = {n for n in probes.__all__ if not n[0].isupper()}
    assert functions == TENSOR_FUNCTIONS | TABLE_PROBES | set(RESULT_PROBES) | set(DESCRIPTIONS) | ADAPTERS
    classes = {n for n in probes.__all__ if n[0].isupper()}
    assert classes == set(RESULT_PROBES.values()) | set(DESCRIPTIONS.values())
    for name in classes:
        cls = getattr(probes, name)
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, name
        assert hasattr(cls, "to_frame") == (name in RESULT_PROBES.values()), name


@pytest.fixture(scope="module")
def rnn():
    """A 2-unit tanh RNN with a saddle at 0 and two attractors, and a short trace."""
    cell = tanh_rnn(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)), input_weight=0.5)
    x = torch.randn(6, 3, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return cell, x, cell.trace(x, 0.3 * torch.ones(3, 2, dtype=torch.float64))


def test_results_are_frozen(rnn):
    cell, x, tr = rnn
    traj = probes.trajectories(tr, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        traj.projected = traj.projected
    fps = probes.FixedPoints.at(cell, torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fps.slow_points = fps


def test_tensor_functions_return_one_tensor(rnn):
    cell, x, tr = rnn
    s = tr.states[1:]  # (T, B, 2)
    assert probes.step_jacobians(cell, x[0], s[0]).shape == (3, 2, 2)
    assert probes.input_jacobians(cell, x[0], s[0]).shape == (3, 2, 1)
    assert probes.energy(cell, s, x).shape == (6, 3)
    assert probes.energy_gradient(cell, s, x).shape == (6, 3, 2)
    assert probes.sample_initial_states(tr, 5).shape == (5, 2)
    gru = cells.GRU(1, 2)
    assert probes.gate_values(gru.trace(torch.randn(4, 3, 1)), "update").shape == (4 * 3 * 2,)


def test_trajectories_to_frame(rnn):
    _, _, tr = rnn
    traj = probes.trajectories(tr, 2)
    frame = traj.to_frame()
    assert list(frame.columns) == ["step", "sequence", "pc1", "pc2"] and len(frame) == 7 * 3
    row = frame[(frame.step == 4) & (frame.sequence == 2)]
    assert row[["pc1", "pc2"]].to_numpy().tolist() == [traj.projected[4, 2].tolist()]
    single = probes.trajectories(tr.states[:, 0], 2).to_frame()  # an unbatched (T+1, S) trace
    assert list(single.columns) == ["step", "pc1", "pc2"] and single["step"].tolist() == list(range(7))


def test_fixed_points_to_frame(rnn):
    cell, _, _ = rnn
    points = torch.tensor([[0.0, 0.0], [0.9575040240772687, 0.0]], dtype=torch.float64)
    fps = probes.FixedPoints.at(cell, points, torch.zeros(1, dtype=torch.float64), tol_q=1e-20)
    frame = fps.to_frame()
    assert list(frame.columns) == ["point", "q", "converged", "spectral_radius", "stable", "n_unstable"]
    assert frame["stable"].tolist() == [False, True] and frame["n_unstable"].tolist() == [1, 0]
    assert frame["spectral_radius"][0] == pytest.approx(2.0)
    assert frame["converged"].tolist() == (fps.q < 1e-20).tolist()
    assert len(fps[fps.is_stable].to_frame()) == 1


def test_energy_diagnostics_and_landscape_to_frame(rnn):
    cell, x, tr = rnn
    diag = probes.energy_diagnostics(cell, x)
    frame = diag.to_frame()
    assert list(frame.columns) == ["step", "sequence", "energy_before", "energy_after", "change", "cosine",
                                   "condition"]
    assert len(frame) == 6 * 3
    row = frame[(frame.step == 5) & (frame.sequence == 1)].iloc[0]
    assert row["energy_after"] == pytest.approx(float(diag.energy_after[5, 1]))
    assert row["change"] == pytest.approx(float(diag.change[5, 1]))
    land = probes.energy_landscape(cell, torch.zeros(1, dtype=torch.float64), probes.trajectories(tr, 2),
                                   resolution=5)
    grid = land.to_frame()
    assert list(grid.columns) == ["a", "b", "energy"] and len(grid) == 25
    # row i·R + j is (a[j], b[i]), the energy's [i, j]
    assert grid.iloc[7][["a", "b"]].tolist() == pytest.approx([float(land.a[2]), float(land.b[1])])
    assert grid.iloc[7]["energy"] == pytest.approx(float(land.energy[1, 2]))


def test_gate_saturation_is_a_table(rnn):
    frame = probes.gate_saturation(cells.LSTM(1, 2).trace(torch.randn(4, 2, 1)))
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["gate", "unit", "left", "right"]
