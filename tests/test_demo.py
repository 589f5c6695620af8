"""The README's first command: `grader demo` runs a whole class through the real `grader` command."""

from __future__ import annotations

import csv
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.course import Course
from grader.notebooks import HIDDEN_DELIMITERS, read_notebook
from tests.conftest import secret_lines

pytestmark = pytest.mark.slow  # grades a whole class

GRADER = Path(sys.executable).with_name("grader")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Course, str]:
    folder = tmp_path_factory.mktemp("demo") / "class"
    run = subprocess.run([str(GRADER), "demo", "--into", str(folder)], capture_output=True, text=True,
                         cwd=tmp_path_factory.getbasetemp())
    assert run.returncode == 0, run.stderr
    return Course(folder), run.stdout


def _row(table: str, student: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(student + " "))
    return line.split()


def test_demo_prints_a_score_table_for_the_whole_class(demo):
    _, table = demo
    for student in ("ada", "ben", "cleo", "dan", "eve", "finn"):
        assert _row(table, student)
    total = _row(table, "ada")[7]
    earned, possible = total.split("/")
    assert earned == possible and float(possible) > 0, "the correct student gets full marks"
    assert _row(table, "ben")[7].startswith("0/"), "the untouched release scores 0"
    for student in ("cleo", "dan", "eve"):
        earned, possible = _row(table, student)[7].split("/")
        assert 0 < float(earned) < float(possible)
        assert "mistakes:" in table.split(f"\n{student} ", 1)[1].splitlines()[0]
    assert "n/g" in _row(table, "finn")
    assert re.search(r"n/g finn 0\d_\w+: not a readable notebook", table)


def test_demo_writes_feedback_without_hidden_tests(demo, repo_course):
    course, _ = demo
    pages = sorted((course.root / "autograded" / "feedback").rglob("*.html"))
    assert len(pages) >= 6 * 5
    hidden = {name: secret_lines(read_notebook(repo_course.source / f"{name}.ipynb"), (HIDDEN_DELIMITERS[0],))
              for name in course.notebook_names()}
    assert all(hidden.values())
    mistakes_explained = 0
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        leaked = [line for line in hidden[page.stem] if line in text]
        assert not leaked, f"{page} shows hidden test code: {leaked[:2]}"
        assert "HIDDEN TESTS" not in text
        mistakes_explained += "This matches a known mistake" in text
    assert mistakes_explained >= 3


def test_demo_exports_a_csv_that_reads_back(demo):
    course, table = demo
    report = (course.exports("lecture01") / "report.html").read_text(encoding="utf-8")
    assert "finn" in report and "data:image/png;base64," in report
    with (course.exports("lecture01") / "scores.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_student = {row["student"]: row for row in rows}
    assert set(by_student) == {"ada", "ben", "cleo", "dan", "eve", "finn"}
    assert by_student["ada"]["total"] == by_student["ada"]["max_total"]
    assert float(by_student["ben"]["total"]) == 0
    assert _row(table, "cleo")[7] == f"{by_student['cleo']['total']}/{by_student['cleo']['max_total']}"
