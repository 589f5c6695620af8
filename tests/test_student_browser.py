"""JupyterLab in a real browser: a failing visible test shows its message at the top of the error.

A real `jupyter lab` server (127.0.0.1, a free port, a token) serves a temporary folder with a release
notebook whose solution holds a typical mistake, and `checks.py` beside it; headless Chromium opens
it, runs all cells, and reads the error output as the student sees it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.notebooks import fill, read_notebook, solutions, write_notebook
from tests.conftest import REPO

RELEASE = REPO.root / "release" / "lecture01"
SOURCE = REPO.root / "source" / "lecture01"
NOTEBOOK = "05_binary_cross_entropy"
MISSING_MINUS = "def binary_cross_entropy(h, y):\n    h = np.clip(h, 1e-12, 1 - 1e-12)\n" \
                "    return np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))\n"
FIRST_LINE = "binary_cross_entropy(np.array([0.8, 0.9, 0.4]), np.array([1, 1, 0])) returned a wrong value."


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    for _ in range(120):
        if server.poll() is not None:
            pytest.fail(f"jupyter lab stopped: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not start: {log.read_text()[-2000:]}")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on a folder with the mistaken notebook; yields (base url, token)."""
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy(RELEASE / "checks.py", folder)
    instructor = solutions(read_notebook(SOURCE / f"{NOTEBOOK}.ipynb"))
    notebook = fill(read_notebook(RELEASE / f"{NOTEBOOK}.ipynb"),
                    {**instructor, "binary_cross_entropy": MISSING_MINUS})
    write_notebook(notebook, folder / f"{NOTEBOOK}.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    log = tmp_path / "lab.log"
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",  # no news, no update checks
               "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    if os.geteuid() == 0:  # containers and CI often run as root
        command.append("--allow-root")
    with log.open("w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/api/status?token={token}", server, log)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


RUN_ALL = """
const done = arguments[arguments.length - 1];
const app = window.jupyterapp;
if (!app) { done("no app"); return; }
app.commands.execute("notebook:run-all-cells").then(() => done("ok"), (e) => done(String(e)));
"""


@pytest.mark.slow
def test_a_failing_visible_test_shows_its_message_first_in_jupyterlab(chromium, lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, token = lab
    chromium.get(f"{base}/lab/tree/{NOTEBOOK}.ipynb?token={token}")
    wait = WebDriverWait(chromium, 90, poll_frequency=0.5)
    wait.until(lambda d: d.execute_script(
        "const a = window.jupyterapp; const w = a && a.shell.currentWidget;"
        "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.connectionStatus === 'connected');"))
    chromium.set_script_timeout(120)
    assert chromium.execute_async_script(RUN_ALL) == "ok"
    selector = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    errors = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    text = errors[0].text.strip()
    assert len(errors) == 1, [e.text for e in errors]
    assert text.splitlines()[0] == FIRST_LINE, text
    assert "This matches a known mistake: missing minus sign." in text
    assert "checks.py" not in text and "Traceback" not in text and "CheckFailed" not in text
    shown = [e.text for e in chromium.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")]
    assert not any("cost of h = 0.5" in text for text in shown), "Run All stops at the failing test"
