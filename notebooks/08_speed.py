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
# # 8. Speed
#
# rnnviz's Triton kernels run every cell on the GPU (`backend="triton"`, or `"auto"`). The scripts in
# `benchmarks/` time them against cuDNN, the reference loop and the `sru` package, and write one
# JSON file per run to `benchmarks/results/` (`benchmarks/README.md` explains the method: CUDA
# events, medians with 20/80 % quantiles, first call separate, TF32 flags recorded).
# This notebook reads those files, and runs a short benchmark itself when a GPU is present.

# %% tags=["parameters"]
from rnnviz.notebook import by_mode, figures_dir, run_mode

MODE = run_mode()  # smoke (RNNVIZ_SMOKE=1: seconds, CI) | demo (default: minutes on a laptop) | full (RNNVIZ_MODE)
OUT = figures_dir()  # where the figures are saved: RNNVIZ_OUT, else out/figures of the repository

# %%
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from rnnviz import plot as rplot
from rnnviz.study import load_benchmarks, load_fixed_point_benchmarks, repository_root

RESULTS = repository_root() / "benchmarks" / "results"
results = load_benchmarks(RESULTS) if RESULTS.exists() else None
results = None if results is None or results.empty else results
gpu_rows = None if results is None else results[~results["quick"] & (results["device"] != "cpu")]
if gpu_rows is None or gpu_rows.empty:
    print("No GPU benchmark results exist yet: benchmarks/results/ holds no GPU run of the cell kernels. "
          "The kernels are tested for correctness on the CPU (Triton's interpreter), but their speed on a "
          "GPU has not been measured.")
else:
    print(f"{gpu_rows['file'].nunique()} GPU result file(s) on {', '.join(gpu_rows['device'].unique())}")

# %% [markdown]
# ## The recorded GPU results
#
# One table per benchmark file: forward + backward of one layer, median milliseconds and peak memory.

# %%
if gpu_rows is not None and not gpu_rows.empty:
    for name, rows in gpu_rows.groupby("file"):
        print(name, "|", rows["device"].iloc[0], "| torch", rows["torch"].iloc[0], "| triton", rows["triton"].iloc[0])
        timed = rows.dropna(subset=["median_ms"])
        if {"T", "B", "H"} <= set(timed.columns):
            with rplot.saved_figure(f"{OUT}/08_{Path(name).stem}", figsize=(10, 4.5)) as ax:
                rplot.plot_benchmarks(timed, ax=ax)
                ax.set_title(f"{rows['benchmark'].iloc[0]} on {rows['device'].iloc[0]}")
            plt.show()
        display(timed.drop(columns=["file", "quick"]).round(3))
else:
    print("nothing to draw: run `python benchmarks/bench_cells.py` on a GPU machine to fill benchmarks/results/")

# %% [markdown]
# ## The fixed-point search
#
# `benchmarks/bench_fixed_points.py` times `rnnviz.probes.fixed_points` against a plain
# FixedPointFinder-style loop (Adam, one host sync per iteration) on trained flip-flop networks. Its
# files say on which device they ran: a CPU run shows the algorithmic gain, not GPU speed.

# %%
fixed = load_fixed_point_benchmarks(RESULTS) if RESULTS.exists() else None
if fixed is not None and not fixed.empty:
    columns = ["file", "device", "network", "method", "seconds", "iterations", "n_converged", "n_unique", "n_stable",
               "speedup_vs_usual", "speedup_vs_host_adam"]
    display(fixed[[c for c in columns if c in fixed.columns]].round(3))
else:
    print("no fixed-point benchmark files")

# %% [markdown]
# ## CPU smoke runs of the cell benchmarks
#
# Files from `--quick` runs prove the scripts work on a CPU with Triton's interpreter. **Their numbers
# mean nothing** (the interpreter executes kernels in Python); they are listed only so you can see
# what a result file holds.

# %%
quick = None if results is None else results[results["quick"]]
if quick is not None and not quick.empty:
    display(quick[["file", "contender", "T", "B", "H", "median_ms"]].head(12))
else:
    print("no --quick result files either")

# %% [markdown]
# ## A live run
#
# With a CUDA GPU this cell times the GRU, the SRU and cuDNN at one shape (`full` mode: the four
# standard shapes) and draws the result. Without one it says so and does nothing.

# %%
if torch.cuda.is_available():
    live = Path(OUT) / "08_live_bench_cells.json"
    ROOT = repository_root()
    shapes = by_mode(MODE, "100,32,64", "256,32,512;100,256,32", "256,32,512;1000,128,128;100,256,32;512,64,1024")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_cells.py"), "--cells", "sru,gru,lstm",
                    "--shapes", shapes, "--no-reference", "--out", str(live)], check=True)
    timed = load_benchmarks([live]).dropna(subset=["median_ms"])
    with rplot.saved_figure(f"{OUT}/08_live", figsize=(10, 4.5)) as ax:
        rplot.plot_benchmarks(timed, ax=ax)
        ax.set_title(f"live run on {timed['device'].iloc[0]}")
    plt.show()
else:
    print("No CUDA GPU here: no live run. On a GPU machine this cell runs benchmarks/bench_cells.py.")

# %% [markdown]
# **Questions to try.** At which hidden size does the persistent kernel stop beating the step-wise
# one (`MAX_PERSISTENT_HIDDEN` in `rnnviz/cells/_triton.py`)? How does TF32 (`--tf32 1`) change
# cuDNN's numbers, and the error against float64?
