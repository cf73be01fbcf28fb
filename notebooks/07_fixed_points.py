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
# # 7. Fixed points: the skeleton of the dynamics
#
# Hold the input fixed. Where does the state stop moving? Sussillo & Barak (2013) minimise the speed
# $q(s) = \tfrac12\lVert F(s, x^*) - s\rVert^2$ from many starting states at once: $q = 0$ at fixed
# points. Linearising there (the Jacobian's eigenvalues) tells stable memories ($|\lambda| < 1$)
# from saddles. We start with a network whose answer we know, then look at memorization models.

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository

# %%
import matplotlib.pyplot as plt
import torch

from rnnviz import plot as rplot
from rnnviz import probes
from rnnviz.train import trace_model, train_flipflop, train_memorization

torch.set_num_threads(1)
FLIPFLOP_STEPS = by_mode(MODE, smoke=20, demo=1500, full=4000)
MEMO_STEPS = by_mode(MODE, smoke=20, demo=800, full=3000)
STARTS = by_mode(MODE, smoke=64, demo=512, full=1024)  # initial states of the search
SEARCH = by_mode(MODE, smoke=100, demo=3000, full=10000)  # Adam iterations at most
generator = torch.Generator().manual_seed(0)

# %% [markdown]
# ## The 3-bit flip-flop
#
# Three input channels carry rare ±1 pulses (every channel pulses at the first step); each output must
# hold the sign of its channel's last pulse. A network that solves it must keep $2^3 = 8$ memories: we
# expect **8 stable fixed points** under zero input, with saddles between them.

# %%
flipflop = train_flipflop("rnn", 16, steps=FLIPFLOP_STEPS)
print("final validation MSE:", round(flipflop.result.metrics[0]["loss"], 4),
      "sign accuracy:", round(flipflop.result.metrics[0]["accuracy"], 3))
inputs, _ = flipflop.batch(64)
trace = trace_model(flipflop.model, inputs)[0]
cell = flipflop.model.cells[0]

# %%
zero = torch.zeros(cell.input_size)
fps = probes.fixed_points(cell, zero, probes.sample_initial_states(trace, STARTS, generator=generator),
                          max_iter=SEARCH)
print(fps)
print("stable:", int(fps.is_stable.sum()), " unstable modes per point:", fps.n_unstable.tolist())

# %% [markdown]
# ## Where they sit
#
# The trajectories in their first three principal components with the fixed points: filled dots are
# stable (the eight memories), open dots unstable, with a segment along each unstable direction.

# %%
paths = probes.trajectories(trace, n_components=3)
with rplot.saved_figure(f"{OUT}/07_flipflop_fixed_points", figsize=(6.5, 5.5), projection="3d") as ax:
    rplot.plot_trajectories(paths, fixed_points=fps, components=(0, 1, 2), color_by="sequence",
                            max_sequences=12, ax=ax)
    ax.set_title("3-bit flip-flop, zero input")
plt.show()

# %% [markdown]
# ## Their linearisation
#
# Eigenvalues of the Jacobian at each point. Stable points have all $|\lambda| < 1$ (inside the
# circle); a saddle has one eigenvalue outside, pointing towards the two memories it separates.

# %%
with rplot.saved_figure(f"{OUT}/07_flipflop_eigenvalues") as ax:
    rplot.plot_eigenvalues(fps, ax=ax)
plt.show()

# %% [markdown]
# ## A memorization model
#
# Now a GRU that stores 3 symbols from an alphabet of 4 through 8 blank steps. Under the held blank
# input it must keep $4^3 = 64$ different memories: how does it do it?

# %%
memo = train_memorization("gru", 16, n_targets=3, n_interfering=8, steps=MEMO_STEPS)
print("validation accuracy:", round(memo.result.metrics[0]["accuracy"], 3))
inputs, _, _ = memo.batch(256)
trace = trace_model(memo.model, inputs)[0]
cell = memo.model.cells[0]
blank = trace.inputs[3, 0]  # the first waiting step reads the blank
fps = probes.fixed_points(cell, blank, probes.sample_initial_states(trace, STARTS, generator=generator),
                          max_iter=SEARCH)
print(fps)

# %% [markdown]
# If there are far fewer stable fixed points than memories, the network does not store each memory
# as a point attractor: it keeps them on *slow* regions (small but non-zero $q$) and drifts. The slow
# points the search found are in `fps.slow_points`.

# %%
paths = probes.trajectories(trace, n_components=3)
with rplot.saved_figure(f"{OUT}/07_memorization_fixed_points") as ax:
    rplot.plot_trajectories(paths, fixed_points=fps, color_by=inputs[0].argmax(-1), max_sequences=40, ax=ax)
    ax.set_title("GRU storing 3 symbols, blank input held")
plt.show()
print("slow points:", fps.slow_points)

# %% [markdown]
# **Questions to try.** Train the flip-flop with 4 bits: do you get 16 stable points? Replace the RNN
# with a GRU (`train_flipflop("gru", 16)`): are the memories still points? For the memorization GRU,
# hold the *recall marker* instead of the blank (`trace.inputs[3 + 8, 0]`): what changes?
