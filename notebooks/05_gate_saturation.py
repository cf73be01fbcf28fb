# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Gate saturation
#
# Karpathy, Johnson & Fei-Fei (2015) asked how often each gate unit is nearly shut (activation < 0.1,
# *left-saturated*) or nearly open (> 0.9, *right-saturated*). Untrained gates hover around ½; trained
# gates often become switches. `rnnviz.probes.gate_saturation` measures it for any rnnviz cell.

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository

# %%
import matplotlib.pyplot as plt
import torch

from rnnviz import plot as rplot
from rnnviz import probes
from rnnviz.train import trace_model, train_memorization

torch.set_num_threads(1)
HIDDEN = by_mode(MODE, smoke=8, demo=16, full=32)
STEPS = by_mode(MODE, smoke=20, demo=1500, full=4000)
CELLS = ("gru", "lstm")

# %% [markdown]
# ## Train a GRU and an LSTM on the same task
#
# Store 4 symbols, wait 8 blanks, recall (learning rate 0.01: the LSTM does not learn this task at 0.02).
# We also keep an untrained copy of each.

# %%
trained = {c: train_memorization(c, HIDDEN, n_targets=4, n_interfering=8, steps=STEPS, lr=1e-2) for c in CELLS}
untrained = {c: train_memorization(c, HIDDEN, n_targets=4, n_interfering=8, steps=1) for c in CELLS}
inputs, _, _ = trained["gru"].batch(256)
traces = {(c, kind): trace_model(models[c].model, inputs)[0]
          for kind, models in (("untrained", untrained), ("trained", trained)) for c in CELLS}
for c in CELLS:
    print(c, "validation accuracy", round(trained[c].result.metrics[0]["accuracy"], 3))

# %% [markdown]
# ## The saturation plot
#
# One dot per unit and gate. Dots near the origin are never saturated; on the horizontal axis, often
# shut; on the vertical axis, often open; on the dashed line, always at one extreme or the other.

# %%
with rplot.saved_figure(f"{OUT}/05_saturation", nrows=2, ncols=2, figsize=(9, 9)) as axes:
    for (c, kind), ax in zip(traces, axes.T.flat, strict=True):
        rplot.plot_saturation(probes.gate_saturation(traces[c, kind]), ax=ax)
        ax.set_title(f"{c}, {kind}")
plt.show()

# %% [markdown]
# ## The raw activations
#
# Histograms of every activation of every gate: training pushes mass towards 0 and 1.

# %%
with rplot.saved_figure(f"{OUT}/05_gate_histograms", ncols=2, figsize=(11, 4)) as axes:
    for c, ax in zip(CELLS, axes, strict=True):
        rplot.plot_gate_histograms(traces[c, "trained"], ax=ax)
        ax.set_title(f"{c}, trained")
plt.show()

# %% [markdown]
# ## Which units saturate?
#
# The table behind the plot: one row per gate and unit.

# %%
table = probes.gate_saturation(traces["lstm", "trained"])
table.sort_values("left", ascending=False).head(8)

# %% [markdown]
# **Questions to try.** Which LSTM gate is most often right-saturated, and why would a memory task
# want that gate open? Lengthen the wait (`n_interfering=32`): do the forget gates move further
# right? Use `interference="random"`: what happens to the input gates?
