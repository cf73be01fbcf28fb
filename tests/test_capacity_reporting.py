"""What a capacity sweep publishes: the IRC/IHC comparison at equal parameter count on rows whose answer is
known, the seed-interval figures, the capacity table's parameter columns and the published CSV
(``rnnviz store export``)."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from scipy import stats

from rnnviz import plot as rplot
from rnnviz.study import (
    capacity_table,
    curve_falls,
    equal_parameter_capacity,
    load_capacity_results,
    published_capacity_rows,
)
from rnnviz.study._equal_parameters import baseline_of, interpolate_log
from rnnviz.study._results import PUBLISHED_CAPACITY_COLUMNS

# Parameter counts per hidden size (the capacity task's 7 inputs, as rnnviz counts them).
COUNTS = {"gru": {4: 156, 8: 408, 16: 1200, 32: 3936}, "irc_gru": {4: 132, 8: 424, 16: 1488, 32: 5536}}


def rows_with_known_capacity(variant_offset=1.5, seeds=(0, 1, 2), settings=((0.0, "blank"), (8.0, "mixed"))):
    """GRU and IRC-GRU rows whose seed capacity is exactly 3·log2(P) (GRU) and 3·log2(P) + offset + s/10
    (IRC-GRU, seed s): one model per targeted amount, recalling min(I_T, C)."""
    out = []
    for cell, counts in COUNTS.items():
        for n, p in counts.items():
            for bits, label in settings:
                for s in seeds:
                    cap = 3 * math.log2(p) + (variant_offset + s / 10 if cell == "irc_gru" else 0.0)
                    for it in (8.0, 16.0, 32.0, 64.0):
                        out.append({"cell": cell, "hidden_size": n, "alphabet": 4, "n_layers": 1, "n_interfering": 8,
                                    "interference": label, "interfering_bits": bits, "targeted_bits": it, "seed": s,
                                    "protocol": "memorization/2", "stop_reason": "plateau", "n_parameters": p,
                                    "recalled_bits": min(it, cap), "steps": 1000, "config": "{}"})
    return pd.DataFrame(out)


def test_baseline_of_names_the_simplified_cell():
    assert baseline_of("irc_gru") == "gru" and baseline_of("ihc_lstm") == "lstm" and baseline_of("irc_sru") == "sru"
    assert baseline_of("gru") is None and baseline_of("pru") is None and baseline_of("irc_nothing") is None


def test_interpolation_is_linear_in_log_parameters_and_never_extrapolates():
    assert interpolate_log([100, 400], [1.0, 3.0], 200) == pytest.approx(2.0)  # log2 200 is halfway
    assert interpolate_log([400, 100], [3.0, 1.0], 100) == pytest.approx(1.0)  # order does not matter
    assert math.isnan(interpolate_log([100, 400], [1.0, 3.0], 99))
    assert math.isnan(interpolate_log([100, 400], [1.0, 3.0], 401))


def test_equal_parameters_recovers_a_known_offset():
    """Capacity 3·log2(P) for both cells, plus offset + s/10 for the variant: at every GRU count inside
    IRC-GRU's range the difference is offset + mean(s/10), with the t interval of s/10."""
    equal = equal_parameter_capacity(rows_with_known_capacity(variant_offset=1.5))
    # GRU's P at n = 4 (156) is inside IRC-GRU's range [132, 5536], and so are the others
    assert sorted(equal["baseline_hidden_size"].unique()) == [4, 8, 16, 32]
    assert set(equal["setting"]) == {"blank", "mixed"} and (equal["cell"] == "irc_gru").all()
    assert (equal["baseline"] == "gru").all() and (equal["n_seeds"] == 3).all()
    assert equal["difference"].to_numpy() == pytest.approx(1.6)
    half = stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)  # t_{0.975, 2} · sd(0, .1, .2) / sqrt(3)
    assert equal["ci_low"].to_numpy() == pytest.approx(1.6 - half)
    assert equal["ci_high"].to_numpy() == pytest.approx(1.6 + half)
    assert (equal["p_value"] < 0.01).all()
    row = equal[(equal["baseline_hidden_size"] == 8) & (equal["setting"] == "blank")].iloc[0]
    assert row["n_parameters"] == 408 and row["baseline_capacity"] == pytest.approx(3 * math.log2(408))


