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
HIDDEN = by_mode(MODE, smoke=8, demo=16, full=16)
TARGETS = 2  # 4^2 = 16 memories
DELAY = by_mode(MODE, smoke=4, demo=30, full=30)  # blank steps between storing and recalling
STEPS = by_mode(MODE, smoke=20, demo=2000, full=3000)  # early stop at 99 % validation accuracy
BATCH = by_mode(MODE, smoke=32, demo=128, full=256)

# %% [markdown]
# ## A trained memorization model
#
# A GRU that stores `TARGETS` symbols, waits through `DELAY` blanks, then recalls them.

# %%
example = train_memorization("gru", HIDDEN, n_targets=TARGETS, n_interfering=DELAY, steps=STEPS)
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
# **What to see:** the long swings are the store phase (dark) and the recall (yellow). During the
# delay (green) each path waits in a small patch of its own, jumping back and forth between two
# nearby states at every blank (a zigzag). The patches are the memories, but the largest principal
# components are spent on the store and recall swings, so this plane does not say which patch
# holds which symbols.

# %% [markdown]
# ## What the state stores at the end of the delay
#
# To ask *where the memory is*, choose a projection for that question. Take the states at the end
# of the delay (just before the recall marker), label each by the symbol its sequence stored, and
# find the plane in which the labels separate best (Fisher's linear discriminant,
# `probes.discriminant_projection`; F is the ratio of between- to within-symbol variance along an
# axis). Left, for contrast, the same states in their first two principal components.

# %%
end = TARGETS + DELAY  # trace.states[end]: the state after the last blank
stored = inputs[:TARGETS].argmax(-1)  # (K, B) the stored symbols
delay_end = trace.states[end]  # (B, S)
with rplot.saved_figure(f"{OUT}/04_trajectories_by_symbol", ncols=TARGETS + 1, figsize=(4 * TARGETS + 4, 3.8)) as axes:
    rplot.plot_memory_states(probes.trajectories(delay_end, n_components=2), delay_end, stored[0],
                             label_names=names, ax=axes[0])
    axes[0].set_title("PCA, coloured by symbol 1")
    for position in range(TARGETS):
        lda = probes.discriminant_projection(delay_end, stored[position])
        rplot.plot_memory_states(lda, delay_end, stored[position], label_names=names, ax=axes[position + 1])
        axes[position + 1].set_title(f"discriminant of stored symbol {position + 1}")
    axes[-1].legend(title="symbol", fontsize="small")
plt.show()

# %% [markdown]
# **What to see:** in each discriminant plane the end-of-delay states fall into four tight clusters,
# one per value of that stored symbol; each cluster holds the four states that differ in the
# other symbol. So each symbol is written along its own directions of the state. In the principal
# components (left) the same states are scattered and the colours mix: the largest variance is not
# where the memory is. (The blank input is the same for every sequence, so the end-of-delay state
# depends only on the two stored symbols: 16 distinct states, many dots on top of each other.)

# %% [markdown]
# ## When is each symbol in the state, and when is it lost?
#
# A linear decoder per stored symbol and per time step (`probes.decoding`: multinomial logistic
# regression, cross-validated over the sequences) reads each symbol from the state at every step.
# Its held-out *decoded bits* say how much of the symbol the state carries at that step (log2 A at
# most); the diamonds are the bits the trained readout recalls at each recall step
# (`Memorization.score`, the quantity the capacity study sums). Bands: 95 % intervals.

# %%
probe_inputs, probe_targets, probe_mask = example.batch(by_mode(MODE, smoke=64, demo=400, full=800), seed=7)
probe_trace = trace_model(example.model, probe_inputs)[0]
stored_symbols = probe_inputs[:TARGETS].argmax(-1).T  # (B, K): the symbols each sequence stored
decoded = probes.decoding(probe_trace, stored_symbols, n_classes=example.task.alphabet,
                          n_bootstrap=by_mode(MODE, smoke=20, demo=200, full=200))
with torch.no_grad():
    recalled = example.task.score(example.model(probe_inputs), probe_targets, probe_mask)["recalled_bits_per_position"]
with rplot.saved_figure(f"{OUT}/04_decoding", figsize=(7, 3.6)) as ax:
    rplot.plot_decoding(decoded, recalled_bits=recalled, ax=ax)
    ax.axvspan(TARGETS, TARGETS + DELAY, color="0.9", zorder=0, label="delay")
plt.show()
decoded.to_frame().groupby("label")[["bits"]].agg(["min", "max"]).round(2)

# %% [markdown]
# **What to see:** each symbol's decoded bits jump from 0 to about log2 A = 2 bits at the step the
# symbol is read, and stay there through the whole delay (grey): the memory is in the state, in a
# linearly readable form, from the moment it is stored. At the recall steps the readout's recalled
# bits (diamonds) match what the decoder reads: nothing the state holds is lost on the way out.
# A model that forgets would show the line falling during the delay, and capacity studies measure
# where that happens as the number of stored symbols grows.

# %% [markdown]
# ## In three dimensions

# %%
with rplot.saved_figure(f"{OUT}/04_trajectories_3d", figsize=(6, 5), projection="3d") as ax:
    rplot.plot_trajectories(paths, components=(0, 1, 2), color_by=inputs[0].argmax(-1), max_sequences=40, ax=ax)
plt.show()

# %% [markdown]
# **What to see:** a third component spreads the paths out, but the
# colours (the first stored symbol) still mix: the principal components answer "where does the
# state move most", not "where is the memory" (the discriminant above answers that).

# %% [markdown]
# ## Before training
#
# The same inputs through an untrained model with the same architecture: its paths follow the input
# but nothing organises them by what must be remembered.

# %%
untrained = train_memorization("gru", HIDDEN, n_targets=TARGETS, n_interfering=DELAY, steps=1, seed=1)
raw = probes.trajectories(trace_model(untrained.model, inputs)[0], n_components=3)
with rplot.saved_figure(f"{OUT}/04_trajectories_untrained") as ax:
    rplot.plot_trajectories(raw, color_by=inputs[0].argmax(-1), max_sequences=40, ax=ax)
    ax.set_title("untrained")
plt.show()

# %% [markdown]
# **What to see:** the untrained GRU's paths fan out with the stored symbols, then all run back
# to the same point during the blanks (its gates start half open: the tour of the cells shows it
# forgets within a few steps), so at the end of the delay every path is in the same place and the
# stored symbols are gone.

# %% [markdown]
# ## Step through one sequence

# %%
widgets.model_explorer(widgets.record_model(example.model, inputs[:, :16], names), t=TARGETS)

# %% [markdown]
# **Questions to try.** Where does the state go during the blank steps: does it stay put (a fixed
# point, notebook 7) or drift? Fit the discriminant at an earlier step of the delay
# (`trace.states[TARGETS + 5]`): is the memory already in place? Set `DELAY = 4`: do the paths change? Try `"lstm"` and compare
# the number of components needed for 90 % of the variance.
