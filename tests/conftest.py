"""Shared fixtures: course folders released once per session with real nbgrader, copied per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nbformat import NotebookNode

from grader.course import Course, new_course
from grader.notebooks import HIDDEN_DELIMITERS, SOLUTION_DELIMITERS
from grader.release import release
from grader.sandbox.zygote import Zygote

REPO = Course(Path(__file__).resolve().parent.parent)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def repo_course() -> Course:
    """The course of this repository (read only)."""
    return REPO


@pytest.fixture(scope="session")
def released_template(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A copy of the repository's course, released with real nbgrader once per session (do not modify)."""
    course = new_course(tmp_path_factory.mktemp("template") / "course", REPO)
    release(course)
    return course


@pytest.fixture
def make_course(released_template: Course, tmp_path: Path) -> Callable[[], Course]:
    """A factory of fresh released courses (source, release and gradebook copied from the template)."""
    counter = iter(range(1000))

    def make() -> Course:
        target = tmp_path / f"course{next(counter)}"
        shutil.copytree(released_template.root, target)
        return Course(target)

    return make


@pytest.fixture
def course(make_course: Callable[[], Course]) -> Course:
    """A fresh released course for one test."""
    return make_course()


def _split(source: str, kinds: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(lines inside the regions that begin with one of `kinds`, all other lines) of a cell."""
    inside, outside, region = [], [], None
    for line in source.splitlines():
        for begin, end in (SOLUTION_DELIMITERS, HIDDEN_DELIMITERS):
            if begin in line:
                region = begin
            elif end in line:
                region = None
        if any(marker in line for marker in (*SOLUTION_DELIMITERS, *HIDDEN_DELIMITERS)):
            continue
        (inside if region in kinds else outside).append(line.strip())
    return inside, outside


def secret_lines(source_notebook: NotebookNode,
                 kinds: tuple[str, ...] = (SOLUTION_DELIMITERS[0], HIDDEN_DELIMITERS[0])) -> set[str]:
    """Distinctive lines that only solutions or hidden tests contain: a student must never see them."""
    secret, public = set(), set()
    for cell in source_notebook.cells:
        inside, outside = _split(cell.source, kinds)
        secret.update(inside)
        public.update(outside)
    visible = "\n".join(public)
    return {line for line in secret - public
            if len(line) > 20 and not line.startswith("#") and line not in visible}


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    """Headless Chromium (Debian's package) driven by selenium; one browser for the session."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("browser tests need Debian's chromium and chromium-driver: apt-get install chromium "
                    "chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1024", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    # A student's browser window has the focus; a headless one with a fresh profile may not, and then
    # JupyterLab tracks no current widget (shell.currentWidget stays null while the notebook is open).
    driver.execute_cdp_cmd("Emulation.setFocusEmulationEnabled", {"enabled": True})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    """A warm sandbox for a module's tests, as one grading worker has it."""
    sandbox = Zygote(True)
    sandbox.start()
    yield sandbox
    sandbox.stop()