def test_equal_parameters_with_no_difference_and_out_of_range():
    rows = rows_with_known_capacity(variant_offset=0.0, seeds=(0, 1, 2))
    rows.loc[rows["cell"] == "irc_gru", "recalled_bits"] = rows.loc[rows["cell"] == "irc_gru", "targeted_bits"].clip(
        upper=[3 * math.log2(p) for p in rows.loc[rows["cell"] == "irc_gru", "n_parameters"]])
    equal = equal_parameter_capacity(rows)
    assert equal["difference"].to_numpy() == pytest.approx(0.0, abs=1e-9)
    # Without IRC-GRU's n = 4 (132 parameters) GRU's n = 4 (156) is below its range: left out, not extrapolated
    equal = equal_parameter_capacity(rows[~((rows["cell"] == "irc_gru") & (rows["hidden_size"] == 4))])
    assert 4 not in set(equal["baseline_hidden_size"])
    assert equal_parameter_capacity(rows[rows["cell"] == "gru"]).empty  # no variant: an empty table
    with pytest.raises(ValueError, match="n_parameters"):
        equal_parameter_capacity(rows.drop(columns="n_parameters"))


def test_capacity_table_has_parameters_and_symbol_intervals():
    table = capacity_table(rows_with_known_capacity())
    gru8 = table[(table["cell"] == "gru") & (table["hidden_size"] == 8) & (table["interference"] == "blank")].iloc[0]
    assert gru8["n_parameters"] == 408
    assert gru8["bits_per_parameter"] == pytest.approx(3 * math.log2(408) / 408)
    assert gru8["symbols_per_unit"] == pytest.approx(gru8["bits_per_unit"] / 2)
    irc = table[(table["cell"] == "irc_gru") & (table["hidden_size"] == 8)].iloc[0]
    assert irc["symbols_per_unit_ci_low"] == pytest.approx(irc["capacity_ci_low"] / 8 / 2)


def test_interval_figures_draw_every_cell_and_save(tmp_path):
    rows = rows_with_known_capacity()
    table, equal = capacity_table(rows), equal_parameter_capacity(rows)
    drawn = rplot.plot_capacity_intervals(table)
    assert set(drawn["errorbars"]) == {"gru", "irc_gru"} and drawn["reference"] is None
    line = drawn["errorbars"]["gru"].lines[0]
    blank = table[(table["cell"] == "gru") & (table["interfering_bits"] == 0.0)].sort_values("hidden_size")
    assert line.get_ydata() == pytest.approx(blank["capacity_mean"].to_numpy())  # the least interference
    plt.close(drawn.figure)
    drawn = rplot.plot_capacity_intervals(table, x="interfering_bits", hidden_size=8, value="symbols_per_unit",
                                          reference=1.0)
    assert drawn["reference"].get_ydata()[0] == 1.0
    plt.close(drawn.figure)
    with pytest.raises(ValueError, match="hidden_size must name one of"):
        rplot.plot_capacity_intervals(table, x="interfering_bits")
    with pytest.raises(ValueError, match="x must be one of"):
        rplot.plot_capacity_intervals(table, x="seed")
    drawn = rplot.plot_equal_parameters(equal)
    assert set(drawn["errorbars"]) == {("irc_gru", "blank"), ("irc_gru", "mixed")}
    plt.close(drawn.figure)
    written = rplot.capacity_interval_figures(table, equal, tmp_path, formats=("png",))
    names = sorted(p.name for p in written)
    assert names == ["capacity_equal_parameters.png", "capacity_interference_doses.png",
                     "capacity_intervals.png", "capacity_intervals_parameters.png", "capacity_symbols_per_unit.png"]
    assert all(p.stat().st_size > 1000 for p in written)
    # Two alphabets: one set per alphabet, and a single plot refuses to mix them
    both = pd.concat([table, table.assign(alphabet=16)], ignore_index=True)
    written = rplot.capacity_interval_figures(both, None, tmp_path / "two", formats=("png",))
    assert {p.name for p in written} >= {"capacity_intervals_A4.png", "capacity_intervals_A16.png"}
    with pytest.raises(ValueError, match="several alphabets"):
        rplot.plot_capacity_intervals(both)


