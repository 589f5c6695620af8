"""A fresh clone grades through the LMS round trip: source/ and the committed release/, no gradebook yet.

Every command runs as the instructor types it (`grader collect`, `autograde`, `feedback`, `export`); none may
print a traceback, and the outputs are read back with csv and zipfile.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.classroom import solved_notebook
from grader.cli import app
from grader.course import Course, new_course
from grader.export import FEEDBACK_ZIP, MOODLE_WORKSHEET
from grader.lms.student_grades import number
from grader.scores import cell_scores
from tests.test_lms_groups import Member as GroupMember
from tests.test_lms_groups import group_folder, moodle_zip_upload, write_group_worksheet
from tests.test_lms_support import broken_solution, notebook_bytes, read_rows, write_zip

ANN = GroupMember(501, "Ann Alpha", "Team_Alpha")
BEN = GroupMember(502, "Ben Alpha", "Team_Alpha")
JANE = GroupMember(101, "Jane Doe", "Default group")


@pytest.mark.slow
def test_collect_autograde_feedback_export_on_a_fresh_clone(released_template: Course, repo_course: Course,
                                                            tmp_path: Path) -> None:
    course = new_course(tmp_path / "clone", repo_course)
    shutil.copytree(released_template.release, course.release)  # release/ is committed
    db = Path(course.db_url.removeprefix("sqlite:///"))
    assert not db.exists()
    first = course.notebook_names()[0]
    download = write_zip(tmp_path / "DL-Lecture 1-7.zip", [
        (f"{group_folder('Team_Alpha', 77)}/{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{group_folder('Default group', None)}/{first}.ipynb",
         notebook_bytes(solved_notebook(course, first, broken_solution(course, first)))),
    ])
    worksheet = write_group_worksheet(tmp_path / "Grades-DL-7.csv", [ANN, BEN, JANE])
    runner = CliRunner()
    where = ["--course", str(course.root)]
    steps = [["collect", str(download), "--worksheet", str(worksheet), *where], ["autograde", *where],
             ["feedback", *where],
             ["export", "--moodle-worksheet", str(worksheet), "--feedback-zip", *where]]
    for args in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{args[0]}: {result.output}"
        assert "Traceback" not in result.output and result.exception is None, result.output
    assert db.exists()
    exports = next(course.root.rglob(MOODLE_WORKSHEET)).parent
    rows = {row[0]: row for row in read_rows(exports / MOODLE_WORKSHEET)[1:]}
    scores = cell_scores(course)

    def grade(student: str) -> str:
        total = sum(row.score for row in scores if row.student == student)
        possible = sum(row.max_score for row in scores if row.student == student)
        return number(total / possible * 100)

    assert rows["Participant 501"][5] == rows["Participant 502"][5] == grade("moodle-group-77")
    assert rows["Participant 101"][5] == grade("moodle-group-0")
    assert float(rows["Participant 501"][5]) > float(rows["Participant 101"][5])
    with zipfile.ZipFile(exports / FEEDBACK_ZIP) as archive:
        owners = moodle_zip_upload(archive.namelist(), {501, 502, 101})
    assert set(owners.values()) == {501, 502, 101}
