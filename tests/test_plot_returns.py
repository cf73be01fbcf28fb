"""The plot convention (docs/api.md), checked on every public plot function: ``ax=None`` for one panel or
``axes=None`` for several, a :class:`rnnviz.plot.Drawn` with the documented artist names, no ``plt.show()``."""

import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib.figure
import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch
from probes_support import tanh_rnn

from rnnviz import cells, probes, widgets
from rnnviz import plot as rplot
from rnnviz.tasks import Memorization
from rnnviz.train import SequenceModel

ROOT = Path(__file__).resolve().parents[1]
PLOTS = sorted(name for name in rplot.__all__ if name.startswith("plot_"))


# ---------------------------------------------------------------- inputs for every plot function
def _two_unit():
    cell = tanh_rnn(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)), input_weight=0.5)
    tr = cell.trace(torch.zeros(6, 3, 1, dtype=torch.float64), 0.3 * torch.randn(3, 2, dtype=torch.float64))
    fps = probes.FixedPoints.at(cell, torch.tensor([[0.0, 0.0], [0.957, 0.0]], dtype=torch.float64),
                                torch.zeros(1, dtype=torch.float64))
    return cell, tr, fps


def _gru_trace():
    return cells.GRU(2, 3).trace(torch.randn(5, 2, 2))


def _summary():
    rows = [{"cell": c, "hidden_size": n, "interference": k, "interfering_bits": b, "capacity_bits": f * n,
             "n_parameters": 10 * n, "bits_per_parameter": f / 10}
            for c, f in (("gru", 1.0), ("pru", 0.5)) for k, b in (("blank", 0.0), ("random", 2.0)) for n in (2, 4)]
    return pd.DataFrame(rows)


def _grid():
    rows = [{"cell": c, "hidden_size": n, "interference": "blank", "interfering_bits": 0.0, "targeted_bits": t,
             "accuracy": min(1.0, n / t)} for c in ("gru", "pru") for n in (2, 4) for t in (2.0, 4.0, 8.0)]
    return pd.DataFrame(rows)


def _recall_runs():
    """Two runs of one grid: seeds recall 1 bit apart around a known mean (the first run saturates at 3,
    the second collapses at 8 targeted bits)."""
    def rows(means):
        return pd.DataFrame([{"cell": "gru", "hidden_size": 4, "targeted_bits": t, "interfering_bits": 0.0,
                              "seed": s, "recalled_bits": m + (s - 1)} for t, m in means.items() for s in range(3)])
    return {"plain": rows({2.0: 2.0, 4.0: 3.0, 8.0: 3.0}), "other": rows({2.0: 2.0, 4.0: 3.0, 8.0: 1.0})}


def test_recall_curves_draw_each_runs_seed_means_with_their_intervals():
    import numpy as np

    drawn = rplot.plot_recall_curves(_recall_runs(), "gru")
    assert set(drawn["errorbars"]) == {("plain", 4), ("other", 4)}
    for label, means in (("plain", [2.0, 3.0, 3.0]), ("other", [2.0, 3.0, 1.0])):
        line = drawn["errorbars"][(label, 4)].lines[0]
        np.testing.assert_allclose(line.get_ydata(), means)  # seed means (the seeds are mean - 1, mean, mean + 1)
    half = 4.302652729749464 / np.sqrt(3)  # t(0.975, 2) · sd 1 / sqrt(3)
    segments = drawn["errorbars"][("plain", 4)].lines[2][0].get_segments()
    np.testing.assert_allclose([seg[1][1] - seg[0][1] for seg in segments], 2 * half, rtol=1e-6)
    # one hidden size drawn: each run its own colour (and line style)
    colours = {label: drawn["errorbars"][(label, 4)].lines[0].get_color() for label in ("plain", "other")}
    assert colours["plain"] != colours["other"]
    with pytest.raises(ValueError, match="cell"):
        rplot.plot_recall_curves(_recall_runs(), "lstm")
    with pytest.raises(ValueError, match="no rows of cell 'gru'"):
        rplot.plot_recall_curves(_recall_runs(), "gru", hidden_sizes=[8])
    with pytest.raises(ValueError, match="non-empty dict"):
        rplot.plot_recall_curves({}, "gru")
    assert drawn.ax.get_legend() is not None
    bare = rplot.plot_recall_curves(_recall_runs(), "gru", legend=False)  # for one legend shared by panels
    assert bare.ax.get_legend() is None
    assert sorted(bare.ax.get_legend_handles_labels()[1]) == ["other, n = 4", "perfect recall", "plain, n = 4"]
    with pytest.raises(TypeError, match="legend must be True or False, got 'no'"):
        rplot.plot_recall_curves(_recall_runs(), "gru", legend="no")


