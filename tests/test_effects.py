"""The capacity study's effects (rnnviz.study._effects) on synthetic rows whose answer is known, and the
seed statistics they share with the figures (rnnviz._stats)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rnnviz._stats import mean_ci, seed_summary
from rnnviz.study import (
    EFFECTS,
    SHAPES,
    capacity_effects,
    capacity_table,
    curve_shape_counts,
    curve_shapes,
    seed_capacity,
)
from rnnviz.study._effects import within_slope

SIZES = (4, 8, 16, 32)
SETTINGS = ((4, "blank", 0.0), (4, "random", 8.0), (8, "random", 16.0))  # (L, kind, interfering bits)
TARGETED = tuple(float(b) for b in range(2, 26, 2))


def synthetic(seed=0, n_seeds=4, slope=2.0, per_interfering_bit=0.0, noise=0.3, sizes=SIZES, settings=SETTINGS):
    """Rows of two cells whose seed capacity is C = slope·log2(n) + per_interfering_bit·I_I + N(0, noise²):
    recalled bits follow the targeted bits up to C and fall (by half a bit per bit) after it, plus noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell in ("gru", "pru"):
        for n in sizes:
            for L, kind, bits in settings:
                for s in range(n_seeds):
                    C = slope * math.log2(n) + per_interfering_bit * bits + rng.normal(0, noise)
                    for it in TARGETED:
                        recalled = it if it <= C else C - 0.5 * (it - C)
                        rows.append({"cell": cell, "hidden_size": n, "alphabet": 4, "n_layers": 1, "n_interfering": L,
                                     "interference": kind, "interfering_bits": bits, "targeted_bits": it, "seed": s,
                                     "protocol": "memorization/1", "stop_reason": "budget",
                                     "recalled_bits": recalled + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def effect(table, cell, name):
    return table[(table["cell"] == cell) & (table["effect"] == name)].iloc[0]


# ---------------------------------------------------------------- the shared statistics
def test_mean_ci_is_the_student_t_interval():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    got = mean_ci(x)
    half = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2
    assert got["n_seeds"] == 4 and got["mean"] == pytest.approx(3.5) and got["sd"] == pytest.approx(x.std(ddof=1))
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((3.5 - half, 3.5 + half))
    one = mean_ci([2.0, math.nan])  # a diverged seed is not counted
    assert one["n_seeds"] == 1 and one["mean"] == 2.0 and math.isnan(one["sd"]) and math.isnan(one["ci_low"])
    assert math.isnan(mean_ci([])["mean"])
    with pytest.raises(ValueError, match="confidence must be a finite number in \\(0, 1\\), got 1.5"):
        mean_ci(x, 1.5)


def test_seed_summary_groups_and_names_its_columns():
    frame = pd.DataFrame({"cell": ["a", "a", "b"], "v": [1.0, 3.0, 5.0]})
    table = seed_summary(frame, ["cell"], "v")
    assert list(table.columns) == ["cell", "v_mean", "v_sd", "n_seeds", "v_ci_low", "v_ci_high"]
    assert table["v_mean"].tolist() == [2.0, 5.0] and table["n_seeds"].tolist() == [2, 1]
    assert math.isnan(table["v_ci_low"].iloc[1])


# ---------------------------------------------------------------- the regression
def test_within_slope_with_one_level_is_linregress():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 5, 30)
    y = 1.5 * x + rng.normal(0, 1, 30)
    got = within_slope(y, x, ["all"] * 30)
    ref = stats.linregress(x, y)
    half = stats.t.ppf(0.975, 28) * ref.stderr
    assert got["estimate"] == pytest.approx(ref.slope) and got["p_value"] == pytest.approx(ref.pvalue)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ref.slope - half, ref.slope + half))
    assert got["n_points"] == 30


