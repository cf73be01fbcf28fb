"""The capacity study's alphabet-size control: presets of several alphabets with targeted amounts in
symbols (K fixed, so the sequence length fixed, while the targeted bits K log2 A vary), their runs into
one store, the analysis table, its figure and what ``rnnviz capacity`` writes from such rows."""

import hashlib
import math
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import rnnviz
from rnnviz._stats import mean_ci
from rnnviz.plot import plot_alphabet_control
from rnnviz.study import PRESETS, Preset, Store, alphabet_control, capacity_preset, sweep_specs
from rnnviz.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = TrainConfig(steps=20, batch_size=8, lr=2e-2, eval_every=10, eval_batch=32)
TWO = Preset(description="test", cells=("gru",), hidden_sizes=(4,), targeted_bits=(), n_targets=(2,),
             interfering=((2, 1),), seeds=(0, 1), alphabet=(2, 4), n_test=100, protocol=2, train=TINY)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- planning
def test_the_alphabet_preset_fixes_K_and_the_length_while_the_targeted_bits_vary():
    preset = PRESETS["alphabet"]
    assert preset.alphabets == (2, 4, 8, 16) and preset.n_targets == (8, 16)
    specs = preset.specs()
    assert preset.n_models == len(specs) == len({s.key for s in specs}) == 144
    for k in (8, 16):
        tasks = {s.alphabet: s.task() for s in specs if s.n_targets == k}
        assert {a: t.targeted_bits for a, t in tasks.items()} == {a: k * math.log2(a) for a in (2, 4, 8, 16)}
        assert {t.length for t in tasks.values()} == {2 * k + 8 + 2}  # T = 2K + L + 2 at every alphabet
        assert {a: t.input_size for a, t in tasks.items()} == {a: a + 3 for a in (2, 4, 8, 16)}
    assert {(s.protocol, s.n_interfering, s.n_random) for s in specs} == {(2, 8, 0)}  # blank: I_I = 0 at every A
    paper = PRESETS["paper"]
    paper_train = {s.cell: s.train for s in paper.specs()}  # the paper sweep's training, its per-cell rates
    assert all(s.train == paper_train[s.cell] for s in specs) and specs[0].train["plateau"] == 0.01
    assert {s.train["lr"] for s in specs if s.cell == "gru"} == {3e-2}
    # its alphabet-4 models are the paper sweep's own (same keys): 3 cells x n 8, 16 x K 8, 16 x 3 seeds
    shared = {s.key for s in specs} & {s.key for s in paper.specs()}
    assert len(shared) == 36 and all(s.alphabet == 4 for s in specs if s.key in shared)
    assert "44 minutes" in preset.description and f"{preset.n_models} models" in preset.description


#: sha256 of the sorted, comma-joined keys each stored preset plans: these models are in stores
#: (data/capacity_paper_run/, data/capacity_paper_mixed_run/, data/capacity_paper_combined_run/,
#: data/capacity_gpu_run/), so their keys must not change.
PLANNED_KEYS = {"smoke": (4, "80ea9a68afe10a8d"), "demo": (288, "27365d8bdd693ea9"),
                "paper": (1890, "fccd4a07cb12ed81"), "paper-mixed": (1890, "ebeed7b083fd8130"),
                "paper-combined": (1890, "a25e787206c2e226"), "gpu": (1890, "ded781d47e8fa873")}


@pytest.mark.parametrize("name", sorted(PLANNED_KEYS))
def test_the_existing_presets_plan_the_same_keys(name):
    keys = [s.key for s in PRESETS[name].specs()]
    p = PRESETS[name]
    direct = sweep_specs(p.cells, p.hidden_sizes, p.targeted_bits, p.interfering, p.seeds, alphabet=p.alphabet,
                         train=p.train, n_test=p.n_test, protocol=p.protocol, lr=p.lr, warm_start=p.warm_start)
    assert keys == [s.key for s in direct]
    assert (len(keys), hashlib.sha256(",".join(sorted(keys)).encode()).hexdigest()[:16]) == PLANNED_KEYS[name]
    assert PRESETS[name].n_models == len(keys) and PRESETS[name].alphabets == (p.alphabet,)


