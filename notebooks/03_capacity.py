# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Memorization capacity
#
# How much can a recurrent cell remember? Each model sees K random symbols from an alphabet of A
# (*targeted information* $I_T = K\log_2 A$ bits), waits through L steps (blanks, or random symbols it
# must ignore: *interfering information*), then recalls the K symbols. The recalled information is
# the mutual information between targets and predictions; a model's **capacity** is the most it
# recalls over the $I_T$ grid. The protocol and definitions are in `docs/capacity.md`.

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository
# RNNVIZ_CAPACITY_RESULTS: a capacity.csv / capacity.sqlite (or its folder) to draw instead of the defaults

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import pandas as pd
import torch

from rnnviz import plot as rplot
from rnnviz import widgets
from rnnviz.study import (
    PRESETS,
    at_one_hold,
    capacity,
    capacity_effects,
    capacity_table,
    compare_curves,
    compare_points,
    curve_falls,
    curve_shape_counts,
    curve_shapes,
    curve_summary,
    equal_parameter_capacity,
    find_capacity_results,
    hold_table,
    load_capacity_results,
    mean_curve_columns,
    mean_curves,
    per_targeted_bits,
    position_table,
    summarize,
    with_hold,
)
from rnnviz.study._protocol import protocol_name
from rnnviz.study._results import repository_root
from rnnviz.train import TrainConfig

torch.set_num_threads(1)

# %% [markdown]
# ## The results
#
# The notebook draws, in this order of preference: the file named by `RNNVIZ_CAPACITY_RESULTS`; the
# paper preset's results shipped in `data/capacity_paper.csv` (the CPU study, once it has run); the output of
# `make demo` in `out/capacity/`; the demo preset's results shipped in `data/capacity_demo.csv` (run
# on a 2-core CPU) — see `rnnviz.study._results.CAPACITY_CANDIDATES`. With none of them it trains a small
# sweep right here (the `smoke` preset's grid in smoke mode, the `demo` grid with fewer steps
# otherwise) and says so below.

# %%
path = find_capacity_results()
if path is not None:
    rows = load_capacity_results(path)
    SOURCE = f"results read from {path}"
else:
    p = PRESETS[by_mode(MODE, smoke="smoke", demo="demo", full="demo")]
    train = replace(p.train, steps=by_mode(MODE, p.train.steps, 300, 800))
    rows = capacity(p.cells, p.hidden_sizes, p.targeted_bits, p.interfering, seeds=p.seeds[:1], alphabet=p.alphabet,
                    train=train, n_test=p.n_test, progress=MODE != "smoke")
    SOURCE = f"no saved results found: trained a live sweep here ({len(rows)} models, {train.steps} steps each)"
print(SOURCE)
summary = summarize(rows)
grid = per_targeted_bits(rows)  # accuracy and recalled bits per targeted amount, best seed
summary[["cell", "hidden_size", "interference", "capacity_bits", "bits_per_unit", "bits_per_parameter",
         "max_targeted_bits_99"]].round(3)

# %% [markdown]
# ## Recall accuracy over the grid
#
# One panel per cell: hidden size against targeted information, coloured by recall accuracy (best
# seed); one row per interference setting. Chance is $1/A$. The boundary between bright and dark is
# where the state runs out.

# %%
cell_names = sorted(rows["cell"].unique())
settings = sorted(rows["interference"].unique())
with rplot.saved_figure(f"{OUT}/03_capacity_heatmap", nrows=len(settings), ncols=len(cell_names),
                        figsize=(4.2 * len(cell_names), 3.8 * len(settings)), squeeze=False) as axes:
    for row, setting in zip(axes, settings, strict=True):
        for ax, name in zip(row, cell_names, strict=True):
            rplot.plot_accuracy_heatmap(grid, name, interference=setting, ax=ax, colorbar=ax is row[-1])
            ax.set_title(f"{name}, {setting} interference")
plt.show()

# %% [markdown]
# ## Capacity against hidden size
#
# Dashed guides mark ½, 1 and 2 bits per unit.

# %%
with rplot.saved_figure(f"{OUT}/03_capacity_vs_hidden_size", ncols=2, figsize=(11, 4)) as axes:
    rplot.plot_capacity_vs_hidden_size(summary, ax=axes[0])
    rplot.plot_bits_per_parameter(summary, ax=axes[1])
plt.show()

# %% [markdown]
# ## Interfering information
#
# Solid lines: the setting with the least interfering information; dashed: the others (drawn when the
# results hold more than one setting).

# %%
if rows["interference"].nunique() > 1:
    with rplot.saved_figure(f"{OUT}/03_capacity_interference") as ax:
        rplot.plot_interference_effect(summary, ax=ax)
    plt.show()
else:
    print("these results hold one interference setting:", rows["interference"].iloc[0])

# %% [markdown]
# ## Capacity with its spread over seeds
#
# The figures above take the best seed at each point. A published number is the mean over seeds with
# its interval: here each seed's capacity (the most it recalls over the targeted grid) is averaged
# over seeds, with a 95 % Student-t interval as error bars (`rnnviz.study.capacity_table`). One panel
# per interference amount. **What to look for:** whether capacity keeps rising with n (each doubling
# of n should add bits if the state is what limits recall), and how wide the intervals are: where
# they overlap, the data do not order the cells.

