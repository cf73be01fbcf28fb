"""Finding and reading results the notebooks draw: capacity sweeps and benchmark files.

- :func:`find_capacity_results` / :func:`load_capacity_results`: per-model rows of a capacity sweep
  (``capacity.csv`` or the ``capacity.sqlite`` store written by ``rnnviz capacity``).
- :func:`find_lm_results` / :func:`load_lm_results`: a language-model study's per-model rows and
  learning curves (``lm.csv`` and ``lm_curves.csv`` written by ``rnnviz lm``, or the shipped
  ``data/lm_paper.csv`` and ``data/lm_paper_curves.csv``).
- :func:`published_capacity_rows`: a sweep's rows in the columns of a published table.
- :func:`load_benchmarks`: the JSON files written by ``benchmarks/bench_*.py`` as one table.

Nothing here runs code from the files it reads (CSV, JSON, and SQLite stores opened read-only and
checked before use: no view or trigger of theirs ever runs, and every query has a deadline).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

#: Where :func:`find_capacity_results` looks, relative to the repository root, best first: results
#: shipped with the repository, then the outputs of ``rnnviz capacity --preset paper|demo``.
CAPACITY_CANDIDATES = (
    "data/capacity_paper.csv",  # shipped: the paper preset's results (the CPU study, once run)
    "out/capacity/capacity.csv",  # written by `make demo` (rnnviz capacity --preset demo --out out/capacity)
    "data/capacity_demo.csv",  # shipped: the demo preset's results (run on a 2-core CPU)
)


def repository_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current folder) holding pyproject.toml;
    ``start`` itself when there is none (e.g. an installed package run elsewhere)."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "pyproject.toml").exists():
            return folder
    return start.resolve()


def find_capacity_results(root: str | Path | None = None, environ=None) -> Path | None:
    """The capacity results to draw: ``$RNNVIZ_CAPACITY_RESULTS`` when set (a CSV, a ``.sqlite``
    store, or a folder holding ``capacity.csv``), else the first of :data:`CAPACITY_CANDIDATES`
    that exists under ``root`` (default: :func:`repository_root`). None when there are none."""
    environ = os.environ if environ is None else environ
    given = environ.get("RNNVIZ_CAPACITY_RESULTS")
    if given:
        path = Path(given)
        if path.is_dir():
            path = path / "capacity.csv"
        if not path.exists():
            raise FileNotFoundError(f"RNNVIZ_CAPACITY_RESULTS points to {given!r}, which holds no results "
                                    f"(expected a capacity.csv, a .sqlite store or a folder with capacity.csv)")
        return path
    root = repository_root() if root is None else Path(root)
    for rel in CAPACITY_CANDIDATES:
        if (root / rel).exists():
            return root / rel
    return None


def load_capacity_results(path: str | Path, *, query_timeout: float | None = None) -> pd.DataFrame:
    """Per-model rows of a capacity sweep from a ``capacity.csv`` or a ``capacity.sqlite`` store.

    A store is opened read-only and checked first (see :class:`rnnviz.study.Store`): the file is
    never changed, a store of rnnviz 0.1.x comes back in today's columns, and a file that is not an
    rnnviz store raises :class:`rnnviz.study.StoreError`. ``query_timeout``: seconds any one query
    may run (default :data:`rnnviz.study._store.QUERY_TIMEOUT`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path {str(path)!r} does not exist")
    if path.suffix == ".csv":
        rows = pd.read_csv(path)
    elif path.suffix in (".sqlite", ".db"):
        from ._store import QUERY_TIMEOUT, Store

        timeout = QUERY_TIMEOUT if query_timeout is None else query_timeout
        with Store(path, read_only=True, query_timeout=timeout) as store:
            rows = store.frame()
    else:
        raise ValueError(f"path must be a .csv or .sqlite file, got {str(path)!r}")
    if "state_size" in rows and "hidden_size" not in rows:  # a CSV written before 0.2.0
        rows = rows.rename(columns={"state_size": "hidden_size"})
    missing = {"cell", "hidden_size", "interference", "targeted_bits", "accuracy", "recalled_bits"} - set(rows)
    if missing:
        raise ValueError(f"{path} is not a capacity table: columns {sorted(missing)} are missing")
    return rows


#: The columns of a published capacity table (``data/capacity_paper.csv``, ``rnnviz store export``), in
#: order: the model's configuration, its scores, how it stopped, its cost and provenance. ``train_steps``
#: is the rows' ``steps`` (the training steps the model used); the per-position lists, ``versions`` and
#: ``config`` stay in the store (each row's ``key`` finds its model there).
PUBLISHED_CAPACITY_COLUMNS = (
    "key", "cell", "hidden_size", "n_layers", "alphabet", "n_targets", "n_interfering", "n_random", "interference",
    "targeted_bits", "interfering_bits", "seed", "protocol", "accuracy", "loss", "recalled_bits",
    "recalled_bits_plugin", "recalled_bits_total_clamp", "recalled_bits_ce_bound", "mi_correction", "reached_target",
    "stop_reason", "train_steps", "n_parameters", "n_parameters_total", "train_seconds", "group_seconds", "group_size",
    "device", "warm_from", "finished_at",
)


def published_capacity_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (a sweep's per-model rows) in the columns of :data:`PUBLISHED_CAPACITY_COLUMNS`, sorted by
    cell (in the order they first appear), hidden size, targeted bits, interfering bits and seed; a
    column the rows do not have (a store written before it existed) is left out."""
    table = rows.rename(columns={"steps": "train_steps"})
    order = {cell: i for i, cell in enumerate(dict.fromkeys(table["cell"]))}
    table = table.sort_values(["cell", "hidden_size", "targeted_bits", "interfering_bits", "seed"],
                              key=lambda c: c.map(order) if c.name == "cell" else c, kind="stable")
    return table[[c for c in PUBLISHED_CAPACITY_COLUMNS if c in table.columns]].reset_index(drop=True)


#: Where :func:`find_lm_results` looks, relative to the repository root: (results, curves) pairs,
#: best first: the paper preset's results shipped with the repository, then a local paper run.
LM_CANDIDATES = (
    ("data/lm_paper.csv", "data/lm_paper_curves.csv"),  # shipped: `rnnviz lm --preset paper` on a 2-core CPU
    ("out/lm_paper/lm.csv", "out/lm_paper/lm_curves.csv"),  # a local run of the paper preset
)
LM_COLUMNS = {"run_id", "cell", "comparison", "hidden_size", "n_parameters", "test_bpc", "train_seconds", "device"}


def find_lm_results(root: str | Path | None = None, environ=None) -> tuple[Path, Path | None] | None:
    """The language-model results to draw as ``(results_csv, curves_csv or None)``:
    ``$RNNVIZ_LM_RESULTS`` when set (a folder written by ``rnnviz lm``, or an ``lm.csv``), else the
    first of :data:`LM_CANDIDATES` whose results exist under ``root``. None when there are none."""
    environ = os.environ if environ is None else environ
    given = environ.get("RNNVIZ_LM_RESULTS")
    if given:
        path = Path(given)
        path = path / "lm.csv" if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"RNNVIZ_LM_RESULTS points to {given!r}, which holds no lm.csv")
        curves = path.with_name(path.stem + "_curves.csv")
        return path, curves if curves.is_file() else None
    root = repository_root() if root is None else Path(root)
    for results, curves in LM_CANDIDATES:
        if (root / results).is_file():
            return root / results, root / curves if (root / curves).is_file() else None
    return None


def load_lm_results(path: str | Path) -> pd.DataFrame:
    """Per-model rows of a language-model study (``lm.csv``), checked for the columns the plots need."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a file")
    rows = pd.read_csv(path)
    missing = LM_COLUMNS - set(rows)
    if missing:
        raise ValueError(f"{path} is not a language-model table: columns {sorted(missing)} are missing")
    return rows


def _payloads(paths):
    """(path, parsed JSON) for a folder (its *.json), one file, or a list of files."""
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        paths = sorted(p.glob("*.json")) if p.is_dir() else [p]
    return [(Path(path), json.loads(Path(path).read_text())) for path in paths]


def load_benchmarks(paths) -> pd.DataFrame:
    """One row per timed contender from benchmark JSON files (a folder, a glob result or a list).

    Columns: ``benchmark``, ``file``, ``device`` (the GPU name, or "cpu"), ``quick`` (a CPU smoke
    run whose numbers mean nothing), ``torch``, ``triton``, ``tf32``, then every field of the result
    row (``contender``, ``T``, ``B``, ``H``, ``median_ms``, ``p20_ms``, ``p80_ms``, ``peak_mib``, …).
    Skipped contenders keep their ``skipped`` reason and no time. Files whose ``results`` is not a
    list of rows (the fixed-point benchmark) are left out: see :func:`load_fixed_point_benchmarks`.
    """
    records = []
    for path, payload in _payloads(paths):
        if not isinstance(payload.get("results"), list):
            continue  # not a timing table (e.g. the fixed-point benchmark: load_fixed_point_benchmarks)
        env = payload.get("environment", {})
        settings = payload.get("settings", {})
        meta = {"benchmark": payload.get("benchmark", Path(path).stem), "file": Path(path).name,
                "device": env.get("gpu") or env.get("device", "?"), "quick": bool(settings.get("quick", False)),
                "torch": env.get("torch"), "triton": env.get("triton"), "tf32": settings.get("tf32")}
        for row in payload.get("results", []):
            records.append({**meta, **row})
    return pd.DataFrame.from_records(records)


def load_fixed_point_benchmarks(paths) -> pd.DataFrame:
    """One row per (network, method) from ``benchmarks/bench_fixed_points.py`` JSON files.

    Columns: ``file``, ``device``, ``quick``, ``network``, ``hidden_size``, ``method``, then the method's
    fields (``seconds``, ``iterations``, ``n_converged``, ``n_unique``, ``n_stable``,
    ``speedup_vs_usual``, ``speedup_vs_host_adam``, …; files of the first version of the script have
    ``speedup_vs_baseline`` instead).
    Other benchmark files are left out.
    """
    records = []
    for path, payload in _payloads(paths):
        if payload.get("benchmark") != "fixed_points" or not isinstance(payload.get("results"), dict):
            continue
        meta = {"file": path.name, "device": payload.get("device", "?"), "quick": bool(payload.get("quick", False))}
        for network, result in payload["results"].items():
            for method, fields in result.get("methods", {}).items():
                records.append({**meta, "network": network, "hidden_size": result.get("hidden_size"),
                                "method": method, **fields})
    return pd.DataFrame.from_records(records)
