"""JupyterLab, as the instructor opens a graded notebook in it, in a real browser.

JupyterLab sanitizes a notebook's markdown and untrusted outputs itself, but it loads images from any
URL. The hostile notebook of test_inert_pages (every URL points to a local server) opened as a grader
without the InertNotebook step would have left it makes requests (the marker); as grading leaves it,
none, and no script of the student's runs.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.classroom import solved_notebook
from grader.notebooks import write_notebook
from grader.preprocessors import InertNotebook
from tests.test_inert_formgrader import _free_port
from tests.test_inert_pages import HOSTILE_NOTEBOOK, _make_hostile, server
from tests.test_student_browser import _wait_until_up

pytestmark = pytest.mark.slow  # a JupyterLab server and a browser

__all__ = ["server"]  # the fixture, shared


@pytest.fixture
def lab(released_template, server, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab on a folder with the hostile notebook as left (raw.ipynb) and as graded (graded.ipynb)."""
    url, _ = server
    folder = tmp_path / "work"
    folder.mkdir()
    raw = _make_hostile(solved_notebook(released_template, HOSTILE_NOTEBOOK), url)
    write_notebook(raw, folder / "raw.ipynb")
    graded = _make_hostile(solved_notebook(released_template, HOSTILE_NOTEBOOK), url)
    write_notebook(InertNotebook().preprocess(graded, {})[0], folder / "graded.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "lab.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/api/status?token={token}", process, log)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _open_in_lab(chromium, base: str, token: str, name: str) -> dict:
    """`name` alone, in a workspace of its own (JupyterLab would reopen the notebooks opened before)."""
    chromium.get("about:blank")
    chromium.get(f"{base}/lab/workspaces/{name.split('.')[0]}/tree/{name}?reset&token={token}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # until the notebook's markdown is rendered
        if chromium.execute_script("return document.querySelectorAll('.jp-MarkdownOutput').length") > 3:
            break
        time.sleep(0.5)
    time.sleep(3)  # images and anything else the page starts
    return chromium.execute_script(
        "return {pwned: window.__pwned === undefined ? null : String(window.__pwned),"
        " text: document.body.innerText}")


def test_jupyterlab_shows_the_graded_notebook_inert(lab, server, chromium):
    base, token = lab
    _, seen = server
    seen.clear()
    shown = _open_in_lab(chromium, base, token, "graded.ipynb")
    assert seen == [], f"JupyterLab made requests for the student: {seen}"
    assert shown["pwned"] is None
    assert "shown as its text" in shown["text"]
    _open_in_lab(chromium, base, token, "raw.ipynb")  # the marker: the same notebook as left
    assert seen, "the notebook as left loads nothing in JupyterLab: the test above proves nothing"
