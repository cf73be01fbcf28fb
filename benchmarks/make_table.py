"""Rewrite the Results section of benchmarks/README.md from the result files.

Reads ``bench_cells`` and ``bench_ensemble`` JSON files (default: benchmarks/results/*.json, without
``--quick`` runs) and replaces what lies between the two marker comments of the README with: the
device and versions, the targets of issue 3 (met / not met / not measured), one row per shape with
the speedups behind them, median ms [p20–p80] and peak MiB per contender and shape, and the ensemble
step. With no result files it writes the "not measured" tables.

    python benchmarks/make_table.py                      # benchmarks/results → benchmarks/README.md
    python benchmarks/make_table.py --results a.json b.json --readme /tmp/README.md --include-quick

Targets (issue 3): SRU family >= 2x the sru package (when the package was not run: the anchors of
shared/reference/performance.md, labelled as such); dense cells >= 10x the reference loop and no
slower than cuDNN GRU/LSTM at H <= 256; ensemble throughput >= 50x sequential cuDNN.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN = "<!-- results:begin"
END = "<!-- results:end -->"
BEGIN_LINE = "<!-- results:begin (written by benchmarks/make_table.py from benchmarks/results/*.json; edit the script, not this section) -->"
SHAPES = [(256, 32, 512), (1000, 128, 128), (100, 256, 32), (512, 64, 1024)]
SRU_FAMILY = ("sru", "sru_v1", "irc_sru", "trnn", "irc_trnn")
DENSE = ("pru", "gru", "irc_gru", "lstm", "irc_lstm", "ihc_lstm", "rnn", "fastgrnn")
# cuDNN module a dense cell is held against (the gated cells without a cuDNN twin: the GRU)
CUDNN_TWIN = {"gru": "gru", "irc_gru": "gru", "lstm": "lstm", "irc_lstm": "lstm", "ihc_lstm": "lstm",
              "pru": "gru", "rnn": "gru", "fastgrnn": "gru"}
# the reference SRU CUDA kernel, one H100, torch 2.11 (shared/reference/performance.md), ms
SRU_ANCHORS = {False: {(256, 32, 512): 1.65, (1000, 128, 128): 3.58, (100, 256, 32): 1.35, (512, 64, 1024): 14.5},
               True: {(256, 32, 512): 1.15, (1000, 128, 128): 2.97, (100, 256, 32): 0.91, (512, 64, 1024): 4.41}}
SEQUENTIAL_ANCHOR_MS = 504.0  # 256 GRUs one after another with cuDNN (performance.md)
TARGET_SRU, TARGET_LOOP, TARGET_CUDNN, TARGET_ENSEMBLE = 2.0, 10.0, 1.0, 50.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", nargs="*", default=None,
                   help="result files or folders (default: benchmarks/results)")
    p.add_argument("--readme", default=str(HERE / "README.md"))
    p.add_argument("--include-quick", action="store_true", help="also --quick runs (CPU smoke runs: numbers mean nothing)")
    p.add_argument("--print", action="store_true", help="print the section instead of writing the README")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------- loading
def load(paths, include_quick=False) -> list[tuple[Path, dict]]:
    """(path, payload) of every bench_cells / bench_ensemble file, oldest first."""
    files = []
    for p in paths:
        p = Path(p)
        files.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    out = []
    for f in files:
        try:
            payload = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            print(f"skipping {f}: {exc}", file=sys.stderr)
            continue
        if payload.get("benchmark") not in ("bench_cells", "bench_ensemble") or not isinstance(payload.get("results"), list):
            continue
        if payload.get("settings", {}).get("quick") and not include_quick:
            continue
        out.append((f, payload))
    return sorted(out, key=lambda fp: (fp[1].get("environment", {}).get("timestamp_utc", ""), fp[0].name))


def group_key(payload) -> tuple:
    env, s = payload.get("environment", {}), payload.get("settings", {})
    return (env.get("gpu") or env.get("device", "?"), s.get("dtype", "float32"), bool(s.get("tf32")),
            bool(s.get("quick")))


def merge_rows(payloads) -> list[dict]:
    """The rows of several files of one group; a later row replaces an earlier one of the same
    contender, shape and mode, unless the later was not timed and the earlier was."""
    merged: dict = {}
    for _, payload in payloads:
        for row in payload["results"]:
            key = (row.get("contender"), row.get("E"), row.get("T"), row.get("B"), row.get("H"), row.get("mode", "eager"))
            if key not in merged or "median_ms" in row or "median_ms" not in merged[key]:
                merged[key] = row
    return list(merged.values())


# ----------------------------------------------------------------------------------------- formatting
def ms(v) -> str:
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def times(v) -> str:
    return "–" if v is None else (f"{v:.0f}×" if v >= 100 else f"{v:.1f}×" if v >= 10 else f"{v:.2f}×")


def shape_text(shape) -> str:
    return ", ".join(str(v) for v in shape)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def cell_text(row) -> str:
    if row is None:
        return "–"
    if "median_ms" in row:
        text = f"{ms(row['median_ms'])} [{ms(row.get('p20_ms'))}–{ms(row.get('p80_ms'))}]"
        if row.get("peak_mib") is not None:
            text += f" ({row['peak_mib']:.0f} MiB)"
        return text
    if "skipped" in row:
        return "skipped"
    return "error"


def status(values, target) -> str:
    if not values:
        return "not measured"
    return "met" if min(values) >= target else "not met"


def environment_lines(payloads, tf32: bool, dtype: str) -> list[str]:
    """Device and versions of the newest file, and the files used."""
    newest = payloads[-1][1]
    env = newest.get("environment", {})
    prec = newest.get("precision") or env.get("precision") or {}
    detail = ", ".join(f"{k} = {prec[k]}" for k in ("cuda.matmul.fp32_precision", "cudnn.rnn.fp32_precision",
                                                     "rnnviz triton tl.dot precision") if isinstance(prec.get(k), str))
    lines = [f"- device: {env.get('gpu') or env.get('device')} (driver {env.get('driver') or '–'}); torch "
             f"{env.get('torch')}, triton {env.get('triton')}, CUDA {env.get('cuda') or '–'}, cuDNN "
             f"{env.get('cudnn') or '–'}",
             f"- numerics: {dtype}, TF32 {'on' if tf32 else 'off'} for every contender"
             + (f" ({detail}; set through the {prec.get('api')} API)" if detail else "")]
    files = [f"`{p.name}`" + ("" if pl.get("complete", True) else " (incomplete: "
                                + str(pl.get("interrupted", "stopped early")) + ")") for p, pl in payloads]
    lines.append(f"- files: {', '.join(files)} ({newest.get('environment', {}).get('timestamp_utc', '?')})")
    if any(pl.get("settings", {}).get("quick") for _, pl in payloads):
        lines.append("- **quick CPU smoke run (Triton interpreter): these numbers mean nothing**")
    return lines


# ----------------------------------------------------------------------------------------- cells
def persistent_limits(payloads) -> str:
    """'H ≤ 256' (or 'H ≤ 256 in …, H ≤ 128 in …'): the dispatch's persistent-kernel limit in each file
    (files from before the limit was recorded ran with 256)."""
    by_limit: dict = {}
    for path, pl in payloads:
        by_limit.setdefault(pl.get("settings", {}).get("max_persistent_hidden", 256), []).append(path.name)
    if len(by_limit) == 1:
        return f"H ≤ {next(iter(by_limit))}"
    return ", ".join(f"H ≤ {limit} in {', '.join(f'`{n}`' for n in names)}" for limit, names in by_limit.items())


def cells_section(payloads, tf32: bool) -> tuple[list[str], dict]:
    """Markdown lines for one group of bench_cells files, and the per-target measured ratios."""
    rows = merge_rows(payloads)
    shapes = []
    for _, pl in payloads:
        for s in pl.get("settings", {}).get("shapes", []):
            if tuple(s) not in shapes:
                shapes.append(tuple(s))
    for r in rows:
        s = (r.get("T"), r.get("B"), r.get("H"))
        if None not in s and s not in shapes:
            shapes.append(s)
    at = {}
    for r in rows:
        at.setdefault((r.get("T"), r.get("B"), r.get("H")), []).append(r)

    def timed(shape, pred):
        return [r for r in at.get(shape, []) if "median_ms" in r and pred(r)]

    def eager_triton(r, family):
        return (r.get("impl") == "rnnviz triton" and r.get("mode", "eager") == "eager" and not r.get("forced_path")
                and r.get("family") == family)

    ratios = {"sru": [], "loop": [], "cudnn": []}
    per_shape = []
    for shape in shapes:
        line = [shape_text(shape)]
        # SRU family vs the sru package (or the anchor)
        sru_rows = timed(shape, lambda r: eager_triton(r, "sru"))
        pkg = timed(shape, lambda r: r.get("impl") == "sru package" and r.get("mode", "eager") == "eager")
        ref_ms, ref_label = (pkg[0]["median_ms"], "vs the sru package") if pkg else (
            SRU_ANCHORS[tf32].get(shape), "vs the performance.md anchor (H100, package not run here)")
        if sru_rows and ref_ms:
            vals = {r["cell"]: ref_ms / r["median_ms"] for r in sru_rows}
            worst = min(vals, key=vals.get)
            ratios["sru"].append((vals[worst], shape, worst, ref_label))
            line.append(f"{times(vals[worst])} worst ({worst}); sru {times(vals.get('sru'))} — {ref_label} "
                        f"({ms(ref_ms)} ms)")
        else:
            line.append("not measured" if not sru_rows else "no reference (package not run; no anchor)")
        # dense vs the loop
        dense_rows = timed(shape, lambda r: eager_triton(r, "dense"))
        loops = {r["cell"]: r["median_ms"] for r in timed(
            shape, lambda r: r.get("impl") == "rnnviz reference" and r.get("mode", "eager") == "eager")}
        if dense_rows and loops:
            def loop_for(cell, loops=loops):  # a cell's own loop when timed, else the representative one
                return (cell, loops[cell]) if cell in loops else next(iter(loops.items()))

            vals = {r["cell"]: loop_for(r["cell"])[1] / r["median_ms"] for r in dense_rows}
            worst = min(vals, key=vals.get)
            ratios["loop"].append((vals[worst], shape, worst, f"vs the {loop_for(worst)[0]} loop"))
            line.append(f"{times(vals[worst])} worst ({worst}, vs the {loop_for(worst)[0]} loop); gru "
                        f"{times(vals.get('gru'))}")
        else:
            line.append("not measured")
        # dense vs cuDNN at H <= 256
        if shape[2] is not None and shape[2] > 256:
            line.append("– (H > 256)")
        else:
            cud = {r["cell"]: r["median_ms"] for r in timed(
                shape, lambda r: r.get("impl") in ("cuDNN", "torch.nn") and r.get("mode", "eager") == "eager")}
            vals = {r["cell"]: cud[CUDNN_TWIN.get(r["cell"], "gru")] / r["median_ms"] for r in dense_rows
                    if CUDNN_TWIN.get(r["cell"], "gru") in cud}
            if vals:
                worst = min(vals, key=vals.get)
                ratios["cudnn"].append((vals[worst], shape, worst, f"vs cuDNN {CUDNN_TWIN.get(worst, 'gru').upper()}"))
                line.append(f"{times(vals[worst])} worst ({worst} vs cuDNN {CUDNN_TWIN.get(worst, 'gru').upper()}); "
                            f"gru {times(vals.get('gru'))}, lstm {times(vals.get('lstm'))}")
            else:
                line.append("not measured")
        per_shape.append(line)

    out = ["Speedups behind the targets, per shape (time of the other ÷ time of rnnviz; > 1: rnnviz faster):", "",
           table(["(T, B, H)", "SRU family ÷ sru package (target ≥ 2×)", "dense cells ÷ reference loop (≥ 10×)",
                  "dense cells vs cuDNN at H ≤ 256 (≥ 1×)"], per_shape), ""]
    # per contender: median [p20–p80] (peak MiB) at every shape
    labels = []
    for r in rows:
        if r.get("contender") not in labels:
            labels.append(r.get("contender"))
    by = {(r.get("contender"), (r.get("T"), r.get("B"), r.get("H"))): r for r in rows}
    body = []
    for label in labels:
        mine = [r for r in rows if r.get("contender") == label]
        errs = [r["max_abs_err_vs_fp64"] for r in mine if r.get("max_abs_err_vs_fp64") is not None]
        firsts = [r.get("prewarm_first_call_ms") or r.get("first_call_ms") for r in mine]
        firsts = [v for v in firsts if v is not None]
        body.append([label, *[cell_text(by.get((label, s))) for s in shapes],
                     f"{max(errs):.1e}" if errs else "–", ms(max(firsts)) if firsts else "–"])
    out += ["Forward + backward of one layer (input size = H), median ms [p20–p80] (peak MiB beyond the inputs and "
            "weights, gradients included). Dense rnnviz rows run the path the dispatch picked "
            f"when they were measured (the persistent kernel for {persistent_limits(payloads)}, per-step above); \"forced\" rows the other one; \"[CUDA graph]\" rows replay a captured "
            "graph:", "",
            table(["contender", *[f"({shape_text(s)})" for s in shapes], "max \\|err\\| vs fp64",
                   "first call ms (max; incl. compile)"], body), ""]
    notes = {}
    for r in rows:
        if "median_ms" not in r and ("skipped" in r or "error" in r):
            notes.setdefault(f"{r.get('contender')}: " + (f"skipped: {r['skipped']}" if "skipped" in r
                                                         else f"error: {r['error']}"), []).append(
                shape_text((r.get("T"), r.get("B"), r.get("H"))))
    if notes:
        out += ["Not timed:", ""] + [f"- {k[:300]} (at {'; '.join(v)})" for k, v in notes.items()] + [""]
    return out, ratios


def cells_not_measured() -> list[str]:
    rows = [[shape_text(s), "not measured", "not measured", "– (H > 256)" if s[2] > 256 else "not measured"]
            for s in SHAPES]
    return ["Speedups behind the targets, per shape:", "",
            table(["(T, B, H)", "SRU family ÷ sru package (target ≥ 2×)", "dense cells ÷ reference loop (≥ 10×)",
                   "dense cells vs cuDNN at H ≤ 256 (≥ 1×)"], rows), ""]


# ----------------------------------------------------------------------------------------- ensemble
def ensemble_section(payloads) -> tuple[list[str], list]:
    lines, ratios = [], []
    for path, pl in payloads:
        s = pl.get("settings", {})
        rows = pl["results"]
        body = []
        for r in rows:
            if "median_ms" in r:
                body.append([r["contender"], f"{ms(r['median_ms'])} [{ms(r.get('p20_ms'))}–{ms(r.get('p80_ms'))}]",
                             ms(r.get("per_model_ms")), times(r.get("throughput_vs_sequential")),
                             "–" if r.get("peak_mib") is None else f"{r['peak_mib']:.0f}",
                             "–" if r.get("max_abs_err_vs_fp64") is None else f"{r['max_abs_err_vs_fp64']:.1e}"])
                if (r.get("impl") == "rnnviz triton" and r.get("mode", "eager") == "eager"
                        and r.get("throughput_vs_sequential")):  # the target: eager against eager
                    ratios.append((r["throughput_vs_sequential"], r["contender"]))
            else:
                body.append([r["contender"], "skipped" if "skipped" in r else "error", "–", "–", "–", "–"])
        graphs = {r.get("impl"): r["median_ms"] for r in rows if r.get("mode") == "cuda_graph" and "median_ms" in r}
        seq_graph = next((v for k, v in graphs.items() if k != "rnnviz triton"), None)
        if ratios and "rnnviz triton" in graphs and seq_graph:
            ratios[-1] = (ratios[-1][0], ratios[-1][1] + f"; both in CUDA graphs: {times(seq_graph / graphs['rnnviz triton'])}")
        lines += [f"E = {s.get('E')} {s.get('cell', 'gru').upper()}s of (T {s.get('T')}, B {s.get('B')}, H "
                  f"{s.get('H')}), one forward+backward+Adam step for all (`{path.name}`):", "",
                  table(["contender", "median ms (all E) [p20–p80]", "ms per model", "× sequential (eager)",
                         "peak MiB", "max \\|err\\| vs fp64"], body), ""]
    return lines, ratios


# ----------------------------------------------------------------------------------------- section
def build_section(files) -> str:
    cells = [(p, pl) for p, pl in files if pl["benchmark"] == "bench_cells"]
    ens = [(p, pl) for p, pl in files if pl["benchmark"] == "bench_ensemble"]
    out = []
    if not files:
        out += ["**GPU numbers are not yet measured.** The kernels were written and tested (for correctness, in "
                "Triton's CPU interpreter) in a session without a GPU. Run the scripts on a GPU and then "
                "`python benchmarks/make_table.py` to fill this section from their JSON files.", ""]
    all_ratios = {"sru": [], "loop": [], "cudnn": [], "ensemble": []}
    groups: dict = {}
    for p, pl in cells:
        groups.setdefault(group_key(pl), []).append((p, pl))
    cell_lines = []
    for key in sorted(groups, key=lambda k: (k[3], k[2], k[1] != "float32", k[0])):
        device, dtype, tf32, quick = key
        lines, ratios = cells_section(groups[key], tf32)
        cell_lines += [f"### Cells: {device}, {dtype}, TF32 {'on' if tf32 else 'off'}", "",
                       *environment_lines(groups[key], tf32, dtype), "", *lines]
        if not any(all_ratios[k] for k in ("sru", "loop", "cudnn")):  # the first group (fp32, TF32 off) sets targets
            for k in ("sru", "loop", "cudnn"):
                all_ratios[k] = ratios[k]
            all_ratios["quick"] = all_ratios.get("quick", False) or quick
    ens_lines = []
    if ens:
        egroups: dict = {}
        for p, pl in ens:
            egroups.setdefault(group_key(pl), []).append((p, pl))
        for key in sorted(egroups, key=lambda k: (k[3], k[2], k[0])):
            device, dtype, tf32, _ = key
            newest = egroups[key][-1:]
            lines, ratios = ensemble_section(newest)
            ens_lines += [f"### Ensemble: {device}, {dtype}, TF32 {'on' if tf32 else 'off'}", "",
                          *environment_lines(newest, tf32, dtype), "", *lines]
            if not all_ratios["ensemble"]:
                all_ratios["ensemble"] = ratios
                all_ratios["quick"] = all_ratios.get("quick", False) or key[3]
    out += ["### Targets (issue 3)", "", targets_table(all_ratios, bool(cells), bool(ens)), ""]
    if cell_lines:
        out += cell_lines
    else:
        out += ["### Cells", "", "Forward + backward of one layer: not measured.", "", *cells_not_measured()]
    if ens_lines:
        out += ens_lines
    else:
        out += ["### Ensemble", "", "E = 256 GRUs of (T 100, B 256, H 32), one forward+backward+Adam step for all: "
                "not measured.", ""]
    out += ["For orientation only (not our measurements; performance.md, one H100, fp32): the reference SRU CUDA "
            "kernel takes 1.65 / 3.58 / 1.35 / 14.5 ms at the four shapes; 256 GRUs one after another with cuDNN "
            f"take {SEQUENTIAL_ANCHOR_MS:.0f} ms.", ""]
    return "\n".join(out).rstrip() + "\n"


def targets_table(r: dict, have_cells: bool, have_ens: bool) -> str:
    def worst(items, what):
        if not items:
            return "not measured"
        v, shape, cell, ref = min(items, key=lambda t: t[0])
        met = sum(1 for t in items if t[0] >= what)
        return f"worst {times(v)} ({cell} at {shape_text(shape)}, {ref}); met at {met} of {len(items)} shapes"

    ens = (f"{times(max(v for v, _ in r['ensemble']))} ({max(r['ensemble'])[1]})" if r["ensemble"]
           else "not measured")
    rows = [
        ["SRU family ≥ 2× faster than the reference SRU CUDA kernel at every shape", worst(r["sru"], TARGET_SRU),
         status([t[0] for t in r["sru"]], TARGET_SRU) + (" (against anchors)" if any(
             "anchor" in t[3] for t in r["sru"]) else "")],
        ["dense cells ≥ 10× faster than the reference loop", worst(r["loop"], TARGET_LOOP),
         status([t[0] for t in r["loop"]], TARGET_LOOP)],
        ["dense cells no slower than cuDNN GRU/LSTM at H ≤ 256", worst(r["cudnn"], TARGET_CUDNN),
         status([t[0] for t in r["cudnn"]], TARGET_CUDNN)],
        ["ensemble throughput ≥ 50× sequential cuDNN at (100, 256, 32)", ens,
         status([max(v for v, _ in r["ensemble"])] if r["ensemble"] else [], TARGET_ENSEMBLE)],
        ["nothing of size T·B·H·(gates) kept beyond what backward needs",
         "peak MiB per contender in the tables below" if have_cells else "peak memory not measured",
         "by design (docs/kernels.md, \"Memory\")"],
    ]
    if r.get("quick"):
        for row in rows[:4]:
            row[2] += " (quick CPU smoke run: meaningless)"
    return table(["target", "measured", "status"], rows)


def rewrite(readme: Path, section: str) -> None:
    text = readme.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no '{BEGIN} …' / '{END}' markers around its Results section")
    text = text[:start] + BEGIN_LINE + "\n\n" + section + "\n" + text[end:]
    readme.write_text(text)


def main(argv=None) -> str:
    args = parse_args(argv)
    files = load(args.results if args.results else [HERE / "results"], include_quick=args.include_quick)
    section = build_section(files)
    if args.print:
        print(section)
    else:
        rewrite(Path(args.readme), section)
        print(f"rewrote the Results section of {args.readme} from {len(files)} file(s)")
    return section


if __name__ == "__main__":
    main()