def test_within_slope_is_the_dummy_variable_regression():
    rng = np.random.default_rng(2)
    levels = np.repeat(["a", "b", "c"], 8)
    x = rng.uniform(0, 4, 24)
    y = 0.7 * x + np.repeat([0.0, 5.0, -3.0], 8) + rng.normal(0, 0.5, 24)
    design = np.column_stack([x, *(levels == lv for lv in "abc")]).astype(float)
    coef, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
    dof = 24 - 4
    se = math.sqrt(rss[0] / dof * np.linalg.inv(design.T @ design)[0, 0])
    got = within_slope(y, x, levels)
    assert got["estimate"] == pytest.approx(coef[0])
    assert got["ci_high"] - got["estimate"] == pytest.approx(stats.t.ppf(0.975, dof) * se)
    assert got["p_value"] == pytest.approx(2 * stats.t.sf(abs(coef[0]) / se, dof))


def test_within_slope_without_variation_or_degrees_of_freedom():
    flat = within_slope([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], ["a"] * 3)
    assert all(math.isnan(flat[k]) for k in ("estimate", "ci_low", "ci_high", "p_value")) and flat["n_points"] == 3
    two = within_slope([1.0, 3.0], [0.0, 1.0], ["a", "a"])  # a line through two points: no spread to estimate
    assert two["estimate"] == pytest.approx(2.0) and math.isnan(two["ci_low"]) and math.isnan(two["p_value"])


# ---------------------------------------------------------------- capacity per seed and its interval
def test_seed_capacity_is_the_best_recalled_amount_of_each_seed():
    rows = synthetic(noise=0.0, n_seeds=1, sizes=(4, 8), settings=SETTINGS[:1])
    seeds = seed_capacity(rows)
    assert len(seeds) == 4 and set(seeds["n_targeted"]) == {len(TARGETED)}
    gru8 = seeds[(seeds["cell"] == "gru") & (seeds["hidden_size"] == 8)].iloc[0]
    assert gru8["capacity"] == pytest.approx(6.0) and gru8["targeted_bits_at_capacity"] == 6.0


def test_capacity_table_means_intervals_and_bits_per_unit():
    rows = synthetic(seed=3)
    table = capacity_table(rows)
    keys = ["cell", "hidden_size", "protocol", "alphabet", "n_layers", "n_interfering", "interference", "interfering_bits"]
    assert list(table.columns[: len(keys)]) == keys and len(table) == 2 * len(SIZES) * len(SETTINGS)
    seeds = seed_capacity(rows)
    one = seeds[(seeds["cell"] == "pru") & (seeds["hidden_size"] == 16) & (seeds["interference"] == "blank")]
    row = table[(table["cell"] == "pru") & (table["hidden_size"] == 16) & (table["interference"] == "blank")].iloc[0]
    ref = mean_ci(one["capacity"])
    assert row["n_seeds"] == 4 and row["capacity_mean"] == pytest.approx(ref["mean"])
    assert (row["capacity_ci_low"], row["capacity_ci_high"]) == pytest.approx((ref["ci_low"], ref["ci_high"]))
    assert row["bits_per_unit"] == pytest.approx(ref["mean"] / 16)
    assert row["bits_per_unit_ci_high"] == pytest.approx(ref["ci_high"] / 16)
    assert row["symbols_per_unit"] == pytest.approx(ref["mean"] / 16 / math.log2(row["alphabet"]))
    assert row["targeted_bits_at_capacity"] == pytest.approx(one["targeted_bits_at_capacity"].median())


def test_one_seed_gives_nan_intervals_and_no_crash():
    rows = synthetic(n_seeds=1)
    table = capacity_table(rows)
    assert (table["n_seeds"] == 1).all() and table["capacity_ci_low"].isna().all() and table["capacity_sd"].isna().all()
    assert table["capacity_mean"].notna().all()
    effects = capacity_effects(rows)  # the slopes still have points across n and interference
    assert effects["estimate"].notna().all()


def test_diverged_models_are_left_out():
    rows = synthetic(seed=4)
    broken = rows.iloc[:5].assign(recalled_bits=math.nan, stop_reason="diverged", seed=99)
    with_broken = pd.concat([rows, broken], ignore_index=True)
    pd.testing.assert_frame_equal(capacity_table(with_broken), capacity_table(rows))
    pd.testing.assert_frame_equal(capacity_effects(with_broken), capacity_effects(rows))