def test_recall_curves_skip_a_missing_run_and_keep_the_others_styles():
    runs = _recall_runs()
    third = runs["other"].assign(recalled_bits=runs["other"]["recalled_bits"] + 0.5)
    everything = rplot.plot_recall_curves({**runs, "third": third}, "gru")
    styles = {label: everything["errorbars"][(label, 4)].lines[0].get_linestyle() for label in ("plain", "third")}
    colours = {label: everything["errorbars"][(label, 4)].lines[0].get_color() for label in ("plain", "third")}
    without = {"plain": runs["plain"], "other": runs["other"].assign(cell="lstm"), "third": third}  # "other": no gru
    with pytest.raises(ValueError, match="runs\\['other'\\] has no rows"):
        rplot.plot_recall_curves(without, "gru")
    drawn = rplot.plot_recall_curves(without, "gru", missing="skip")
    assert set(drawn["errorbars"]) == {("plain", 4), ("third", 4)}
    for label in ("plain", "third"):  # the same style and colour as with every run present
        assert drawn["errorbars"][(label, 4)].lines[0].get_linestyle() == styles[label]
        assert drawn["errorbars"][(label, 4)].lines[0].get_color() == colours[label]
    assert styles["third"] == ":"
    with pytest.raises(ValueError, match="runs\\['plain'\\] has no rows"):  # the first run must have rows
        rplot.plot_recall_curves({"plain": runs["plain"], "other": runs["other"]}, "gru", hidden_sizes=[8],
                                 missing="skip")
    with pytest.raises(ValueError, match="missing"):
        rplot.plot_recall_curves(runs, "gru", missing="ignore")


def _capacity_tables():
    """Two runs' capacity tables (capacity_table's columns) of one cell at two sizes and two doses."""
    def table(means):
        return pd.DataFrame([{"cell": "gru", "hidden_size": n, "interfering_bits": b, "capacity_mean": m + b,
                              "capacity_ci_low": m + b - 1.0, "capacity_ci_high": m + b + 0.5}
                             for n, m in means.items() for b in (0.0, 8.0)])
    return {"short": table({4: 3.0, 8: 6.0}), "long": table({4: 4.0, 8: 7.5})}


def test_capacity_runs_draw_each_runs_capacity_against_n_with_its_interval():
    import numpy as np

    drawn = rplot.plot_capacity_runs(_capacity_tables(), "gru", interfering_bits=8.0)
    assert list(drawn["errorbars"]) == ["short", "long"]
    for label, means in (("short", [11.0, 14.0]), ("long", [12.0, 15.5])):
        bars = drawn["errorbars"][label]
        np.testing.assert_allclose(bars.lines[0].get_ydata(), means)  # the chosen dose's means
        segments = bars.lines[2][0].get_segments()
        np.testing.assert_allclose([(seg[0][1], seg[1][1]) for seg in segments], [(m - 1.0, m + 0.5) for m in means])
    lines = [drawn["errorbars"][label].lines[0] for label in ("short", "long")]
    assert lines[0].get_linestyle() != lines[1].get_linestyle() and lines[0].get_color() != lines[1].get_color()
    default = rplot.plot_capacity_runs(_capacity_tables(), "gru")  # the smallest dose
    np.testing.assert_allclose(default["errorbars"]["short"].lines[0].get_ydata(), [3.0, 6.0])
    with pytest.raises(ValueError, match="cell"):
        rplot.plot_capacity_runs(_capacity_tables(), "lstm")
    with pytest.raises(ValueError, match="interfering_bits"):
        rplot.plot_capacity_runs(_capacity_tables(), "gru", interfering_bits=4.0)
    with pytest.raises(ValueError, match="non-empty dict"):
        rplot.plot_capacity_runs({}, "gru")
    assert drawn.ax.get_legend() is not None
    bare = rplot.plot_capacity_runs(_capacity_tables(), "gru", legend=False)
    assert bare.ax.get_legend() is None and bare.ax.get_legend_handles_labels()[1] == ["short", "long"]
    with pytest.raises(TypeError, match="legend must be True or False"):
        rplot.plot_capacity_runs(_capacity_tables(), "gru", legend=None)
    plt.close("all")


