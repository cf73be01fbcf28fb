"""The widgets' pure functions (known answers) and their builders driven in plain Python."""

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from rnnviz import probes, widgets
from rnnviz.plot import plot_capacity_view, plot_model_frame, plot_phase_plane
from rnnviz.tasks import Memorization
from rnnviz.train import SequenceModel, trace_model

pytest.importorskip("ipywidgets", reason="the builders need ipywidgets (rnnviz[notebooks])")


# ---------------------------------------------------------------- import
def test_importing_rnnviz_and_widgets_does_not_import_ipywidgets():
    code = "import sys, rnnviz, rnnviz.widgets, rnnviz.plot; sys.exit('ipywidgets' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# ---------------------------------------------------------------- cell explorer
def test_explorer_cell_weights_follow_the_sliders():
    cell = widgets.explorer_cell("gru", weight_scale=2.0, gate_biases={"update": -1.5})
    n = 2
    assert torch.equal(cell.weight_ih, torch.eye(2, dtype=torch.float64).repeat(3, 1))
    block = torch.tensor([[1.0, 0.3], [0.3, 0.6]], dtype=torch.float64)
    assert torch.allclose(cell.weight_hh[2 * n:], 2.0 * block)
    total_bias = cell.bias_ih + cell.bias_hh
    assert torch.equal(total_bias[n:2 * n], torch.full((2,), -1.5, dtype=torch.float64))  # update
    assert torch.equal(total_bias[:n], torch.zeros(2, dtype=torch.float64))  # reset: default 0
    assert torch.equal(total_bias[2 * n:], torch.zeros(2, dtype=torch.float64))  # candidate
    rotated = widgets.explorer_cell("rnn", weight_scale=1.0, symmetric=False).weight_hh
    assert not torch.allclose(rotated, rotated.T)


def test_rnn_phase_plane_matches_hand_computed_fixed_points():
    # Elman RNN, input 0, U = 1.5·R (symmetric): fixed points solve h = tanh(U h); h = 0 is one, and
    # since λ_max(U) = 1.5·1.16 > 1 > 1.5·0.44 there are exactly two more, stable, along ±v_max.
    plane = widgets.phase_plane("rnn", inputs=(0.0, 0.0), weight_scale=1.5, resolution=11)
    fps = plane.fixed_points
    assert len(fps) == 3 and plane.n_stable == 2
    U = plane.cell.weight_hh.detach()
    assert torch.allclose(torch.tanh(fps.states @ U.T), fps.states, atol=1e-9)
    origin = fps.states.norm(dim=-1).argmin()
    assert fps.states[origin].norm() < 1e-9 and not bool(fps.is_stable[origin])
    others = fps.states[fps.is_stable]
    assert torch.allclose(others[0], -others[1], atol=1e-9)  # symmetric pair
    v_max = torch.linalg.eigh(U)[1][:, -1]
    assert torch.allclose((others / others.norm(dim=-1, keepdim=True) @ v_max).abs(),
                          torch.ones(2, dtype=torch.float64), atol=0.05)
    # every trajectory ends on a stable point, and E_S never rises along it (exact case)
    ends = plane.trajectories[-1]  # (B, S)
    dist = torch.cdist(ends, others).min(-1).values
    assert (dist < 1e-3).all()
    diag = probes.energy_diagnostics(plane.cell, plane.inputs.expand(40, 12, 2), s0=plane.trajectories[0])
    assert diag.fraction_decreasing == 1.0


def test_phase_plane_shapes_and_input_moves_the_fixed_point():
    plane = widgets.phase_plane("lstm", inputs=(0.5, 0.0), weight_scale=0.5, steps=5, n_starts=4, resolution=9)
    assert plane.trajectories.shape == (6, 4, 4)  # (T+1, B, [h; c])
    assert plane.plane.projected.shape == (6, 4, 2)
    assert plane.landscape.energy.shape == (9, 9)
    # weak recurrence: one fixed point, pushed to positive h1 by the positive input
    assert len(plane.fixed_points) == 1 and plane.fixed_points.states[0, 0] > 0.05