# ---------------------------------------------------------------- the effects
def test_effects_recover_the_known_slopes():
    effects = capacity_effects(synthetic(seed=0, n_seeds=5))
    assert list(effects.columns) == ["cell", "effect", "estimate", "ci_low", "ci_high", "p_value", "n_points", "unit",
                                     "method"]
    assert effects["effect"].tolist() == list(EFFECTS) * 2
    size = effect(effects, "gru", "state_size")
    assert size["n_points"] == len(SIZES) * len(SETTINGS) * 5 and size["unit"] == "bits per doubling of n"
    assert effect(effects, "gru", "interference")["n_points"] == size["n_points"]


@pytest.mark.parametrize("name, truth", [("state_size", 2.0), ("targeted", 1.0), ("interference", 0.0)])
def test_intervals_cover_the_known_slopes_at_about_the_nominal_rate(name, truth):
    """20 intervals (10 generator seeds x 2 cells) per effect: at 95 % about 19 cover the true slope
    (state size: 2 bits per doubling of n; targeted: 1, every bit below capacity recalled; interference:
    none). The generator's seeds are fixed: the count is the same on every run."""
    covered = large_p = 0
    for seed in range(10):
        effects = capacity_effects(synthetic(seed=seed, n_seeds=3))
        for cell in ("gru", "pru"):
            row = effect(effects, cell, name)
            assert row["estimate"] == pytest.approx(truth, abs=0.2)
            covered += row["ci_low"] <= truth <= row["ci_high"]
            large_p += row["p_value"] > 0.05
    assert covered >= 17
    if truth == 0.0:  # no effect: the test rejects at about its 5 % level
        assert large_p >= 17
    else:
        assert large_p == 0


def test_a_real_interference_effect_is_found():
    effects = capacity_effects(synthetic(seed=5, per_interfering_bit=-0.25))
    for cell in ("gru", "pru"):
        row = effect(effects, cell, "interference")
        assert row["ci_low"] < -0.25 < row["ci_high"] and row["ci_high"] < 0 and row["p_value"] < 1e-6


def test_an_effect_without_variation_is_nan():
    effects = capacity_effects(synthetic(sizes=(8,), settings=SETTINGS[:1]))
    for cell in ("gru", "pru"):
        assert math.isnan(effect(effects, cell, "state_size")["estimate"])
        assert math.isnan(effect(effects, cell, "interference")["p_value"])
        targeted = effect(effects, cell, "targeted")  # still estimated, from the targeted amounts of n = 8
        assert targeted["ci_low"] < 1.0 < targeted["ci_high"]


def test_bad_tables_are_refused_with_the_column_named():
    rows = synthetic(n_seeds=1, sizes=(4,))
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['interfering_bits'\]"):
        capacity_effects(rows.drop(columns="interfering_bits"))
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['accuracy'\]"):
        capacity_table(rows, measure="accuracy")
    with pytest.raises(TypeError, match="rows must be a pandas DataFrame"):
        seed_capacity(rows.to_dict("records"))
    with pytest.raises(ValueError, match="no scored model"):
        capacity_table(rows.assign(recalled_bits=math.nan))


def test_the_capacity_command_writes_the_effects_and_their_figure(tmp_path):
    """The smoke sweep (one hidden size, one interference setting, one seed): the tables and the forest
    plot are written; the effects it cannot estimate are NaN."""
    from rnnviz.cli import main

    assert main(["capacity", "--preset", "smoke", "--out", str(tmp_path), "--quiet", "--workers", "1"]) == 0
    for name in ("capacity_effects.csv", "capacity_seed_means.csv", "capacity_effects.pdf", "capacity_effects.png",
                 "capacity_curve_shapes.csv", "capacity_curve_falls.csv", "capacity_mean_curves.csv", "capacity_report.md",
                 "capacity_intervals.png"):
        assert (tmp_path / name).is_file(), name
    falls = pd.read_csv(tmp_path / "capacity_curve_falls.csv")  # the smoke grid: one n, its curves per cell
    assert set(falls["cell"]) == {"gru", "pru"} and set(falls["verdict"]) <= {"level", "falls", "undecided",
                                                                                "peaks at the end"}
    effects = pd.read_csv(tmp_path / "capacity_effects.csv")
    assert effects["cell"].tolist() == ["gru"] * 3 + ["pru"] * 3
    assert effects.loc[effects["effect"].isin(["state_size", "interference"]), "estimate"].isna().all()
    means = pd.read_csv(tmp_path / "capacity_seed_means.csv")
    assert (means["n_seeds"] == 1).all() and means["capacity_ci_low"].isna().all()


