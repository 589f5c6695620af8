"""LMS input a student or an LMS setting makes hostile: zip bombs, escape sequences in names, group and
anonymous downloads that cannot be told apart without the right file. Each stops with one line naming
the file and what to do, or is collected with nothing of it reaching the terminal raw."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.classroom import solved_notebook
from grader.cli import app
from grader.course import Course
from grader.errors import GraderError
from grader.lms.archive import MAX_MEMBER_BYTES, MAX_TOTAL_BYTES
from grader.lms.collect import collect
from grader.lms.csvfile import neutralize
from tests.test_lms_groups import GERMAN_HEADER, group_folder, write_group_worksheet
from tests.test_lms_groups import Member as GroupMember
from tests.test_lms_support import CanvasStudent, moodle_folder, notebook_bytes, write_zip, zip_bytes

REPO = Path(__file__).resolve().parent.parent


def _nothing_collected(course: Course) -> bool:
    submitted = course.step_dir("submitted", "x").parent.parent
    return not submitted.exists() or not any(submitted.iterdir())


def _bomb(path: Path, members: int, size: int) -> Path:
    """A Moodle download whose student zip holds `members` notebooks of `size` zero bytes each (deflate
    packs them about 1000 to 1)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        block = b"\0" * size
        for index in range(members):
            archive.writestr(f"work/copy{index}.ipynb", block)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{moodle_folder('Jane Doe', 101)}/abgabe.zip", inner.getvalue())
    return path


@pytest.mark.slow  # decompresses and writes 1 GiB
def test_a_zip_bomb_stops_collect_with_one_line_and_little_memory(course: Course, tmp_path: Path) -> None:
    members = MAX_TOTAL_BYTES // (MAX_MEMBER_BYTES - 1) + 2
    bomb = _bomb(tmp_path / "bomb.zip", members, MAX_MEMBER_BYTES - 1)
    assert bomb.stat().st_size < 2 * 2**20  # a small download ...
    script = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from grader.course import Course
        from grader.errors import GraderError
        from grader.lms.collect import collect
        try:
            collect(Course(Path({str(course.root)!r})), Path({str(bomb)!r}))
        except GraderError as error:
            print("ERROR", error)
        print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    error = next(line for line in lines if line.startswith("ERROR"))
    assert "bomb.zip: its notebooks and zips decompress to more than 1024 MiB" in error
    assert "zip bomb" in error and "download the submissions from the LMS again" in error
    peak_kib = int(next(line for line in lines if line.startswith("PEAK")).split()[1])
    assert peak_kib < 300 * 1024  # ... that decompresses to more than 1 GiB stays under 300 MB
    assert _nothing_collected(course)


def test_an_oversized_notebook_is_reported_and_the_class_still_collected(course: Course,
                                                                         tmp_path: Path) -> None:
    first = course.notebook_names()[0]
    download = write_zip(tmp_path / "dl.zip", [
        (f"{moodle_folder('Jane Doe', 101)}/{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{moodle_folder('John Roe', 102)}/{first}.ipynb", b" " * (MAX_MEMBER_BYTES + 1)),
    ])
    report = collect(course, download)
    assert report.collected == {"moodle-101": [first]}
    assert any("moodle-102" in line and "larger than 32 MiB; not read" in line for line in report.problems)


def test_only_notebooks_and_zips_are_read(course: Course, tmp_path: Path) -> None:
    first = course.notebook_names()[0]
    download = write_zip(tmp_path / "dl.zip", [
        (f"{moodle_folder('Jane Doe', 101)}/{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{moodle_folder('Jane Doe', 101)}/video.mp4", b"\0" * (MAX_MEMBER_BYTES + 1)),
    ])
    report = collect(course, download)
    assert report.collected == {"moodle-101": [first]}
    assert report.problems == []
    assert any("video.mp4 (not a notebook)" in line for line in report.ignored)