# %%
table = capacity_table(rows)
amounts = sorted(table["interfering_bits"].unique())
with rplot.saved_figure(f"{OUT}/03_capacity_intervals", ncols=len(amounts), figsize=(4.2 * len(amounts), 3.6),
                        squeeze=False) as axes:
    for ax, amount in zip(axes[0], amounts, strict=True):
        rplot.plot_capacity_intervals(table, interfering_bits=amount, ax=ax)
plt.show()
table[["cell", "hidden_size", "interference", "interfering_bits", "capacity_mean", "capacity_ci_low",
       "capacity_ci_high", "n_seeds", "bits_per_unit", "symbols_per_unit"]].round(2)

# %% [markdown]
# ## The three effects, with intervals and tests
#
# Per cell, three slopes (`rnnviz.study.capacity_effects`; the definitions are in docs/capacity.md):
# **state size**, bits of capacity per doubling of n; **targeted**, recalled bits per targeted bit
# below each seed's capacity point (1: nothing lost before the state is full); **interference**,
# capacity lost per interfering bit (negative: interference costs capacity). **What to look for:** an
# interval that excludes the dashed zero line is an effect the data show at 95 %; one that straddles
# it is an effect they do not show (which is not evidence that there is none).

# %%
effects = capacity_effects(rows)
drawn = rplot.plot_effects(effects)
drawn.figure.savefig(f"{OUT}/03_capacity_effects.png", dpi=150)
plt.show()
effects[["cell", "effect", "estimate", "ci_low", "ci_high", "p_value", "n_points"]].round(3)

# %% [markdown]
# ## Do the curves saturate?
#
# A seed's curve of recalled bits against targeted bits should rise and then level off where the state
# is full. `rnnviz.study.curve_shapes` calls a curve *collapsed* when it falls by more than half a bit
# between neighbouring amounts or ends more than a bit below its peak: past some amount those models
# recalled less than smaller amounts gave them, i.e. they failed to train rather than ran out of state.
# The stop reasons say how each model ended (`target`: reached 99 % accuracy; `plateau`: stopped
# improving; `budget`: still improving when the step budget ran out, so its score is a lower bound).

# %%
print(curve_shape_counts(curve_shapes(rows)).to_string(index=False))
if "stop_reason" in rows:
    print(rows.groupby("cell")["stop_reason"].value_counts().unstack(fill_value=0).to_string())

# %% [markdown]
# **The mixed curriculum.** Many of the paper run's curves fall past their peak, and at 64 targeted
# bits some models learn nothing. The curriculum pilot (`data/capacity_curriculum_pilot.csv`, shipped)
# retrained 135 of its configurations with each *training* sequence holding K' ≤ K targets, K' drawn
# uniformly (`TrainConfig(curriculum="mixed")`; validation and scores are the task at K). The figure
# draws both runs on those configurations: solid lines the paper run, dashed lines the curriculum, one
# colour per hidden size, seed means with 95 % intervals. What to see: the paper run's LSTM at n = 16
# falls to 0 bits at 64 targeted bits, while with the curriculum every curve stays near its level
# (it flattens the curves but does not make them rise further; docs/capacity_runs.md, "The curriculum pilot").

# %%
pilot_path = repository_root() / "data" / "capacity_curriculum_pilot.csv"
paper_path = repository_root() / "data" / "capacity_paper.csv"
MODEL_KEYS = ["cell", "hidden_size", "targeted_bits", "interfering_bits", "seed"]  # a model's task and seed
if pilot_path.exists() and paper_path.exists():
    pilot = pd.read_csv(pilot_path)
    paper = pd.read_csv(paper_path).merge(pilot[MODEL_KEYS], on=MODEL_KEYS)  # the same configurations
    with rplot.saved_figure(f"{OUT}/03_capacity_curriculum", ncols=3, figsize=(13, 4)) as axes:
        for ax, cell in zip(axes, ["gru", "lstm", "pru"], strict=True):
            rplot.plot_recall_curves({"paper run": paper, "curriculum": pilot}, cell, ax=ax)
        axes[0].figure.suptitle("Recalled against targeted bits, without (solid) and with (dashed) the mixed curriculum")
    plt.show()
else:
    print("the shipped paper run and curriculum pilot (data/) are not here: nothing to compare")

# %% [markdown]
# **The combined curriculum.** The mixed curriculum cost recall where plain training already worked
# (GRU at 32 bits, n = 64), so `paper-combined` trains half of every batch on the task itself and half
# as in the mixed curriculum (`TrainConfig(curriculum="combined")`), with the plateau floor judged on the
# cross-entropy bound. Its run (`data/capacity_paper_combined.csv`, shipped: all 1,890 models, every
# cell, size, amount, dose and seed) is drawn against the paper run on the same models: solid
# the paper run, dashed `paper-combined`, one colour per hidden size, seed means with 95 % intervals,
# at the middle dose (8 interfering bits). What to see: the LSTM at n = 16, 32 and 64 and IHC-LSTM at
# n = 16, which the paper run left at 0 bits at 64 targeted bits, recall 8-10 bits there with the
# curriculum, and IHC-LSTM at n = 64 twice as much (9 → 18 bits); IRC-GRU at n = 64 recalls less at 64
# bits; most curves still fall past their peak, less steeply; the peaks (the capacities) are lower.
# The first table counts, per run, the models that learnt next to nothing and the curves that end more
# than a bit below their peak; the second pairs the two runs curve by curve (`compare_curves`: peak,
# last point and fall past the peak, paper-combined minus paper, per cell, with 95 % intervals and tests;
# docs/capacity_runs.md, "The paper-combined run").

