# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Character-level language models: PRU, SRU, GRU, LSTM and the IRC/IHC variants on Shakespeare
#
# The PRU paper claims that PRU performs comparably to GRU and LSTM; the IRC paper claims that its
# variants generalise as well or better with fewer parameters. Here we check such claims on real text:
# each cell is trained as a character-level language model on Tiny Shakespeare and scored in **bits per
# character** (bpc) on held-out text, at **equal hidden size** and at **equal parameter count**.
# Then we look inside the trained models: how saturated their gates are, and how their states move
# as they read.
#
# The model is `embedding → cell → linear readout`; training is truncated backpropagation through
# time (TBPTT) with the state carried across consecutive batches. See `docs/lm.md`.

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository
PRESET = by_mode(MODE, smoke="smoke", demo="demo", full="paper")  # the rnnviz lm preset trained here
RUNS = None  # folder for results and checkpoints; None: a fresh temporary folder in smoke mode, else out/lm_notebook
DEVICE = "auto"

# %%
# %matplotlib inline
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

from rnnviz import plot as rplot
from rnnviz import probes
from rnnviz.study import lm_preset, load_curves, load_model
from rnnviz.tasks import CHARACTER_CLASSES, CharCorpus, character_class
from rnnviz.train import sample

torch.set_num_threads(1)  # a recurrent step's small matrix products run fastest on one CPU thread
out = Path(RUNS) if RUNS is not None else Path(tempfile.mkdtemp()) if MODE == "smoke" else Path("../out/lm_notebook")
chosen = lm_preset(PRESET)  # rnnviz.study.LM_PRESETS[PRESET]; lm_preset(PRESET, cells=(...)) changes a field
print(f"preset {PRESET!r}: {chosen.description}; results in {out}")

# %% [markdown]
# ## The corpus
# The text is split in order into train / valid / test (90 / 5 / 5 %), so no character is in two
# splits. The *unigram baseline* predicts every character with its training frequency and ignores
# the context: a model must beat it to have learned anything about sequences.

# %%
corpus = CharCorpus(max_chars=chosen.max_chars)
print(corpus)
print(f"unigram baseline on test: {corpus.unigram_bpc('test'):.3f} bpc; uniform: "
      f"{torch.tensor(float(corpus.vocab_size)).log2():.3f} bpc")

# %% [markdown]
# ## Train every cell, at equal hidden size and at equal parameter count
# Finished runs found in the output folder are reused, so re-running this cell is cheap.

# %%
results = chosen.run(out, device=DEVICE, progress=MODE != "smoke")
table = results[["run_id", "comparison", "hidden_size", "n_parameters", "test_bpc", "valid_bpc", "train_seconds"]]
table.style.format(precision=3) if MODE != "smoke" else table

# %%
with rplot.style("notebook"):
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), layout="constrained")
    rplot.plot_bpc_comparison(results, ax=axes[0])
    axes[0].set_title("test bits per character (lower is better)")
    rplot.plot_learning_curves(load_curves(out), ax=axes[1])
    axes[1].set_title("validation bits per character during training")
    rplot.save(fig, f"{OUT}/lm_comparison")

# %% [markdown]
# ## Generated text
# Each model continues the same prime at temperature 0.8 (the same seed for all).

# %%
equal_n = results[results["comparison"] == "hidden_size"]
models = {row.cell: load_model(out, row.run_id) for row in equal_n.itertuples()}
for cell, model in models.items():
    print(f"===== {cell} =====")
    print(sample(model, by_mode(MODE, 120, 400, 600), prime="ROMEO:\n", temperature=0.8, seed=0))

# %% [markdown]
# ## Inside the models: gate saturation
# Following Karpathy, Johnson & Fei-Fei (2015), *Visualizing and understanding recurrent networks*:
# for each gate unit, the fraction of time steps at which it is left-saturated (activation < 0.1) and
# right-saturated (> 0.9) while the model reads test text. Units near the right edge of the plot are
# gates that are almost always open; the top-left corner holds gates almost always closed; units on the
# diagonal switch between both regimes. (The PRU has one update gate; the RNN has none.)

# %%
text = corpus.split_text("test")[: by_mode(MODE, 500, 3000, 3000)]
ids = corpus.vocab.encode(text).view(-1, 1)  # (T, 1)
traces = {}
with torch.no_grad():
    for cell, model in models.items():
        model.eval()
        traces[cell] = model.cell.trace(model.embed(ids))  # states (T+1, 1, S), gates {name: (T, 1, n)}

gated = {cell: tr for cell, tr in traces.items() if tr.gates}
with rplot.style("notebook"):
    fig, axes = plt.subplots(1, len(gated), figsize=(3.6 * len(gated), 3.6), layout="constrained", squeeze=False)
    for ax, (cell, tr) in zip(axes[0], gated.items(), strict=True):
        rplot.plot_saturation(probes.gate_saturation(tr, low=0.1, high=0.9), ax=ax)
        ax.set_title(cell)
    rplot.save(fig, f"{OUT}/lm_gate_saturation")

# %% [markdown]
# The gate activations over the first characters of the text, one row per gate unit:

# %%
first = next(iter(gated))
name = next(iter(gated[first].gates))
n_show = 80
with rplot.style("notebook"):
    fig, ax = plt.subplots(figsize=(14, 3.5), layout="constrained")
    rplot.plot_gate_activity(gated[first], name, steps=n_show, tick_labels=[repr(c)[1:-1] for c in text[:n_show]], ax=ax)
    ax.set_title(f"{first}: {name} gate while reading the test text")
    rplot.save(fig, f"{OUT}/lm_gate_activity")