# ---------------------------------------------------------------- curve shapes
def curves(shapes: dict[int, list[float]], bits=(2.0, 4.0, 6.0, 8.0, 10.0)) -> pd.DataFrame:
    """Rows of one GRU setting, one curve of recalled bits per seed."""
    return pd.DataFrame([{"cell": "gru", "hidden_size": 8, "interfering_bits": 4.0, "targeted_bits": b, "seed": s,
                          "stop_reason": "plateau", "recalled_bits": r}
                         for s, values in shapes.items() for b, r in zip(bits, values, strict=True)])


def test_curve_shapes_on_known_curves():
    rows = curves({
        0: [2.0, 4.0, 5.6, 5.8, 5.5],   # levels off at 5.8 (5.6 is within half a bit): saturates from 6
        1: [2.0, 4.0, 6.0, 5.2, 5.1],   # falls 0.8 bit between neighbours: collapses
        2: [2.0, 4.0, 5.0, 4.7, 4.4],   # falls 0.3 bit a step but ends 0.6 below 5.0: saturates
        3: [2.0, 4.0, 5.0, 4.6, 3.9],   # no step over 0.5 bit, but ends 1.1 below its peak: collapses
        4: [2.0, 4.0, 6.0, 8.0, 9.9],   # still rising at the last amount: grows
        5: [0.0, 0.0, 0.0, 0.0, 0.0],   # never learned: saturates at 0 (peak 0)
    })
    rows.loc[len(rows)] = {**rows.iloc[0].to_dict(), "seed": 4, "targeted_bits": 12.0, "recalled_bits": math.nan}
    table = curve_shapes(rows)
    assert list(table["shape"]) == ["saturates", "collapses", "saturates", "collapses", "grows", "saturates"]
    assert list(table["targeted_bits_at_saturation"]) == [6.0, 6.0, 6.0, 6.0, 10.0, 2.0]
    assert table["largest_drop"].tolist() == pytest.approx([0.3, 0.8, 0.3, 0.7, 0.0, 0.0])
    assert table["peak"].tolist() == [5.8, 6.0, 5.0, 5.0, 9.9, 0.0] and (table["n_targeted"] == 5).all()
    lenient = curve_shapes(rows, drop=1.0, below_peak=2.0)  # the thresholds are the arguments
    assert list(lenient["shape"]) == ["saturates"] * 4 + ["grows", "saturates"]
    diverged = rows.assign(stop_reason=np.where(rows["seed"] == 1, "diverged", "plateau"))
    assert 1 not in set(curve_shapes(diverged)["seed"])
    counts = curve_shape_counts(pd.concat([table, table.assign(cell="lstm").iloc[:1]]))
    assert counts.to_dict("records") == [
        {"cell": "gru", "saturates": 3, "collapses": 2, "grows": 1, "curves": 6},
        {"cell": "lstm", "saturates": 1, "collapses": 0, "grows": 0, "curves": 1}]
    with pytest.raises(ValueError, match="drop must be a finite number"):
        curve_shapes(rows, drop=-1.0)
    with pytest.raises(TypeError, match="shapes must be the DataFrame curve_shapes returns"):
        curve_shape_counts(rows.drop(columns="cell"))


