"""`grader bundle`: the student zip of release/lecture01 with instructions."""

from __future__ import annotations

import os
import zipfile

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.course import Course
from grader.errors import GraderError
from grader.lms.bundle import bundle


def test_bundle_holds_every_released_file_and_the_instructions(course: Course) -> None:
    path = bundle(course, course.root / "autograded" / "exports" / "lecture01.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        released = {f"lecture01/{p.relative_to(course.release).as_posix()}"
                    for p in course.release.rglob("*") if p.is_file()}
        assert released <= names
        assert names - released == {"lecture01/INSTRUCTIONS.md"}
        assert {f"lecture01/{name}.ipynb" for name in course.notebook_names()} <= names
        assert "lecture01/checks.py" in names
        for name in course.notebook_names():
            assert archive.read(f"lecture01/{name}.ipynb") == (course.release / f"{name}.ipynb").read_bytes()
        text = archive.read("lecture01/INSTRUCTIONS.md").decode("utf-8")
    for phrase in ("jupyter lab", "YOUR CODE HERE", "Restart Kernel and Run All Cells", "checks.py",
                   "Submit assignment", "Submit Assignment", ".ipynb", "**Total**"):
        assert phrase in text
    for name in course.notebook_names():
        assert f"`{name}.ipynb`" in text


def test_bundle_never_overwrites_without_force_and_refuses_a_stale_release(course: Course) -> None:
    target = course.root / "lecture01.zip"
    target.write_bytes(b"my own file")
    with pytest.raises(GraderError, match=r"lecture01\.zip: already exists; pass --force"):
        bundle(course, target)
    assert target.read_bytes() == b"my own file"
    bundle(course, target, force=True)
    assert zipfile.is_zipfile(target)
    source = course.source / f"{course.notebook_names()[0]}.ipynb"
    later = (course.release / source.name).stat().st_mtime + 60
    os.utime(source, (later, later))
    with pytest.raises(GraderError, match="changed in source/ after the last release; run `grader release`"):
        bundle(course, target, force=True)


def test_bundle_command_line(course: Course) -> None:
    result = CliRunner().invoke(app, ["bundle", "--course", str(course.root)])
    assert result.exit_code == 0, result.output
    assert (course.exports("lecture01") / "lecture01.zip").is_file()
    again = CliRunner().invoke(app, ["bundle", "--course", str(course.root)])
    assert again.exit_code == 1 and "already exists" in again.output
