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
# # 6. A Hopfield-style energy for recurrent cells
#
# Hold the input fixed and many cells take the form $s' = (1-\alpha)\odot s + \alpha\odot\tanh(Us + I)$:
# a damped step of a continuous Hopfield network with weights $U$, external current $I$ (the input)
# and step size $\alpha$ (a gate). For symmetric $U$ the energy
#
# $$E(s; I) = -\tfrac12 s^\top U s - I^\top s + \sum_i G(s_i),\qquad G(v) = \int_0^v \operatorname{atanh},$$
#
# never increases (Hopfield 1984). Trained cells have neither a symmetric $U$ nor frozen gates, so
# rnnviz evaluates $E_S$, the energy of the symmetric part $S = (U + U^\top)/2$, and *measures* how
# well it describes the real dynamics.

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from rnnviz import cells, probes
from rnnviz import plot as rplot
from rnnviz.train import trace_model, train_memorization

torch.set_num_threads(1)
torch.manual_seed(0)
HIDDEN = by_mode(MODE, smoke=8, demo=16, full=32)
STEPS = by_mode(MODE, smoke=20, demo=800, full=3000)
SEARCH = by_mode(MODE, smoke=100, demo=2000, full=5000)  # fixed-point search iterations

# %% [markdown]
# ## The exact case: an Elman RNN with symmetric weights
#
# With $U$ symmetric and $\lambda_{\min}(U) > -1$, every step lowers $E$ (the current $I_t$ held within
# the step). `probes.energy_diagnostics` checks it step by step on a random input sequence.

# %%
rnn = cells.make("rnn", HIDDEN, HIDDEN, dtype=torch.float64)
A = torch.randn(HIDDEN, HIDDEN, dtype=torch.float64)
with torch.no_grad():
    rnn.weight_hh.copy_(1.5 * A @ A.T / HIDDEN)  # symmetric, positive semi-definite
diag = probes.energy_diagnostics(rnn, torch.randn(40, 4, HIDDEN, dtype=torch.float64))
print(diag.summary())
with rplot.saved_figure(f"{OUT}/06_energy_symmetric_rnn") as ax:
    rplot.plot_energy_steps(diag, ax=ax)
    ax.set_title("symmetric Elman RNN: E never rises within a step")
plt.show()

# %% [markdown]
# **What to see:** the energy only goes down (no rise is marked): with symmetric weights the
# Hopfield energy is an exact Lyapunov function of the dynamics, and the state slides into a
# valley.

# %% [markdown]
# ## What plays U, I and α in each cell
#
# `probes.hopfield_reading(cell)` says, per cell, which matrix is $U$, which term is the current and
# which gate the step size, and whether a step with frozen gates *is* the damped Hopfield map.

# %%
readings = {name: probes.hopfield_reading(cells.make(name, 4, 4)) for name in ("rnn", "gru", "pru", "lstm", "sru")}
pd.DataFrame([{"cell": k, "g": r.nonlinearity, "exact with frozen gates": r.exact, "reading": r.description}
              for k, r in readings.items()]).style.hide(axis="index")

# %% [markdown]
# ## Trained cells
#
# Train a GRU and a PRU to store 4 symbols through 4 blanks, then measure along held-out sequences:
# the asymmetry $\lVert A\rVert/\lVert U\rVert$, the fraction of steps on which $E_S$ fell, and the
# cosine between the step and the energy's downhill direction $-\nabla E_S$.

# %%
trained = {c: train_memorization(c, HIDDEN, n_targets=4, n_interfering=4, steps=STEPS) for c in ("gru", "pru")}
inputs, _, _ = trained["gru"].batch(128)
rows = []
for example in trained.values():
    trace = trace_model(example.model, inputs)[0]
    summary = probes.energy_diagnostics(example.model.cells[0], trace.inputs).summary()
    rows.append({**summary, "accuracy": example.result.metrics[0]["accuracy"]})
pd.DataFrame(rows).round(3)

# %% [markdown]
# ## The landscape under a clamped blank input
#
# Hold the blank input and draw $E_S$ over the plane of the first two principal components of the
# visited states, with the trajectories and the fixed points of the real dynamics (filled: stable).
# Where the energy picture is right, stable fixed points sit in its valleys.

# %%
model = trained["gru"].model
cell = model.cells[0]
trace = trace_model(model, inputs)[0]
blank = trace.inputs[4, 0]  # the first waiting step reads the blank symbol
plane = probes.trajectories(trace, n_components=2)
landscape = probes.energy_landscape(cell, blank, plane, resolution=by_mode(MODE, 41, 101, 151))
fps = probes.fixed_points(cell, blank, probes.sample_initial_states(trace, by_mode(MODE, 64, 512, 1024),
                          generator=torch.Generator().manual_seed(0)), max_iter=SEARCH)
print(fps)
with rplot.saved_figure(f"{OUT}/06_energy_landscape") as ax:
    rplot.plot_energy_landscape(landscape, fixed_points=fps, max_sequences=30, ax=ax)
    ax.set_title("trained GRU, blank input held")
plt.show()

# %% [markdown]
# **What to see:** this is a counter-example. The paths cross the contours uphill as often as
# downhill, the fixed points the search found are unstable and sit at the edge of the visited
# region, and the low valley (dark) holds no fixed point at all. **$E_S$ does not describe this
# trained GRU**, for reasons the numbers measure:
#
# - its recurrent matrix is far from symmetric (`asymmetry` in the table: the antisymmetric part
#   $A$ is about as large as $U$), and $E_S$ ignores $A$, which turns the state around instead of
#   lowering any energy;
# - its update gate, the step size $\alpha$, changes with the state, so even where the descent
#   condition holds the energy is that of a different, frozen-gate map;
# - in the relaxation below, the cosine between each step and the downhill direction $-\nabla E_S$
#   is about 0: the real dynamics moves across the energy's slopes, not down them.
#
# Training optimised recall, not an energy; nothing makes a trained GRU's weights symmetric. The
# energy picture is exact for the symmetric Elman RNN above (and the 2-unit phase plane of
# notebook 2); check `asymmetry`, `fraction_decreasing` and `mean_cosine` before reading a landscape.

# %% [markdown]
# ## Relaxation
#
# Start from visited states, clamp the blank input for 30 steps, and watch $E_S$: does the real
# dynamics run downhill?

# %%
starts = trace.states[5]  # states after the first blank
relax = probes.energy_diagnostics(cell, blank.expand(30, *starts.shape[:1], blank.shape[-1]), s0=starts)
print({k: round(v, 3) if isinstance(v, float) else v for k, v in relax.summary().items()})
with rplot.saved_figure(f"{OUT}/06_energy_relaxation") as ax:
    rplot.plot_energy_steps(relax, ax=ax)
    ax.set_title("trained GRU relaxing under the blank input")
plt.show()

# %% [markdown]
# **What to see:** the marked steps are the ones where $E_S$ rises: under the held blank the trained
# GRU goes uphill about as often as downhill (`fraction_decreasing` printed above, near or below
# one half) and its steps are nearly orthogonal to $-\nabla E_S$ (`mean_cosine` near 0). An energy
# that described the dynamics would fall at every step, as for the symmetric RNN at the top.

# %% [markdown]
# **Questions to try.** Is the PRU's asymmetry lower than the GRU's? Make the Elman RNN's weights
# strongly negative (`-1.5 * A @ A.T / HIDDEN`): which condition fails, and does the energy still fall?
# Hold a *symbol* instead of the blank (`trace.inputs[0, 0]`): how does the landscape move?
