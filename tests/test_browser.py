"""Notebook 02 in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright,
all cells run in the smoke profile, then a slider of the latent explorer is dragged and the decoded
face must change. Needs Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``; .ci/run
installs it) and the ``playwright`` package (the ``test`` extra); never ``playwright install``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_celeba_conv_autoencoder_latent_statistics.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Run state of the open notebook: "error: <traceback>" as soon as a cell fails, "done" once every
# code cell has run and the kernel is idle, else false.
RUN_STATE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext.session) return false;
  let done = true;
  for (const cell of Array.from(panel.content.model.cells)) {
    if (cell.type !== 'code') continue;
    const error = cell.outputs.toJSON().find(o => o.output_type === 'error');
    if (error) return 'error: ' + error.ename + ': ' + error.evalue + '\\n' + error.traceback.join('\\n');
    if (cell.executionCount === null) done = false;
  }
  const kernel = panel.sessionContext.session.kernel;
  return done && kernel && kernel.status === 'idle' ? 'done' : false;
}"""

KERNEL_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return Boolean(panel && panel.sessionContext && panel.sessionContext.isReady &&
                 panel.sessionContext.session && panel.sessionContext.session.kernel &&
                 panel.sessionContext.session.kernel.status === 'idle');
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer at {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _lab_settings(folder: Path) -> Path:
    """User settings: render every cell (no windowing, so the explorer is in the page) and no news."""
    for plugin, values in {
        "notebook-extension/tracker": {"windowingMode": "none"},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = folder / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return folder


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab serving a scratch copy of notebook 02 (autosave never touches the repository)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install chromium`, as "
            ".ci/run does) to run the real-browser test of notebook 02"
        )
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the `test` extra)")
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port = _free_port()
    env = {
        **os.environ,
        "LATENTLAB_PROFILE": "smoke",
        "LATENTLAB_OFFLINE": "1",
        "LATENTLAB_BUILD": str(tmp_path / "build"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "JUPYTERLAB_SETTINGS_DIR": str(_lab_settings(tmp_path / "settings")),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status", proc, log)
        yield base, log
    finally:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown", method="POST"), timeout=10)
            proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


@pytest.mark.slow
def test_slider_changes_the_decoded_face_in_chromium(jupyterlab):
    from playwright.sync_api import sync_playwright

    base, log = jupyterlab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}")
            page.wait_for_function(KERNEL_READY, timeout=120_000, polling=500)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            state = page.wait_for_function(RUN_STATE, timeout=300_000, polling=1000).json_value()
            assert state == "done", f"notebook 02 failed in the browser:\n{state}"

            image = page.locator("img.widget-image").first
            image.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => { const i = document.querySelector('img.widget-image');"
                " return i && i.complete && i.naturalWidth > 0; }",
                timeout=30_000,
            )
            before_src, before_png = image.get_attribute("src"), image.screenshot()
            handle = page.locator(".widget-hslider .noUi-handle").first
            box = handle.bounding_box()
            assert box is not None, "the explorer's first slider is not on screen"
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2, steps=8)
            page.mouse.up()
            page.wait_for_function(
                "(old) => { const i = document.querySelector('img.widget-image');"
                " return i.src !== old && i.complete && i.naturalWidth > 0; }",
                arg=before_src,
                timeout=30_000,
            )
            page.wait_for_timeout(500)  # let the last of the dragged values arrive
            readout = page.locator(".widget-hslider .widget-readout").first.inner_text()
            after_png = image.screenshot()
            assert float(readout) > 0, f"the slider did not move (readout {readout!r})"
            assert after_png != before_png, "the decoded face did not change after moving a slider"
        finally:
            browser.close()
