"""benchmarks/bench_presets.py: its --versions comparison of source trees (the numbers of a smoke
run mean nothing; what is checked is that every run, summary and agreement is recorded)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # the script imports its sibling _common
    try:
        spec = importlib.util.spec_from_file_location("bench_presets_under_test", ROOT / "benchmarks" / "bench_presets.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_versions_name_source_trees_with_a_package(tmp_path):
    bench = _bench()
    assert bench.parse_versions([f"a={ROOT}"]) == {"a": ROOT}
    with pytest.raises(SystemExit, match="NAME=TREE entries, got 'nothing'"):
        bench.parse_versions(["nothing"])
    with pytest.raises(SystemExit, match="holds no rnnviz package"):
        bench.parse_versions([f"x={tmp_path}"])


def test_versions_run_alternating_and_record_every_run(tmp_path, monkeypatch):
    bench = _bench()
    out = tmp_path / "presets.json"
    monkeypatch.setattr(sys, "argv", ["bench_presets.py", "--preset", "smoke", "--studies", "capacity",
                                      "--versions", f"one={ROOT}", f"two={ROOT}", "--rounds", "1", "--out", str(out)])
    bench.main()
    saved = json.loads(out.read_text())
    runs = saved["runs"]
    assert [r["version"] for r in runs] == ["one", "two"] and all(r["exit_status"] == 0 for r in runs)
    assert set(saved["summary"]["capacity"]) == {"one", "two"}
    agreement = saved["agreement"]["capacity: one vs two"]
    assert agreement["models_matched"] == 4 and agreement["max_abs_difference"] == 0.0
    assert saved["settings"]["versions"] == {"one": str(ROOT), "two": str(ROOT)} and saved["environment"]["torch"]