def test_curve_summary_counts_how_the_known_curves_end():
    from rnnviz.study import curve_summary

    rows = curves({
        0: [2.0, 4.0, 5.6, 5.8, 5.5],   # saturates, ends 0.3 below its peak
        1: [2.0, 4.0, 6.0, 5.2, 5.1],   # a 0.8-bit fall: collapses, ends 0.9 below
        3: [2.0, 4.0, 5.0, 4.6, 3.9],   # ends 1.1 below its peak: collapses
        4: [2.0, 4.0, 6.0, 8.0, 9.9],   # grows, ends at its peak
        5: [0.0, 0.0, 0.0, 0.0, 0.4],   # next to nothing (5 models below 0.5 bit); within half a bit: saturates
    })
    summary = curve_summary(rows)
    assert summary[["models", "curves", "models_below", "curves_end_below_peak", "curves_with_a_fall"]].tolist() == \
        [25, 5, 5, 1, 2]
    assert summary["end_drop_mean"] == pytest.approx((0.3 + 0.9 + 1.1 + 0.0 + 0.0) / 5)
    assert summary["end_drop_median"] == pytest.approx(0.3) and summary["end_drop_max"] == pytest.approx(1.1)
    assert summary[list(SHAPES)].tolist() == [2, 2, 1]
    assert curve_summary(rows, nothing=0.1)["models_below"] == 4
    with pytest.raises(ValueError, match="nothing"):
        curve_summary(rows, nothing=math.nan)


def test_compare_curves_pairs_two_trainings_curve_by_curve():
    from rnnviz.study import compare_curves

    before = curves({0: [2.0, 4.0, 5.0, 3.0, 1.0], 1: [2.0, 4.0, 6.0, 4.0, 2.0], 2: [2.0, 3.0, 4.0, 4.0, 3.0]})
    after = curves({0: [2.0, 4.0, 5.5, 5.0, 4.0], 1: [2.0, 4.0, 6.0, 5.0, 5.0], 2: [2.0, 3.0, 4.5, 4.0, 4.0]})
    before["protocol"], after["protocol"] = "memorization/2", "memorization/2+combined"  # training differs only
    after = pd.concat([after, after.assign(cell="lstm")])  # a cell that `before` lacks: no pair, no row
    table = compare_curves(before, after).set_index(["cell", "quantity"])
    assert list(table.index) == [(c, q) for c in ("gru", "all") for q in ("peak", "final", "end_drop")]
    peak, final, drop = (table.loc[("all", q)] for q in ("peak", "final", "end_drop"))
    assert peak["difference"] == pytest.approx((0.5 + 0.0 + 0.5) / 3) and peak["n_curves"] == 3
    assert final["before_mean"] == pytest.approx(2.0) and final["after_mean"] == pytest.approx(13 / 3)
    assert final["difference"] == pytest.approx(7 / 3)   # d = 3, 3, 1
    assert final["se"] == pytest.approx(np.std([3.0, 3.0, 1.0], ddof=1) / math.sqrt(3))
    assert final["ci_low"] == pytest.approx(7 / 3 - stats.t.ppf(0.975, 2) * final["se"])
    assert drop["difference"] == pytest.approx(-(2.5 + 3.0 + 0.5) / 3)   # ends 4, 4, 1 → 1.5, 1, 0.5 below
    assert final["p_wilcoxon"] == pytest.approx(stats.wilcoxon([3.0, 3.0, 1.0]).pvalue)
    assert final["p_t"] == pytest.approx(stats.ttest_rel([4.0, 5.0, 4.0], [1.0, 2.0, 3.0]).pvalue)
    # models scored in one run only are left out of both: both curves of a pair have the same points
    cut = before[~((before["seed"] == 0) & (before["targeted_bits"] == 10.0))]
    short = compare_curves(cut, after).set_index(["cell", "quantity"])
    assert short.loc[("all", "final"), "difference"] == pytest.approx((5.0 - 3.0 + 3.0 + 1.0) / 3)
    same = compare_curves(before, before)
    assert (same["difference"] == 0).all() and same["p_wilcoxon"].isna().all()
    with pytest.raises(ValueError, match="no model in common"):
        compare_curves(before, after.assign(seed=after["seed"] + 10))
    with pytest.raises(ValueError, match="two models with the same"):
        compare_curves(pd.concat([before, before]), after)
    with pytest.raises(ValueError, match="confidence"):
        compare_curves(before, after, confidence=1.5)