@pytest.mark.parametrize("folder, name", [("capacity_paper_run", "paper"), ("capacity_paper_mixed_run", "paper-mixed"),
                                          ("capacity_paper_combined_run", "paper-combined"), ("capacity_gpu_run", "gpu")])
def test_a_committed_run_store_holds_only_models_its_preset_plans(folder, name):
    """So that `rnnviz capacity --preset NAME` resumes it: a changed key would train the model again."""
    path = ROOT / "data" / folder / "capacity.sqlite"
    if not path.is_file():
        pytest.skip(f"no committed {name} run store")
    with Store(path, read_only=True) as db:
        stored = db.finished()
    assert stored and stored <= {s.key for s in PRESETS[name].specs()}


def test_targeted_bits_at_several_alphabets_keep_the_bits_and_vary_K():
    both = replace(PRESETS["smoke"], alphabet=(2, 4))
    assert both.alphabets == (2, 4) and both.n_models == 2 * PRESETS["smoke"].n_models
    assert {(s.alphabet, s.n_targets) for s in both.specs()} == {(2, 2), (2, 4), (4, 1), (4, 2)}
    assert [s.key for s in both.specs() if s.alphabet == 4] == [s.key for s in PRESETS["smoke"].specs()]
    with pytest.raises(ValueError, match=r"multiple of log2\(alphabet\) = 3 \(alphabet=8\), got 2.0"):
        replace(PRESETS["smoke"], alphabet=(4, 8)).specs()


@pytest.mark.parametrize("changes, error, message", [
    ({"targeted_bits": (2.0,)}, ValueError, r"either in bits \(targeted_bits\) or in symbols \(n_targets\)"),
    ({"n_targets": ()}, ValueError, r"exactly one of them non-empty, got targeted_bits=\(\) and n_targets=\(\)"),
    ({"n_targets": (2, 0)}, ValueError, r"n_targets\[1\] must be an integer >= 1, got 0"),
    ({"n_targets": (1.5,)}, TypeError, r"n_targets\[0\] must be an integer >= 1, got 1.5"),
    ({"n_targets": 2}, TypeError, r"n_targets must be a tuple of targeted amounts"),
    ({"targeted_bits": None}, TypeError, r"targeted_bits must be a tuple of targeted amounts"),
    ({"alphabet": (2, 1)}, ValueError, r"alphabet\[1\] must be an integer >= 2, got 1"),
    ({"alphabet": ()}, ValueError, r"alphabet must be a non-empty iterable"),
    ({"alphabet": 4.0}, TypeError, r"alphabet must be an integer >= 2, got 4.0"),
    ({"alphabet": "24"}, TypeError, r"alphabet must be an integer >= 2, got '24'"),
])
def test_bad_targeted_amounts_and_alphabets_are_refused_by_name(changes, error, message):
    with pytest.raises(error, match=message):
        replace(TWO, **changes)


def test_a_repeated_alphabet_is_merged_with_a_warning_and_other_misuse_is_named():
    with pytest.warns(UserWarning, match=r"alphabet names the same models more than once \(\[2\]\)"):
        twice = replace(TWO, alphabet=(2, 4, 2))
    assert twice.alphabets == (2, 4) and twice.n_models == TWO.n_models == 4
    with pytest.raises(ValueError, match=r"alphabet must be one of \[2, 4\], got 8"):
        TWO.sweep(8)
    with pytest.raises(ValueError, match=r"the learning-rate pilot runs at one alphabet .*alphabet=\(2, 4\)"):
        replace(TWO, pilot_lrs=(1e-2,), pilot_points=((4, 2.0),), pilot_interfering=((2, 1),)).pilot("unused")
    with pytest.raises(ValueError, match="preset must be one of"):
        capacity_preset("alphabets")


