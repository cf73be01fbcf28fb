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
# # 1. Quickstart: build a cell, train it, look inside
#
# In ten minutes: make a recurrent cell, teach it to memorise a few symbols, then look at what it
# does inside: the path its state takes, how its gates open and close, and one sequence step by step.

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository

# %%
import matplotlib.pyplot as plt
import torch

from rnnviz import cells, probes, widgets
from rnnviz import plot as rplot
from rnnviz.tasks import Memorization
from rnnviz.train import trace_model, train_memorization

torch.set_num_threads(1)  # small models run fastest on one thread
torch.manual_seed(0)
HIDDEN = by_mode(MODE, smoke=8, demo=16, full=32)
TARGETS = by_mode(MODE, smoke=2, demo=4, full=6)
STEPS = by_mode(MODE, smoke=20, demo=800, full=3000)

# %% [markdown]
# ## A cell is a function of an input and a state
#
# Every cell reads a sequence `x` of shape `(T, B, input_size)` and returns its outputs and its final
# state. `cell.trace(x)` also records every state and every gate on the way.

# %%
cell = cells.make("gru", 6, HIDDEN)
x = torch.randn(5, 1, 6)  # (T, B, m)
y, s = cell(x)
trace = cell.trace(x)
print("outputs", tuple(y.shape), "final state", tuple(s.shape))
print("states", tuple(trace.states.shape), "gates", {k: tuple(v.shape) for k, v in trace.gates.items()})

# %% [markdown]
# ## The task: remember K symbols
#
# The network sees K random symbols, a short pause of blanks (`_`), a recall marker (`?`), and must
# then repeat the K symbols in order. That is `K log2 A` bits of *targeted information*.

# %%
task = Memorization(n_targets=TARGETS, alphabet=4, n_interfering=2)
names = widgets.memorization_symbol_names(task.alphabet)
tokens, _ = task.sample_symbols(3, torch.Generator().manual_seed(0))
for seq in tokens.T:
    print(" ".join(names[int(i)] for i in seq))
print(f"targeted information: {task.targeted_bits:g} bits; chance accuracy {task.baseline.accuracy:.2f}")

# %% [markdown]
# ## Train
#
# `train_memorization` wraps `rnnviz.train.SequenceModel` (one-hot input → cell → linear readout)
# and `rnnviz.train.fit` (Adam, gradient clipping, early stop at 99 % validation accuracy).

# %%
example = train_memorization("gru", HIDDEN, n_targets=TARGETS, alphabet=4, n_interfering=2, steps=STEPS)
print(example.result.metrics[0])
with rplot.saved_figure(f"{OUT}/01_training") as ax:
    rplot.plot_training_history(example.result, baseline=task.baseline.accuracy, ax=ax)
plt.show()

# %% [markdown]
# **What to see:** validation accuracy climbs from the memoryless baseline (dashed: guessing one of
# 4 symbols) towards 1; training stops early once it passes 99 %. A curve stuck at the baseline
# means the network never learned to carry anything through the pause.

# %% [markdown]
# ## Look inside: the state's path
#
# Record the trained cell on fresh sequences and project its states onto their first two principal
# components. Colour each path by the **first symbol** it had to store: if the network keeps that
# symbol, the colours separate.

# %%
inputs, targets, mask = example.batch(64)
trace = trace_model(example.model, inputs)[0]
paths = probes.trajectories(trace, n_components=3)
first_symbol = inputs[0].argmax(-1)  # (B,)
print("variance explained by 3 components:", paths.explained_variance_ratio.sum().item())
with rplot.saved_figure(f"{OUT}/01_trajectories") as ax:
    rplot.plot_trajectories(paths, color_by=first_symbol, max_sequences=40, ax=ax)
    ax.set_title("states coloured by the first stored symbol")
plt.show()

# %% [markdown]
# **What to see:** the colours lean towards different regions, so the first symbol is readable
# from the state; but
# the paths overlap, because the largest principal components also follow the other symbols and
# the phases of the task. Notebook 4 picks a projection made for the question "where is the
# memory?" (a discriminant of the states by stored symbol), in which the symbols separate cleanly.

# %% [markdown]
# ## Look inside: the gates
#
# Each dot is one unit of one gate: how often it is nearly closed (< 0.1, left-saturated) against how
# often it is nearly open (> 0.9, right-saturated). Units near the diagonal's ends act like switches.

# %%
with rplot.saved_figure(f"{OUT}/01_saturation") as ax:
    rplot.plot_saturation(probes.gate_saturation(trace), ax=ax)
plt.show()

# %% [markdown]
# **What to see:** most units sit near the left edge and low: they rarely close fully and are
# open (> 0.9) only part of the time, so they act as graded valves rather than switches. The few
# units high on the left axis are open most of the time; none lies near the diagonal, where a
# unit would always be saturated one way or the other (a pure switch).

# %% [markdown]
# ## One sequence, step by step
#
# Move the time slider: the top row shows the input just read, the middle panel the state in the
# principal-component plane, the bottom panel the gates of the chosen unit.

# %%
recording = widgets.record_model(example.model, inputs[:, :8], names)
widgets.model_explorer(recording, t=TARGETS)

# %% [markdown]
# **Questions to try.** Train an `"lstm"` or a `"pru"` instead of the GRU: do they need more steps?
# Raise `TARGETS` until the accuracy drops: how many bits does a 16-unit GRU hold? Colour the paths by
# the *last* stored symbol (`inputs[TARGETS - 1]`): which symbol is easier to read from the state?