def test_compare_curves_across_timing_pairs_a_fixed_hold_with_a_fixed_delay():
    from rnnviz.study import TIMING_COLUMNS, at_one_hold, compare_curves

    bits = (2.0, 4.0, 8.0)
    delay = curves({0: [2.0, 4.0, 6.0], 1: [2.0, 3.0, 5.0]}, bits=bits)
    hold = curves({0: [2.0, 3.0, 4.0], 1: [2.0, 3.5, 3.0]}, bits=bits)
    delay = delay.assign(n_interfering=8, interference="mixed", protocol="memorization/2+combined")
    hold = hold.assign(n_targets=hold["targeted_bits"] / 2, n_random=2, interference="random",
                       protocol="memorization/2+combined-delay")
    hold["n_interfering"] = 40 - hold["n_targets"].astype(int)
    # by default the timing columns pair too: a fixed hold and a fixed delay have no model in common
    with pytest.raises(ValueError, match="no model in common"):
        compare_curves(delay, hold)
    for after in (hold, at_one_hold(hold)):
        table = compare_curves(delay, after, match_timing=False).set_index(["cell", "quantity"])
        peak, final = table.loc[("all", "peak")], table.loc[("all", "final")]
        assert peak["difference"] == pytest.approx(((4.0 - 6.0) + (3.5 - 5.0)) / 2) and peak["n_curves"] == 2
        assert final["difference"] == pytest.approx(((4.0 - 6.0) + (3.0 - 5.0)) / 2)
        # the same as dropping the timing columns by hand
        dropped = compare_curves(delay.drop(columns=list(TIMING_COLUMNS), errors="ignore"),
                                 after.drop(columns=list(TIMING_COLUMNS), errors="ignore"))
        pd.testing.assert_frame_equal(table.reset_index(), dropped)
    with pytest.raises(ValueError, match="one delay or hold"):
        compare_curves(pd.concat([delay, delay.assign(n_interfering=16)]), hold, match_timing=False)
    with pytest.raises(TypeError, match="match_timing must be True or False, got 'no'"):
        compare_curves(delay, hold, match_timing="no")


def test_compare_points_pairs_two_runs_point_by_point_by_seed():
    from rnnviz.study import at_one_hold, compare_points

    # a fixed delay L = 8 against a fixed hold of 42 steps (its delay 40 - K shrinks along the curve):
    # the timing columns differ at every point, the task and interfering bits do not
    bits = (2.0, 4.0, 8.0)
    delay = curves({0: [2.0, 4.0, 6.0], 1: [2.0, 3.0, 5.0], 2: [1.0, 4.0, 7.0]}, bits=bits)
    hold = curves({0: [2.0, 3.0, 4.0], 1: [2.0, 3.5, 3.0], 2: [1.5, 2.0, 4.0]}, bits=bits)
    delay = delay.assign(n_targets=delay["targeted_bits"] / 2, n_interfering=8, n_random=2, interference="mixed",
                         protocol="memorization/2+combined", alphabet=4, n_layers=1)
    hold = hold.assign(n_targets=hold["targeted_bits"] / 2, protocol="memorization/2+combined-delay", n_random=2,
                       alphabet=4, n_layers=1, interference="random")
    hold["n_interfering"] = 40 - hold["n_targets"].astype(int)
    hold.loc[(hold["seed"] == 2) & (hold["targeted_bits"] == 2.0), "stop_reason"] = "diverged"  # left out of both
    for after in (hold, at_one_hold(hold)):  # with the hold column or without: the same pairs
        table = compare_points(delay, after).set_index("targeted_bits")
        assert list(table.index) == list(bits) and (table["cell"] == "gru").all()
        assert table["n_seeds"].tolist() == [2, 3, 3]
        eight = table.loc[8.0]  # d = 4 - 6, 3 - 5, 4 - 7
        assert eight["before_mean"] == pytest.approx(6.0) and eight["after_mean"] == pytest.approx(11 / 3)
        assert eight["difference"] == pytest.approx(-7 / 3)
        se = np.std([-2.0, -2.0, -3.0], ddof=1) / math.sqrt(3)
        assert eight["ci_high"] == pytest.approx(-7 / 3 + stats.t.ppf(0.975, 2) * se)
        assert eight["p_value"] == pytest.approx(stats.ttest_rel([4.0, 3.0, 4.0], [6.0, 5.0, 7.0]).pvalue)
        assert table.loc[2.0, "difference"] == 0.0 and math.isnan(table.loc[2.0, "p_value"])  # every d equal
    pooled = compare_points(delay, hold, pool=("cell", "targeted_bits"))
    assert list(pooled.columns[:4]) == ["hidden_size", "protocol", "alphabet", "n_layers"] and len(pooled) == 1
    d = np.array([0.0, 0.0, -1.0, 0.5, -2.0, -2.0, -3.0, -2.0])  # 8 pairs: 2 + 3 + 3 seeds
    assert pooled["n_seeds"].item() == 8 and pooled["difference"].item() == pytest.approx(d.mean())
    assert pooled["p_value"].item() == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    assert compare_points(delay, hold, pool="targeted_bits")["n_seeds"].tolist() == [8]
    everything = compare_points(delay, hold, pool=["cell", "hidden_size", "protocol", "alphabet", "n_layers",
                                                   "interfering_bits", "targeted_bits"])
    assert list(everything.columns) == ["before_mean", "after_mean", "difference", "ci_low", "ci_high", "p_value",
                                        "n_seeds"] and everything["n_seeds"].item() == 8
    with pytest.raises(ValueError, match=r"pool must name point keys .* got \['seed'\]"):
        compare_points(delay, hold, pool=["seed"])
    # another interfering amount, alphabet or task protocol is another point: no pair
    with pytest.raises(ValueError, match="no model in common"):
        compare_points(delay, hold.assign(interfering_bits=8.0))
    with pytest.raises(ValueError, match="no model in common"):
        compare_points(delay, hold.assign(protocol="memorization/3+combined-delay"))
    two_delays = pd.concat([delay, delay.assign(n_interfering=16)])
    with pytest.raises(ValueError, match="before holds two models with the same"):
        compare_points(two_delays, hold)
    with pytest.raises(ValueError, match="confidence"):
        compare_points(delay, hold, confidence=0.0)
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['seed'\]"):
        compare_points(delay.drop(columns="seed"), hold)


