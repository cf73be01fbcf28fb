"""User errors on the command line: each is answered in one line on stderr (``rnnviz COMMAND: ...``)
with exit status 2, no traceback, and before anything runs (no store, no training)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnviz.cli import main
from rnnviz.study import Store

NO_GPU = not torch.cuda.is_available()


def refused(argv, capsys, *needles) -> str:
    """Run ``rnnviz argv``; assert exit 2 and one line on stderr naming every needle; return the line."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"rnnviz {argv[0]}: ") and "Traceback" not in err + captured.out, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def capacity_args(out, *more):
    return ["capacity", "--preset", "smoke", "--out", str(out), "--quiet", "--workers", "1", *more]


BAD_VALUES = [
    ("--time-limit", "-1", "--time-limit must be a positive number of minutes, got -1.0"),
    ("--time-limit", "0", "--time-limit must be a positive number of minutes, got 0.0"),
    ("--time-limit", "nan", "--time-limit must be a positive number of minutes, got nan"),
    ("--time-limit", "inf", "--time-limit must be a positive number of minutes, got inf"),
    ("--threads", "0", "--threads must be an integer >= 1, got 0"),
    ("--device", "bogus", "--device: device must be 'auto' or a torch device"),
]


@pytest.mark.parametrize("command, option, value, needle", [
    *[("capacity", *case) for case in BAD_VALUES],
    ("capacity", "--workers", "0", "--workers must be an integer >= 1, got 0"),
    ("capacity", "--cells", "lstm", "--cells must be among the preset's ['gru', 'pru'] (its learning rates are "
                                    "chosen per cell), got ['lstm']"),
    ("capacity", "--hidden-sizes", "0", "--hidden-sizes 0: hidden_sizes[0] must be an integer >= 1, got 0"),
    ("capacity", "--doses", "2:5", "--doses 2:5: interfering[0]: interference must be 'blank' or 'random' under "
                                   "protocol 1, got 5"),
    ("capacity", "--doses", "8", "--doses takes L:R (delay L, R random symbols; or L:blank, L:random), got '8'"),
    ("capacity", "--doses", "8:many", "--doses takes L:R"),
    ("capacity", "--hard-limit", "0", "--hard-limit must be a positive number of minutes, got 0.0"),
    ("capacity", "--hard-limit", "nan", "--hard-limit must be a positive number of minutes, got nan"),
    ("capacity", "--targeted-bits", "3", "--targeted-bits 3: targeted_bits[0] must be a positive multiple of "
                                         "log2(alphabet) = 2 (alphabet=4), got 3.0"),
    ("capacity", "--targeted-bits", "-2", "--targeted-bits -2: targeted_bits[0] must be a finite number in (0, inf)"),
    ("capacity", "--steps", "0", "--steps 0: steps must be an integer >= 1, got 0"),
    ("capacity", "--protocol", "3", "--protocol 3 needs a preset of protocol 2 or 3 (doses of random symbols), "
                                    "and this preset is of protocol 1"),
    ("capacity", "--hold", "42", "--hold 42 needs a preset of protocol 2 or 3 (doses of random symbols at a delay "
                                 "the hold sets), and this preset is of protocol 1"),
    *[("lm", *case) for case in BAD_VALUES],
    *[("adding", *case) for case in BAD_VALUES],
    ("adding", "--workers", "0", "--workers must be an integer >= 1, got 0"),
])
def test_bad_option_values(command, option, value, needle, tmp_path, capsys):
    out = tmp_path / "out"
    refused([command, "--preset", "smoke", "--out", str(out), option, value], capsys, needle)
    assert not out.exists()  # refused before anything ran