# %%
combined_path = repository_root() / "data" / "capacity_paper_combined.csv"


def show_two_runs(runs: dict, figure, title: str) -> None:
    """Both runs' recall curves in ``figure`` (a ``rplot.saved_figure`` of 2 x 4 panels), one panel per
    cell at the middle dose (the first run solid, the second dashed); then :func:`compare_two_runs`."""
    drawn = [cell for cell in PRESETS["paper"].cells if cell in set(list(runs.values())[-1]["cell"])]
    with figure as axes:
        for ax, cell in zip(axes.flat, drawn, strict=False):  # 8 panels, up to 7 cells
            rplot.plot_recall_curves(runs, cell, interfering_bits=8.0, ax=ax)
        for ax in axes.flat[len(drawn):]:
            ax.axis("off")
        axes.flat[0].figure.suptitle(title)
    plt.show()
    compare_two_runs(runs)


def compare_two_runs(runs: dict) -> None:
    """Both runs' curve summaries, the second minus the first curve by curve (compare_curves), and
    whether each run's mean curves level off or fall past their peak (curve_falls)."""
    (first, before), (second, after) = runs.items()
    print(pd.DataFrame({first: curve_summary(before), second: curve_summary(after)}).to_string())
    # paired curve by curve (same cell, n, dose, seed): the second run minus the first, 95 % intervals
    print(compare_curves(before, after).round(3).to_string(index=False))
    # the mean curves of each run: the fall from their peak to the last amount [95 % interval], and the verdict
    falls = pd.concat({label: curve_falls(rows) for label, rows in runs.items()}, names=["run", None])
    print(falls[["cell", "hidden_size", "fall", "ci_low", "ci_high", "verdict"]].round(2).to_string())


if combined_path.exists() and paper_path.exists():
    combined = pd.read_csv(combined_path)
    paper = pd.read_csv(paper_path).merge(combined[MODEL_KEYS], on=MODEL_KEYS)  # the same models, without the curriculum
    show_two_runs({"paper run": paper, "paper-combined": combined},
                  rplot.saved_figure(f"{OUT}/03_capacity_combined", nrows=2, ncols=4, figsize=(16, 7.5)),
                  "Recalled against targeted bits: the paper run (solid) and paper-combined (dashed)")
else:
    print("the shipped paper run and paper-combined results (data/) are not here: nothing to compare")

# %% [markdown]
# **The long training at n = 4.** `paper-cosine` trains the same grid three times longer (36,000
# steps) with the rate decayed by a cosine, the training that brought the curves back to their peaks
# at n = 16 and 32 in the pilots. It has run at every size (`data/capacity_paper_cosine.csv`, 1,890
# models); first its n = 4 slice, drawn against `paper-combined` on the same
# models: solid `paper-combined`, dashed `paper-cosine`, seed means with 95 % intervals, at the middle
# dose. What to see: the dashed curves lie about a bit higher, peaks and ends alike; most still fall
# past their peak (PRU's stays level at this dose, the LSTM's rises), and the intervals of 3 seeds are
# wide. Over all three doses the fall is unchanged: at n = 4 it is not the training budget
# (docs/capacity_runs.md, "The paper-cosine run").

# %%
cosine_path = repository_root() / "data" / "capacity_paper_cosine.csv"
if cosine_path.exists() and combined_path.exists():
    cosine = pd.read_csv(cosine_path)
    cosine = cosine[cosine["hidden_size"] == 4]
    combined_4 = pd.read_csv(combined_path).merge(cosine[MODEL_KEYS], on=MODEL_KEYS)  # the same models, 12,000 steps
    show_two_runs({"paper-combined": combined_4, "paper-cosine": cosine},
                  rplot.saved_figure(f"{OUT}/03_capacity_cosine_n4", nrows=2, ncols=4, figsize=(16, 7.5)),
                  "n = 4: paper-combined (solid) and 36,000 cosine steps (dashed)")
else:
    print("the shipped paper-combined and paper-cosine results (data/) are not here: nothing to compare")

