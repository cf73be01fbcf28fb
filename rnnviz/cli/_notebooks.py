"""``rnnviz notebooks``: execute the notebook suite and render it: figures, executed notebooks and HTML
pages in one folder.

Run from the repository root::

    rnnviz notebooks --out out/notebooks                 # demo mode: minutes on a laptop CPU
    rnnviz notebooks --out out/notebooks --mode smoke    # seconds per notebook (what CI runs)
    rnnviz notebooks --out out/notebooks --images docs/images   # also refresh the README's and docs' key figures

Writes ``OUT/NN_name.ipynb`` (executed), ``OUT/NN_name.html`` (nbconvert), ``OUT/figures/*.png|pdf``
(every figure the notebooks save through ``rnnviz.plot.save``) and ``OUT/index.html``. Each notebook
runs in its own kernel with ``RNNVIZ_MODE`` (``smoke``/``demo``/``full``; ``RNNVIZ_SMOKE=1`` for
smoke), ``RNNVIZ_OUT=OUT/figures`` and, with ``--capacity``, ``RNNVIZ_CAPACITY_RESULTS``. A failing
notebook is still rendered (up to the failing cell) and makes the command exit with status 1.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..notebook import MODES
from ..study import repository_root
from ._options import OptionError, output_folder, positive_int

#: Figures copied to ``--images`` (the README's and docs' pictures): saved name → name in the images
#: folder. The curriculum, long-training and pilot figures are drawn from the shipped results in data/ (the same in every
#: mode); docs/capacity.md shows them. The heatmap is drawn from whatever capacity results notebook 3
#: finds (the paper study's when shipped); the README shows the demo study's, so it is copied only when
#: the run names its results (``--capacity``, see :data:`NAMED_RESULTS_FIGURES`).
KEY_FIGURES = {
    "02_gru_phase_plane.png": "phase_plane.png",
    "07_flipflop_fixed_points.png": "flipflop_fixed_points.png",
    "03_capacity_heatmap.png": "capacity_heatmap.png",
    "03_capacity_curriculum.png": "capacity_curriculum.png",
    "03_capacity_combined.png": "capacity_combined.png",
    "03_capacity_cosine_n4.png": "capacity_cosine_n4.png",
    "03_capacity_cosine_by_n.png": "capacity_cosine_by_n.png",
    "03_capacity_weights_cues_n4.png": "capacity_weights_cues_n4.png",
    "03_capacity_hold.png": "capacity_hold.png",
    "03_capacity_hold_delay.png": "capacity_hold_delay.png",
    "03_capacity_hold_sizes.png": "capacity_hold_sizes.png",
    "03_capacity_hold_positions.png": "capacity_hold_positions.png",
    "03_capacity_hold_by_n.png": "capacity_hold_by_n.png",
}

#: Key figures drawn from the capacity results notebook 3 is given: copied to ``--images`` only when
#: the run names those results (``rnnviz notebooks --capacity data/capacity_demo.csv --images ...``;
#: ``make demo`` names its own), never from whatever the notebook found by itself.
NAMED_RESULTS_FIGURES = frozenset({"03_capacity_heatmap.png"})


@dataclass
class NotebookRun:
    """The outcome of one notebook: where its renderings went, how long it took, its error if any."""

    name: str
    seconds: float
    notebook: Path
    html: Path
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def list_notebooks(folder: str | Path, names: Sequence[str] | None = None) -> list[Path]:
    """The suite's notebooks in ``folder`` (``NN_name.ipynb``, sorted), or those whose stem or
    number prefix is in ``names`` (e.g. ``["03", "07_fixed_points"]``)."""
    folder = Path(folder)
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"folder {str(folder)!r} holds no NN_name.ipynb notebooks")
    if names is None:
        return found
    chosen = [p for p in found if p.stem in names or p.stem[:2] in names]
    unknown = set(names) - {p.stem for p in chosen} - {p.stem[:2] for p in chosen}
    if unknown:
        raise ValueError(f"notebooks must name notebooks in {folder} ({[p.stem for p in found]}), "
                         f"got unknown {sorted(unknown)}")
    return chosen


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by the kernels started inside) and restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def suite_environment(out: Path, mode: str, capacity: str | Path | None = None,
                      root: Path | None = None) -> dict[str, str]:
    """The variables the notebooks read: run mode, figure folder, capacity results, and a PYTHONPATH
    that finds this checkout's ``rnnviz`` even when it is not installed."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    root = repository_root(Path(__file__).parent) if root is None else root
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env = {"RNNVIZ_MODE": mode, "RNNVIZ_SMOKE": "1" if mode == "smoke" else "0",
           "RNNVIZ_OUT": str((out / "figures").resolve()), "PYTHONPATH": path}
    if capacity is not None:
        env["RNNVIZ_CAPACITY_RESULTS"] = str(Path(capacity).resolve())
    return env


def kernel_config(folder: str | Path):
    """Traitlets config of a kernel that runs a notebook: on POSIX it talks to this process over local
    IPC sockets (``folder/kernel-<port>``, an absolute path, since the kernel runs in the notebook's
    folder) rather than TCP on localhost, so nothing is exposed to the network and ipykernel has no
    reason to warn that the TCP link is unencrypted. Elsewhere (no IPC transport on Windows) the
    default stays."""
    from traitlets.config import Config

    config = Config()
    if os.name == "posix":
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(folder).resolve() / "kernel")
    return config