def test_curve_falls_judges_the_mean_curve_with_an_interval():
    from rnnviz.study import FALL_VERDICTS, curve_falls

    noise = [0.3, -0.3, 0.2, -0.2, 0.0, 0.1]  # half-bit swings between neighbours, per seed
    level = {s: [2.0, 4.0, 5.0 + noise[s], 5.0 - noise[s], 5.0 + noise[s]] for s in range(6)}
    falling = {s: [2.0, 4.0, 6.0 + noise[s], 4.0 - noise[s], 2.0 + noise[s]] for s in range(6)}
    rising = {s: [2.0, 4.0, 6.0, 8.0, 10.0 + noise[s]] for s in range(6)}
    rows = pd.concat([curves(level), curves(falling).assign(cell="lstm"), curves(rising).assign(cell="pru")])
    table = curve_falls(rows).set_index("cell")
    assert set(table["verdict"]) <= set(FALL_VERDICTS)
    assert table["verdict"].to_dict() == {"gru": "level", "lstm": "falls", "pru": "peaks at the end"}
    # the per-seed rule calls the level curves "collapses" (a 0.6-bit swing), the mean rule does not
    assert (curve_shapes(rows[rows["cell"] == "gru"])["shape"] == "collapses").sum() == 2
    gru, lstm = table.loc["gru"], table.loc["lstm"]
    assert gru["targeted_bits_at_peak"] == 6.0 and gru["last_targeted_bits"] == 10.0 and gru["n_curves"] == 6
    assert gru["peak_mean"] == pytest.approx(5.0 + sum(noise) / 6) and gru["fall"] == pytest.approx(0.0)
    d = np.array([2.0 + n - (6.0 + n) for n in noise])  # every falling curve loses 4 bits
    assert lstm["fall"] == pytest.approx(d.mean()) and lstm["ci_high"] < 0
    wide = {s: [2.0, 4.0, 6.0, 6.0 + 3 * (-1) ** s, 4.5 + 3 * (-1) ** s] for s in range(6)}
    undecided = curve_falls(curves(wide)).iloc[0]  # falls of −1.5 ± 3: the interval holds 0 and −3
    d = np.array([-1.5 + 3 * (-1) ** s for s in range(6)])  # R(10) − R(6), the mean curve peaking at 6
    half = stats.t.ppf(0.975, 5) * d.std(ddof=1) / math.sqrt(6)
    assert undecided["fall"] == pytest.approx(-1.5) and undecided["targeted_bits_at_peak"] == 6.0
    assert undecided[["ci_low", "ci_high"]].tolist() == pytest.approx([-1.5 - half, -1.5 + half])
    assert undecided["p_value"] == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    assert undecided["verdict"] == "undecided" and undecided["ci_low"] < -1.0 < 0.0 < undecided["ci_high"]
    assert curve_falls(curves(wide), tolerance=10.0).iloc[0]["verdict"] == "level"  # the tolerance is the argument
    # a curve with a diverged model is left out whole; one targeted amount is no curve
    broken = rows.assign(stop_reason=np.where((rows["seed"] == 0) & (rows["targeted_bits"] == 8.0), "diverged",
                                              "plateau"))
    assert curve_falls(broken).set_index("cell").loc["gru", "n_curves"] == 5
    assert curve_falls(rows[rows["targeted_bits"] == 6.0]).empty
    with pytest.raises(ValueError, match="tolerance must be a finite number"):
        curve_falls(rows, tolerance=-1.0)