# %% [markdown]
# **Capacity against n, both trainings.** `paper-cosine` has since run at n = 8, 16, 32 and 64 too
# (a size is drawn once every one of its curves is complete, since a capacity is the peak of a whole
# curve). Each panel is one cell: its capacity (the peak of each seed's curve, averaged over the 3
# seeds, with a 95 % interval) against the hidden size, solid `paper-combined` (12,000 steps at most,
# a plateau rule), dashed `paper-cosine` (36,000 steps, cosine decay), at the middle dose. What to see:
# through n = 32 the dashed line lies above the solid one for every gated cell at every size, and the
# gap grows with n (about 1, 1.3, 2.4, 3.8 and 4.8 bits at n = 4 to 64, averaged over cells and doses:
# the table below). At n = 64 it splits: the GRU's and the PRU's dashed lines climb steeply (their
# curves still rise at 64 targeted bits, the grid's last amount; extended to 96 bits, both fall
# again, so their points stand within about 1.5 bits), the LSTM's two lines meet, and the Elman RNN's long-training line drops (at this dose
# its n = 64 models fail to learn more than about 2 bits). With 3 seeds most intervals of a single point overlap; the evidence is the
# direction, the same in 95 of 105 (cell, n, dose) capacities (docs/capacity_runs.md, "Capacity against n
# through n = 64").

# %%
if cosine_path.exists() and combined_path.exists():
    cosine = pd.read_csv(cosine_path)
    per_size = cosine.groupby(["cell", "hidden_size"]).size()
    complete = per_size[per_size == per_size.max()].index  # every amount, dose and seed of the grid
    cosine = cosine.set_index(["cell", "hidden_size"]).loc[complete].reset_index()
    same = pd.read_csv(combined_path).merge(cosine[MODEL_KEYS], on=MODEL_KEYS)  # the same models, 12,000 steps
    tables = {"paper-combined": capacity_table(same), "paper-cosine": capacity_table(cosine)}
    drawn = [cell for cell in PRESETS["paper"].cells if cell in set(cosine["cell"])]
    with rplot.saved_figure(f"{OUT}/03_capacity_cosine_by_n", nrows=2, ncols=4, figsize=(16, 7.5)) as axes:
        for ax, cell in zip(axes.flat, drawn, strict=False):
            rplot.plot_capacity_runs(tables, cell, interfering_bits=8.0, ax=ax)
        for ax in axes.flat[len(drawn):]:
            ax.axis("off")
        axes.flat[0].figure.suptitle("Capacity against n at 8 interfering bits: paper-combined (solid) and "
                                     "paper-cosine (dashed), seed means with 95 % intervals")
    plt.show()
    gain = tables["paper-cosine"].merge(tables["paper-combined"], on=["cell", "hidden_size", "interfering_bits"],
                                        suffixes=("_cosine", "_combined"))
    gain["gain"] = gain["capacity_mean_cosine"] - gain["capacity_mean_combined"]
    # the gain in capacity (bits), per cell and size, averaged over the three doses
    print(gain.pivot_table(index="cell", columns="hidden_size", values="gain").round(2).to_string())
    print(mean_curve_columns(mean_curves(cosine)).to_string(index=False))  # paper-cosine's mean curves: the docs' tables of mean recalled bits
else:
    print("the shipped paper-combined and paper-cosine results (data/) are not here: nothing to compare")

# %% [markdown]
# **Which targets count, and naming the position (n = 4).** Asked for more symbols than it holds, a
# 4-unit model holds a little of every one. Three pilots change one thing each in `paper-cosine`'s
# training of GRU, PRU and SRU at n = 4 (middle dose, 3 seeds): a loss that scores only the first K'
# recall steps (`curriculum="prefix"`: the first targets weigh most), only the last K' (`"suffix"`),
# or protocol 3, which names the position to recall at every recall step so that no answer needs a
# clock. Drawn against `paper-cosine`'s same models (solid): dashed the prefix loss, dotted the suffix
# loss, dash-dotted cued recall; seed means with 95 % intervals. What to see: up to 16-32 targeted bits
# the pilots' curves lie near or above the solid ones (the suffix loss lifts PRU to about 5 bits at 16),
# but none stays level to 64 bits: the prefix loss ends at 0 for GRU and PRU, and no run removes the fall
# past the peak (docs/capacity_runs.md, "The loss-weighting pilots" and "The cued-recall pilot"). The table
# pairs each pilot with `paper-cosine` curve by curve (the protocols differ on purpose, so the models
# pair on cell, size, amount, dose and seed alone).

# %%
pilot_paths = {label: repository_root() / "data" / f"capacity_{name}_pilot.csv"
               for label, name in (("prefix loss", "prefix"), ("suffix loss", "suffix"), ("cued recall", "cued"))}
if cosine_path.exists() and all(path.exists() for path in pilot_paths.values()):
    pilots = {label: pd.read_csv(path) for label, path in pilot_paths.items()}
    baseline = pd.read_csv(cosine_path).merge(pilots["prefix loss"][MODEL_KEYS], on=MODEL_KEYS)  # paper-cosine's same models
    runs = {"paper-cosine": baseline, **pilots}
    with rplot.saved_figure(f"{OUT}/03_capacity_weights_cues_n4", ncols=3, figsize=(15, 4.4)) as axes:
        for ax, cell in zip(axes, ["gru", "pru", "sru"], strict=True):
            rplot.plot_recall_curves(runs, cell, ax=ax)
        axes[0].figure.suptitle("n = 4: paper-cosine (solid), prefix loss (dashed), suffix loss (dotted), "
                                "cued recall (dash-dotted)")
    plt.show()
    unlabelled = {label: rows.drop(columns="protocol") for label, rows in runs.items()}
    print(pd.concat({label: compare_curves(unlabelled["paper-cosine"], rows).query("cell == 'all'")
                     for label, rows in unlabelled.items() if label != "paper-cosine"}).round(2).to_string())