# ---------------------------------------------------------------- running into one store
def test_several_alphabets_train_into_one_store_and_resume(tmp_path):
    trained = []
    rows = TWO.run(tmp_path, device="cpu", progress=False, on_trained=trained.extend)
    assert len(rows) == len(trained) == rows.attrs["n_planned"] == 4
    assert sorted(zip(rows["alphabet"], rows["n_targets"], rows["targeted_bits"], rows["seed"], strict=True)) == [
        (2, 2, 2.0, 0), (2, 2, 2.0, 1), (4, 2, 4.0, 0), (4, 2, 4.0, 1)]
    assert (rows["interfering_bits"] == rows["targeted_bits"] / 2).all()  # one random symbol of log2 A bits
    with Store(tmp_path / "capacity.sqlite", read_only=True) as db:
        assert db.finished() == set(rows["key"]) == {s.key for s in TWO.specs()}
    assert len(pd.read_csv(tmp_path / "capacity.csv")) == 4
    summary = pd.read_csv(tmp_path / "capacity_summary.csv")
    assert sorted(summary["alphabet"]) == [2, 4]  # one capacity per alphabet
    again = []
    resumed = TWO.run(tmp_path, device="cpu", progress=False, on_trained=again.extend)
    assert again == [] and sorted(resumed["key"]) == sorted(rows["key"])
    # a spent time limit trains nothing more and still returns every alphabet's finished rows
    late = TWO.run(tmp_path, device="cpu", progress=False, time_limit=1e-9, on_trained=again.extend)
    assert again == [] and sorted(late["key"]) == sorted(rows["key"]) and late.attrs["n_planned"] == 4


def test_a_time_limit_spent_on_the_first_alphabet_leaves_the_others_for_the_resume(tmp_path):
    rows = TWO.run(tmp_path, device="cpu", progress=False, time_limit=1e-9)
    assert rows.attrs["n_planned"] == 4 and list(rows["alphabet"]) == [2, 2]  # the first group always starts


# ---------------------------------------------------------------- the analysis
def synthetic_rows() -> pd.DataFrame:
    """gru n=8 at K=2 and 4, A=2 and 4, three seeds; recalled bits = targeted bits − seed / 2 (capped at
    5), one diverged model (K=4, A=4, seed 2)."""
    out = []
    for k in (2, 4):
        for a in (2, 4):
            for seed in (0, 1, 2):
                bits = k * math.log2(a)
                diverged = (k, a, seed) == (4, 4, 2)
                out.append({"cell": "gru", "hidden_size": 8, "protocol": "memorization/2", "n_interfering": 8,
                            "n_random": 4, "interference": "mixed", "n_targets": k, "alphabet": a,
                            "targeted_bits": bits, "interfering_bits": 4 * math.log2(a), "seed": seed,
                            "recalled_bits": math.nan if diverged else min(5.0, bits - seed / 2),
                            "stop_reason": "diverged" if diverged else "plateau"})
    return pd.DataFrame(out)


def test_alphabet_control_gives_seed_means_with_intervals_per_K_and_alphabet():
    table = alphabet_control(synthetic_rows())
    assert list(table.columns[:11]) == ["cell", "hidden_size", "protocol", "n_interfering", "n_random",
                                        "interference", "n_targets", "alphabet", "targeted_bits",
                                        "interfering_bits", "recalled_bits_mean"]
    assert list(zip(table["n_targets"], table["alphabet"], strict=True)) == [(2, 2), (2, 4), (4, 2), (4, 4)]
    assert list(table["targeted_bits"]) == [2.0, 4.0, 4.0, 8.0]
    assert list(table["interfering_bits"]) == [4.0, 8.0, 4.0, 8.0]
    for row, values in zip(table.itertuples(), ([2, 1.5, 1], [4, 3.5, 3], [4, 3.5, 3], [5, 5]), strict=True):
        expected = mean_ci(values)
        assert row.recalled_bits_mean == pytest.approx(expected["mean"])
        assert row.recalled_bits_ci_low == pytest.approx(expected["ci_low"])
        assert row.recalled_bits_ci_high == pytest.approx(expected["ci_high"])
        assert row.n_seeds == len(values)
    assert list(table["diverged"]) == [0, 0, 0, 1]
    assert list(table["recalled_fraction"]) == pytest.approx([0.75, 0.875, 0.875, 0.625])
    assert list(table["recalled_symbols"]) == pytest.approx([1.5, 1.75, 3.5, 2.5])
    # the K=2, A=4 and K=4, A=2 points target the same 4 bits at lengths 2K + L + 2 = 14 and 18
    assert table.loc[1, "recalled_bits_mean"] == table.loc[2, "recalled_bits_mean"]


