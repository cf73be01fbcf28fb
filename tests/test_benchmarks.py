"""The benchmark scripts run end to end on a CPU (Triton interpreter), and make_table.py turns their
result files (or none) into the README's Results section. Numbers of --quick runs mean nothing; what
is checked is that every field a GPU run must record is there."""

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from kernel_support import needs_triton

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
# the quick runs use Triton's CPU interpreter, which must be chosen before triton is first imported
# (tests/conftest.py does so without CUDA); on a GPU machine, gpu_session.sh runs the real benchmarks
needs_interpreter = pytest.mark.skipif(
    torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1",
    reason="CPU smoke runs need TRITON_INTERPRET=1 (set by conftest.py only without CUDA)")
TIMING_FIELDS = ("median_ms", "p20_ms", "p80_ms", "min_ms", "max_ms", "n_runs", "first_call_ms", "peak_mib",
                 "elapsed_s")


def _module(name):
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)  # inserts benchmarks/ into sys.path to import _common
    finally:
        sys.path[:] = saved
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """bench_cells --quick (one prewarm worker) and bench_ensemble --quick --with-reference, once."""
    out = tmp_path_factory.mktemp("bench")
    bench_cells, bench_ensemble = _module("bench_cells"), _module("bench_ensemble")
    with sys.modules["_common"].restored_precision():  # the scripts set torch's TF32 settings process-wide
        cells = bench_cells.main(["--quick", "--device", "cpu", "--prewarm", "0", "--out", str(out / "cells.json")])
        ensemble = bench_ensemble.main(["--quick", "--device", "cpu", "--with-reference", "--out",
                                        str(out / "ensemble.json")])
    return out, cells, ensemble


def _check_environment(payload):
    env = payload["environment"]
    for key in ("device", "torch", "triton", "cuda", "cudnn", "python", "timestamp_utc"):
        assert key in env
    prec = payload["precision"]
    assert prec["requested_tf32"] is False and prec["rnnviz triton tl.dot precision"] == "ieee"
    assert payload["settings"]["quick"] is True and payload["settings"]["tf32"] is False
    assert payload["settings"]["timing"]["min_reps"] >= 1 and payload["complete"] is True


@needs_triton  # the smoke runs check the Triton contenders
@needs_interpreter
def test_bench_cells_quick_records_every_field(runs):
    out, payload, _ = runs
    assert json.loads((out / "cells.json").read_text()) == json.loads(json.dumps(payload, default=str))
    _check_environment(payload)
    rows = payload["results"]
    shapes = {(r["T"], r["B"], r["H"]) for r in rows}
    assert shapes == {(2, 2, 8), (1, 3, 4)}
    labels = {r["contender"] for r in rows}
    assert {"rnnviz sru triton", "rnnviz gru triton", "rnnviz gru triton (stepwise, forced)",
            "rnnviz gru reference loop", "torch.nn LSTM", "torch.nn GRU", "sru package"} <= labels
    for r in rows:
        if r["contender"] == "sru package":
            assert r["skipped"]  # not installed here: a reason, no time
            continue
        assert "error" not in r and "skipped" not in r, r
        for key in TIMING_FIELDS:
            assert key in r, (r["contender"], key)
        assert r["p20_ms"] <= r["median_ms"] <= r["p80_ms"] and r["n_runs"] == 2 and r["mode"] == "eager"
        assert r["max_abs_err_vs_fp64"] < 1e-5  # every contender is checked against float64, cuDNN included
    assert payload["prewarm"] == {"workers": 0} and payload["sru_package"]["ok"] is False


