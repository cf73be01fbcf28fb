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
# # 2. The cells, side by side
#
# rnnviz implements one reference version of each recurrent cell studied in the memorization
# literature. This notebook puts them side by side: their equations, their parameter counts, one step
# computed by hand against the library, and how they respond to the same input.
#
# Every cell is called the same way: `y, s = cell(x, s0)` with `x` of shape `(T, B, input_size)`,
# and exposes `cell.step(x_t, s)` (one step on the *flat state*) and `cell.trace(x)` (every state and gate).

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository
SIZE = by_mode(MODE, smoke=4, demo=16, full=16)  # input and hidden size of the cells shown
STEPS = by_mode(MODE, smoke=10, demo=80, full=80)  # sequence length

# %%
import matplotlib.pyplot as plt
import torch

import rnnviz
from rnnviz import cells, probes, widgets
from rnnviz import plot as rplot

torch.manual_seed(0)

# %% [markdown]
# ## Parameter counts
#
# With `m` inputs and `n` units: the Elman RNN has one block of weights, the PRU two (an update gate and
# a candidate), the GRU three, the LSTM four. The SRU keeps only input matrices (no matrix acts on the
# state), and the IRC variants drop the candidate's input matrix by feeding the input straight into the
# state's coordinates, which is why they need `m = n`.

# %%
table = cells.summary_table(SIZE, SIZE)
table

# %% [markdown]
# The equations live in each class's docstring, next to a plain loop that computes the same thing:

# %%
print(cells.PRU.__doc__[:900])

# %% [markdown]
# ## One GRU step by hand
#
# $r = \sigma(W_{ir}x + b_{ir} + W_{hr}h + b_{hr})$, $z = \sigma(W_{iz}x + b_{iz} + W_{hz}h + b_{hz})$,
# $n = \tanh(W_{in}x + b_{in} + r \odot (W_{hn}h + b_{hn}))$, $h' = (1-z)\odot n + z \odot h$.
# The weights use PyTorch's names and gate order, so slicing them is all it takes:

# %%
gru = cells.GRU(SIZE, SIZE, dtype=torch.float64)
x_t = torch.randn(1, SIZE, dtype=torch.float64)
h = torch.randn(1, SIZE, dtype=torch.float64)
W_i = gru.weight_ih.chunk(3)
W_h = gru.weight_hh.chunk(3)
b_i = gru.bias_ih.chunk(3)
b_h = gru.bias_hh.chunk(3)
r = torch.sigmoid(x_t @ W_i[0].T + b_i[0] + h @ W_h[0].T + b_h[0])
z = torch.sigmoid(x_t @ W_i[1].T + b_i[1] + h @ W_h[1].T + b_h[1])
n = torch.tanh(x_t @ W_i[2].T + b_i[2] + r * (h @ W_h[2].T + b_h[2]))
by_hand = (1 - z) * n + z * h
library = gru.step(x_t, h)
print("largest difference:", (by_hand - library).abs().max().item())
assert torch.allclose(by_hand, library, atol=1e-12)

# %% [markdown]
# It also agrees with `torch.nn.GRU` when the weights are copied (`cells.GRU.from_torch(m)`):

# %%
reference = torch.nn.GRU(SIZE, SIZE, dtype=torch.float64)
ours = cells.GRU.from_torch(reference)
xs = torch.randn(STEPS, 2, SIZE, dtype=torch.float64)
print("max |ours − torch.nn.GRU| =", (ours(xs)[0] - reference(xs)[0]).abs().max().item())

# %% [markdown]
# ## The Hopfield reading of the GRU
#
# Hold the input fixed and the reset gate at 1: the GRU update becomes
# $h' = (1-z)\odot\tanh(W_{hn}h + I) + z\odot h$, a forward-Euler step of the continuous Hopfield dynamics
# $\dot h = (1-z)\odot(-h + \tanh(W_{hn}h + I))$ with the *external current* $I = W_{in}x + b_{in} + b_{hn}$.
# The input enters only through $I$, which is the redundancy the input residual connection (IRC) removes:
# IRC-GRU uses the input itself, $I = x + b_{in} + b_{hn}$. `probes.hopfield_reading` says what plays
# each role, for every cell:

# %%
print(probes.hopfield_reading(gru).description)

# %% [markdown]
# When $U$ is symmetric, the Hopfield energy
# $E(h) = -\tfrac12 h^\top U h - I^\top h + \sum_i \int_0^{h_i}\operatorname{atanh}$ never increases
# along these dynamics. Two units are enough to see it: below, a 2-unit GRU (reset gate biased open)
# under a held input, its energy as colours, paths from twelve starting states (white), and its fixed
# points (filled: stable, open: unstable with their unstable directions). The paths run downhill into
# the two stable points, the two memories of this little network.

# %%
plane = widgets.phase_plane("gru", inputs=(0.1, -0.05), weight_scale=2.0, gate_biases={"reset": 3.0})
with rplot.saved_figure(f"{OUT}/02_gru_phase_plane", figsize=(6, 5)) as ax:
    rplot.plot_phase_plane(plane, ax=ax)
plt.show()

# %% [markdown]
# Now move the sliders. Raise the weight scale past 1/λ_max ≈ 0.87 to create the two memories, and
# watch what larger scales add; push the input to tilt the landscape until one memory disappears; untick
# *symmetric* to add a rotation: the energy stops describing the paths and, at large scales, they
# circle forever. Notebook 6 measures this energy on trained cells.

# %%
widgets.cell_explorer("gru", inputs=(0.1, -0.05), weight_scale=2.0, gate_biases={"reset": 3.0})

# %% [markdown]
# ## Same input, twelve cells
#
# Each row shows the first three state coordinates of one freshly initialised cell reading the same
# random sequence. Note the smooth, slowly forgetting paths of the gated cells (PRU, GRU, SRU) against the
# jumpy Elman RNN.

# %%
x = torch.randn(STEPS, 1, SIZE)
with torch.no_grad():
    traces = {name: cells.make(name, SIZE, SIZE).trace(x) for name in cells.names()}
with rplot.style("notebook"):
    rplot.plot_cell_responses(traces)
plt.show()

# %% [markdown]
# ## Many models at once
#
# Every cell accepts `n_models=E`: E independent models whose weights carry a leading axis, run in the
# same operations. Member `i` is exactly the single cell with the same weights.

# %%
ensemble = cells.make("pru", SIZE, SIZE, n_models=8)
y, s = ensemble(torch.randn(8, STEPS, 3, SIZE))
single = ensemble.member(2)
print(y.shape, s.shape, rnnviz.count_parameters(ensemble), "parameters per member")

# %% [markdown]
# **Questions to try.** Which cell has the fewest parameters at `m = n = 64`? How does the SRU's
# highway term $(1 - r)\odot x'$ show in its trace when you feed a constant input? What happens to the
# Elman RNN's trace if you scale its recurrent weights by 3?
