"""`grader collect` and the LMS files of `grader export` for a large class: seconds per class size.

    python benchmarks/bench_lms.py                  # 100 and 1,000 students, about a minute
    python benchmarks/bench_lms.py --sizes 1000,3000

For each class size N it builds, in a temporary folder, a Moodle download ("Download all submissions":
a folder per participant with every notebook of the assignment) with its grading worksheet, and a Canvas
download ("Download Submissions": one file per notebook) with its gradebook export, and times:

- **collect**: `grader.lms.collect.collect` of each download into a fresh copy of the released course
  (reading the zip, recognising each notebook by its cells, writing the submitted folders and
  timestamps, registering every student in nbgrader's gradebook);
- **export**: the LMS files `grader export` writes from N graded results: the filled Moodle worksheet,
  Moodle's feedback zip, the Canvas import and Canvas's Re-Upload Submissions zip (one small feedback
  page per notebook and student on disk). The results are built directly (grading 1,000 students is what
  `bench_autograde.py` measures); the worksheet's rows are read against the submissions collect wrote.

With `--graded G` it also grades a class of G students for real (`grader autograde`, `grader feedback`)
and times the whole `grader export` of it (scores CSV, filled worksheet, feedback zip; the gradebook's
results included), per student, to set beside the LMS files' share.

It prints the seconds of each step and the ratio to the smallest size (linear growth gives the ratio of
the sizes). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.autograde import autograde
from grader.classroom import solved_notebook
from grader.course import Course, new_course
from grader.export import LmsFiles, export
from grader.feedback import feedback
from grader.lms.canvas_feedback import canvas_feedback_zip
from grader.lms.canvas_import import canvas_import
from grader.lms.collect import collect
from grader.lms.feedback_zip import feedback_zip
from grader.lms.moodle import read_worksheet
from grader.lms.student_grades import NotebookResult, StudentResult
from grader.lms.worksheet import fill_worksheet
from grader.release import release
from grader.status import Status

REPO = Course(Path(__file__).resolve().parent.parent)
HEADER = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
          "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def _zip(path: Path, entries: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 16, 9, 0, 0)), data)
    return path


def _csv(path: Path, rows: list[list[str]]) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def moodle_files(course: Course, folder: Path, size: int) -> tuple[Path, Path]:
    """A Moodle 4.1+ download and grading worksheet of `size` participants (ids 1000...)."""
    notebooks = {name: solved_notebook(course, name) for name in course.notebook_names()}
    data = {name: nbformat.writes(nb).encode() for name, nb in notebooks.items()}
    people = [(1000 + index, f"Student {index:05d}") for index in range(size)]
    download = _zip(folder / "moodle.zip", [
        (f"{name}_{pid}_assignsubmission_file/{notebook}.ipynb", content)
        for pid, name in people for notebook, content in data.items()])
    worksheet = _csv(folder / "worksheet.csv", [HEADER] + [
        [f"Participant {pid}", name, f"s{pid}@uni.example", "Submitted for grading", "", "100.00", "Yes",
         "Monday, 15 January 2024, 2:30 PM", "-", ""] for pid, name in people])
    return download, worksheet


def canvas_files(course: Course, folder: Path, size: int) -> tuple[Path, Path]:
    """A Canvas download and gradebook export of `size` students (user ids 5000...)."""
    data = {name: nbformat.writes(solved_notebook(course, name)).encode()
            for name in course.notebook_names()}
    people = [(5000 + index, f"student{index:05d}") for index in range(size)]
    download = _zip(folder / "canvas.zip", [
        (f"{name}_{uid}_{900000 + uid * 10 + number}_{notebook}.ipynb", content)
        for uid, name in people for number, (notebook, content) in enumerate(data.items())])
    gradebook = _csv(folder / "gradebook.csv", [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lecture 1 (77)", "Current Points"],
        ["    Points Possible", "", "", "", "", "36", "(read only)"]] + [
        [f"Student, {name}", str(uid), "", f"{name}@uni.example", "DL", "", "0"] for uid, name in people])
    return download, gradebook


def results_for(course: Course, students: list[str]) -> dict[str, StudentResult]:
    """Graded results and one small feedback page per notebook, as `grader feedback` leaves them."""
    assignment = course.assignment()
    names = course.notebook_names()
    results = {}
    for sid in students:
        folder = course.folder("feedback", assignment, sid)
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / f"{name}.html").write_text(f"<html><body>{sid} {name}</body></html>", encoding="utf-8")
        notebooks = tuple(NotebookResult(name, 5.0, 6.0, Status.GRADED) for name in names)
        results[sid] = StudentResult(sid, 5.0 * len(names), 6.0 * len(names), notebooks, len(names),
                                     assignment)
    return results


def timed(action: Callable[..., object], *args: object, **options: object) -> float:
    """Seconds `action(*args, **options)` takes."""
    start = time.perf_counter()
    action(*args, **options)
    return time.perf_counter() - start


def measure(template: Course, work: Path, size: int) -> dict[str, float]:
    folder = work / f"n{size}"
    folder.mkdir()
    times: dict[str, float] = {}
    for lms, build in (("moodle", moodle_files), ("canvas", canvas_files)):
        course = Course(folder / f"{lms}-course")
        shutil.copytree(template.root, course.root)
        download, roster = build(course, folder, size)
        option = {"worksheet": roster} if lms == "moodle" else {"canvas_gradebook": roster}
        times[f"collect {lms}"] = timed(collect, course, download, timezone="UTC", **option)
        assignment = course.assignment()
        prefix = "moodle-" if lms == "moodle" else "canvas-"
        results = results_for(course, [s for s in course.students("submitted", assignment)
                                       if s.startswith(prefix)])
        if lms == "moodle":
            times["export moodle worksheet"] = timed(fill_worksheet, course, assignment, roster, results)
            sheet = read_worksheet(roster)
            times["export moodle feedback zip"] = timed(feedback_zip, course, assignment, results, sheet)
        else:
            times["export canvas import"] = timed(canvas_import, course, assignment, roster, results)
            times["export canvas feedback zip"] = timed(canvas_feedback_zip, course, assignment, results)
    return times


def measure_graded_export(template: Course, work: Path, size: int) -> float:
    """Seconds of the whole `grader export` (with worksheet and feedback zip) of a class graded for real."""
    folder = work / f"graded{size}"
    folder.mkdir()
    course = Course(folder / "course")
    shutil.copytree(template.root, course.root)
    download, worksheet = moodle_files(course, folder, size)
    collect(course, download, worksheet=worksheet, timezone="UTC")
    autograde(course)
    feedback(course)
    lms = LmsFiles(moodle_worksheet=worksheet, feedback_zip=True)
    return timed(export, course, folder / "exports" / "scores.csv", lms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="class sizes, comma separated")
    parser.add_argument("--graded", type=int, default=0,
                        help="also export a class of this many students graded for real")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-lms-") as temporary:
        work = Path(temporary)
        template = new_course(work / "template", REPO)
        release(template)
        table = {size: measure(template, work, size) for size in sizes}
        graded = measure_graded_export(template, work, options.graded) if options.graded else None
    steps = list(table[sizes[0]])
    print(f"{'step':<28}" + "".join(f"{f'N = {size}':>12}" for size in sizes) + "   ratio to the smallest N")
    for step in steps:
        seconds = [table[size][step] for size in sizes]
        ratios = " ".join(f"{value / seconds[0]:.1f}x" for value in seconds[1:])
        print(f"{step:<28}" + "".join(f"{value:>11.2f}s" for value in seconds) + f"   {ratios}")
    for size in sizes:
        print(f"N = {size}: collect and export, both LMSs: {sum(table[size].values()):.1f} s")
    if graded is not None:
        print(f"grader export of {options.graded} students graded for real (scores, worksheet, feedback "
              f"zip): {graded:.2f} s, {graded / options.graded * 1000:.0f} ms per student")


if __name__ == "__main__":
    main()