@needs_triton  # the smoke runs check the Triton contenders
@needs_interpreter
def test_bench_cells_prewarm_worker(tmp_path):
    """The prewarm worker process runs each Triton contender once and reports its first call."""
    bench_cells = _module("bench_cells")
    with sys.modules["_common"].restored_precision():
        payload = bench_cells.main(["--quick", "--device", "cpu", "--prewarm", "1", "--cells", "sru", "--shapes", "1,3,4",
                                    "--no-reference", "--no-sru-package", "--out", str(tmp_path / "c.json")])
    assert payload["prewarm"]["done"] == payload["prewarm"]["contenders"] == 1
    (row,) = [r for r in payload["results"] if r["impl"] == "rnnviz triton"]
    assert row["prewarm_first_call_ms"] > 0 and row["prewarm_first_of_variant"] is True


@needs_triton  # the smoke runs check the Triton contenders
@needs_interpreter
def test_bench_ensemble_quick_records_every_field(runs):
    out, _, payload = runs
    _check_environment(payload)
    rows = {r["impl"]: r for r in payload["results"]}
    assert set(rows) == {"rnnviz triton", "rnnviz reference", "torch.nn"}
    for r in rows.values():
        for key in TIMING_FIELDS:
            assert key in r, (r["contender"], key)
        assert r["throughput_vs_sequential"] > 0 and r["per_model_ms"] == pytest.approx(r["median_ms"] / 2)
    assert rows["torch.nn"]["throughput_vs_sequential"] == 1.0
    assert rows["rnnviz triton"]["max_abs_err_vs_fp64"] < 1e-5
    assert rows["rnnviz triton"]["loss"] == pytest.approx(rows["rnnviz triton"]["loss_fp64"], rel=1e-5)


def _section(readme: Path) -> str:
    text = readme.read_text()
    return text[text.index("<!-- results:begin"): text.index("<!-- results:end -->")]


@needs_triton  # the smoke runs check the Triton contenders
@needs_interpreter
def test_make_table_from_quick_runs_and_from_nothing(runs, tmp_path):
    out, _, _ = runs
    make_table = _module("make_table")
    readme = tmp_path / "README.md"
    shutil.copy(BENCH / "README.md", readme)
    before = readme.read_text()
    make_table.main(["--results", str(out / "cells.json"), str(out / "ensemble.json"), "--readme", str(readme),
                     "--include-quick"])
    text = readme.read_text()
    assert text[: text.index("<!-- results:begin")] == before[: before.index("<!-- results:begin")]
    section = _section(readme)
    assert "| 2, 2, 8 |" in section and "| 1, 3, 4 |" in section  # a row per shape
    assert "quick CPU smoke run" in section and "rnnviz gru ensemble (triton)" in section
    assert "(2, 2, 8)" in section and "torch.nn GRU" in section
    # without --include-quick the quick files are left out: the "not measured" tables
    make_table.main(["--results", str(out), "--readme", str(readme)])
    section = _section(readme)
    assert "not yet measured" in section
    for shape in ("256, 32, 512", "1000, 128, 128", "100, 256, 32", "512, 64, 1024"):
        assert f"| {shape} | not measured |" in section
    targets = section[section.index("### Targets"): section.index("### Cells")]
    assert targets.count("| not measured | not measured |") == 4  # the four measured targets


def _row(contender, impl, cell, family, shape, ms, **extra):
    T, B, H = shape
    return {"contender": contender, "impl": impl, "cell": cell, "family": family, "T": T, "B": B, "H": H,
            "mode": "eager", "forced_path": False, "median_ms": ms, "p20_ms": ms * 0.9, "p80_ms": ms * 1.1,
            "n_runs": 10, "peak_mib": 12.0, "max_abs_err_vs_fp64": 1e-7, **extra}