else:
    print("the shipped paper-cosine results and pilots (data/) are not here: nothing to compare")

# %% [markdown]
# **How long each target waits (n = 4 and 16).** In every protocol here a target waits K + L + 2 steps
# between its store and its recall, so along a capacity curve (K growing at L = 8) the wait grows with
# K: at 64 targeted bits every target waits 42 steps. The hold-time pilot trains models that hold few
# symbols just as long: 2 and 4 symbols at n = 4, 8 symbols at n = 16, with the delay L stretched
# (the same 4 random symbols, more blanks); and, at n = 16 and 32, a whole curve at a fixed hold of 42
# steps (L = 40 − K; `rnnviz capacity --hold 42`). `paper-cosine`'s training, GRU, PRU and SRU, 3 seeds. Top two rows: the bits recalled
# in all against the hold; solid `paper-cosine`'s curve (K grows, so the hold grows with it), dashed the
# pilot (K fixed, L grows; the first point is `paper-cosine`'s model at L = 8). Bottom row: recalled
# against targeted bits at n = 16 and 32, solid at the fixed delay L = 8 (`paper-cosine`), dashed at the
# fixed hold. What to see: where a dashed line runs on the solid one, a few symbols held that long recall
# what the curve's many symbols recall at that hold (GRU and PRU at n = 16 from 18 steps on); at a
# fixed hold the curves fall far less past their peaks, which are lower (docs/capacity_runs.md, "The
# hold-time pilot").

# %%
hold_path = repository_root() / "data" / "capacity_hold_pilot.csv"
if cosine_path.exists() and hold_path.exists():
    pilot = pd.read_csv(hold_path)
    cosine = pd.read_csv(cosine_path)
    cosine = cosine[(cosine["interfering_bits"] == 8.0) & cosine["cell"].isin(pilot["cell"].unique())
                    & cosine["hidden_size"].isin(pilot["hidden_size"].unique())]
    holds = with_hold(pilot)["hold_steps"]  # every target's wait between its store and its recall
    held = pilot[(pilot["hidden_size"] == 4) | ((pilot["hidden_size"] == 16) & (pilot["n_targets"] == 8))]  # K fixed, L grows
    same_k = cosine.merge(held[["cell", "hidden_size", "n_targets"]].drop_duplicates(),
                          on=["cell", "hidden_size", "n_targets"])  # the held amounts at L = 8
    tables = {"paper-cosine": hold_table(cosine), "long delays": hold_table(pd.concat([same_k, held]))}
    fixed_sizes = sorted(pilot.loc[(holds == 42) & (pilot["hidden_size"] > 4), "hidden_size"].unique())
    at_42 = pd.concat([pilot[(holds == 42) & pilot["hidden_size"].isin(fixed_sizes)],  # K = 32 has L = 8:
                       cosine[cosine["hidden_size"].isin(fixed_sizes) & (cosine["n_targets"] == 32)]])  # paper-cosine's
    curves = {"L = 8 (paper-cosine)": cosine[cosine["hidden_size"].isin(fixed_sizes)], "hold 42 (L = 40 - K)": at_42}
    cells = ["gru", "pru", "sru"]
    with rplot.saved_figure(f"{OUT}/03_capacity_hold", nrows=3, ncols=3, figsize=(15, 12.6)) as axes:
        for row, n in zip(axes[:2], (4, 16), strict=True):
            for ax, cell in zip(row, cells, strict=True):
                rplot.plot_recall_by_hold(tables, cell, hidden_size=n, ax=ax)
        for ax, cell in zip(axes[2], cells, strict=True):
            rplot.plot_recall_curves(curves, cell, hidden_sizes=fixed_sizes, ax=ax)
        axes.flat[0].figure.suptitle("Top: recalled bits against each target's hold, paper-cosine (solid, K "
                                     "grows at L = 8) and the pilot (dashed, K fixed, L grows). Bottom: "
                                     "a fixed delay (solid) and a fixed hold (dashed)", fontsize="medium")
    plt.show()
    # does the mean curve fall past its peak? at the fixed delay, then at the fixed hold
    falls = pd.concat({label: curve_falls(rows.drop(columns="n_interfering")) for label, rows in curves.items()})
    print(falls[["cell", "hidden_size", "targeted_bits_at_peak", "peak_mean", "last_mean", "fall", "ci_low", "ci_high",
                 "verdict"]].round(2).to_string())
else:
    print("the shipped paper-cosine results and the hold-time pilot (data/) are not here: nothing to compare")