def test_published_rows_keep_the_published_columns_in_order():
    rows = rows_with_known_capacity().assign(versions="{}", accuracy_per_position="[1.0]")
    table = published_capacity_rows(rows.sample(frac=1.0, random_state=0))
    assert list(table.columns) == [c for c in PUBLISHED_CAPACITY_COLUMNS if c in set(rows.columns) | {"train_steps"}]
    assert "versions" not in table and "config" not in table and (table["train_steps"] == 1000).all()
    assert table["cell"].iloc[0] == table["cell"].iloc[len(table) // 2 - 1]  # sorted: one cell after the other
    first = table[table["cell"] == table["cell"].iloc[0]]
    assert first["hidden_size"].is_monotonic_increasing


def test_store_export_writes_the_published_table(tmp_path, capsys):
    """``rnnviz store export`` on a real (smoke) store: the published columns by default, every column with
    --all-columns; user errors in one line with exit status 2, the store unchanged."""
    from rnnviz.cli import main

    out = tmp_path / "sweep"
    assert main(["capacity", "--preset", "smoke", "--out", str(out), "--quiet", "--workers", "1", "--no-figures"]) == 0
    store = out / "capacity.sqlite"
    before = store.read_bytes()
    assert main(["store", "export", str(store), str(tmp_path / "t.csv")]) == 0
    table = pd.read_csv(tmp_path / "t.csv")
    assert len(table) == 4 and "train_steps" in table and "versions" not in table
    assert set(table.columns) <= set(PUBLISHED_CAPACITY_COLUMNS)
    assert main(["store", "export", str(store), str(tmp_path / "all.csv"), "--all-columns"]) == 0
    full = pd.read_csv(tmp_path / "all.csv")
    assert "versions" in full and len(full) == 4
    assert len(load_capacity_results(tmp_path / "t.csv")) == 4  # the published table reads back as results
    assert store.read_bytes() == before
    capsys.readouterr()
    for argv, message in (([str(tmp_path / "none.sqlite"), str(tmp_path / "x.csv")], "does not exist"),
                          ([str(tmp_path / "t.csv"), str(tmp_path / "x.csv")], "must be a capacity store"),
                          ([str(store), str(tmp_path / "x.txt")], "CSV must name a .csv file")):
        assert main(["store", "export", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_report_tables_hold_the_numbers_of_the_study_tables():
    from rnnviz.study._report import capacity_columns, interval, markdown_table, stop_reason_table

    assert interval(12.345, 10.0, 14.5) == "12.3 [10.0, 14.5]" and interval(2.0, math.nan, math.nan) == "2.0"
    assert interval(math.nan, 1.0, 2.0) == "–"
    assert interval(0.0, -0.01, 0.02) == "0.0 [0.0, 0.0]"  # no "-0.0"
    assert markdown_table(pd.DataFrame({"a": [1], "b": ["x"]})) == "| a | b |\n|---|---|\n| 1 | x |"
    rows = rows_with_known_capacity()
    rows.loc[rows.index[:5], "stop_reason"] = "budget"
    stops = stop_reason_table(rows).set_index("cell")
    assert stops.loc["gru", "budget"] == 5 and stops.loc["gru", "models"] == (rows["cell"] == "gru").sum()
    assert stops["diverged"].sum() == 0
    table = capacity_table(rows)
    wide = capacity_columns(table)
    assert list(wide.columns) == ["cell", "n", "I_I = 0 bits", "I_I = 8 bits"]
    gru8 = table[(table["cell"] == "gru") & (table["hidden_size"] == 8) & (table["interfering_bits"] == 8.0)].iloc[0]
    text = wide[(wide["cell"] == "gru") & (wide["n"] == 8)]["I_I = 8 bits"].iloc[0]
    assert text == interval(gru8["capacity_mean"], gru8["capacity_ci_low"], gru8["capacity_ci_high"])


def test_report_says_what_is_missing_and_how_to_regenerate():
    from rnnviz.study import capacity_report
    from rnnviz.study._report import interval

    rows = rows_with_known_capacity()
    text = capacity_report(rows, n_planned=len(rows) + 7, command="rnnviz capacity --preset x --out y")
    assert "incomplete: 7 not yet trained" in text and "Regenerate: `rnnviz capacity --preset x --out y`" in text
    for heading in ("## How the models stopped", "## Capacity (recalled bits)", "## Bits per unit", "## Effects",
                    "## Curve shapes", "## Mean curves", "## Mean curves past their peak",
                    "## IRC/IHC cells at their baseline's parameter count"):
        assert heading in text
    falls = curve_falls(rows)
    first = falls.iloc[0]  # its cell's row of the table: the verdict and the fall [interval] at its n
    assert f"{first['verdict']}: {interval(first['fall'], first['ci_low'], first['ci_high'], 1)}" in text
    assert "| irc_gru | gru | 8 | 408 | blank |" in text  # the equal-parameter row at GRU's n = 8
    from rnnviz.study import mean_curves
    from rnnviz.study._report import mean_curve_columns

    means = mean_curves(rows)
    point = means[(means["cell"] == "gru") & (means["hidden_size"] == 8) & (means["targeted_bits"] == 16.0)].iloc[0]
    wide = mean_curve_columns(means)  # one row per cell and n; the settings that do not vary are left out
    assert list(wide.columns) == ["cell", "n", "8 bits", "16 bits", "32 bits", "64 bits", "curves"]
    row = wide[(wide["cell"] == "gru") & (wide["n"] == 8)].iloc[0]
    assert row["16 bits"] == interval(point["mean"], point["ci_low"], point["ci_high"]) and row["curves"] == 6
    assert f"| gru | 8 | {row['8 bits']} | {row['16 bits']} |" in text
    assert "incomplete" not in capacity_report(rows, n_planned=len(rows))
    with pytest.raises(ValueError, match="no scored model"):
        capacity_report(rows.assign(recalled_bits=math.nan))
