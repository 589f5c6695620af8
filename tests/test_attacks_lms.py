"""Attacks through the LMS files: a zip bomb, names that drive the terminal, names that a spreadsheet runs
(round 2, issue 9), and a Canvas sortable name that takes a classmate's place (issue 20). Each goes
through the real `grader` commands in subprocesses; the peak memory of `grader collect` is measured with
getrusage(RUSAGE_CHILDREN). Each test's docstring says the code it was measured against and whether the
attack won there (round 2: commit c942de6).
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import pytest

from grader.classroom import release_notebook, solved_notebook
from grader.course import Course
from tests.attacks.support import SVM, Run, grader, new_course

pytestmark = pytest.mark.slow

MEMBER_BYTES = 250 << 20  # each member under the 256 MiB cap of one member
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")  # C0 controls but tab and newline, DEL, CSI
ESCAPE_NAME = "Eve\x1b[2J\x1b]0;PWNED\x07 Mallory"
RED_FILE = "\x1b[31mred-file\x1b[0m.txt"
SPREADSHEET_NAMES = {"10004": '=HYPERLINK("evil.example";"click") Doe', "10005": "+1+1 Plus",
                     "10006": "@SUM(A1) At", "10007": "Carl -2+3", "10008": "Dora =cmd|'+C calc'!A0"}


def _notebook_bytes(course: Course) -> bytes:
    return json.dumps(solved_notebook(course, SVM)).encode()


def _folder(name: str, participant: str) -> str:
    return f"{name}_{participant}_assignsubmission_file_"


def _zeros(archive: zipfile.ZipFile, name: str) -> None:
    with archive.open(name, "w", force_zip64=True) as member:
        block = bytes(1 << 20)
        for _ in range(MEMBER_BYTES >> 20):
            member.write(block)


@pytest.fixture(scope="module")
def bomb(released_template: Course, tmp_path_factory) -> tuple[Course, Path, Run]:
    folder = tmp_path_factory.mktemp("zipbomb")
    course = new_course(released_template, folder)
    download = folder / "DL-Lecture 1-bomb.zip"
    nested = folder / "abgabe.zip"
    with zipfile.ZipFile(nested, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as inner:
        _zeros(inner, "inner1.ipynb")
        _zeros(inner, "inner2.ipynb")
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(f"{_folder('Ada Lovelace', '10001')}/{SVM}.ipynb", _notebook_bytes(course))
        bob = _folder("Bob Bomb", "10002")
        archive.writestr(f"{bob}/{SVM}.ipynb", _notebook_bytes(course))
        for name in ("big1.ipynb", "big2.ipynb", "data1.bin", "data2.bin"):
            _zeros(archive, f"{bob}/{name}")
        archive.write(nested, f"{bob}/abgabe.zip")
    return course, download, grader(course, "collect", str(download), timeout=600)


def test_collect_of_a_zip_bomb_stays_under_a_few_hundred_mb(bomb):
    """A 1.5 MiB download whose members (each under the 256 MiB cap, one in a zip inside) hold 1.5 GB.

    Measured on c942de6, the attack won: `grader collect` kept every member in memory and peaked at 1.98 GB.
    """
    course, download, run = bomb
    with zipfile.ZipFile(download) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
        with zipfile.ZipFile(archive.open(f"{_folder('Bob Bomb', '10002')}/abgabe.zip")) as inner:
            inflated += sum(info.file_size for info in inner.infolist())
    assert download.stat().st_size < 4 << 20 and inflated > 1.5e9  # the attack is what it claims
    assert run.finished, run.output
    peak_mb = run.peak_bytes / 2**20
    assert peak_mb < 400, f"grader collect peaked at {peak_mb:.0f} MB"
    assert "Traceback" not in run.output, run.output
    if run.returncode == 0:
        assert (course.step_dir("submitted", "moodle-10001") / f"{SVM}.ipynb").exists(), run.output
    else:
        assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1, run.output


@pytest.fixture(scope="module")
def names(released_template: Course, tmp_path_factory) -> tuple[Course, list[Run], Path]:
    folder = tmp_path_factory.mktemp("names")
    course = new_course(released_template, folder)
    download = folder / "DL-Lecture 1-names.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr(f"{_folder('Ada Lovelace', '10001')}/{SVM}.ipynb", _notebook_bytes(course))
        eve = _folder(ESCAPE_NAME, "10003")
        archive.writestr(f"{eve}/{SVM}.ipynb", _notebook_bytes(course))
        archive.writestr(f"{eve}/{RED_FILE}", "not a notebook")
        for participant, name in SPREADSHEET_NAMES.items():
            archive.writestr(f"{_folder(name, participant)}/{SVM}.ipynb", _notebook_bytes(course))
    runs = [grader(course, "collect", str(download)), grader(course, "autograde", "--workers", "1"),
            grader(course, "export")]
    return course, runs, folder


def test_names_with_terminal_escapes_are_printed_without_them(names):
    """A participant named with ESC sequences (clear screen, set the terminal's title) and a file named with
    colour codes in a student's submission.

    Measured on c942de6, the attack won: `grader collect` printed
    "ignored: moodle-10003 (Eve<ESC>]0;PWNED<BEL> Mallory): ..." with the escape sequences raw.
    """
    _, runs, _ = names
    collect = runs[0]
    assert collect.returncode == 0, collect.output
    assert "red-file" in collect.output, collect.output  # the file was reported
    lines = [line.replace("\r", "") for run in runs for line in run.output.splitlines()]
    shown = [line for line in lines if CONTROL.search(line)]
    assert not shown, shown


def test_names_a_spreadsheet_would_run_are_neutralized_in_scores_csv(names):
    """Participants named =HYPERLINK(...), +1+1, @SUM(A1), -2+3 and =cmd|... in the LMS download.

    Measured on c942de6, the attack won: scores.csv held +1+1, @SUM(A1) and -2+3 raw, which a spreadsheet runs
    as formulas.
    """
    course, runs, _ = names
    assert all(run.returncode == 0 for run in runs), [run.output for run in runs]
    exported = list(course.root.glob("autograded/**/scores.csv"))
    assert exported, runs[-1].output
    with open(exported[0], newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert any("HYPERLINK" in cell for cell in cells) and any("SUM(A1)" in cell for cell in cells)
    formulas = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not formulas, formulas


def test_a_canvas_sortable_name_cannot_take_a_classmates_place(released_template: Course,
                                                                tmp_path: Path) -> None:
    """Eve (user 203) sets her sortable name to "Smith_202-_77-_, Eve"; Canvas's download (content_zipper.rb,
    sanitize_user_name lets "_202-_" through) names her late, blank notebook
    "smith_202_77_eve_LATE_203_5003_...", whose first two numbers are Bob's user id (202) and a file id:
    read as Canvas itself reads names back, it is Bob's. Bob submits later; both downloads are collected
    with the gradebook export.

    Measured on the code before issue 20 (commit 8a9b00f), the attack won: the first collect filed Eve's
    blank notebook under canvas-202 (Bob) without her LATE mark, and the second, Bob's own submission,
    stopped with "two submissions from canvas user 202" on every collect, --force included.
    """
    from tests.test_lms_names import canvas_file  # the download-name builder that follows content_zipper.rb
    from tests.test_lms_support import CanvasStudent, write_gradebook

    course = new_course(released_template, tmp_path)
    bob, eve = CanvasStudent(202, "Brown, Bob", "bob@uni.example"), \
        CanvasStudent(203, "Smith_202-_77-_, Eve", "eve@uni.example")
    gradebook = write_gradebook(tmp_path / "grades.csv", [bob, eve], [("Lecture 1", 9, "34")])
    blank = json.dumps(release_notebook(course, SVM)).encode()
    attack = canvas_file(eve.sortable_name, 203, 5003, f"{SVM}.ipynb", late=True)
    # the attack's marker: Canvas's own rule (the first two all-digit fields) reads it as Bob's
    assert [field for field in attack.split("_") if field.isdigit()][:2] == ["202", "77"]
    first = tmp_path / "first submissions.zip"
    with zipfile.ZipFile(first, "w") as archive:
        archive.writestr(attack, blank)
    second = tmp_path / "second submissions.zip"
    with zipfile.ZipFile(second, "w") as archive:
        archive.writestr(attack, blank)
        archive.writestr(canvas_file(bob.sortable_name, 202, 5002, f"{SVM}.ipynb"), _notebook_bytes(course))
    runs = [grader(course, "collect", str(path), "--canvas-gradebook", str(gradebook))
            for path in (first, second)]
    assert all(run.returncode == 0 for run in runs), [run.output for run in runs]
    assert "canvas-203 (Eve Smith_202-_77-_): Canvas marks this submission late." in runs[0].output
    submitted = {sid: (course.step_dir("submitted", sid) / f"{SVM}.ipynb").read_bytes()
                 for sid in ("canvas-202", "canvas-203")}
    assert submitted == {"canvas-202": _notebook_bytes(course), "canvas-203": blank}
