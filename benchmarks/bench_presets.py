"""End to end: the demo presets of both studies, before and after the CPU fast path, in one run.

"Before" is ``RNNVIZ_BACKEND=reference`` (what ``backend="auto"`` ran on a CPU before the fast path:
the Python reference loop); "after" is ``backend="auto"`` as shipped. Each run is the real command
(``rnnviz capacity --preset P`` and ``rnnviz lm --preset P``) in a fresh process on a fresh output
folder, one after the other on an otherwise idle machine, so the wall times include start-up,
data, training, evaluation and writing results; the figures are left out of the capacity command
(``--no-figures``; they do not depend on the backend). The JSON records the machine, the versions,
each run's wall time and how close the two runs' results are (the fast path computes the same
models up to float32 rounding, so accuracies agree closely but not bit for bit).

    PYTHONPATH=. python benchmarks/bench_presets.py                     # demo presets (~10 minutes)
    PYTHONPATH=. python benchmarks/bench_presets.py --preset smoke      # seconds: checks the script
    PYTHONPATH=. python benchmarks/bench_presets.py --studies capacity  # one study

``--versions NAME=TREE ...`` compares source trees instead (e.g. ``git worktree add /tmp/v01 d00c09d``,
then ``--versions 0.1=/tmp/v01 now=.``): each study runs with ``PYTHONPATH=TREE`` and backend "auto",
the versions alternating, ``--rounds`` times each, so that slow and quiet spells of a shared machine
fall on all of them alike; the file keeps every run and each version's median and minimum.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from _common import ResultFile, environment, markdown_table

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("capacity", "lm")


def command(study: str, preset: str, out: Path) -> list[str]:
    base = [sys.executable, "-m", "rnnviz", study, "--preset", preset, "--out", str(out), "--quiet"]
    return base + (["--no-figures"] if study == "capacity" else [])


def results_of(study: str, out: Path) -> pd.DataFrame:
    if study == "capacity":
        return pd.read_csv(out / "capacity.csv")
    return pd.read_csv(out / "lm.csv")


def agreement(study: str, before: pd.DataFrame, after: pd.DataFrame) -> dict:
    """How far apart the two runs' results are (matched by model)."""
    key, value = ("key", "accuracy") if study == "capacity" else ("run_id", "test_bpc")
    both = before[[key, value]].merge(after[[key, value]], on=key, suffixes=("_before", "_after"))
    diff = (both[f"{value}_before"] - both[f"{value}_after"]).abs()
    return {"metric": value, "models_matched": len(both), "max_abs_difference": float(diff.max()),
            "mean_abs_difference": float(diff.mean()), f"mean_{value}_before": float(both[f"{value}_before"].mean()),
            f"mean_{value}_after": float(both[f"{value}_after"].mean())}


