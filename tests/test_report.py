"""`grader report` on a small class whose outcome is known: the page holds the right numbers.

Five students, two notebooks: one all correct, three with diagnosed mistakes, and one (whose id
has a comma, quotes, markup and non-ASCII) who handed in the untouched release and a corrupt
notebook. The class is graded once with `grader autograde`; the report is parsed back.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from grader.autograde import autograde
from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import Course, new_course
from grader.errors import GraderError
from grader.notebooks import read_notebook
from grader.release import release
from grader.report import build_report
from grader.samples import all_samples

pytestmark = pytest.mark.slow  # grades a whole class

REPO = Path(__file__).resolve().parent.parent
SVM, SOFTMAX = "02_svm_loss", "03_softmax_cross_entropy"
ODD = 'zoë, "z" <b>o\'neil'  # a student id with a comma, quotes, markup and non-ASCII
SAMPLES = {s.notebook: s for s in all_samples()}
SVM_MISTAKE, SVM_DELTA = SAMPLES[SVM].mistakes[0], SAMPLES[SVM].mistakes[1]
SOFTMAX_MISTAKE = SAMPLES[SOFTMAX].mistakes[1]


class Page(HTMLParser):
    """The tables (by id, as rows of cell texts) and the image sources of an HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._table = attributes.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attributes.get("src") or "")
        if tag in ("script", "link", "iframe") or "href" in attributes:
            self.links.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str) -> list[list[str]]:
        return self.tables[table][1:]  # without the header


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """The small class, graded (do not modify)."""
    course = new_course(tmp_path_factory.mktemp("report") / "course", Course(REPO), notebooks=[SVM, SOFTMAX])
    release(course)
    solved = {name: solved_notebook(course, name) for name in (SVM, SOFTMAX)}
    submit(course, "ada", solved)
    submit(course, "cleo", {**solved, SVM: solved_notebook(course, SVM, SVM_MISTAKE.cells)})
    submit(course, "dan", {SVM: solved_notebook(course, SVM, SVM_MISTAKE.cells),
                           SOFTMAX: solved_notebook(course, SOFTMAX, SOFTMAX_MISTAKE.cells)})
    submit(course, "eve", {**solved, SVM: solved_notebook(course, SVM, SVM_DELTA.cells)})
    submit(course, ODD, {SVM: release_notebook(course, SVM), SOFTMAX: b'{"cells": [{"cell_t'})
    autograde(course)
    return course


def _points(course: Course, notebook: str) -> dict[str, float]:
    """Each test cell's points, from the instructor notebook."""
    cells = read_notebook(course.folder("source", "lecture01") / f"{notebook}.ipynb").cells
    return {c.metadata.nbgrader.grade_id: float(c.metadata.nbgrader.points)
            for c in cells if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def page(graded: Course, tmp_path_factory: pytest.TempPathFactory) -> Page:
    path = build_report(graded, tmp_path_factory.mktemp("out") / "report.html")
    return Page(path.read_text(encoding="utf-8"))


def test_the_histogram_counts_each_students_total(graded, page):
    svm, softmax = _points(graded, SVM), _points(graded, SOFTMAX)
    maximum = sum(svm.values()) + sum(softmax.values())
    lose = {"ada": 0.0, "cleo": svm["test_svm_loss_single"], "eve": svm["test_svm_loss_single"],
            "dan": svm["test_svm_loss_single"] + sum(softmax[cell] for cell in SOFTMAX_MISTAKE.fails),
            ODD: maximum}
    expected = [0] * 10
    for lost in lose.values():
        expected[min(int((maximum - lost) / maximum * 10), 9)] += 1
    rows = page.rows("histogram")
    assert [int(count) for _, count in rows] == expected
    assert rows[0][0] == "0-<10%" and rows[-1][0] == "90-100%"
    assert dict(page.rows("overview"))["students"] == "5"
    assert dict(page.rows("overview"))["notebooks not graded"] == "1"


def test_pass_rates_per_test(graded, page):
    rates = {(notebook, test): (int(passed), int(total), rate)
             for notebook, test, passed, total, rate in page.rows("pass-rates")}
    assert set(rates) == {(SVM, cell) for cell in _points(graded, SVM)} | {
        (SOFTMAX, cell) for cell in _points(graded, SOFTMAX)}
    # svm: ada passes all; cleo, dan, eve fail only test_svm_loss_single; ODD (untouched) fails all
    assert rates[(SVM, "test_svm_loss_single")] == (1, 5, "20%")
    for cell in set(_points(graded, SVM)) - {"test_svm_loss_single"}:
        assert rates[(SVM, cell)] == (4, 5, "80%")
    # softmax: ODD's is not graded; dan's mistake fails only its cells
    for cell in _points(graded, SOFTMAX):
        passed = 3 if cell in SOFTMAX_MISTAKE.fails else 4
        assert rates[(SOFTMAX, cell)] == (passed, 4, f"{passed / 4:.0%}")


def test_the_most_frequent_mistakes_come_first_with_their_counts(page):
    rows = page.rows("mistakes")
    assert [(notebook, test, int(count)) for _, notebook, test, count in rows] == [
        (SVM, "test_svm_loss_single", 2), *sorted([(SOFTMAX, SOFTMAX_MISTAKE.fails[0], 1),
                                                   (SVM, "test_svm_loss_single", 1)])]
    names = [name for name, *_ in rows]
    assert SVM_MISTAKE.name in names[0]
    assert any(SVM_DELTA.name in name for name in names[1:])  # non-ASCII: "no margin (Δ = 0)"
    assert any(SOFTMAX_MISTAKE.name in name for name in names[1:])


def test_the_submissions_not_graded_are_listed_with_the_reason(page):
    rows = page.rows("not-graded")
    assert [(student, notebook) for student, notebook, _ in rows] == [(ODD, SOFTMAX)]
    assert "not a readable notebook" in rows[0][2]


def test_the_page_is_self_contained_and_escapes_student_text(graded, page, tmp_path):
    assert page.links == []
    assert len(page.images) == 3
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(b"\x89PNG")
    text = build_report(graded, tmp_path / "again.html").read_text(encoding="utf-8")
    assert str(escape(ODD)) in text and "&lt;b&gt;" in text
    assert "<b>" not in text


def test_the_command_writes_the_report_and_keeps_an_existing_one(graded, tmp_path):
    course = Course(tmp_path / "course")
    shutil.copytree(graded.root, course.root)
    command = [sys.executable, "-c", "from grader.cli import main; main()", "report", "--course",
               str(course.root)]
    first = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stderr
    path = course.exports("lecture01") / "report.html"
    assert str(path) in first.stdout
    assert Page(path.read_text(encoding="utf-8")).rows("not-graded")[0][:2] == [ODD, SOFTMAX]
    again = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert again.returncode == 1 and "--force" in again.stderr
    forced = subprocess.run([*command, "--force"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert forced.returncode == 0, forced.stderr


def test_no_report_before_grading(tmp_path):
    course = new_course(tmp_path / "course", Course(REPO), notebooks=[SVM])
    with pytest.raises(GraderError, match="grader autograde"):
        build_report(course, tmp_path / "report.html")
