"""The plan of a resumable sweep (``rnnviz capacity --plan``, ``rnnviz adding --plan``,
:func:`rnnviz.study._plan.sweep_plan`): what is left to train, in the order it would start, which groups
resume from a checkpoint and at which step."""

import json

import pytest

from rnnviz.study import capacity, group_specs, sweep_specs
from rnnviz.study._checkpoints import checkpoints_dir, group_checkpoint
from rnnviz.study._plan import PLAN_COLUMNS, capacity_plan, checkpoint_step, sweep_plan
from rnnviz.study._run import group_cost, longest_first
from rnnviz.train import TrainConfig

TINY = TrainConfig(steps=20, batch_size=8, lr=2e-2, eval_every=10, eval_batch=32)
GRID = dict(cells=["gru", "pru"], hidden_sizes=[3, 5], targeted_bits=[2.0, 4.0], interfering=[(1, "blank")],
            seeds=[0], alphabet=4, train=TINY, n_test=100)


def test_the_plan_lists_what_is_left_in_the_order_it_would_start(tmp_path):
    specs = sweep_specs(**GRID)
    store = tmp_path / "capacity.sqlite"
    empty = capacity_plan(specs, store, parallel=True)  # no store yet: everything, the costliest first
    assert list(empty.columns) == list(PLAN_COLUMNS) and not store.exists()  # a plan writes nothing
    assert empty.attrs == {"n_planned": 8, "n_done": 0, "n_to_train": 8}
    groups = longest_first(group_specs(specs))
    assert empty["models"].tolist() == [len(g) for g in groups] and empty["cost_share"].sum() == pytest.approx(1.0)
    assert empty["cost_left"].tolist() == [group_cost(g) for g in groups]
    assert (empty["resumes_at"] == 0).all() and (empty["steps"] == 20).all()
    assert empty["group"].iloc[0].startswith(f"{groups[0][0].cell} n={groups[0][0].hidden_size} ")
    assert capacity_plan(specs, store)["models"].tolist() == [len(g) for g in group_specs(specs)]  # one worker: in order

    # half the grid trained: the plan is the other half
    capacity(**{**GRID, "hidden_sizes": [3]}, store=store, progress=False)
    left = capacity_plan(specs, store, parallel=True)
    assert left.attrs == {"n_planned": 8, "n_done": 4, "n_to_train": 4}
    assert left["group"].str.contains("n=5").all()

    # a group paused at its checkpoint: it resumes there, and its share of the cost left shrinks
    first = longest_first(group_specs([s for s in specs if s.hidden_size == 5]))[0]
    path = group_checkpoint(checkpoints_dir(store), [s.key for s in first])
    path.parent.mkdir(parents=True)
    path.with_name(path.name + ".json").write_text(json.dumps({"metadata": {"step": 15}}))
    paused = capacity_plan(specs, store, parallel=True)
    assert paused["resumes_at"].tolist()[0] == 15 and paused["cost_left"].iloc[0] == pytest.approx(
        group_cost(first) * 5 / 20)
    other = tmp_path / "elsewhere"  # checkpoints kept in another folder (--checkpoints)
    assert (capacity_plan(specs, store, parallel=True, checkpoints=other)["resumes_at"] == 0).all()
    # on a Dask cluster the sweep keeps no checkpoints next to the store unless told where: none resume
    assert (capacity_plan(specs, store, distributed=True)["resumes_at"] == 0).all()
    assert capacity_plan(specs, store, distributed=True)["group"].tolist() == left["group"].tolist()  # costliest first


def test_a_checkpoint_step_is_read_as_data_and_anything_else_is_none(tmp_path):
    path = tmp_path / "group-x"
    assert checkpoint_step(path) is None  # none there
    for text, step in (('{"metadata": {"step": 2000}}', 2000), ("not json", None), ('{"metadata": {}}', None),
                       ('{"metadata": {"step": "2000"}}', None), ('{"metadata": {"step": -1}}', None),
                       ('{"metadata": {"step": true}}', None), ("[1, 2]", None)):
        (tmp_path / "group-x.json").write_text(text)
        assert checkpoint_step(path) == step, text


def test_the_command_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    from rnnviz.cli import main

    out = tmp_path / "run"
    assert main(["capacity", "--preset", "smoke", "--out", str(out), "--plan", "--workers", "2"]) == 0
    text = capsys.readouterr().out
    assert "to train in" in text and "share of the cost left" in text and "nothing trained (--plan)" in text
    assert not out.exists()  # nothing written, not even the folder
    assert main(["capacity", "--preset", "smoke", "--out", str(out), "--quiet", "--workers", "1",
                 "--no-figures"]) == 0
    capsys.readouterr()
    assert main(["capacity", "--preset", "smoke", "--out", str(out), "--plan"]) == 0
    text = capsys.readouterr().out
    assert " 0 to train in 0 groups" in text and "share of the cost left" not in text
    assert main(["capacity", "--preset", "smoke", "--out", str(out), "--plan", "--pilot"]) == 2
    err = capsys.readouterr().err
    assert "--plan" in err and "--pilot" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "file").write_text("x")
    assert main(["capacity", "--preset", "smoke", "--out", str(tmp_path / "file"), "--plan"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_plan_counts_only_the_grids_own_models_as_done():
    specs = sweep_specs(**GRID)
    keys = [s.key for s in specs]
    plan = sweep_plan(specs, {keys[0], "not-in-the-grid"}, describe=lambda group: f"{len(group)} models")
    assert plan.attrs == {"n_planned": 8, "n_done": 1, "n_to_train": 7} and plan["models"].sum() == 7
    assert set(plan["group"]) <= {f"{k} models" for k in range(1, 9)} and (plan["resumes_at"] == 0).all()


def test_the_adding_command_prints_its_plan_and_trains_nothing(tmp_path, capsys):
    from rnnviz.cli import main

    out = tmp_path / "adding"
    assert main(["adding", "--preset", "smoke", "--out", str(out), "--plan"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("rnnviz adding --plan: ") and " T=" in text and "nothing trained (--plan)" in text
    assert not out.exists()
    out.mkdir()
    (out / "adding.csv").write_text("not,an\nadding,file\n")
    assert main(["adding", "--preset", "smoke", "--out", str(out), "--plan"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "not an adding study's results" in err and len(err.strip().splitlines()) == 1