# %% [markdown]
# ## Inside the models: state trajectories coloured by character class
# The states the model visits while reading, projected on their first two principal components, each
# point coloured by the class of the character just read. Structure by class shows what the state
# tracks (for instance, the position inside a word versus after a space or a line break).

# %%
classes = torch.tensor([CHARACTER_CLASSES.index(character_class(c)) for c in text]).view(-1, 1)  # (T, 1)
with rplot.style("notebook"):
    fig, axes = plt.subplots(1, len(traces), figsize=(3.6 * len(traces), 3.6), layout="constrained", squeeze=False)
    for ax, (cell, tr) in zip(axes[0], traces.items(), strict=True):
        rplot.plot_states_by_label(probes.trajectories(tr, n_components=2), classes,
                                   label_names=CHARACTER_CLASSES, ax=ax)
        ax.set_title(cell)
    axes[0, -1].legend(fontsize="small", markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    rplot.save(fig, f"{OUT}/lm_trajectories_by_character_class")

# %% [markdown]
# ## The paper preset: nine cells trained to their plateau, three comparisons, three seeds
# `rnnviz lm --preset paper` (about 1.5 hours on a 2-core CPU) trains nine cells with 64 numbers of
# state at **equal hidden size** (n = 64), **equal parameter count** (a GRU's at n = 64) and **equal
# state size** (64 numbers: n = 32 for the LSTM family, which carries [h; c]), three seeds each,
# every model until its validation bpc stops improving, at a learning rate per cell chosen by a pilot.
# Its results ship as `data/lm_paper.csv` and `data/lm_paper_curves.csv` (a local run in
# `out/lm_paper` is found too; `RNNVIZ_LM_RESULTS` points elsewhere). Test bpc is that of each model's
# best validation checkpoint.

# %%
from IPython.display import display

from rnnviz.study import find_lm_results, lm_differences, load_lm_results, summarize_lm

found = find_lm_results()
if found is None:
    print("No paper-preset results found: `rnnviz lm --preset paper --out out/lm_paper` makes them.")
else:
    paper, paper_curves = load_lm_results(found[0]), found[1]
    summary = summarize_lm(paper)
    print(f"{found[0]}: {paper['run_id'].nunique()} models in {len(paper)} rows, trained on "
          f"{', '.join(sorted(set(paper['device'])))}; stopped on a plateau: "
          f"{(paper.drop_duplicates('run_id')['stop_reason'] == 'plateau').sum()}")
    with rplot.style("notebook"):
        fig, axes = plt.subplots(1, 2 if paper_curves else 1, figsize=(15, 4.8), layout="constrained",
                                 squeeze=False, width_ratios=[3, 2] if paper_curves else None)
        rplot.plot_bpc_intervals(summary, ax=axes[0, 0])
        axes[0, 0].set_title("test bits per character, mean of 3 seeds with 95 % interval")
        if paper_curves:
            curves = pd.read_csv(paper_curves)
            first = paper[(paper["seed"] == 0) & (paper["comparison"] == "hidden_size")]["run_id"]
            rplot.plot_learning_curves(curves[curves["run_id"].isin(set(first))], ax=axes[0, 1])
            axes[0, 1].set_title("validation bpc during training (n = 64, seed 0)")
        rplot.save(fig, f"{OUT}/lm_paper_comparison")
    display(summary[["comparison", "cell", "hidden_size", "state_size", "n_parameters", "seeds", "test_bpc",
                     "ci_low", "ci_high"]].round(3))

# %% [markdown]
# Left: each cell's seed mean, one marker per comparison (the number above it is the hidden size n);
# whiskers: the 95 % Student-t interval over the three seeds (t with 2 degrees of freedom: wide). The
# unigram baseline (4.85 bpc) lies far above every model. Right: how each model's validation bpc fell during training
# (the kink is the tenfold learning-rate drop at the first plateau). The differences below are paired
# by seed (cell minus reference; negative means the cell predicts better).

# %%
if found is not None:
    differences = pd.concat([lm_differences(paper, reference=ref) for ref in ("gru", "lstm")], ignore_index=True)
    display(differences[["comparison", "cell", "reference", "difference", "ci_low", "ci_high", "p_value"]].round(3))

# %% [markdown]
# ## What to take from this
# - The models trained above (the `demo` preset: 400 steps) are far from converged; compare cells with
#   the shipped `paper` results, whose models all stopped on a plateau.
# - In those results (64 numbers of state, three seeds): PRU is as good as GRU and LSTM at equal
#   hidden size and the best cell at equal parameter count; IHC-LSTM beats the LSTM with fewer
#   parameters, IRC-GRU does not beat the GRU, IRC-SRU is worse than SRU; at equal *state* size the
#   single-vector cells beat the LSTM family. These are small models on one corpus: docs/lm.md says
#   what the data do and do not support.
# - At equal parameter count the cheaper cells (PRU, SRU, IRC variants) get more units than the LSTM.
# - The results table lives in `lm.csv`, the curves in `lm_curves.csv`, the weights in `checkpoints/`.

# %%
pd.read_csv(out / "lm.csv")[["run_id", "hidden_size", "n_parameters", "test_bpc", "device"]]