def run(study: str, preset: str, backend: str, workdir: Path, tree: Path = ROOT, label: str | None = None) -> dict:
    label = label or backend
    out = workdir / f"{study}-{label}"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    env.pop("RNNVIZ_BACKEND", None)
    if backend == "reference":
        env["RNNVIZ_BACKEND"] = "reference"
    t0 = time.perf_counter()
    done = subprocess.run(command(study, preset, out), cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    row = {"study": study, "preset": preset, "backend": backend, "version": label, "tree": str(tree),
           "wall_seconds": round(seconds, 2), "exit_status": done.returncode, "load_average_after": os.getloadavg()[0]}
    if done.returncode != 0:
        row["error"] = (done.stdout + done.stderr)[-2000:]
    else:
        row["models"] = len(results_of(study, out))
    print(f"{study:8s} {preset:6s} {label:9s} {seconds:8.1f} s  exit {done.returncode}", flush=True)
    return row


def parse_versions(items: list[str]) -> dict[str, Path]:
    """``["0.1=/tmp/v01", "now=."]`` → ``{"0.1": Path("/tmp/v01"), "now": Path(".")}`` (each a source tree
    holding an ``rnnviz`` package)."""
    versions = {}
    for item in items:
        name, sep, tree = item.partition("=")
        if not sep or not name or not tree:
            raise SystemExit(f"bench_presets: --versions takes NAME=TREE entries, got {item!r}")
        path = Path(tree).resolve()
        if not (path / "rnnviz" / "__init__.py").is_file():
            raise SystemExit(f"bench_presets: --versions {item!r}: {path} holds no rnnviz package")
        versions[name] = path
    return versions


def compare_versions(args, payload: dict, result: ResultFile, workdir: Path) -> None:
    """Each study under every version (backend auto), alternating, ``args.rounds`` rounds."""
    versions = parse_versions(args.versions)
    payload["settings"].update({"versions": {k: str(v) for k, v in versions.items()}, "rounds": args.rounds,
                                "before": None, "after": None})
    payload["summary"] = {}
    for study in args.studies:
        for _ in range(args.rounds):
            for name, tree in versions.items():
                payload["runs"].append(run(study, args.preset, "auto", workdir, tree, name))
                result.save()
        names = list(versions)
        ok = {n: [r["wall_seconds"] for r in payload["runs"]
                  if r["study"] == study and r["version"] == n and r["exit_status"] == 0] for n in names}
        payload["summary"][study] = {n: {"median_s": statistics.median(w), "min_s": min(w), "runs": w}
                                     for n, w in ok.items() if w}
        last = names[-1]
        for n in names[:-1]:
            if ok[n] and ok[last]:
                payload["speedup"][f"{study}: {n} ÷ {last} (medians)"] = (
                    statistics.median(ok[n]) / statistics.median(ok[last]))
                payload["agreement"][f"{study}: {n} vs {last}"] = agreement(
                    study, results_of(study, workdir / f"{study}-{n}"), results_of(study, workdir / f"{study}-{last}"))
        result.save()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="demo", help="preset of both studies (default: demo)")
    p.add_argument("--studies", nargs="+", default=list(STUDIES), choices=STUDIES)
    p.add_argument("--versions", nargs="+", default=None, metavar="NAME=TREE",
                   help="compare source trees (backend auto) instead of reference vs auto")
    p.add_argument("--rounds", type=int, default=2, help="with --versions: runs of each version (default 2)")
    p.add_argument("--out", default=None, help="result file (default: benchmarks/results/presets-…json)")
    args = p.parse_args()
    payload = {"benchmark": "presets", "environment": environment(torch.device("cpu")),
               "settings": {"preset": args.preset, "studies": args.studies, "quick": args.preset == "smoke",
                            "before": "RNNVIZ_BACKEND=reference", "after": "backend auto (as shipped)",
                            "load_average_at_start": os.getloadavg()},
               "runs": [], "agreement": {}, "speedup": {}}
    result = ResultFile("presets", payload, args.out)
    with tempfile.TemporaryDirectory(prefix="rnnviz-presets-") as tmp:
        workdir = Path(tmp)
        if args.versions:
            compare_versions(args, payload, result, workdir)
        else:
            for study in args.studies:
                rows = {b: run(study, args.preset, b, workdir) for b in ("reference", "auto")}
                payload["runs"] += list(rows.values())
                if all(r["exit_status"] == 0 for r in rows.values()):
                    payload["agreement"][study] = agreement(study, results_of(study, workdir / f"{study}-reference"),
                                                            results_of(study, workdir / f"{study}-auto"))
                    payload["speedup"][study] = rows["reference"]["wall_seconds"] / rows["auto"]["wall_seconds"]
                result.save()
    path = result.save()
    print(markdown_table(payload["runs"], [("study", "study"), ("preset", "preset"), ("version", "version"),
                                           ("wall_seconds", "wall s"), ("models", "models")]))
    print(json.dumps({"speedup": payload["speedup"], "agreement": payload["agreement"]}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