def test_make_table_targets_from_gpu_like_files(tmp_path):
    """The target logic on made-up GPU files: package vs anchor, loop, cuDNN at H <= 256, ensemble."""
    make_table = _module("make_table")
    env = {"device": "cuda", "gpu": "NVIDIA H100 80GB HBM3", "torch": "2.11.0", "triton": "3.6.0", "cuda": "13.0",
           "cudnn": 91000, "driver": "580", "timestamp_utc": "2026-01-01T00:00:00+00:00"}
    small, large = (100, 256, 32), (256, 32, 512)
    rows = []
    for shape, sru_ms in ((small, 0.5), (large, 1.0)):
        rows += [_row(f"rnnviz {c} triton", "rnnviz triton", c, "sru", shape, sru_ms) for c in ("sru", "trnn")]
        rows += [_row("rnnviz gru triton", "rnnviz triton", "gru", "dense", shape, 1.0),
                 _row("rnnviz lstm triton", "rnnviz triton", "lstm", "dense", shape, 2.0),
                 _row("cuDNN GRU", "cuDNN", "gru", "baseline", shape, 1.5),
                 _row("cuDNN LSTM", "cuDNN", "lstm", "baseline", shape, 1.5),
                 _row("rnnviz gru reference loop", "rnnviz reference", "gru", "dense", shape, 40.0)]
    rows.append(_row("sru package", "sru package", "sru", "baseline", small, 1.35))
    rows.append({"contender": "sru package", "T": 256, "B": 32, "H": 512, "skipped": "did not build"})
    rows.append({**_row("rnnviz sru triton [CUDA graph]", "rnnviz triton", "sru", "sru", small, 0.3),
                 "mode": "cuda_graph"})
    cells = {"benchmark": "bench_cells", "complete": True, "environment": env,
             "settings": {"quick": False, "dtype": "float32", "tf32": False, "shapes": [list(small), list(large)]},
             "precision": {"api": "new (fp32_precision)", "cuda.matmul.fp32_precision": "ieee"}, "results": rows}
    ens = {"benchmark": "bench_ensemble", "complete": False, "interrupted": "signal 15 (time limit)", "environment": env,
           "settings": {"quick": False, "dtype": "float32", "tf32": False, "E": 256, "T": 100, "B": 256, "H": 32,
                        "cell": "gru"},
           "results": [{**_row("rnnviz gru ensemble (triton)", "rnnviz triton", "gru", None, small, 8.0),
                        "throughput_vs_sequential": 63.0, "per_model_ms": 8.0 / 256},
                       {**_row("cuDNN GRU one after another", "cuDNN", "gru", None, small, 504.0),
                        "throughput_vs_sequential": 1.0, "per_model_ms": 504.0 / 256},
                       {**_row("rnnviz gru ensemble (triton) [CUDA graph]", "rnnviz triton", "gru", None, small, 4.0),
                        "mode": "cuda_graph", "throughput_vs_sequential": 126.0},
                       {**_row("cuDNN GRU one after another [CUDA graph]", "cuDNN", "gru", None, small, 200.0),
                        "mode": "cuda_graph", "throughput_vs_sequential": 2.52}]}
    (tmp_path / "bench_cells-gpu.json").write_text(json.dumps(cells))
    (tmp_path / "bench_ensemble-gpu.json").write_text(json.dumps(ens))
    (tmp_path / "fixed_points_cuda.json").write_text(json.dumps({"benchmark": "fixed_points", "results": {}}))
    section = make_table.main(["--results", str(tmp_path), "--print"])
    targets = section[section.index("### Targets"): section.index("### Cells")]
    lines = {line.split(" | ")[0]: line for line in targets.splitlines() if line.startswith("| ")}
    sru = lines["| SRU family ≥ 2× faster than the reference SRU CUDA kernel at every shape"]
    # small: 1.35 / 0.5 = 2.7× vs the package; large: anchor 1.65 / 1.0 = 1.65× → not met, against an anchor
    assert "worst 1.65× (sru at 256, 32, 512" in sru and "not met (against anchors)" in sru
    loop = lines["| dense cells ≥ 10× faster than the reference loop"]
    assert "worst 20.0× (lstm" in loop and "| met |" in loop
    cudnn = lines["| dense cells no slower than cuDNN GRU/LSTM at H ≤ 256"]
    assert "worst 0.75× (lstm at 100, 256, 32" in cudnn and "not met" in cudnn  # H = 512 is not held to it
    ens_line = lines["| ensemble throughput ≥ 50× sequential cuDNN at (100, 256, 32)"]
    assert "63.0× (rnnviz gru ensemble (triton); both in CUDA graphs: 50.0×) | met |" in ens_line  # eager vs eager
    assert "| 100, 256, 32 | 2.70× worst (sru); sru 2.70× — vs the sru package" in section
    assert "| 256, 32, 512 | 1.65× worst (sru); sru 1.65× — vs the performance.md anchor" in section
    assert "– (H > 256)" in section and "rnnviz sru triton [CUDA graph]" in section
    assert "NVIDIA H100 80GB HBM3" in section and "incomplete: signal 15" in section
    assert "sru package: skipped: did not build (at 256, 32, 512)" in section