@pytest.mark.parametrize("argv, line", [
    (["capacity", "--preset", "huge", "--out", "OUT"],
     "rnnviz capacity: argument --preset: invalid choice: 'huge' (choose from 'smoke', "),
    (["capacity", "--preset", "smoke"], "rnnviz capacity: the following arguments are required: --out; "
                                        "see 'rnnviz capacity --help'"),
    (["capacity", "--out", "OUT", "--hidden-sizes", "four"],
     "rnnviz capacity: argument --hidden-sizes: invalid int value: 'four'; see 'rnnviz capacity --help'"),
    (["capacity", "--out", "OUT", "--frobnicate", "3"],
     "rnnviz capacity: unrecognized arguments: --frobnicate 3; see 'rnnviz capacity --help'"),
    (["lm", "--out", "OUT", "--time-limit", "soon"], "rnnviz lm: argument --time-limit: invalid float value: 'soon'"),
    (["store", "export", "only.sqlite"], "rnnviz store export: the following arguments are required: CSV; "
                                         "see 'rnnviz store export --help'"),
    (["bogus"], "rnnviz: argument COMMAND: invalid choice: 'bogus' (choose from 'capacity', "),
    ([], "rnnviz: the following arguments are required: COMMAND; see 'rnnviz --help'"),
])
def test_usage_errors_are_one_line_too(argv, line, tmp_path, capsys):
    """What argparse finds (an unknown choice, option or command, a value of the wrong type, a missing
    argument) is answered like every user error: one line naming the (sub)command and where to look,
    exit status 2, not argparse's usage text."""
    out = tmp_path / "out"
    argv = [str(out) if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(line), captured.err
    assert "usage:" not in captured.err + captured.out and not out.exists()


def test_help_still_prints_the_usage_and_exits_0(capsys):
    with pytest.raises(SystemExit) as done:
        main(["capacity", "--help"])
    assert done.value.code == 0 and "usage: rnnviz capacity" in capsys.readouterr().out


def test_a_hard_limit_before_the_time_limit_or_on_a_cluster_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    refused(capacity_args(out, "--time-limit", "10", "--hard-limit", "5"), capsys,
            "--hard-limit must be at least --time-limit (10.0 minutes), got 5.0")
    refused(capacity_args(out, "--hard-limit", "5", "--scheduler", "tcp://127.0.0.1:1"), capsys,
            "--hard-limit with --scheduler needs --checkpoints DIR")
    (tmp_path / "a_file").write_text("x")
    refused(capacity_args(out, "--checkpoints", str(tmp_path / "a_file")), capsys,
            "--checkpoints must be a folder (or a path where one can be made)", "which is a file")
    assert not out.exists()


def test_a_protocol_the_presets_warm_start_cannot_train_is_refused(tmp_path, capsys, monkeypatch):
    """A warm start chains models of one shape over K, which protocol 3 (inputs that grow with K) lacks:
    the study's own check answers, in one line naming the option, before anything runs."""
    from dataclasses import replace

    from rnnviz.study import PRESETS

    monkeypatch.setitem(PRESETS, "warm", replace(PRESETS["paper"], warm_start=True))
    out = tmp_path / "out"
    refused(["capacity", "--preset", "warm", "--out", str(out), "--protocol", "3"], capsys,
            "--protocol 3: warm_start needs protocol=2", "got protocol=3")
    assert not out.exists()


def test_a_hold_too_short_for_the_presets_grid_is_refused(tmp_path, capsys):
    """paper's largest K (32 symbols) with its largest dose (8 random symbols) needs a hold of 42 steps."""
    out = tmp_path / "out"
    refused(["capacity", "--preset", "paper", "--out", str(out), "--hold", "41"], capsys,
            "--hold 41: hold=41 is too short for 32 targets with 8 random symbols", "at least 42 steps")
    refused(["capacity", "--preset", "paper", "--out", str(out), "--hold", "0"], capsys, "--hold 0: hold must be")
    assert not out.exists()


def test_targeted_bits_need_a_preset_given_in_bits(tmp_path, capsys):
    """The alphabet control gives its targeted amounts in symbols (K at several alphabets): a part in bits
    is refused, naming what it gives instead."""
    out = tmp_path / "out"
    refused(["capacity", "--preset", "alphabet", "--out", str(out), "--targeted-bits", "16"], capsys,
            "--targeted-bits needs a preset whose targeted amounts are given in bits", "n_targets [8, 16]")
    assert not out.exists()


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
@pytest.mark.parametrize("command", ["capacity", "lm", "adding"])
def test_cuda_without_a_gpu(command, tmp_path, capsys):
    refused([command, "--out", str(tmp_path / "out"), "--device", "cuda"], capsys,
            "device 'cuda' is not available", "use 'cpu' or 'auto'")


@pytest.mark.parametrize("command", ["capacity", "lm", "adding"])
def test_out_that_is_empty_a_file_or_cannot_be_written(command, tmp_path, capsys):
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    refused([command, "--out", ""], capsys, "--out must name a folder, got ''")
    refused([command, "--out", str(a_file)], capsys, f"--out {str(a_file)!r} is a file, not a folder")
    refused([command, "--out", str(a_file / "sub")], capsys, "cannot be written")
    assert a_file.read_text() == "not a folder"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        refused(capacity_args(locked), capsys, "cannot be written")
    finally:
        locked.chmod(0o700)


def test_unknown_cells_of_lm(tmp_path, capsys):
    refused(["lm", "--out", str(tmp_path / "out"), "--cells", "gru", "grux"], capsys,
            "--cells must name cells from", "'grux'")


def test_missing_dask_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # `import dask.distributed` now fails
    refused(capacity_args(tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1"), capsys,
            "needs dask.distributed", "pip install 'rnnviz[dist]'")
    assert not (tmp_path / "out" / "capacity.sqlite").exists()


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, needle", [
    ("nonsense://x", "unknown address scheme 'nonsense'"),
    ("tcp://127.0.0.1:{port}", "refused"),   # nothing listens there: answered at once, no dask client made
    ("127.0.0.1:{port}", "refused"),         # tcp is the default scheme
])
def test_a_scheduler_that_does_not_answer(address, needle, tmp_path, capsys):
    pytest.importorskip("distributed")
    address = address.format(port=_closed_port())
    refused(capacity_args(tmp_path / "out", "--scheduler", address), capsys,
            f"--scheduler: cannot connect to a Dask scheduler at {address!r}", needle)
    assert not (tmp_path / "out" / "capacity.sqlite").exists()  # nothing ran


