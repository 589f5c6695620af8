"""Shared fixtures: course folders released once per session with real nbgrader, copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.course import Course, new_course
from grader.release import release

REPO = Course(Path(__file__).resolve().parent.parent)


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