def _recording():
    task = Memorization(2, alphabet=3, n_interfering=1)
    model = SequenceModel("gru", task.input_size, 3, task.output_size)
    inputs, _, _ = task.sample(2, torch.Generator().manual_seed(0))
    return widgets.record_model(model, inputs, widgets.memorization_symbol_names(3))


def _history():
    frame = pd.DataFrame({"member": [0, 0, 1, 1], "step": [2, 4, 2, 4], "accuracy": [0.5, 0.7, 0.4, 0.9]})
    return SimpleNamespace(to_frame=lambda: frame)


def _benchmarks():
    return pd.DataFrame({"T": [8, 8, 16], "B": [2, 2, 2], "H": [4, 4, 4], "contender": ["a", "b", "a"],
                         "median_ms": [1.0, 2.0, 3.0], "p20_ms": [0.9, 1.8, 2.7], "p80_ms": [1.1, 2.2, 3.3]})


def _case(name):
    """(args, kwargs, number of panels, artist names) of one plot function."""
    if name in ("plot_trajectories", "plot_energy_landscape", "plot_eigenvalues", "plot_states_by_label"):
        cell, tr, fps = _two_unit()
        traj = probes.trajectories(tr, 2)
        if name == "plot_trajectories":
            return (traj,), {"fixed_points": fps}, 1, {"lines", "stable", "unstable", "directions"}
        if name == "plot_energy_landscape":
            land = probes.energy_landscape(cell, torch.zeros(1, dtype=torch.float64), traj, resolution=7)
            return ((land,), {"fixed_points": fps}, 1,
                    {"contour", "colorbar", "lines", "stable", "unstable", "directions"})
        if name == "plot_eigenvalues":
            return (fps,), {}, 1, {"circle", "stable", "unstable"}
        return (traj, torch.arange(18).remainder(2).view(6, 3)), {}, 1, {"path", "points"}
    if name == "plot_saturation":
        return (probes.gate_saturation(_gru_trace()),), {}, 1, {"points", "boundary"}
    if name == "plot_gate_histograms":
        return (_gru_trace(),), {"bins": 5}, 1, {"histograms"}
    if name == "plot_gate_activity":
        return (_gru_trace(), "update"), {}, 1, {"image", "colorbar"}
    if name == "plot_energy_steps":
        cell, _, _ = _two_unit()
        return (probes.energy_diagnostics(cell, torch.randn(5, 2, 1, dtype=torch.float64)),), {}, 1, {"line", "rises"}
    if name == "plot_cell_responses":
        x = torch.randn(4, 1, 2)
        traces = {"gru": cells.GRU(2, 3).trace(x), "lstm": cells.LSTM(2, 3).trace(x)}
        return (traces,), {}, 2, {"lines"}
    if name == "plot_memory_states":
        _, tr, fps = _two_unit()
        return ((probes.trajectories(tr, 2), tr.states[-1], torch.tensor([0, 1, 0])),
                {"paths": tr.states, "fixed_points": fps}, 1, {"points", "paths", "stable", "unstable", "slow"})
    if name == "plot_pulse_responses":
        responses = {"gru": probes.pulse_response(cells.GRU(2, 3), steps=4, n_pulses=2),
                     "rnn": probes.pulse_response(cells.make("rnn", 2, 3, n_models=2), steps=4, n_pulses=2)}
        return (responses,), {}, 1, {"lines", "threshold"}
    if name == "plot_gate_distributions":
        x = torch.randn(4, 2, 2)
        traces = {"gru": cells.GRU(2, 3).trace(x), "rnn": cells.make("rnn", 2, 3).trace(x)}
        return (traces,), {}, 1, {"violins"}
    if name == "plot_phase_plane":
        plane = widgets.phase_plane("rnn", steps=3, n_starts=4, resolution=7)
        return (plane,), {}, 1, {"contour", "colorbar", "lines", "stable", "unstable", "directions", "starts"}
    if name == "plot_model_frame":
        rec = _recording()
        return (rec, widgets.model_frame(rec, 1)), {}, 3, {"symbols", "path", "point", "gates", "now"}
    if name == "plot_accuracy_heatmap":
        return (_grid(), "gru"), {}, 1, {"image", "colorbar", "labels"}
    if name == "plot_capacity_vs_hidden_size":
        return (_summary(),), {}, 1, {"lines", "guides"}
    if name == "plot_interference_effect":
        return (_summary(),), {}, 1, {"lines"}
    if name == "plot_bits_per_parameter":
        return (_summary(),), {}, 1, {"lines", "band"}
    if name == "plot_summary_metric":
        return (_summary(),), {"highlight": "gru"}, 1, {"lines"}
    if name == "plot_capacity_view":
        summary = _summary()
        view = SimpleNamespace(cell="gru", interference="blank", metric="capacity_bits", grid=_grid(),
                               summary=summary[summary.interference == "blank"])
        return (view,), {}, 2, {"heatmap", "colorbar", "lines"}
    if name == "plot_training_history":
        return (_history(),), {"baseline": 0.5}, 1, {"lines", "baseline"}
    if name == "plot_benchmarks":
        return (_benchmarks(),), {}, 1, {"bars"}
    if name == "plot_bpc_comparison":
        results = pd.DataFrame({"cell": ["pru", "gru"], "comparison": ["hidden_size"] * 2, "hidden_size": [8, 8],
                                "n_parameters": [900, 1000], "test_bpc": [3.0, 2.9], "unigram_bpc": [4.7] * 2})
        return (results,), {}, 1, {"bars", "baseline"}
    if name == "plot_bpc_intervals":
        summary = pd.DataFrame({"cell": ["pru", "gru", "pru"], "comparison": ["hidden_size"] * 2 + ["parameters"],
                                "hidden_size": [8, 8, 9], "test_bpc": [3.0, 2.9, 2.95], "ci_low": [2.9, 2.85, float("nan")],
                                "ci_high": [3.1, 2.95, float("nan")], "unigram_bpc": [4.7] * 3})
        return (summary,), {}, 1, {"points", "labels"}
    if name == "plot_learning_curves":
        curves = pd.DataFrame({"run_id": ["a", "a", "b"], "cell": ["pru", "pru", "gru"],
                               "comparison": ["hidden_size"] * 3, "step": [1, 2, 1], "valid_bpc": [4.0, 3.5, 3.9]})
        return (curves,), {}, 1, {"lines"}
    if name == "plot_decoding":
        labels = torch.arange(12).remainder(3)
        states = torch.randn(4, 12, 2, dtype=torch.float64)
        states[1:, :, 0] += 3.0 * labels  # the label enters the state at step 1
        found = probes.decoding(states, labels, folds=3, n_bootstrap=10)
        return (found,), {"recalled_bits": torch.tensor([1.0])}, 1, {"lines", "bands", "chance", "max", "recalled"}
    if name == "plot_adding":
        rows = pd.DataFrame({"cell": ["gru", "gru", "pru"], "hidden_size": [4, 4, 4], "length": [8, 16, 8],
                             "seed": [0, 0, 0], "test_mse": [0.05, 0.1, 0.2], "baseline_mse": [0.17, 0.16, 0.17]})
        return (rows,), {}, 1, {"lines", "errorbars", "baseline"}
    if name == "plot_effects":
        effects = pd.DataFrame({"cell": ["gru", "pru"] * 2, "effect": ["state_size"] * 2 + ["interference"] * 2,
                                "estimate": [2.0, 1.5, -0.1, float("nan")], "ci_low": [1.8, 1.2, -0.2, float("nan")],
                                "ci_high": [2.2, 1.8, 0.0, float("nan")], "p_value": [1e-5, 1e-3, 0.05, float("nan")],
                                "unit": ["bits per doubling of n"] * 2 + ["bits per interfering bit"] * 2})
        return (effects,), {}, 2, {"points", "zero", "missing"}
    if name == "plot_alphabet_control":
        table = pd.DataFrame({"cell": ["gru", "gru", "pru"], "hidden_size": [8, 8, 8], "n_targets": [2, 2, 2],
                              "alphabet": [2, 4, 2], "targeted_bits": [2.0, 4.0, 2.0],
                              "recalled_bits_mean": [2.0, 3.5, 1.8], "recalled_bits_ci_low": [1.8, 3.0, float("nan")],
                              "recalled_bits_ci_high": [2.2, 4.0, float("nan")]})
        return (table,), {}, 2, {"lines", "errorbars", "identity"}
    if name == "plot_capacity_intervals":
        table = pd.DataFrame({"cell": ["gru", "gru", "pru"], "hidden_size": [4, 8, 4], "interfering_bits": [0.0] * 3,
                              "capacity_mean": [3.0, 6.0, 2.5], "capacity_ci_low": [2.0, 5.0, float("nan")],
                              "capacity_ci_high": [4.0, 7.0, float("nan")]})
        return (table,), {"reference": 4.0}, 1, {"errorbars", "reference"}
    if name == "plot_capacity_runs":
        return (_capacity_tables(), "gru"), {}, 1, {"errorbars"}
    if name == "plot_equal_parameters":
        equal = pd.DataFrame({"cell": ["irc_gru"] * 2, "baseline": ["gru"] * 2, "n_parameters": [156, 408],
                              "setting": ["blank"] * 2, "interfering_bits": [0.0] * 2, "difference": [0.5, -0.2],
                              "ci_low": [0.1, -0.9], "ci_high": [0.9, 0.5]})
        return (equal,), {}, 1, {"errorbars", "zero"}
    if name == "plot_recall_curves":
        return (_recall_runs(), "gru"), {}, 1, {"errorbars", "diagonal"}
    if name == "plot_recall_by_hold":
        table = pd.DataFrame({"cell": ["gru"] * 2, "hidden_size": [4, 4], "n_targets": [2, 8], "n_interfering": [8, 8],
                              "interfering_bits": [8.0, 8.0], "hold_steps": [12, 18], "alphabet": [4, 4],
                              "bits_per_symbol_mean": [1.9, 0.4], "bits_per_symbol_ci_low": [1.8, 0.2],
                              "bits_per_symbol_ci_high": [2.0, 0.6]})
        return ({"grid": table}, "gru"), {"value": "bits_per_symbol"}, 1, {"errorbars", "whole"}
    if name == "plot_position_profile":
        return (_position_table(), "gru"), {}, 1, {"errorbars", "whole"}
    raise AssertionError(f"no test case for {name}: add one (and a row in docs/api.md)")