def test_a_file_that_is_not_a_store(tmp_path, capsys):
    (tmp_path / "capacity.sqlite").write_bytes(b"hello, not a database" * 100)
    refused(capacity_args(tmp_path), capsys, "capacity.sqlite")


def test_two_sweeps_into_one_folder_do_not_both_train(tmp_path, capsys):
    """The store's lock: a second sweep on a folder in use fails at once and trains nothing."""
    with Store(tmp_path / "capacity.sqlite") as first:
        refused(capacity_args(tmp_path), capsys, "in use by another sweep")
        assert len(first) == 0


def test_the_installed_command_prints_no_traceback(tmp_path):
    """The real ``python -m rnnviz`` process: one line on stderr, exit 2."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "rnnviz", "capacity", "--out", str(tmp_path), "--time-limit", "nan"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "rnnviz capacity: --time-limit must be a positive number of minutes, got nan\n"


@pytest.mark.parametrize("argv, needle", [
    (["tour", "--size", "0"], "--size must be an integer >= 1, got 0"),
    (["tour", "--out", ""], "--out must name a folder, got ''"),
    (["notebooks", "--notebooks", "99"], "got unknown ['99']"),
    (["notebooks", "--timeout", "0"], "--timeout must be an integer >= 1, got 0"),
    (["notebooks", "--out", ""], "--out must name a folder, got ''"),
])
def test_tour_and_notebooks_refuse_bad_options_before_running(argv, needle, tmp_path, capsys):
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "out")]
    refused(argv, capsys, needle)
    assert not any(tmp_path.iterdir()) or not any((tmp_path / "out").iterdir())  # nothing executed or drawn


@pytest.mark.parametrize("variable, value, needle", [
    ("RNNVIZ_START_METHOD", "threads", "RNNVIZ_START_METHOD must be 'fork' or 'spawn', got 'threads'"),
    ("RNNVIZ_BACKEND", "nonsense", "RNNVIZ_BACKEND must be 'auto' or one of"),  # raised in a worker
])
def test_a_bad_environment_variable(variable, value, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(variable, value)
    refused(capacity_args(tmp_path / "out", "--workers", "2"), capsys, needle)


def test_a_reader_that_leaves_stops_the_command_quietly(tmp_path):
    """``rnnviz ... | head -1``: the command's output pipe closes early; it exits 141 (128 + SIGPIPE)
    with nothing on stderr, not a BrokenPipeError traceback."""
    command = [sys.executable, "-m", "rnnviz", "lm", "--preset", "paper", "--out", str(tmp_path / "lm"), "--plan"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # the reader leaves before the command writes (its imports take seconds)
        err = proc.stderr.read()
    assert proc.returncode == 141 and err == b"", err.decode()