def test_sru_package_weights_map_onto_an_rnnviz_sru():
    """rnnviz_sru_from_package on a stand-in with the package's layout, against the package's own
    recurrence (sru/ops.py, elementwise_recurrence_naive), written out here."""
    bench_cells = _module("bench_cells")
    T, B, n = 4, 3, 5
    for m, v1, k in ((6, False, 4), (5, True, 3), (5, False, 3)):
        torch.manual_seed(0)
        layer = SimpleNamespace(hidden_size=n, num_matrices=k, weight=torch.randn(m, n * k), weight_c=torch.randn(2 * n),
                                bias=torch.randn(2 * n), v1=v1, has_skip_term=True, rescale=True, highway_bias=-1.0,
                                bidirectional=False, projection_size=0, layer_norm=None, activation_type=0,
                                custom_m=None)
        if v1:
            layer.weight_c = torch.zeros(2 * n)
        x = torch.randn(T, B, m, dtype=torch.float64)
        U = (x @ layer.weight.double()).view(T, B, n, k)
        vf, vr = layer.weight_c.double().view(2, n)
        bf, br = layer.bias.double().view(2, n)
        c = torch.zeros(B, n, dtype=torch.float64)
        hs = []
        for t in range(T):
            f = torch.sigmoid(U[t, :, :, 1] + bf + c * vf)
            r = torch.sigmoid(U[t, :, :, 2] + br + c * vr)
            c = U[t, :, :, 0] + (c - U[t, :, :, 0]) * f
            # m != n: the fourth block is the highway input; m = n: x scaled by √(1 + 2 e^{highway bias})
            x_prime = U[t, :, :, 3] if k == 4 else x[t] * (1 + 2 * torch.tensor(-1.0).exp()).sqrt()
            hs.append((c - x_prime) * r + x_prime)
        ref = bench_cells.rnnviz_sru_from_package(SimpleNamespace(rnn_lst=[layer]))
        with torch.no_grad():
            y, s = ref(x, backend="reference")
        torch.testing.assert_close(y, torch.stack(hs))
        torch.testing.assert_close(s, c)


def test_prewarm_plan_keeps_kernel_sharing_cells_together():
    bench_cells = _module("bench_cells")
    args = bench_cells.parse_args(["--quick"])
    args.no_sru_package = True
    contenders = bench_cells.all_contenders([(2, 2, 8), (1, 3, 4)], torch.device("cpu"), torch.float32, args,
                                            ("sru", "irc_sru", "gru", "irc_gru", "lstm"), {})
    items = [(i, c) for i, c in enumerate(contenders) if c.triton]
    plan = bench_cells.prewarm_plan(items, 3)
    assert sorted(i for part in plan for i in part) == [i for i, _ in items]
    where = {i: w for w, part in enumerate(plan) for i in part}
    by_label = {(c.label, c.meta["H"]): i for i, c in items}
    for H in (8, 4):
        assert where[by_label[("rnnviz sru triton", H)]] == where[by_label[("rnnviz irc_sru triton", H)]]
        assert where[by_label[("rnnviz gru triton", H)]] == where[by_label[("rnnviz irc_gru triton", H)]]