def _position_table():
    """position_table's columns: GRU n = 4 at K = 2 and 3 (bits), one seed interval missing."""
    rows = [{"cell": "gru", "hidden_size": 4, "alphabet": 4, "n_targets": k, "n_interfering": 8, "position": p,
             "recalled_bits_per_position_mean": m, "recalled_bits_per_position_ci_low": m - 0.2,
             "recalled_bits_per_position_ci_high": m + 0.2}
            for k, means in ((2, [1.5, 0.5]), (3, [1.0, 0.6, 0.2])) for p, m in enumerate(means, start=1)]
    rows[-1]["recalled_bits_per_position_ci_low"] = float("nan")
    return pd.DataFrame(rows)


def test_position_profile_draws_one_line_per_k_with_its_means():
    import numpy as np

    drawn = rplot.plot_position_profile(_position_table(), "gru")
    assert list(drawn["errorbars"]) == ["K = 2", "K = 3"]
    np.testing.assert_allclose(drawn["errorbars"]["K = 3"].lines[0].get_ydata(), [1.0, 0.6, 0.2])
    np.testing.assert_allclose(drawn["errorbars"]["K = 3"].lines[0].get_xdata(), [1, 2, 3])
    assert drawn["whole"].get_ydata()[0] == 2.0  # log2 A
    only = rplot.plot_position_profile(_position_table(), "gru", n_targets=[3])
    assert list(only["errorbars"]) == ["K = 3"]
    two_delays = pd.concat([_position_table(), _position_table().assign(n_interfering=32)])
    labels = list(rplot.plot_position_profile(two_delays, "gru", n_targets=[2])["errorbars"])
    assert labels == ["K = 2, L = 8", "K = 2, L = 32"]
    with pytest.raises(ValueError, match="n_targets"):
        rplot.plot_position_profile(_position_table(), "gru", n_targets=[5])
    with pytest.raises(ValueError, match="hidden_size"):
        rplot.plot_position_profile(_position_table(), "gru", hidden_size=8)
    with pytest.raises(ValueError, match="cell"):
        rplot.plot_position_profile(_position_table(), "lstm")
    assert drawn.ax.get_legend() is not None
    bare = rplot.plot_position_profile(_position_table(), "gru", legend=False)
    assert bare.ax.get_legend() is None and "K = 3" in bare.ax.get_legend_handles_labels()[1]
    with pytest.raises(TypeError, match="legend must be True or False"):
        rplot.plot_position_profile(_position_table(), "gru", legend=1)


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Any call to plt.show() or Figure.show() fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a plot function called show()")

    monkeypatch.setattr(plt, "show", refuse)
    monkeypatch.setattr(matplotlib.figure.Figure, "show", refuse)
    yield
    plt.close("all")