@pytest.mark.parametrize("bad, match", [
    (dict(kind="sru"), "kind must be one of"),
    (dict(inputs=(1.0,)), "inputs must be 2 finite numbers"),
    (dict(gate_biases={"forget": 1.0}), "gate_biases has gates"),
    (dict(weight_scale=float("nan")), "weight_scale must be a finite number"),
    (dict(steps=0), "steps must be an integer"),
])
def test_phase_plane_rejects_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        widgets.phase_plane(**{"kind": "gru", **bad})


def test_cell_explorer_sliders_recompute_and_redraw():
    explorer = widgets.cell_explorer("gru", weight_scale=0.5, resolution=9, steps=5)
    assert set(explorer.controls) == {"input_1", "input_2", "weight_scale", "symmetric", "bias_reset", "bias_update"}
    assert len(explorer.result.fixed_points) == 1  # weak recurrence: one fixed point
    explorer.controls["weight_scale"].value = 1.6
    assert explorer.updates == 2
    assert explorer.result.n_stable == 2  # now bistable
    assert torch.allclose(explorer.result.cell.weight_hh[4:], 1.6 * torch.tensor([[1.0, 0.3], [0.3, 0.6]],
                                                                                 dtype=torch.float64))
    explorer.controls["bias_update"].value = -2.0
    bias = explorer.result.cell.bias_ih + explorer.result.cell.bias_hh
    assert torch.equal(bias[2:4], torch.full((2,), -2.0, dtype=torch.float64))
    explorer.controls["input_1"].value = 0.7
    assert explorer.result.inputs.tolist() == [0.7, 0.0]
    assert "0.7" in explorer.figure.axes[0].get_title()
    assert len(explorer.figure.axes) == 2  # the phase plane and its colour bar, redrawn, not stacked


def test_plot_phase_plane_draws_fixed_points_and_paths():
    plane = widgets.phase_plane("rnn", weight_scale=1.5, steps=5, n_starts=6, resolution=9)
    drawn = plot_phase_plane(plane)
    assert len(drawn["lines"]) == 6
    assert drawn["stable"].get_offsets().shape == (2, 2)
    assert drawn["unstable"].get_offsets().shape == (1, 2)
    plt.close("all")


# ---------------------------------------------------------------- trained-model explorer
@pytest.fixture(scope="module")
def recording():
    torch.manual_seed(0)
    task = Memorization(2, alphabet=3, n_interfering=1)
    model = SequenceModel("gru", task.input_size, 5, task.output_size)
    inputs, _, _ = task.sample(4, torch.Generator().manual_seed(0))
    return model, inputs, widgets.record_model(model, inputs, widgets.memorization_symbol_names(3))


def test_trace_model_matches_the_model_and_the_cell(recording):
    model, inputs, _ = recording
    trace = trace_model(model, inputs)[0]
    with torch.no_grad():
        logits = model(inputs)
        readout = trace.outputs @ model.readout_weight.T + model.readout_bias
    assert torch.allclose(readout, logits, atol=1e-6)
    assert torch.equal(trace.inputs, inputs)  # no input map for a GRU: the cell reads the one-hot
    irc = SequenceModel("irc_gru", inputs.shape[-1], 4, 3)
    assert trace_model(irc, inputs)[0].inputs.shape == (*inputs.shape[:2], 4)  # the embedded input
    with pytest.raises(ValueError, match="x must be a tensor"):
        trace_model(model, inputs[..., :2])


def test_model_frame_slices_the_recording(recording):
    _, inputs, rec = recording
    assert (rec.length, rec.batch_size, rec.hidden_size) == (6, 4, 5)
    frame = widgets.model_frame(rec, t=2, unit=3, sequence=1)
    assert frame.symbols == [rec.symbol_names[int(i)] for i in inputs[:3, 1].argmax(-1)]
    assert frame.symbol == "_"  # K = 2 symbols, then the blank
    assert frame.path.shape == (4, 2)
    assert torch.equal(frame.point, rec.pca.projected[3, 1])
    assert frame.gates_now["update"] == pytest.approx(float(rec.trace.gates["update"][2, 1, 3]))
    assert frame.state_now == pytest.approx(float(rec.trace.states[3, 1, 3]))
    for bad in (dict(t=6), dict(unit=5), dict(sequence=-1), dict(t=1.0)):
        with pytest.raises((TypeError, ValueError), match="must be an integer in"):
            widgets.model_frame(rec, **{"t": 0, **bad})