# %% [markdown]
# **A curriculum over the delay (n = 16).** At the fixed hold of 42 steps the LSTM learned nothing of
# 4-8 symbols under `paper-cosine`'s combined curriculum, whose shorter instances keep the long delay:
# no training sequence had a short wait to start from. Two curricula give it one
# (`TrainConfig(curriculum=...)`): `"delay"`, every training sequence holds all K targets, half wait
# the task's delay L = 40 − K, half a shorter delay drawn uniformly (the 4 random symbols kept, fewer
# blanks); `"combined-delay"`, half the task itself, half with fewer targets *and* a shorter delay. One
# panel per cell, recalled against targeted bits at n = 16, seed means with 95 % intervals: solid the
# fixed delay L = 8 (`paper-cosine`: the hold grows with K), then the fixed hold under the combined
# curriculum (the hold-time pilot; some cells' small amounts were not trained), the combined-delay
# curriculum and the delay curriculum (5 cells at 64 bits, GRU/PRU/LSTM at 4-16). What to see: under
# the combined curriculum the LSTM and IHC-LSTM learn little or nothing of few symbols held 42 steps;
# under combined-delay every cell learns them and keeps what it recalled at 64 bits, so the gated
# cells' mean curves rise to about 11-15 bits and stay there; the delay curriculum alone loses the
# LSTM's and SRU's 64 bits. The tables below say which mean curves level off or fall past their peak
# (docs/capacity_runs.md, "The delay-curriculum pilot").

# %%
delay_path = repository_root() / "data" / "capacity_hold_delay_pilot.csv"
if cosine_path.exists() and hold_path.exists() and delay_path.exists():
    delayed = pd.read_csv(delay_path)
    pilot, cosine = pd.read_csv(hold_path), pd.read_csv(cosine_path)

    def at_n16_middle_dose(rows, hold=None):
        """The n = 16 models at 8 interfering bits (the middle dose), at one hold when given."""
        chosen = rows[(rows["hidden_size"] == 16) & (rows["interfering_bits"] == 8.0)]
        return chosen if hold is None else chosen[with_hold(chosen)["hold_steps"] == hold]

    # at K = 32 the fixed hold of 42 is L = 8: paper-cosine's own models under the combined curriculum
    runs = {"L = 8 (paper-cosine)": at_n16_middle_dose(cosine),
            "hold 42, combined": pd.concat([at_n16_middle_dose(pilot, 42), at_n16_middle_dose(cosine, 42)])}
    for curriculum in ("combined-delay", "delay"):  # by the training curriculum ("delay": some cells only)
        trained = delayed[delayed["protocol"] == protocol_name(2, curriculum)]
        if len(trained):
            runs[f"hold 42, {curriculum}"] = at_n16_middle_dose(trained)
    cells = [c for c in ("gru", "pru", "lstm", "sru", "irc_gru", "ihc_lstm", "rnn") if c in set(delayed["cell"])]
    with rplot.saved_figure(f"{OUT}/03_capacity_hold_delay", nrows=2, ncols=4, figsize=(18, 8.4)) as axes:
        for ax, cell in zip(axes.flat, cells, strict=False):  # same styles in every panel
            rplot.plot_recall_curves(runs, cell, hidden_sizes=[16], missing="skip", legend=False, ax=ax)
        rplot.shared_legend(axes.flat[:len(cells)], axes.flat[-1], fontsize="small")  # in the empty eighth panel
        axes.flat[0].figure.suptitle("n = 16, 4 random symbols: a fixed delay L = 8 (solid), and a fixed hold of "
                                     "42 steps under three training curricula", fontsize="medium")
    plt.show()
    # does each mean curve level off or fall past its peak? and each seed curve's shape
    falls = pd.concat({label: curve_falls(rows.drop(columns="n_interfering")) for label, rows in runs.items()})
    print(falls[["cell", "targeted_bits_at_peak", "peak_mean", "last_mean", "fall", "ci_low", "ci_high",
                 "verdict"]].round(2).to_string())
    print(pd.concat({label: curve_shape_counts(curve_shapes(rows.drop(columns="n_interfering")))
                     for label, rows in runs.items()}).to_string())
else:
    print("the shipped paper-cosine results and the delay-curriculum pilot (data/) are not here: nothing to compare")

# %% [markdown]
# **The fixed hold at several sizes.** The combined-delay curriculum at the fixed hold of 42 steps, for
# every size whose curves are complete in the shipped file (n = 16 from the pilot above, and the sizes
# run since), against `paper-cosine`'s fixed delay L = 8 at the same sizes and dose. One panel per
# cell, recalled against targeted bits, seed means with 95 % intervals, one colour per hidden size:
# solid the fixed delay, dashed the fixed hold. What to see: whether the dashed curves level off where
# the solid ones fall past their peaks, at each size, and how far below the solid peaks they stay
# (the price of reading every amount at the longest hold): at n = 16 they level off; at n = 4 and 8
# they dip at 8-16 bits; at n = 32 they follow the solid ones up to 16 bits, stay below the solid
# peaks at 32 bits and still rise at 64. The tables below give each mean curve's
# verdict (`curve_falls`) and the seed curves' shapes per size. The second figure: at n = 4 (top),
# 8 and 32 (bottom), the bits held at each target position (`position_table`, `plot_position_profile`),
# one line per K (and its delay L = 40 - K), every target held 42 steps. What to see: at nearly every
# K the first symbols are kept best (PRU at n = 8 and K = 8 keeps its last best); at n = 4 and K = 8
# (L = 32) GRU and PRU hold more than about 0.2 bit at their first two positions only (LSTM four), at
# K = 32 (L = 8) at their first four to seven; at n = 8 and K = 4 (L = 36) no cell holds its 4
# symbols whole (GRU about 1.1-1.5 bits of each 2), where at L = 8 the same 4 symbols are recalled
# nearly whole; at n = 32 and K = 16 (L = 24) the LSTM and PRU lose more of each later symbol
# (docs/capacity_runs.md, "The fixed hold at n = 4, 8 and 32").

