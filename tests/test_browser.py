"""The notebooks in a real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright.

Opens ``notebooks/02_cells.ipynb`` (a copy, in a temporary folder) in JupyterLab, runs every cell in
smoke mode, checks that no cell shows an error, then moves the cell explorer's "recurrent weight
scale" slider with the keyboard and checks that the phase-plane figure is redrawn. Screenshots go
to ``tmp_path`` and, when ``RNNVIZ_BROWSER_SCREENSHOTS`` is set, to ``out/browser/`` of the repository.

Skipped (with the reason) without the ``playwright`` package, without Debian's ``chromium`` (never a
browser downloaded by Playwright) or without JupyterLab/ipywidgets. The browser may only reach
127.0.0.1; every other request is aborted and reported.

DOM used (JupyterLab 4, ipywidgets 8, ipympl): code cell prompts ``.jp-CodeCell .jp-InputPrompt``
(``[n]:`` once run); stderr and errors ``.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]``;
a slider ``.widget-slider`` with its ``label.widget-label``, handle ``.noUi-handle`` and value
``.widget-readout``; the explorer's figure, an ipympl canvas ``.jupyter-matplotlib-canvas-div canvas``
(or, without ipympl, the ``img`` inside its ``.widget-output``); the app as ``window.jupyterapp``
(``--LabApp.expose_app_in_browser``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser test needs the playwright package (pip install 'rnnviz[test]')")
pytest.importorskip("jupyterlab", reason="the browser test needs JupyterLab (pip install 'rnnviz[notebooks]')")
pytest.importorskip("ipywidgets", reason="the browser test needs ipywidgets (pip install 'rnnviz[notebooks]')")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="the browser test needs Debian's chromium (apt-get install chromium); "
                             "Playwright's own browsers are never downloaded")

NOTEBOOK = "02_cells.ipynb"
SLIDER = "recurrent weight scale"  # the cell explorer's slider moved by the test (starts at 2.00, step 0.05)
SERVER_START_S, PAGE_S, RUN_ALL_S, REDRAW_S = 60, 60, 120, 30
ERROR_OUTPUTS = """() => {
    const stderr = [...document.querySelectorAll(
        '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.textContent);
    const widgets = [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent)
        .filter(t => t.includes('Error displaying widget'));
    return stderr.filter(t => /Traceback|\\w+Error\\b/.test(t)).concat(widgets).map(t => t.slice(0, 2000));
}"""
PROMPTS = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"
KERNEL = "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status ?? null"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(folder: Path) -> None:
    """JupyterLab user settings: every cell in the DOM (no windowing), no news or update checks."""
    settings = {"notebook-extension/tracker": {"windowingMode": "none"},
                "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}
    for plugin, values in settings.items():
        path = folder / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to the process group started with it (the server and its kernels), then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
    try:  # kernels left behind in the group
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of notebooks/ on 127.0.0.1 (no token, no browser), stopped afterwards."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    write_settings(tmp_path / "lab-settings")
    port = free_port()
    env = {**os.environ, "RNNVIZ_SMOKE": "1", "RNNVIZ_OUT": str(tmp_path / "figures"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"), "IPYTHONDIR": str(tmp_path / "ipython"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces")}
    env.pop("MPLBACKEND", None)  # the kernel picks its own (inline, ipympl for the widgets)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
               "--ServerApp.password=", f"--ServerApp.root_dir={notebooks}",
               "--ServerApp.terminals_enabled=False",
               "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log_path = tmp_path / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
        yield url
    finally:
        stop(server)


@pytest.fixture
def page(lab):
    """A chromium page (Debian's binary, headless) that may only reach 127.0.0.1; closed afterwards."""
    blocked: list[str] = []

    def local_only(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--disable-gpu", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route("**/*", local_only)
            page = context.new_page()
            page.set_default_timeout(PAGE_S * 1000)
            yield page
        finally:
            browser.close()
    if blocked:
        print(f"requests outside 127.0.0.1 aborted: {blocked}")


def settled(page, figure, differs_from: bytes | None = None) -> bytes:
    """The figure's screenshot once it has settled (the same on two looks half a second apart, the
    kernel idle: no frame caught halfway through a redraw) and, if given, differs from ``differs_from``."""
    deadline, last = time.monotonic() + REDRAW_S, None
    while time.monotonic() < deadline:
        shot = figure.screenshot()
        if shot == last and shot != differs_from and page.evaluate(KERNEL) == "idle":
            return shot
        last = shot
        page.wait_for_timeout(500)
    pytest.fail(f"the explorer's figure did not settle{'' if differs_from is None else ' on a new picture'} "
                f"within {REDRAW_S} s" + ("" if differs_from is None else " after the slider moved"))


def test_cell_explorer_in_jupyterlab(lab, page, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.goto(f"{lab}/lab/tree/{NOTEBOOK}")
    page.wait_for_function(f"() => ({KERNEL})() !== null")  # the notebook is open, its kernel started
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    cells = json.loads((ROOT / "notebooks" / NOTEBOOK).read_text())["cells"]
    code_cells = sum(cell["cell_type"] == "code" for cell in cells)
    done = f"""() => {{
        const prompts = ({PROMPTS})();
        return prompts.length === {code_cells} && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
    }}"""
    page.wait_for_function(f"() => ({done})() || ({ERROR_OUTPUTS})().length > 0", timeout=RUN_ALL_S * 1000)
    errors = page.evaluate(ERROR_OUTPUTS)
    assert errors == [], "a cell shows an error:\n" + "\n\n".join(errors)
    page.wait_for_function(f"() => ({KERNEL})() === 'idle'")
    assert page.evaluate(done), f"not every code cell ran: {page.evaluate(PROMPTS)}"

    label = page.locator("label.widget-label", has_text=SLIDER)
    slider = page.locator(".widget-slider", has=label)
    assert slider.count() == 1, f"one '{SLIDER}' slider expected, found {slider.count()}"
    explorer = page.locator(".jp-OutputArea-output", has=slider)
    canvas = explorer.locator(".jupyter-matplotlib-canvas-div canvas")
    figure = canvas.first if canvas.count() else explorer.locator(".widget-output img").first
    figure.wait_for(state="visible")
    readout = slider.locator(".widget-readout")
    sync_api.expect(readout).to_have_text("2.00")
    before = settled(page, figure)
    (shots / "02_cells_figure_before.png").write_bytes(before)
    explorer.screenshot(path=shots / "02_cells_explorer_before.png")

    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(3):
        handle.press("ArrowLeft")
    sync_api.expect(readout).to_have_text("1.85")
    (shots / "02_cells_figure_after.png").write_bytes(settled(page, figure, differs_from=before))
    explorer.screenshot(path=shots / "02_cells_explorer_after.png")
    page.screenshot(path=shots / "02_cells_page.png")
    errors = page.evaluate(ERROR_OUTPUTS)
    assert errors == [], "a cell shows an error after the slider moved:\n" + "\n\n".join(errors)

    if os.environ.get("RNNVIZ_BROWSER_SCREENSHOTS"):
        keep = ROOT / "out" / "browser"
        keep.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copy2(shot, keep / shot.name)