def test_model_explorer_time_slider_moves_the_frame(recording):
    _, _, rec = recording
    explorer = widgets.model_explorer(rec)
    assert explorer.result.t == 0
    explorer.controls["t"].value = 4
    explorer.controls["unit"].value = 2
    assert (explorer.result.t, explorer.result.unit) == (4, 2)
    assert explorer.controls["t"].max == rec.length - 1
    tape = explorer.figure.axes[0]
    assert "t = 4" in tape.get_title()
    now = [line for line in explorer.figure.axes[2].lines if np.allclose(line.get_xdata(), 4)]
    assert now, "the time marker follows the slider"


def test_plot_model_frame_returns_its_artists(recording):
    _, _, rec = recording
    drawn = plot_model_frame(rec, widgets.model_frame(rec, 3))
    assert set(drawn["gates"]) == {"reset", "update", "state"}
    assert len(drawn["symbols"]) == rec.length
    assert drawn["path"].get_xydata().shape == (5, 2)
    plt.close("all")


# ---------------------------------------------------------------- capacity explorer
def _rows():
    rows = []
    for cell, scale in (("gru", 1.0), ("pru", 0.5)):
        for interference in ("blank", "random"):
            for n in (2, 4):
                for bits in (2.0, 4.0, 8.0):
                    for seed in (0, 1):
                        recalled = min(bits, scale * n * (1.0 if interference == "blank" else 0.5)) - 0.1 * seed
                        rows.append({"cell": cell, "hidden_size": n, "n_layers": 1, "alphabet": 4,
                                     "n_interfering": 2, "interference": interference,
                                     "interfering_bits": 0.0 if interference == "blank" else 4.0,
                                     "targeted_bits": bits, "seed": seed, "accuracy": recalled / bits,
                                     "recalled_bits": recalled, "n_parameters": 10 * n})
    return pd.DataFrame(rows)


def test_capacity_view_known_answers():
    rows = _rows()
    view = widgets.capacity_view(rows, "gru", "blank", "capacity_bits")
    assert view.table.to_dict() == {2: 2.0, 4: 4.0}  # min(bits, n), best seed
    assert set(view.rows["cell"]) == {"gru"} and set(view.rows["interference"]) == {"blank"}
    assert set(view.summary["cell"]) == {"gru", "pru"}
    per_unit = widgets.capacity_view(rows, "pru", "random", "bits_per_unit").table
    assert per_unit.tolist() == pytest.approx([0.25, 0.25])
    assert widgets.capacity_options(rows) == {"cell": ["gru", "pru"], "interference": ["blank", "random"],
                                              "metric": list(widgets.METRICS)}
    with pytest.raises(ValueError, match="metric must be one of"):
        widgets.capacity_view(rows, "gru", "blank", "speed")
    with pytest.raises(ValueError, match="cell must be one of"):
        widgets.capacity_view(rows, "lstm", "blank")


def test_capacity_explorer_dropdowns_recompute_and_redraw():
    explorer = widgets.capacity_explorer(_rows())
    assert explorer.result.cell == "gru"
    explorer.controls["cell"].value = "pru"
    explorer.controls["interference"].value = "random"
    explorer.controls["metric"].value = "bits_per_parameter"
    assert (explorer.result.cell, explorer.result.interference, explorer.result.metric) == (
        "pru", "random", "bits_per_parameter")
    assert explorer.updates == 4
    left, right = explorer.figure.axes[:2]
    assert left.get_title() == "pru, random interference"
    assert right.get_ylabel() == widgets.METRICS["bits_per_parameter"]


def test_plot_capacity_view_highlights_the_cell():
    drawn = plot_capacity_view(widgets.capacity_view(_rows(), "pru", "blank"))
    assert drawn["lines"]["pru"].get_linewidth() > drawn["lines"]["gru"].get_linewidth()
    plt.close("all")
