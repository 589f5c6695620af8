"""What hardened grading costs: plain `nbgrader autograde` against the sandboxed ways, in one run.

Builds a class from grader/samples (a third correct, a third with typical mistakes, a third broken:
the untouched release or a corrupt file) in a temporary folder and grades three copies of it:

1. plain nbgrader: `nbgrader autograde` with nbgrader's own preprocessors (Execute, one kernel per
   notebook, student code and tests in the same process);
2. `nbgrader autograde` with this course's configuration (SandboxedExecute);
3. `grader autograde` (sandboxed, in parallel worker processes).

Prints seconds per notebook and the ratios to plain nbgrader. Not a test:

    /tmp/venv/bin/python benchmarks/bench_hardening.py --students 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from grader.autograde import autograde
from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import CONFIG_FILE, Course, new_course
from grader.release import release
from grader.samples import all_samples

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_autograde import PLAIN_NBGRADER

ASSIGNMENT = "lecture01"  # the assignment of the course these build

REPO = Path(__file__).resolve().parent.parent


def build_class(course: Course, students: int) -> int:
    """Hand in `students` submissions of every notebook; return the number of notebooks handed in."""
    samples = all_samples()
    count = 0
    for index in range(students):
        notebooks: dict = {}
        for position, sample in enumerate(samples):
            name = sample.notebook
            kind = (index + position) % 3
            if kind == 0:
                notebooks[name] = solved_notebook(course, name)
            elif kind == 1 and sample.mistakes:
                mistake = sample.mistakes[(index * 7 + position) % len(sample.mistakes)]
                notebooks[name] = solved_notebook(course, name, mistake.cells)
            elif index % 2:
                notebooks[name] = release_notebook(course, name)
            else:
                notebooks[name] = b'{"cells": [{"cell_type": "code", "source": "import numpy as np'
        submit(course, f"student{index:03d}", notebooks)
        count += len(notebooks)
    return count


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None, help="grader autograde workers (default: cores)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench-hardening-"))
    try:
        template = new_course(folder / "template", Course(REPO))
        release(template)
        notebooks = build_class(template, args.students)
        copies = {}
        for name in ("plain", "sandboxed", "grader"):
            shutil.copytree(template.root, folder / name)
            copies[name] = Course(folder / name)
        with open(copies["plain"].root / CONFIG_FILE, "a", encoding="utf-8") as config:
            config.write(PLAIN_NBGRADER)

        print(f"{args.students} students, {notebooks} notebooks (correct, mistaken, broken); "
              f"{os.cpu_count()} cores", flush=True)
        seconds = {
            "plain nbgrader autograde": _timed(
                lambda: copies["plain"].nbgrader("autograde", ASSIGNMENT, "--force", check=False)),
            "nbgrader autograde + SandboxedExecute": _timed(
                lambda: copies["sandboxed"].nbgrader("autograde", ASSIGNMENT, "--force", check=False)),
            "grader autograde": _timed(lambda: autograde(copies["grader"], workers=args.workers)),
        }
        plain = seconds["plain nbgrader autograde"]
        width = max(len(name) for name in seconds)
        for (name, value), course in zip(seconds.items(), copies.values(), strict=True):
            graded_dir = course.step_dir("autograded", "*").parent.parent
            written = len(list(graded_dir.glob(f"*/{ASSIGNMENT}/*.ipynb")))
            print(f"{name:<{width}}  {value:8.1f} s  {value / notebooks:6.3f} s/notebook  "
                  f"{value / plain:5.2f} x plain  ({written} graded notebooks written)", flush=True)
    finally:
        if args.keep:
            print(f"kept: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