def test_escape_sequences_in_names_never_reach_the_terminal(course: Course, tmp_path: Path) -> None:
    first = course.notebook_names()[0]
    evil = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x1b[0m"
    student_zip = zip_bytes([(f"{evil}.txt", b"x"), (f"lecture01/{evil}.ipynb", b"not json"),
                             (f"lecture01/{first}.ipynb", notebook_bytes(solved_notebook(course, first)))])
    download = write_zip(tmp_path / "dl.zip", [(f"{moodle_folder('Jane Doe', 101)}/abgabe.zip", student_zip),
                                              (f"README{evil}.txt", b"x")])
    result = CliRunner().invoke(app, ["collect", str(download), "--course", str(course.root)])
    assert result.exit_code == 0, result.output
    assert "red" in result.output and "owned" in result.output  # the names are shown ...
    assert not any(char in result.output for char in "\x1b\x07")  # ... without their control characters
    assert "?]0;owned??[2J?[31mred?[0m" in result.output


@pytest.mark.parametrize(("cell", "expected"), [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
    ("+1", "'+1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("Jane", "Jane"), ("Ünal", "Ünal"), ("", ""), ("a=b", "a=b"),
])
def test_cells_a_spreadsheet_would_run_get_a_quote(cell: str, expected: str) -> None:
    assert neutralize(cell) == expected


def test_a_group_download_without_worksheet_names_the_file_to_download(course: Course,
                                                                       tmp_path: Path) -> None:
    first = course.notebook_names()[0]
    notebook = notebook_bytes(solved_notebook(course, first))
    download = write_zip(tmp_path / "groups.zip", [
        (f"{group_folder('Team_Alpha', 77)}/{first}.ipynb", notebook),
        (f"{group_folder('Default group', None)}/{first}.ipynb", notebook),
    ])
    with pytest.raises(GraderError) as error:
        collect(course, download)
    message = str(error.value)
    assert "\n" not in message
    assert "is a group submission (\"Students submit in groups\")" in message
    assert "'Download grading worksheet' and pass it with --worksheet" in message
    assert _nothing_collected(course)


def test_a_group_folder_the_worksheet_does_not_know_stops_collect(course: Course, tmp_path: Path) -> None:
    first = course.notebook_names()[0]
    download = write_zip(tmp_path / "groups.zip", [
        (f"{group_folder('Team_Omega', 99)}/{first}.ipynb", notebook_bytes(solved_notebook(course, first)))])
    worksheet = write_group_worksheet(tmp_path / "w.csv", [GroupMember(501, "Ann Alpha", "Team_Alpha")])
    with pytest.raises(GraderError, match=r"belongs to moodle group or participant 99, who is not in the "
                                          r"worksheet; in Moodle open the assignment"):
        collect(course, download, worksheet=worksheet)
    assert _nothing_collected(course)


GROUP_A = "Gruppe A & B's"  # format_string makes "&" "&amp;", then clean_filename drops "&" and "'"


def test_group_folders_are_mapped_through_a_german_worksheet(course: Course, tmp_path: Path) -> None:
    first = course.notebook_names()[0]
    download = write_zip(tmp_path / "groups.zip", [
        (f"{group_folder(GROUP_A, 12)}/{first}.ipynb", notebook_bytes(solved_notebook(course, first))),
        (f"{group_folder('Standardgruppe', None)}/{first}.ipynb",
         notebook_bytes(solved_notebook(course, first)))])
    members = [GroupMember(12, "Zwölf Zahl", "Standardgruppe"), GroupMember(501, "Anna A", "Gruppe A & B's"),
               GroupMember(502, "Bernd B", "Gruppe A & B's")]
    worksheet = write_group_worksheet(tmp_path / "w.csv", members, german=True)
    assert read_header(worksheet) == GERMAN_HEADER
    report = collect(course, download, worksheet=worksheet)
    assert sorted(report.collected) == ["moodle-group-0", "moodle-group-12"]
    assert report.without_submission == []
    assert not course.step_dir("submitted", "moodle-12").exists()
    notes = "\n".join(report.notes)
    assert group_folder("Gruppe A & B's", 12) == "Gruppe A amp; Bs_12_assignsubmission_file"
    assert "moodle-group-12 (Gruppe A & B's): a group submission, graded once" in notes
    assert "moodle-501 (Anna A), moodle-502 (Bernd B)" in notes
    assert "moodle-group-0 (Standardgruppe): a group submission, graded once; export gives its grade and " \
           "feedback to each member: moodle-12 (Zwölf Zahl)." in notes


def read_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


def test_an_anonymous_canvas_download_stops_with_what_to_do(course: Course, tmp_path: Path) -> None:
    """lib/content_zipper.rb, get_filename: with anonymous grading the file name is anon_<anonymous id>,
    then _<attachment id>_<file name>; LATE comes first for a late submission."""
    first = course.notebook_names()[0]
    notebook = notebook_bytes(solved_notebook(course, first))
    download = write_zip(tmp_path / "anonymous submissions.zip", [
        (f"anon_8uPtY_9501_{first}.ipynb", notebook), (f"LATE_anon_k3Zq9_9502_{first}.ipynb", notebook),
        ("anon_Qw7rT_text.html", b"<p>hi</p>")])
    gradebook_student = CanvasStudent(201, "Doe, Jane", "jd@uni.example")
    assert gradebook_student.file_prefix() == "doejane_201"
    with pytest.raises(GraderError) as error:
        collect(course, download)
    message = str(error.value)
    assert "\n" not in message and "anonymous submissions.zip" in message
    assert "uses anonymous grading" in message and "Graders cannot view student names" in message
    assert "SpeedGrader" in message
    assert _nothing_collected(course)


def test_the_default_group_is_recognised_in_any_language(course: Course, tmp_path: Path) -> None:
    """downloader.php names the default group's folder get_string('defaultteam') with no number; in a French
    Moodle that is "Groupe par défaut", which the worksheet's Group column shows too."""
    first = course.notebook_names()[0]
    download = write_zip(tmp_path / "groups.zip", [
        (f"{group_folder('Groupe par défaut', None)}/{first}.ipynb",
         notebook_bytes(solved_notebook(course, first)))])
    worksheet = write_group_worksheet(tmp_path / "w.csv", [GroupMember(7, "Anne Seule", "Groupe par défaut"),
                                                           GroupMember(8, "Paul Seul", "Groupe par défaut")])
    report = collect(course, download, worksheet=worksheet)
    assert report.collected == {"moodle-group-0": [first]}
    assert report.without_submission == []
    assert "export gives its grade and feedback to each member: moodle-7 (Anne Seule), moodle-8 " \
           "(Paul Seul)." in "\n".join(report.notes)