def test_alphabet_control_names_what_is_missing():
    rows = synthetic_rows()
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['n_targets'\]"):
        alphabet_control(rows.drop(columns="n_targets"))
    with pytest.raises(ValueError, match="rows is empty"):
        alphabet_control(rows.iloc[:0])
    with pytest.raises(TypeError, match="rows must be a pandas DataFrame"):
        alphabet_control(rows.to_dict("records"))
    with pytest.raises(ValueError, match="confidence"):
        alphabet_control(rows, confidence=1.0)


def test_the_alphabet_figure_draws_a_line_per_n_and_K_with_the_identity():
    rows = pd.concat([synthetic_rows(), synthetic_rows().assign(cell="pru")], ignore_index=True)
    table = alphabet_control(rows)
    drawn = plot_alphabet_control(table)
    assert len(drawn.axes) == 2 and set(drawn["identity"]) == {"gru", "pru"}
    assert set(drawn["lines"]) == {(c, 8, k) for c in ("gru", "pru") for k in (2, 4)}
    line = drawn["lines"][("gru", 8, 4)]
    assert list(line.get_xdata()) == [4.0, 8.0] and list(line.get_ydata()) == pytest.approx([3.5, 5.0])
    assert list(drawn["identity"]["gru"].get_xdata()) == [0.0, 8.0]
    with pytest.raises(ValueError, match="table must hold one setting"):
        plot_alphabet_control(pd.concat([table, table.assign(n_random=8)]))


def test_capacity_figures_refuse_a_mixed_alphabet_summary_and_draw_one_set_per_alphabet(tmp_path):
    from rnnviz.plot import capacity_figures, plot_capacity_vs_hidden_size
    from rnnviz.study import per_targeted_bits, summarize

    rows = TWO.run(tmp_path / "run", device="cpu", progress=False)
    grid, summary = per_targeted_bits(rows), summarize(rows)
    with pytest.raises(ValueError, match=r"summary holds several alphabets \[2, 4\]: draw one at a time"):
        plot_capacity_vs_hidden_size(summary)
    written = capacity_figures(grid, summary, tmp_path / "figures", formats=("png",))
    names = sorted(p.name for p in written)
    assert names == sorted(f"{name}_A{a}.png" for a in (2, 4) for name in (
        "capacity_heatmap_mixed", "capacity_heatmap", "capacity_vs_hidden_size", "capacity_interference",
        "capacity_bits_per_parameter"))


# ---------------------------------------------------------------- the command
def test_the_capacity_command_writes_the_alphabet_control(tmp_path, monkeypatch, capsys):
    from rnnviz.cli import main

    monkeypatch.setitem(rnnviz.study.PRESETS, "alphabet", TWO)
    out = tmp_path / "out"
    assert main(["capacity", "--preset", "alphabet", "--out", str(out), "--quiet", "--workers", "1",
                 "--device", "cpu"]) == 0
    assert "alphabet" in capsys.readouterr().out.splitlines()[0]  # the printed summary has an alphabet column
    table = pd.read_csv(out / "capacity_alphabet.csv")
    assert list(zip(table["alphabet"], table["targeted_bits"], table["n_seeds"], strict=True)) == [
        (2, 2.0, 2), (4, 4.0, 2)]
    for name in ("capacity_alphabet.png", "capacity_alphabet.pdf", "capacity_effects.csv",
                 "capacity_seed_means.csv", "capacity_vs_hidden_size_A2.png", "capacity_heatmap_A4.pdf"):
        assert (out / name).is_file(), name
    means = pd.read_csv(out / "capacity_seed_means.csv")
    assert sorted(means["alphabet"]) == [2, 4]