def execute_notebook(path: Path, out: Path, *, timeout: int = 1800) -> NotebookRun:
    """Execute ``path`` in a fresh ``python3`` kernel (working folder: the notebook's own), then write
    the executed notebook and its HTML rendering to ``out``. Errors are recorded, not raised."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    error = None
    with tempfile.TemporaryDirectory(prefix="rnnviz-kernel-") as sockets:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", config=kernel_config(sockets),
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError) as exc:
            error = str(exc)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    executed = out / path.name
    nbformat.write(nb, executed)
    body, _ = HTMLExporter().from_notebook_node(nb)
    page = out / f"{path.stem}.html"
    page.write_text(body, encoding="utf-8")
    return NotebookRun(name=path.stem, seconds=seconds, notebook=executed, html=page, error=error)


def copy_key_figures(figures: Path, images: Path, key_figures: dict[str, str] | None = None, *,
                     named_results: bool = False) -> list[Path]:
    """Copy the key figures that exist in ``figures`` to ``images`` under their README names; those of
    :data:`NAMED_RESULTS_FIGURES` only with ``named_results`` (the run was given its capacity results)."""
    key_figures = KEY_FIGURES if key_figures is None else key_figures
    images.mkdir(parents=True, exist_ok=True)
    copied = []
    for source, target in key_figures.items():
        if source in NAMED_RESULTS_FIGURES and not named_results:
            continue
        if (figures / source).exists():
            copied.append(Path(shutil.copyfile(figures / source, images / target)))
    return copied


def write_index(out: Path, runs: Sequence[NotebookRun], mode: str) -> Path:
    """``out/index.html``: one line per notebook with its status and time, linking its page."""
    items = "\n".join(
        f'<li><a href="{html.escape(r.html.name)}">{html.escape(r.name)}</a> — '
        f'{"ok" if r.ok else "<b>failed</b>"}, {r.seconds:.0f} s</li>' for r in runs)
    figures = sorted((out / "figures").glob("*.png")) if (out / "figures").exists() else []
    pictures = "\n".join(f'<li><a href="figures/{html.escape(p.name)}">{html.escape(p.name)}</a></li>'
                         for p in figures)
    page = out / "index.html"
    page.write_text(f"<!doctype html><meta charset='utf-8'><title>rnnviz notebooks</title>"
                    f"<h1>rnnviz notebooks ({html.escape(mode)} mode)</h1><ul>{items}</ul>"
                    f"<h2>Figures</h2><ul>{pictures}</ul>\n", encoding="utf-8")
    return page


def run_suite(out: str | Path = "out/notebooks", *, mode: str = "demo", notebooks: Sequence[str] | None = None,
              folder: str | Path | None = None, images: str | Path | None = None,
              capacity: str | Path | None = None, timeout: int = 1800, progress: bool = True) -> list[NotebookRun]:
    """Execute the suite's notebooks in ``mode`` and render them into ``out`` (see the module doc).

    Args:
        out: output folder (created).
        mode: ``"smoke"``, ``"demo"`` or ``"full"``.
        notebooks: stems or number prefixes to run (default: all).
        folder: where the notebooks are (default: ``notebooks/`` of this checkout).
        images: copy :data:`KEY_FIGURES` there after the run (e.g. ``docs/images``; the capacity heatmap
            only with ``capacity``).
        capacity: capacity results for notebook 3 (``RNNVIZ_CAPACITY_RESULTS``).
        timeout: seconds allowed per cell.

    Returns:
        One :class:`NotebookRun` per notebook.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    root = repository_root(Path(__file__).parent)
    folder = root / "notebooks" if folder is None else Path(folder)
    paths = list_notebooks(folder, notebooks)
    runs = []
    with _environment(suite_environment(out, mode, capacity, root)):
        bar = tqdm(paths, desc=f"notebooks ({mode})", disable=not progress)
        for path in bar:
            bar.set_postfix_str(path.stem)
            runs.append(execute_notebook(path, out, timeout=timeout))
    write_index(out, runs, mode)
    if images is not None:
        copy_key_figures(out / "figures", Path(images), named_results=capacity is not None)
    return runs


def register(subparsers) -> None:
    """Hook for :mod:`rnnviz.cli`: adds ``rnnviz notebooks``."""
    parser = subparsers.add_parser("notebooks", help="execute and render the notebook suite",
                                   description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--out", default="out/notebooks", help="output folder (default: out/notebooks)")
    parser.add_argument("--mode", default="demo", choices=MODES, help="run mode of the notebooks (default: demo)")
    parser.add_argument("--notebooks", nargs="*", default=None, help="run only these (stems or NN prefixes)")
    parser.add_argument("--images", default=None, help="copy the key figures here (e.g. docs/images)")
    parser.add_argument("--capacity", default=None,
                        help="capacity results for notebook 3: capacity.csv, capacity.sqlite or their folder")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default: 1800)")
    parser.set_defaults(func=run)


def run(args) -> int:
    args.out = output_folder(args.out)
    positive_int("--timeout", args.timeout)
    try:
        list_notebooks(repository_root(Path(__file__).parent) / "notebooks", args.notebooks)
    except (ValueError, FileNotFoundError) as err:
        raise OptionError(f"--notebooks: {err}") from None
    runs = run_suite(args.out, mode=args.mode, notebooks=args.notebooks, images=args.images,
                     capacity=args.capacity, timeout=args.timeout)
    for r in runs:
        status = "ok" if r.ok else "FAILED"
        print(f"{r.name:24s} {status:6s} {r.seconds:7.1f} s  {r.html}")
    failed = [r for r in runs if not r.ok]
    for r in failed:
        print(f"\n--- {r.name} failed ---\n{r.error}", file=sys.stderr)
    print(f"index: {Path(args.out) / 'index.html'}")
    return 1 if failed else 0

