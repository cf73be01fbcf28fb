"""Capacity at equal parameter count: each input-residual (IRC) or input-highway (IHC) cell against the
gated cell it simplifies, compared where both have the same number of learned parameters.

At equal hidden size n the IRC/IHC cells carry an n × m input map that their baselines do not, so from
n = 8 up they have more parameters (with the capacity task's m = A + 3 inputs: IRC-GRU 424 vs GRU 408
at n = 8, 21,312 vs 14,016 at n = 64). Comparing at equal n therefore favours them; this module
compares at equal parameters instead.

For a variant v (``irc_gru``) and its baseline b (``gru``), one setting (interference dose, protocol,
alphabet) and one seed s, let C_s(P) be the seed's capacity (:func:`rnnviz.study.seed_capacity`) at
the parameter count P of each hidden size (the rows' ``n_parameters``: input map and cell, without the
readout). Between the variant's neighbouring sizes P_j < P < P_{j+1} it is interpolated linearly in
log2 P::

    C^v_s(P) = C^v_s(P_j) + (C^v_s(P_{j+1}) − C^v_s(P_j)) · (log2 P − log2 P_j) / (log2 P_{j+1} − log2 P_j)

At every baseline size n whose count P_b(n) lies inside the variant's measured range (nothing is
extrapolated) the difference d_s = C^v_s(P_b(n)) − C^b_s(n) is paired by seed and summarized by
:func:`rnnviz._stats.paired_difference`: the mean with its Student-t interval and the paired t test's
p. Seeds are independent trainings of each cell; pairing them by seed number is the convention of the
language-model study's differences (``lm_differences``), not a shared random source.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import cells as _cells
from .._stats import mean_ci, paired_difference
from ._effects import seed_capacity, with_parameter_counts

#: The prefixes of the simplified cells; ``irc_gru`` simplifies ``gru``.
VARIANT_PREFIXES = ("irc_", "ihc_")
COLUMNS = ("cell", "baseline", "baseline_hidden_size", "n_parameters", "alphabet", "setting", "interfering_bits",
           "baseline_capacity", "cell_capacity", "difference", "ci_low", "ci_high", "p_value", "n_seeds")


def baseline_of(cell: str) -> str | None:
    """The gated cell an IRC/IHC cell simplifies (``"irc_gru"`` → ``"gru"``); None for any other cell."""
    for prefix in VARIANT_PREFIXES:
        if cell.startswith(prefix) and cell[len(prefix):] in _cells.names():
            return cell[len(prefix):]
    return None


def interpolate_log(p_known, c_known, p_at) -> float:
    """C at parameter count ``p_at`` from the points (``p_known``, ``c_known``), linear in log2 P between
    the neighbouring known counts; NaN outside [min p_known, max p_known] or where a neighbour is NaN."""
    p = np.asarray(p_known, dtype=float)
    c = np.asarray(c_known, dtype=float)
    order = np.argsort(p)
    p, c = p[order], c[order]
    if not (len(p) and p[0] <= p_at <= p[-1]):
        return math.nan
    return float(np.interp(math.log2(p_at), np.log2(p), c))


def equal_parameter_capacity(rows: pd.DataFrame, measure: str = "recalled_bits",
                             confidence: float = 0.95) -> pd.DataFrame:
    """Each IRC/IHC cell in ``rows`` against its baseline (when ``rows`` holds both) at the baseline's
    parameter counts (see the module docstring).

    Returns:
        One row per (cell, baseline hidden size, setting) where the comparison is inside the variant's
        measured range: cell, baseline, baseline_hidden_size, n_parameters (the baseline's P_b(n)),
        alphabet (NaN when the rows have no such column), setting (the interference label), interfering_bits, baseline_capacity and cell_capacity (seed
        means; the cell's interpolated), difference (cell − baseline, mean over seeds), ci_low,
        ci_high (its ``confidence`` interval), p_value (paired t test), n_seeds. Empty (with these
        columns) when ``rows`` holds no variant with its baseline.
    """
    if "n_parameters" not in rows.columns:
        raise ValueError(f"rows is missing the column 'n_parameters'; it has {list(rows.columns)}")
    seeds = with_parameter_counts(seed_capacity(rows, measure), rows)
    setting = [c for c in seeds.columns if c not in ("cell", "hidden_size", "seed", "capacity",
                                                       "targeted_bits_at_capacity", "n_targeted", "n_parameters")]
    present = set(seeds["cell"])
    out = []
    for cell in sorted(present):
        base = baseline_of(cell)
        if base is None or base not in present:
            continue
        for key, part in seeds[seeds["cell"].isin([cell, base])].groupby(setting, sort=True, dropna=False):
            labels = dict(zip(setting, key if isinstance(key, tuple) else (key,), strict=True))
            mine, theirs = part[part["cell"] == cell], part[part["cell"] == base]
            for n, at in theirs.groupby("hidden_size", sort=True):
                p_at = float(at["n_parameters"].iloc[0])
                pairs = []
                for seed, b in zip(at["seed"], at["capacity"], strict=True):
                    curve = mine[mine["seed"] == seed]
                    pairs.append((interpolate_log(curve["n_parameters"], curve["capacity"], p_at), float(b)))
                v, b = np.array(pairs).T
                if not np.isfinite(v).any():
                    continue  # outside the variant's range for every seed: nothing is extrapolated
                diff = paired_difference(v, b, confidence)
                out.append({"cell": cell, "baseline": base, "baseline_hidden_size": int(n), "n_parameters": int(p_at),
                            "alphabet": labels.get("alphabet", math.nan), "setting": labels.get("interference", ""), "interfering_bits": labels["interfering_bits"],
                            "baseline_capacity": mean_ci(b)["mean"], "cell_capacity": mean_ci(v)["mean"],
                            "difference": diff["mean"], "ci_low": diff["ci_low"], "ci_high": diff["ci_high"],
                            "p_value": diff["p_value"], "n_seeds": diff["n_seeds"]})
    return pd.DataFrame(out, columns=list(COLUMNS))