# ---------------------------------------------------------------- the convention
@pytest.mark.parametrize("name", PLOTS)
def test_signature_takes_ax_or_axes_keyword_only(name):
    params = inspect.signature(getattr(rplot, name)).parameters
    panels = [p for p in ("ax", "axes") if p in params]
    assert len(panels) == 1, f"{name} must take exactly one of ax, axes"
    param = params[panels[0]]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is None
    assert inspect.signature(getattr(rplot, name)).return_annotation in (rplot.Drawn, "Drawn")


@pytest.mark.parametrize("name", PLOTS)
def test_every_plot_returns_a_drawn_with_its_documented_artists(name):
    args, kwargs, n_panels, artists = _case(name)
    plot = getattr(rplot, name)
    param = "ax" if "ax" in inspect.signature(plot).parameters else "axes"
    assert (param == "ax") == (n_panels == 1)
    # on a new figure
    drawn = plot(*args, **kwargs)
    assert isinstance(drawn, rplot.Drawn)
    assert set(drawn) == artists and len(drawn.axes) == n_panels
    assert all(a.figure is drawn.figure for a in drawn.axes)
    # on the caller's Axes: drawn there, and nothing else created
    fig = plt.figure()
    given = [fig.add_subplot(n_panels, 1, i + 1) for i in range(n_panels)]
    before = plt.get_fignums()
    drawn = plot(*args, **kwargs, **{param: given[0] if n_panels == 1 else given})
    assert plt.get_fignums() == before
    assert drawn.axes == tuple(given)
    if n_panels == 1:
        assert drawn.ax is given[0]
    else:
        with pytest.raises(ValueError, match="use .axes"):
            _ = drawn.ax
        with pytest.raises(ValueError, match=f"axes must hold {n_panels} Axes"):
            plot(*args, **kwargs, axes=given[:1])


