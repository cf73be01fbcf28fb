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
# # 4. State trajectories
#
# A recurrent network's state is a point that moves with every input. We record those points for many
# sequences, find the few directions in which they vary most (PCA), and watch the paths there.
# (Sussillo & Barak 2013; `rnnviz.probes.trajectories`.)

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository

# %%
import matplotlib.pyplot as plt
import torch

from rnnviz import plot as rplot
from rnnviz import probes, widgets
from rnnviz.train import trace_model, train_memorization

torch.set_num_threads(1)
HIDDEN = by_mode(MODE, smoke=8, demo=16, full=32)
TARGETS = by_mode(MODE, smoke=2, demo=3, full=4)
STEPS = by_mode(MODE, smoke=20, demo=800, full=3000)
BATCH = by_mode(MODE, smoke=32, demo=128, full=256)

# %% [markdown]
# ## A trained memorization model
#
# A GRU that stores `TARGETS` symbols, waits through 4 blanks, then recalls them.

# %%
example = train_memorization("gru", HIDDEN, n_targets=TARGETS, n_interfering=4, steps=STEPS)
inputs, targets, mask = example.batch(BATCH)
trace = trace_model(example.model, inputs)[0]
names = widgets.memorization_symbol_names(example.task.alphabet)
print("validation accuracy:", round(example.result.metrics[0]["accuracy"], 3))

# %% [markdown]
# ## How many dimensions does the state use?
#
# The explained variance of each principal component. A network storing K symbols from an
# alphabet of A has A^K memories to keep apart; watch how many components it spends on them.

# %%
paths = probes.trajectories(trace, n_components=min(HIDDEN, 6))
print("explained variance ratio:", [round(v, 3) for v in paths.explained_variance_ratio.tolist()])

# %% [markdown]
# ## Paths coloured by time
#
# Every path starts at the zero state (dark) and ends after the recall (yellow).

# %%
with rplot.saved_figure(f"{OUT}/04_trajectories_time") as ax:
    rplot.plot_trajectories(paths, color_by="time", max_sequences=30, ax=ax)
plt.show()

# %% [markdown]
# ## Paths coloured by what they store
#
# The same paths, coloured by the first stored symbol and, next, by the last. After the store phase
# the state must encode both, so both colourings should separate the paths — in different directions.

# %%
with rplot.saved_figure(f"{OUT}/04_trajectories_by_symbol", ncols=2, figsize=(11, 4.5)) as axes:
    for ax, position in zip(axes, (0, TARGETS - 1), strict=True):
        rplot.plot_trajectories(paths, color_by=inputs[position].argmax(-1), max_sequences=40, ax=ax)
        ax.set_title(f"coloured by stored symbol {position + 1}")
plt.show()

# %% [markdown]
# ## In three dimensions

# %%
with rplot.saved_figure(f"{OUT}/04_trajectories_3d", figsize=(6, 5), projection="3d") as ax:
    rplot.plot_trajectories(paths, components=(0, 1, 2), color_by=inputs[0].argmax(-1), max_sequences=40, ax=ax)
plt.show()

# %% [markdown]
# ## Before training
#
# The same inputs through an untrained model with the same architecture: its paths follow the input
# but nothing organises them by what must be remembered.

# %%
untrained = train_memorization("gru", HIDDEN, n_targets=TARGETS, n_interfering=4, steps=1, seed=1)
raw = probes.trajectories(trace_model(untrained.model, inputs)[0], n_components=3)
with rplot.saved_figure(f"{OUT}/04_trajectories_untrained") as ax:
    rplot.plot_trajectories(raw, color_by=inputs[0].argmax(-1), max_sequences=40, ax=ax)
    ax.set_title("untrained")
plt.show()

# %% [markdown]
# ## Step through one sequence

# %%
widgets.model_explorer(widgets.record_model(example.model, inputs[:, :16], names), t=TARGETS)

# %% [markdown]
# **Questions to try.** Where does the state go during the blank steps: does it stay put (a fixed
# point, notebook 7) or drift? Set `n_interfering=0`: do the paths change? Try `"lstm"` and compare
# the number of components needed for 90 % of the variance.