def test_mean_curves_are_the_mean_over_whole_curves_with_the_t_interval():
    from rnnviz.study import curve_falls, mean_curves

    bits = (2.0, 4.0, 6.0, 8.0, 10.0)
    values = {s: [2.0, 4.0 - 0.1 * s, 6.0 - 0.5 * s, 5.0 + s, 4.0] for s in range(4)}
    rows = pd.concat([curves(values), curves(values).assign(cell="pru", hidden_size=16)])
    table = mean_curves(rows)
    assert list(table.columns) == ["cell", "hidden_size", "targeted_bits", "mean", "sd", "ci_low", "ci_high",
                                   "n_curves"]
    assert len(table) == 2 * len(bits) and (table["n_curves"] == 4).all()
    gru = table[table["cell"] == "gru"].set_index("targeted_bits")
    for j, b in enumerate(bits):
        x = np.array([values[s][j] for s in range(4)])
        half = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2 if x.std() > 0 else 0.0
        assert gru.loc[b, "mean"] == pytest.approx(x.mean())
        assert gru.loc[b, ["ci_low", "ci_high"]].tolist() == pytest.approx([x.mean() - half, x.mean() + half])
    # the peak of the mean curve is the one curve_falls judges
    falls = curve_falls(rows).set_index("cell").loc["gru"]
    assert gru["mean"].max() == pytest.approx(falls["peak_mean"])
    assert gru["mean"].idxmax() == falls["targeted_bits_at_peak"]
    # a dose is a curve of its own, pooled with the seeds; a curve with a diverged model is left out whole
    dosed = pd.concat([curves(values), curves(values).assign(interfering_bits=8.0, recalled_bits=0.0)])
    dosed["interference"] = np.where(dosed["interfering_bits"] == 8.0, "random", "mixed")
    pooled = mean_curves(dosed)
    assert "interference" not in pooled.columns and (pooled["n_curves"] == 8).all()
    assert pooled.set_index("targeted_bits").loc[2.0, "mean"] == pytest.approx(1.0)
    broken = rows.assign(stop_reason=np.where((rows["cell"] == "gru") & (rows["seed"] == 0)
                                              & (rows["targeted_bits"] == 8.0), "diverged", "plateau"))
    part = mean_curves(broken)
    assert (part[part["cell"] == "gru"]["n_curves"] == 3).all() and (part[part["cell"] == "pru"]["n_curves"] == 4).all()
    assert mean_curves(rows[rows["targeted_bits"] == 6.0]).empty  # one amount is no curve
    with pytest.raises(ValueError, match="confidence"):
        mean_curves(rows, confidence=1.0)


def test_synthetic_capacity_curves_saturate_or_collapse_as_built():
    """The module's synthetic rows fall half a bit per targeted bit past capacity, 1 bit per grid step of
    2 bits: every curve goes past its capacity (C = 2 log2 n <= 10 < 24 targeted bits) and collapses."""
    table = curve_shapes(synthetic(noise=0.0))
    past = table["peak"] < max(TARGETED) - 2
    assert (table.loc[past, "shape"] == "collapses").all() and past.all()