# %%
if cosine_path.exists() and delay_path.exists():
    delayed, cosine = pd.read_csv(delay_path), pd.read_csv(cosine_path)
    at_hold = delayed[(delayed["protocol"] == protocol_name(2, "combined-delay")) & (delayed["interfering_bits"] == 8.0)]
    grid = at_hold.groupby("hidden_size")[["cell", "targeted_bits", "seed"]].apply(
        lambda rows: len(rows.drop_duplicates()))  # models per size; complete: every cell, amount and seed
    complete = [int(n) for n, count in grid.items()
                if count == at_hold["cell"].nunique() * at_hold["targeted_bits"].nunique() * at_hold["seed"].nunique()]
    runs = {"L = 8 (paper-cosine)": cosine[(cosine["interfering_bits"] == 8.0) & cosine["hidden_size"].isin(complete)],
            "hold 42, combined-delay": at_hold[at_hold["hidden_size"].isin(complete)]}
    print(f"sizes with complete fixed-hold curves: {complete}")
    cells = ["gru", "pru", "lstm", "sru", "irc_gru", "ihc_lstm", "rnn"]
    with rplot.saved_figure(f"{OUT}/03_capacity_hold_sizes", nrows=2, ncols=4, figsize=(18, 8.4)) as axes:
        for ax, cell in zip(axes.flat, cells, strict=False):
            rplot.plot_recall_curves(runs, cell, hidden_sizes=complete, legend=False, ax=ax)
        rplot.shared_legend(axes.flat[:len(cells)], axes.flat[-1], fontsize="small")  # in the empty eighth panel
        axes.flat[0].figure.suptitle("4 random symbols: a fixed delay L = 8 (solid) and a fixed hold of 42 steps under "
                                     "the combined-delay curriculum (dashed), one colour per hidden size",
                                     fontsize="medium")
    plt.show()
    falls = pd.concat({label: curve_falls(rows.drop(columns="n_interfering")) for label, rows in runs.items()})
    print(falls[["cell", "hidden_size", "targeted_bits_at_peak", "peak_mean", "last_mean", "fall", "ci_low", "ci_high",
                 "verdict"]].round(2).to_string())
    for label, rows in runs.items():  # the mean curves with their seed intervals: the docs' tables per size
        print(label)
        print(mean_curve_columns(mean_curves(rows.drop(columns="n_interfering"))).to_string(index=False))
    shapes = {label: curve_shapes(rows.drop(columns="n_interfering")) for label, rows in runs.items()}
    print(pd.concat({label: table.groupby(["hidden_size", "shape"]).size().unstack(fill_value=0)
                     for label, table in shapes.items()}).to_string())
    # each point at the hold minus the same point at L = 8, paired by seed; * where the 95 % interval excludes 0
    points = compare_points(*runs.values())
    points["shown"] = [f"{d:+.2f}{'*' if lo > 0 or hi < 0 else ''}"
                       for d, lo, hi in zip(points["difference"], points["ci_low"], points["ci_high"], strict=True)]
    print(points.pivot_table(index=["hidden_size", "cell"], columns="targeted_bits", values="shown",
                             aggfunc="first").to_string())
    # each gated seed curve's capacity (its peak) at the hold minus at L = 8, per size (paired on the task
    # and seed, not on the interference's timing, in which the two differ: match_timing=False)
    fixed_delay, fixed_hold = (rows[rows["cell"] != "rnn"] for rows in runs.values())
    peaks = {n: compare_curves(fixed_delay[fixed_delay["hidden_size"] == n],
                               fixed_hold[fixed_hold["hidden_size"] == n], match_timing=False) for n in complete}
    print(pd.concat({n: table.query("quantity == 'peak'").set_index("cell")[
        ["difference", "ci_low", "ci_high", "p_t", "n_curves"]] for n, table in peaks.items()}).round(3).to_string())
    # capacity against n under both: each seed curve's peak, seed means with 95 % intervals (at_one_hold:
    # the hold's rows grouped by their hold, not by the delay, which changes along a curve)
    by_n = {"L = 8 (paper-cosine)": capacity_table(runs["L = 8 (paper-cosine)"]),
            "hold 42, combined-delay": capacity_table(at_one_hold(runs["hold 42, combined-delay"]))}
    with rplot.saved_figure(f"{OUT}/03_capacity_hold_by_n", nrows=2, ncols=4, figsize=(16, 7.5)) as axes:
        for ax, cell in zip(axes.flat, cells, strict=False):
            rplot.plot_capacity_runs(by_n, cell, legend=False, ax=ax)
        rplot.shared_legend(axes.flat[:len(cells)], axes.flat[-1], fontsize="small")  # in the empty eighth panel
        axes.flat[0].figure.suptitle("Capacity against n, 4 random symbols: a fixed delay L = 8 (solid) and a fixed "
                                     "hold of 42 steps under combined-delay (dashed)", fontsize="medium")
    plt.show()
    # the hold-budget pilot: the n = 4 dip's models trained 108,000 steps instead of 36,000
    budget_path = repository_root() / "data" / "capacity_hold_budget_pilot.csv"
    if budget_path.exists():
        longer = pd.read_csv(budget_path)
        for label, rows in runs.items():
            shorter = rows[rows["hidden_size"] == 4]
            against = compare_points(shorter, longer)
            print(f"108,000 steps minus {label}:")
            print(against[["cell", "targeted_bits", "before_mean", "after_mean", "difference", "ci_low", "ci_high",
                           "p_value"]].round(3).to_string(index=False))
            pooled = compare_points(shorter, longer, pool=("cell", "targeted_bits"))
            print(pooled[["difference", "ci_low", "ci_high", "p_value", "n_seeds"]].round(3).to_string(index=False))
    # which symbols a state keeps at the fixed hold: bits at each of the first 16 positions (of 2), few
    # symbols over a long blank wait (K = 4 or 8, L = 36 or 32) against many over a short one (K = 32, L = 8)
    held = runs["hold 42, combined-delay"]
    profiled = [n for n in (4, 8, 32) if n in complete]
    positions = position_table(held[held["hidden_size"].isin(profiled)])
    print(positions[positions["n_targets"].isin([4, 8, 16, 32]) & (positions["position"] <= 16)].pivot_table(
        index=["hidden_size", "cell", "n_targets", "n_interfering"], columns="position",
        values="recalled_bits_per_position_mean").round(2).to_string())
    if profiled:
        profile_cells = ["gru", "pru", "lstm", "sru"]
        with rplot.saved_figure(f"{OUT}/03_capacity_hold_positions", nrows=len(profiled), ncols=4,
                                figsize=(18, 4.6 * len(profiled)), squeeze=False) as axes:
            for row, n in zip(axes, profiled, strict=True):
                for ax, cell in zip(row, profile_cells, strict=True):
                    rplot.plot_position_profile(positions, cell, hidden_size=n, n_targets=[2, 4, 8, 16, 32],
                                                legend=False, ax=ax)
            rplot.shared_legend(axes, axes.flat[0].figure, fontsize="small")  # one for all, beside the panels
            axes.flat[0].figure.suptitle(f"n = {', '.join(map(str, profiled))}, every target held 42 steps "
                                         "(combined-delay): bits recalled at each target position, one line per K",
                                         fontsize="medium")
        plt.show()
