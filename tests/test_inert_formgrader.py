"""nbgrader's formgrader, as the instructor uses it, shows a hostile graded notebook in a real browser.

A real Jupyter server with nbgrader's formgrader extension serves a graded course; headless Chromium
opens the submission's page (/formgrader/submissions/ID/). The graded notebook holds the hostile content
of test_inert_pages (every URL points to a local server, every script sets window.__pwned):
- as a grader without the InertNotebook step would have left it, the page requests and runs scripts
  (the attacks are live in formgrader: the marker);
- as grading leaves it (InertNotebook, the last step), the page requests nothing from the local server
  and runs no script of the student's.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from grader.autograde import autograde
from grader.classroom import solved_notebook, submit
from grader.course import Course
from grader.notebooks import read_notebook, write_notebook
from grader.preprocessors import InertNotebook
from tests.test_inert_pages import HOSTILE_NOTEBOOK, _make_hostile, server

pytestmark = pytest.mark.slow  # a Jupyter server and a browser

__all__ = ["server"]  # the fixture, shared


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def formgrader(make_course, tmp_path: Path) -> Iterator[tuple[Course, str, str]]:
    """A graded course served by a Jupyter server with formgrader; yields (course, base url, token)."""
    course: Course = make_course()
    submit(course, "mallory", {HOSTILE_NOTEBOOK: solved_notebook(course, HOSTILE_NOTEBOOK)})
    assert "mallory" in autograde(course, workers=1).graded
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                          os.environ.get("PYTHONPATH", "")])}
    command = [str(Path(sys.executable).parent / "jupyter"), "server", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course.root}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=course.root)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if process.poll() is not None:
                pytest.fail(f"jupyter server stopped: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield course, base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


SEEN_BY_PAGE = """
return {pwned: window.__pwned === undefined ? null : String(window.__pwned),
        cells: document.querySelectorAll('.cell').length, text: document.body ? document.body.innerText : ''};
"""


def _show(chromium, url: str) -> dict:
    chromium.get("about:blank")
    chromium.get(url)
    time.sleep(3)  # formgrader's own scripts, and any request or timer of the student's
    return chromium.execute_script(SEEN_BY_PAGE)


def test_formgrader_shows_a_hostile_graded_notebook_inert(formgrader, server, chromium):
    course, base, token = formgrader
    url, seen = server
    path = course.step_dir("autograded", "mallory") / f"{HOSTILE_NOTEBOOK}.ipynb"
    with Gradebook(course.db_url) as gradebook:
        submission = gradebook.find_submission_notebook(HOSTILE_NOTEBOOK, "lecture01", "mallory").id
    page = f"{base}/formgrader/submissions/{submission}/?token={token}"
    graded = read_notebook(path)

    hostile = _make_hostile(read_notebook(path), url)
    for cell in hostile.cells:  # nbconvert refuses a missing attachment; the rest is the same
        cell.source = cell.source.replace("attachment:absent.png", "absent.png")
    write_notebook(hostile, path)
    seen.clear()
    live = _show(chromium, page)  # (its meta refresh may have left formgrader's page by now)
    assert live["pwned"] is not None or any(p.endswith(("/ran", "/output-ran")) for p in seen)
    assert len(seen) >= 3, f"the attacks are not live in formgrader: {seen}"

    inert, _ = InertNotebook().preprocess(_make_hostile(graded, url), {})
    write_notebook(inert, path)
    seen.clear()
    shown = _show(chromium, page)
    assert shown["cells"] > 0, shown["text"][:500]
    assert seen == [], f"formgrader's page made requests for the student: {seen}"
    assert shown["pwned"] is None
    assert "shown as its text" in shown["text"]
    if os.environ.get("INERT_SCREENSHOTS"):
        chromium.save_screenshot(str(Path(os.environ["INERT_SCREENSHOTS"]) / "formgrader-hostile.png"))
