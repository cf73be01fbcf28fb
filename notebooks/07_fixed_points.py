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
MEMO_STEPS = by_mode(MODE, smoke=20, demo=2000, full=3000)  # early stop at 99 % validation accuracy
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
# **What to see:** the paths run between eight filled dots, the corners of a distorted cube: one
# stable fixed point per combination of the three bits. The open dots between them are saddles;
# their segments point along the one direction in which they repel, towards the two memories they
# separate.

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
# **What to see:** the stable points' eigenvalues all lie inside the unit circle (every small push
# decays: a memory); each saddle has one eigenvalue outside it (the direction of the decision).

# %% [markdown]
# ## A memorization model
#
# Now a GRU that stores 2 symbols from an alphabet of 4 and must hold them through `DELAY` blank
# steps: $4^2 = 16$ memories. During the delay the input is the blank, so that is the input to hold.
# We start the search from the states the network actually reaches at the end of the delay: if the
# memories are kept by the dynamics, they should sit at (or next to) fixed or slow points.

# %%
DELAY = by_mode(MODE, smoke=4, demo=30, full=30)
memo = train_memorization("gru", 16, n_targets=2, n_interfering=DELAY, steps=MEMO_STEPS)
print("validation accuracy:", round(memo.result.metrics[0]["accuracy"], 3))
inputs, _, _ = memo.batch(256)
trace = trace_model(memo.model, inputs)[0]
cell = memo.model.cells[0]
end = 2 + DELAY  # trace.states[end]: the state after the last blank
blank = trace.inputs[2, 0]  # the input held during the delay
stored = inputs[:2].argmax(-1)  # (2, B) the stored symbols
memory = 4 * stored[0] + stored[1]  # which of the 16 memories each sequence holds
delay_end = trace.states[end]  # (B, S)
jitter = 0.02 * torch.randn(delay_end.shape, generator=generator)
fps = probes.fixed_points(cell, blank, delay_end + jitter, max_iter=SEARCH)
print(fps)
speed = probes.FixedPoints.at(cell, delay_end, blank).q  # q at the end-of-delay states themselves
print(f"q at the end-of-delay states: median {speed.median():.1e}, max {speed.max():.1e}")

# %% [markdown]
# Draw the end-of-delay states in the plane that separates the 16 memories best (the discriminant
# of the states by memory, `probes.discriminant_projection`), coloured by the first stored symbol,
# with what the search found under the held blank: fixed points as dots (filled: stable), slow
# points (q above the tolerance) as crosses, larger for smaller q.

# %%
plane = probes.discriminant_projection(trace.states[end - 4:end + 1], memory.expand(5, -1))
with rplot.saved_figure(f"{OUT}/07_memorization_fixed_points") as ax:
    rplot.plot_memory_states(plane, delay_end, stored[0], fixed_points=fps,
                             label_names=["A", "B", "C", "D"], size=30, ax=ax)
    ax.legend(title="symbol 1", fontsize="x-small")
    ax.set_title(f"GRU holding 2 symbols through {DELAY} blanks")
plt.show()

# %% [markdown]
# **What to see:** the coloured dots are the 16 memories (the blank input is the same for every
# sequence, so each memory has one end-of-delay state). There are no exact fixed points: the
# search, started next to the memories, ends on clusters of *slow* points (crosses; q small but
# above the tolerance), and several memories sit right on such a cluster: there one blank step
# barely moves the state, and that is how the memory survives the delay. Memories far from every
# cross are states that still move a lot at each blank (the largest printed q): in notebook 4 they
# zigzag between two states, a cycle, which a search for points where one step stands still
# cannot find. Slow points instead of stable fixed points mean the memories drift: over a much
# longer delay they would be lost or merged. Their Jacobians (below) show how the state is held.

# %% [markdown]
# ## The memories are 2-cycles: fixed points of two steps
#
# Notebook 4 showed each memory's state flipping between two nearby points at every blank. Such a
# cycle is no fixed point of one step, but both of its points are fixed points of *two* steps
# (`probes.iterated(cell, 2)`: s ↦ F(x, F(x, s))). Search that map under the held blank, from the
# same end-of-delay states.

# %%
cycles = probes.fixed_points(probes.iterated(cell, 2), blank, delay_end + jitter, max_iter=SEARCH)
print(cycles)
with rplot.saved_figure(f"{OUT}/07_memorization_cycles") as ax:
    rplot.plot_memory_states(plane, delay_end, stored[0], fixed_points=cycles,
                             label_names=["A", "B", "C", "D"], size=30, ax=ax)
    ax.legend(title="symbol 1", fontsize="x-small")
    ax.set_title("fixed points of two steps under the blank")
plt.show()
print(f"stable period-2 points: {int(cycles.is_stable.sum())} of {len(cycles)} distinct")

# %% [markdown]
# **What to see:** searched over two steps, the slow points (crosses) gather on many more of the
# memories than the one-step search above did: there a 2-cycle of the delay barely moves the state,
# which is how those memories survive the 30 blanks. Still no exact period-2 point (the printed
# summary: `n=0`): the memories are held on slowly drifting cycles, not in attractors, so they last
# for a delay of this length, not for ever; memories away from every cross drift faster.

# %%
with rplot.saved_figure(f"{OUT}/07_memorization_eigenvalues") as ax:
    rplot.plot_eigenvalues(fps.slow_points if fps.slow_points is not None and len(fps.slow_points) else fps, ax=ax)
    ax.set_title("Jacobian eigenvalues at the slow points")
plt.show()

# %% [markdown]
# **What to see:** (here "stable"/"unstable" in the legend describe the slow points.) Many
# eigenvalues crowd at +1 on the unit circle: directions the GRU neither pulls back nor pushes
# away while its update gate is shut, so a value written there stays like a number in a register
# (an integrator), not pulled into a basin. Another group lies on the real axis near −1: directions
# that flip sign at every step, the zigzag of the delay. Eigenvalues well inside the circle are
# directions the network forgets within a few steps.

# %% [markdown]
# **Questions to try.** Train the flip-flop with 4 bits: do you get 16 stable points? Replace the RNN
# with a GRU (`train_flipflop("gru", 16)`): are the memories still points? For the memorization GRU,
# train longer or with a longer delay: do the two-step slow points become exact period-2 points? Hold
# the *recall marker* instead of the blank (`trace.inputs[end, 0]`): what changes?