def test_gpu_session_script_parses_and_refuses_an_unknown_phase():
    """gpu_session.sh is bash that only runs on a lent GPU: check its syntax, and that a wrong phase is
    refused at once (the CPU dry run, RNNVIZ_GPU_DRY_RUN=1, takes minutes and is run by hand)."""
    import subprocess

    script = ROOT / "benchmarks" / "gpu_session.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    done = subprocess.run(["bash", str(script), "nonsense"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "unknown phase nonsense" in done.stdout + done.stderr


def test_gpu_step_profile_quick_records_where_a_step_goes(tmp_path):
    """benchmarks/gpu_step_profile.py --quick (tiny groups on the CPU): per group the sampler's and the
    step's time and a profiler table, written after every group (the GPU session's `profile` phase)."""
    profile = _module("gpu_step_profile")
    out = tmp_path / "profile.json"
    assert profile.main(["--quick", "--device", "cpu", "--groups", "sru:256:256", "gru:256:256",
                         "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "gpu_step_profile" and payload["settings"]["quick"] is True
    assert [g["group"] for g in payload["groups"]] == ["sru:256:256", "gru:256:256"]
    for g in payload["groups"]:
        assert g["models"] == 2 and g["sampler_ms"] > 0 and len(g["group_seconds"]) == 2
        assert all(seconds > 0 for seconds in g["group_seconds"].values())
        # six steps of a tiny group: the step time is measured, or said to be lost in the noise, never negative
        assert (g["step_ms"] is None and "noise" in g["note"]) or g["step_ms"] > 0
        assert "Self CPU" in g["profile"]
    with pytest.raises(SystemExit, match="cell:hidden_size:bits"):
        profile.main(["--quick", "--device", "cpu", "--groups", "sru-256", "--out", str(out)])
    with pytest.raises(SystemExit, match="is 0 groups, expected one"):
        profile.main(["--quick", "--device", "cpu", "--groups", "sru:3:256", "--out", str(out)])


def test_in_kernel_products_quick_times_both_ways_and_agrees(tmp_path):
    """benchmarks/in_kernel_products.py --quick: each shape both ways (per-step BLAS, in-kernel BLAS),
    what products_in_kernel picks, the two ways' numbers agreeing to float32 rounding; the kernels'
    threshold is restored afterwards."""
    from rnnviz.kernels.cpu import _dense

    bench = _module("in_kernel_products")
    default = _dense.MAX_IN_KERNEL_MATRIX
    out = tmp_path / "ikp.json"
    assert bench.main(["--quick", "--threads", "1", "--out", str(out)]) == 0
    assert _dense.MAX_IN_KERNEL_MATRIX == default
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "in_kernel_products" and payload["settings"]["quick"] is True
    assert [r["kind"] for r in payload["rows"]] == ["gru", "lstm", "pru"]
    for r in payload["rows"]:
        assert r["per_step_ms"] > 0 and r["in_kernel_ms"] > 0 and r["taken_in_kernel"] is True
        assert r["max_abs_output_difference"] < 1e-5 and r["max_rel_weight_gradient_difference"] < 1e-5


def test_recurrence_breakdown_times_the_products_apart_from_the_rest(tmp_path):
    """benchmarks/recurrence_breakdown.py at a tiny size on the per-step path (n = 64: products above the
    in-kernel threshold): each kind's parts, positive, and the rest what the products leave of the total."""
    bench = _module("recurrence_breakdown")
    out = tmp_path / "rb.json"
    assert bench.main(["--models", "1", "--hidden", "64", "--batch", "64", "--steps", "3", "--kinds", "gru", "lstm",
                       "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "recurrence_breakdown" and payload["settings"]["hidden"] == 64
    assert [r["kind"] for r in payload["rows"]] == ["gru", "lstm"]
    for r in payload["rows"]:
        assert r["per_step_path"] is True and r["forward_ms"] > 0 and r["products_forward_ms"] > 0
        assert r["rest_ms"] == pytest.approx(r["forward_backward_ms"] - r["products_forward_ms"]
                                             - r["products_backward_ms"], abs=0.21)
