"""Wrong input is refused up front with an error that names the argument, the value and what was
expected; never a quiet wrong answer (a truncated seed, an empty sweep, a slice of a state)."""

import inspect
import json
import math

import numpy as np
import pytest
import torch

from rnnviz import cells, probes
from rnnviz.study import Preset, Store, capacity, sweep_specs
from rnnviz.tasks import Adding, Copy, FlipFlop, Memorization, PrimedFlipFlop
from rnnviz.train import SequenceModel, TrainConfig, load_checkpoint, save_checkpoint

GRID = dict(cells=["gru"], hidden_sizes=[3], targeted_bits=[2.0], interfering=[(1, "blank")], seeds=[0])
TINY = TrainConfig(steps=4, batch_size=4, eval_every=2, eval_batch=8)


# ------------------------------------------------------------------------------------ sweep grids
def test_a_grid_may_be_any_iterable_and_is_read_once():
    once = (n for n in [3, 4])
    specs = sweep_specs(**{**GRID, "hidden_sizes": once, "seeds": range(2), "cells": iter(["gru", "pru"])})
    assert len(specs) == 2 * 2 * 2 and len({s.key for s in specs}) == 8
    assert list(once) == []
    # NumPy integers are integers
    assert [s.seed for s in sweep_specs(**{**GRID, "seeds": np.arange(2)})] == [0, 1]


def test_duplicates_are_merged_with_a_warning_and_counted_once(tmp_path):
    with pytest.warns(UserWarning, match=r"seeds names the same models more than once \(\[0\]\)"):
        specs = sweep_specs(**{**GRID, "seeds": [0, 1, 0]})
    assert [s.seed for s in specs] == [0, 1]
    with pytest.warns(UserWarning, match="targeted_bits names the same models"):
        assert len(sweep_specs(**{**GRID, "targeted_bits": [2, 2.0]})) == 1
    with pytest.warns(UserWarning, match="cells names the same models"):
        rows = capacity(**{**GRID, "cells": ["gru", "gru"]}, train=TINY, n_test=20, progress=False,
                        store=tmp_path / "s.sqlite")
    assert len(rows) == rows.attrs["n_planned"] == 1  # the sweep is finished, not forever short
    preset = Preset("dup", ("gru", "gru"), (3,), (2.0,), ((1, "blank"),), (0, 0), train=TINY)
    assert preset.n_models == 1


@pytest.mark.parametrize("change, error, match", [
    ({"hidden_sizes": (n for n in [])}, ValueError, "hidden_sizes must be a non-empty iterable"),
    ({"cells": "gru"}, TypeError, "cells must be a non-empty iterable .* got 'gru'"),
    ({"hidden_sizes": 4}, TypeError, "hidden_sizes must be a non-empty iterable"),
    ({"seeds": [0.4]}, TypeError, r"seeds\[0\] must be an integer >= 0, got 0.4 \(float\)"),
    ({"seeds": [-1]}, ValueError, r"seeds\[0\] must be an integer >= 0, got -1"),
    ({"hidden_sizes": [4.0]}, TypeError, r"hidden_sizes\[0\] must be an integer >= 1, got 4.0"),
    ({"interfering": [(1.7, "blank")]}, TypeError, r"interfering\[0\]: n_interfering must be an integer >= 0, got 1.7"),
    ({"interfering": [(None, "blank")]}, TypeError, r"interfering\[0\]: n_interfering must be an integer >= 0, got None"),
    ({"interfering": [{"n_interfering": 2}]}, ValueError, r"interfering\[0\]: interference must be one of"),
    ({"targeted_bits": [math.nan]}, ValueError, r"targeted_bits\[0\] must be a finite number in \(0, inf\), got nan"),
    ({"targeted_bits": [math.inf]}, ValueError, r"targeted_bits\[0\] must be a finite number .* got inf"),
    ({"targeted_bits": ["2"]}, TypeError, r"targeted_bits\[0\] must be a finite number .* got '2' \(str\)"),
    ({"n_test": 0}, ValueError, "n_test must be an integer >= 1, got 0"),
    ({"n_layers": 1.0}, TypeError, "n_layers must be an integer >= 1, got 1.0"),
    ({"train": {"steps": 3}}, TypeError, "train must be a rnnviz.train.TrainConfig or None"),
])
def test_bad_grids_are_refused_by_name(change, error, match):
    with pytest.raises(error, match=match):
        sweep_specs(**{**GRID, **change})