else:
    print("the shipped paper-cosine results and the delay-curriculum pilot (data/) are not here: nothing to compare")

# %% [markdown]
# ## Symbols per unit, and the IRC/IHC cells at equal parameter count
#
# Left: recalled symbols per hidden unit (capacity / (n log2 A)), with a dashed line at 1. Collins et
# al. (2017) found that trained RNNs recover about one real number per unit from their input history;
# a symbol is a different quantity (log2 A bits), so the line is a reference, not a prediction. Right:
# each input-residual or input-highway cell minus its baseline, compared at the baseline's parameter
# counts (the variant's capacity interpolated in log parameters; at equal n the variants have more
# parameters from n = 8 up). **What to look for:** differences whose intervals exclude 0.

# %%
equal = equal_parameter_capacity(rows) if "n_parameters" in rows else None
with rplot.saved_figure(f"{OUT}/03_capacity_per_unit", ncols=2, figsize=(11, 4)) as axes:
    rplot.plot_capacity_intervals(table, value="symbols_per_unit", reference=1.0, reference_label="1 per unit",
                                  ax=axes[0])
    if equal is not None and len(equal):
        rplot.plot_equal_parameters(equal, ax=axes[1])
    else:
        axes[1].text(0.5, 0.5, "these results hold no IRC/IHC cell\nwith its baseline", ha="center", va="center",
                     transform=axes[1].transAxes)
        axes[1].set_axis_off()
plt.show()

# %% [markdown]
# ## Explore
#
# Pick a cell, an interference setting and a summary metric.

# %%
widgets.capacity_explorer(rows)

# %% [markdown]
# ## Re-run a slice
#
# Train any slice of the grid yourself. `store=` a `.sqlite` path makes it resumable: run the cell
# again and finished models are skipped. Here: one cell, one hidden size, a few targeted amounts.

# %%
SLICE = dict(cells=["gru"], hidden_sizes=[4], targeted_bits=[2.0, 4.0, 8.0], interfering=[(2, "blank")],
             seeds=[0], alphabet=4)
slice_train = TrainConfig(steps=by_mode(MODE, 20, 400, 1500), batch_size=32, lr=2e-2)
slice_rows = capacity(**SLICE, train=slice_train, n_test=by_mode(MODE, 100, 1000, 2000), progress=MODE != "smoke")
slice_rows[["cell", "hidden_size", "targeted_bits", "accuracy", "recalled_bits"]].round(3)

# %% [markdown]
# **Questions to try.** Which cell stores the most bits per parameter, and does that change with
# hidden size n? Where does the heatmap's boundary lie for n = 8: is it near 8 bits (one bit per unit)?
# Re-run the slice with `interfering=[(8, "random")]`: how much capacity does interference cost?