def test_drawn_is_a_read_only_mapping_that_names_missing_artists():
    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1])
    drawn = rplot.Drawn([ax], {"line": line})
    assert drawn.axes == (ax,) and drawn.ax is ax and drawn.figure is fig
    assert dict(drawn) == {"line": line} and drawn["line"] is line
    assert repr(drawn) == "Drawn(panels=1, artists=['line'])"
    with pytest.raises(KeyError, match="'lines' was not drawn; the artists are \\['line'\\]"):
        drawn["lines"]
    with pytest.raises(TypeError):
        drawn.artists["other"] = line
    with pytest.raises(AttributeError):
        drawn.axes = ()
    with pytest.raises(ValueError, match="at least one Axes"):
        rplot.Drawn((), {})


def test_no_plot_module_calls_show_and_one_axes_helper():
    sources = {p.name: p.read_text() for p in (ROOT / "rnnviz" / "plot").glob("*.py")}
    for name, text in sources.items():
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "``")))
        assert not re.search(r"\.show\(\)", code.replace("``plt.show()``", "")), name
    assert [n for n, text in sources.items() if "def _axes(" in text] == ["_style.py"]


def test_docs_api_lists_every_plot_function_and_probe():
    from rnnviz import probes as probes_module

    text = (ROOT / "docs" / "api.md").read_text()
    for name in PLOTS + sorted(n for n in probes_module.__all__ if not n[0].isupper()):
        assert re.search(rf"^\| `{name}[(`]", text, re.MULTILINE), f"docs/api.md's tables do not list {name}"