def test_capacity_checks_its_own_arguments_and_defaults_to_auto():
    assert inspect.signature(capacity).parameters["device"].default == "auto"
    for change, match in [({"workers": 0}, "workers must be an integer >= 1"),
                          ({"threads": 0}, "threads must be an integer >= 1"),
                          ({"device": "bogus"}, "device must be 'auto' or a torch device")]:
        with pytest.raises(ValueError, match=match):
            capacity(**GRID, **change, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available"):
            capacity(**GRID, device="cuda", progress=False)


def test_auto_device_rows_name_the_cpu_here():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    rows = capacity(**GRID, train=TINY, n_test=20, progress=False)
    assert rows["device"].str.startswith("cpu:").all()


# ------------------------------------------------------------------------------------ training settings
@pytest.mark.parametrize("field, value, error, match", [
    ("lr", math.inf, ValueError, r"lr must be a finite number in \(0, inf\), got inf"),
    ("lr", math.nan, ValueError, "lr must be a finite number"),
    ("lr", 0.0, ValueError, "lr must be a finite number"),
    ("min_lr_ratio", -0.1, ValueError, r"min_lr_ratio must be a finite number in \[0, 1\], got -0.1"),
    ("clip", math.nan, ValueError, "clip must be a finite number"),
    ("steps", 10.0, TypeError, "steps must be an integer >= 1, got 10.0"),
    ("target_accuracy", 0.0, ValueError, r"target_accuracy must be a finite number in \(0, 1\]"),
    ("schedule", "linear", ValueError, "schedule must be one of"),
])
def test_train_config_refuses_what_makes_no_sense(field, value, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**{field: value})


# ------------------------------------------------------------------------------------ tasks
def test_tasks_want_a_generator_not_a_seed():
    for task in (Memorization(3), Copy(5, 2, 3), Adding(6), FlipFlop(2, 5), PrimedFlipFlop(2, 5)):
        with pytest.raises(TypeError, match=r"generator must be a torch.Generator or None .* got 0 \(int\)"):
            task.sample(3, 0)


def test_scores_refuse_outputs_of_the_wrong_shape():
    task = Memorization(2, 4, 1)
    x, y, m = task.sample(3, torch.Generator().manual_seed(0))
    logits = torch.randn(task.length, 3, 4)
    assert 0 <= float(task.score(logits, y, m)["accuracy"]) <= 1
    with pytest.raises(ValueError, match=r"outputs must cover the task's T=6 steps, got 5 steps"):
        task.score(logits[:-1], y, m)
    with pytest.raises(ValueError, match=r"outputs must have shape \(…, T, B, output_size=4\), got \(6, 3, 5\)"):
        task.score(torch.randn(task.length, 3, 5), y, m)
    with pytest.raises(ValueError, match=r"targets must have shape \(…, T=6, B=3\) integer classes"):
        task.score(logits, y[:, :2], m)
    with pytest.raises(ValueError, match=r"mask must be None or have shape \(…, T=6, B=3\)"):
        task.loss(logits, y, m[:-1])
    copy = Copy(4, 2, 3)
    with pytest.raises(ValueError, match="outputs must cover the task's T=8 steps"):
        copy.score(torch.randn(7, 2, copy.output_size), torch.zeros(7, 2, dtype=torch.long))
    adding = Adding(5)
    with pytest.raises(ValueError, match=r"targets must have shape .* got \(3, 2\)"):
        adding.loss(torch.randn(5, 2, 1), torch.zeros(3, 2))


# ------------------------------------------------------------------------------------ cells
@pytest.mark.parametrize("name, option", [("pru", "output_map"), ("gru", "irc"), ("lstm", "ihc"), ("sru", "highway"),
                                          ("sru", "rescale"), ("trnn", "irc")])
def test_switches_must_be_booleans(name, option):
    with pytest.raises(TypeError, match=f"{option} must be True or False, got 'bogus'"):
        cells.make(name, 4, 4, **{option: "bogus"})
    with pytest.raises(TypeError, match="batch_first must be True or False, got 1"):
        cells.make(name, 4, 4, batch_first=1)


@pytest.mark.parametrize("name", cells.names())
def test_an_ensemble_takes_a_batch_of_zero_like_a_single_model(name):
    ensemble = cells.make(name, 3, 3, n_models=2)
    y, s = ensemble(torch.zeros(2, 4, 0, 3, requires_grad=True))
    assert y.shape == (2, 4, 0, ensemble.output_size) and s.shape == (2, 0, ensemble.state_size)
    y.sum().backward()
    assert ensemble.trace(torch.zeros(2, 4, 0, 3)).states.shape == (2, 5, 0, ensemble.state_size)
    model = SequenceModel(name, 3, 3, 2, n_models=2)
    assert model(torch.zeros(2, 4, 0, 3)).shape == (2, 4, 0, 2)


# ------------------------------------------------------------------------------------ probes
def test_probes_refuse_states_and_inputs_of_the_wrong_size():
    cell = cells.make("gru", 3, 4)
    with pytest.raises(ValueError, match=r"s must have state_size=4 features on its last axis, got shape \(2, 7\)"):
        probes.energy(cell, torch.zeros(2, 7), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"x must have input_size=3 features .* got shape \(2, 5\)"):
        probes.energy_gradient(cell, torch.zeros(2, 4), torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"s must have shape \(B, state_size=4\), got \(2, 5\)"):
        probes.step_jacobians(cell, torch.zeros(2, 3), torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"x must have shape \(3,\) or \(2, 3\), got \(3, 3\)"):
        probes.input_jacobians(cell, torch.zeros(3, 3), torch.zeros(2, 4))
    assert probes.step_jacobians(cell, torch.zeros(3), torch.zeros(2, 4)).shape == (2, 4, 4)  # one held input
    with pytest.raises(ValueError, match=r"s0 must have shape \(3, 4\) .* got \(2, 4\)"):
        probes.lyapunov_spectrum(cell, torch.zeros(5, 3, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, 3\) or \(T, 3\) \(input_size=3\), got \(5, 2, 2\)"):
        probes.lyapunov_spectrum(cell, torch.zeros(5, 2, 2), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="x must have at least one time step"):
        probes.lyapunov_spectrum(cell, torch.zeros(0, 2, 3), torch.zeros(2, 4))
    ensemble = cells.make("gru", 3, 4, n_models=2)
    with pytest.raises(ValueError, match=r"s must have shape \(E=2, B, state_size=4\), got \(3, 2, 4\)"):
        probes.step_jacobians(ensemble, torch.zeros(3, 2, 3), torch.zeros(3, 2, 4))


# ------------------------------------------------------------------------------------ checkpoints
def edit_sidecar(path, change):
    meta = path.with_suffix(".json")
    header = json.loads(meta.read_text())
    change(header)
    meta.write_text(json.dumps(header))


@pytest.mark.parametrize("change, match", [
    (lambda h: h["config"].update(hidden_size=150_000), r"the JSON asks for \(450000, 6\) float32, the weights hold \(15, 6\)"),
    (lambda h: h.update(dtype="float64"), "the JSON asks for .* float64, the weights hold .* float32"),
    (lambda h: h.update(dtype="load"), r"dtype must be one of \['float16', 'bfloat16', 'float32', 'float64'\], got 'load'"),
    (lambda h: h["config"].update(cell="lstm"), "missing from the weights|the JSON asks for"),
    (lambda h: h["config"].update(bogus=1), "its config does not describe a SequenceModel"),
    (lambda h: h.update(config=[1, 2]), "config must be a JSON object, got list"),
])
def test_a_checkpoint_sidecar_is_checked_against_its_tensors_before_allocating(tmp_path, change, match):
    model = SequenceModel("gru", 6, 5, 4)
    weights, _ = save_checkpoint(model, tmp_path / "m")
    edit_sidecar(weights, change)
    with pytest.raises(ValueError, match=match):
        load_checkpoint(tmp_path / "m")


def test_an_honest_checkpoint_still_loads(tmp_path):
    model = SequenceModel("lstm", 6, 5, 4, n_models=2, dtype=torch.float64)
    save_checkpoint(model, tmp_path / "m", {"note": "kept"})
    loaded, meta = load_checkpoint(tmp_path / "m")
    assert meta == {"note": "kept"}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True))


def test_stores_from_the_grid_match_the_plan(tmp_path):
    """A generator grid trains and records every model it names (0 rows was the old answer)."""
    rows = capacity(**{**GRID, "seeds": (s for s in [0, 1])}, train=TINY, n_test=20, progress=False,
                    store=tmp_path / "s.sqlite")
    assert len(rows) == rows.attrs["n_planned"] == 2
    with Store(tmp_path / "s.sqlite", read_only=True) as s:
        assert len(s) == 2
