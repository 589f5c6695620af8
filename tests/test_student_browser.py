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
SVM = "02_svm_loss"
NP_MAX = "def svm_loss_single(s, y):\n    margins = np.max(0, s - s[y] + 1)\n    margins[y] = 0\n" \
         "    return np.sum(margins)\n"


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
    yield from _serve(tmp_path, NOTEBOOK, {"binary_cross_entropy": MISSING_MINUS})


@pytest.fixture
def lab_with_np_max(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on 02_svm_loss with np.max(0, v) where np.maximum(0, v) is meant."""
    yield from _serve(tmp_path, SVM, {"svm_loss_single": NP_MAX})


def _serve(tmp_path: Path, name: str, mistake: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on a folder with the release's files and `name` solved but for `mistake`."""
    folder = tmp_path / "work"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("*.ipynb"))
    instructor = solutions(read_notebook(SOURCE / f"{name}.ipynb"))
    notebook = fill(read_notebook(RELEASE / f"{name}.ipynb"), {**instructor, **mistake})
    write_notebook(notebook, folder / f"{name}.ipynb")
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


def _run_all_and_read_errors(chromium, lab: tuple[str, str], name: str) -> list:
    """Open `name` in JupyterLab, Run All, and return the error outputs as the student sees them."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, token = lab
    chromium.get(f"{base}/lab/tree/{name}.ipynb?token={token}")
    wait = WebDriverWait(chromium, 90, poll_frequency=0.5)
    wait.until(lambda d: d.execute_script(
        "const a = window.jupyterapp; const w = a && a.shell.currentWidget;"
        "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.connectionStatus === 'connected');"))
    chromium.set_script_timeout(120)
    assert chromium.execute_async_script(RUN_ALL) == "ok"
    selector = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    return wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))


@pytest.mark.slow
def test_a_failing_visible_test_shows_its_message_first_in_jupyterlab(chromium, lab):
    from selenium.webdriver.common.by import By

    errors = _run_all_and_read_errors(chromium, lab, NOTEBOOK)
    text = errors[0].text.strip()
    assert len(errors) == 1, [e.text for e in errors]
    assert text.splitlines()[0] == FIRST_LINE, text
    assert "This matches a known mistake: missing minus sign." in text
    assert "checks.py" not in text and "Traceback" not in text and "CheckFailed" not in text
    shown = [e.text for e in chromium.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")]
    assert not any("cost of h = 0.5" in text for text in shown), "Run All stops at the failing test"


@pytest.mark.slow
def test_numpys_error_is_explained_in_one_sentence_in_jupyterlab(chromium, lab_with_np_max):
    errors = _run_all_and_read_errors(chromium, lab_with_np_max, SVM)
    assert len(errors) == 1, [e.text for e in errors]
    first, meaning, where = errors[0].text.strip().splitlines()
    assert first.startswith("svm_loss_single(np.array([3.2, 5.1, -1.7]), 0) raised TypeError: ")
    assert meaning.startswith("What it means: np.max(0, v) ") and "Write np.maximum(0, v)" in meaning
    assert where == "It happened in svm_loss_single, in the line `margins = np.max(0, s - s[y] + 1)`."
