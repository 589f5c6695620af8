"""Benchmark: `grader autograde` against plain `nbgrader autograde` on a synthetic class.

For each class size N it builds a class of N students from the samples (correct, written
differently, with typical mistakes, the untouched release, and broken uploads), grades one copy
with plain nbgrader (its default preprocessors, a fresh Jupyter kernel per notebook) and an
identical copy with `grader autograde`, checks that both give the same scores (it says so when
they differ), and prints wall seconds per notebook, their ratio and the peak memory of each
command's process tree (the sum of its processes' PSS, sampled every 50 ms). A class of one
student is graded first to warm the caches and is not counted.

    python benchmarks/bench_autograde.py                      # N = 10
    python benchmarks/bench_autograde.py --sizes 10,20,40     # is the cost linear in N?
    python benchmarks/bench_autograde.py --students 100       # plain nbgrader takes ~25 minutes here
    python benchmarks/bench_autograde.py --students 100 --skip-nbgrader

This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from grader import ASSIGNMENT
from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import Course, _python_path, new_course
from grader.release import release
from grader.samples import all_samples
from grader.scores import cell_scores

REPO = Path(__file__).resolve().parent.parent
def _nbgrader_defaults() -> str:
    """nbgrader's own default autograde pipeline (Execute: a Jupyter kernel per notebook), as config."""
    from nbgrader.converters import Autograde

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    names = ", ".join(f'"{step.__module__}.{step.__name__}"' for step in steps)
    return f"\n# Benchmark baseline: plain nbgrader.\nc.Autograde.autograde_preprocessors = [{names}]\n"


PLAIN_NBGRADER = _nbgrader_defaults()
BROKEN = b'{"cells": [{"cell_type": "code", "source": "import numpy as np'


@dataclass
class Run:
    """One grading command's cost."""

    seconds: float
    peak_mb: float
    notebooks: int

    @property
    def per_notebook(self) -> float:
        return self.seconds / self.notebooks


def synthetic_class(course: Course, students: int) -> None:
    """Hand in `students` submissions: 4 in 10 correct, 2 written differently, 2 with a mistake in
    one notebook, 1 untouched release, 1 with a corrupt notebook."""
    samples = all_samples()
    names = course.notebook_names()
    alternatives = [(s.notebook, code) for s in samples for code in s.alternatives.values()]
    mistakes = [m for s in samples for m in s.mistakes]
    for index in range(students):
        kind = index % 10
        notebooks: dict[str, NotebookNode | bytes] = {name: solved_notebook(course, name) for name in names}
        if kind in (4, 5) and alternatives:
            notebook, code = alternatives[index % len(alternatives)]
            notebooks[notebook] = solved_notebook(course, notebook, code)
        elif kind in (6, 7) and mistakes:
            mistake = mistakes[(index * 7) % len(mistakes)]
            notebooks[mistake.notebook] = solved_notebook(course, mistake.notebook, mistake.cells)
        elif kind == 8:
            notebooks = {name: release_notebook(course, name) for name in names}
        elif kind == 9:
            notebooks[names[-1]] = BROKEN  # the last: plain nbgrader skips a student's notebooks after it
        submit(course, f"student{index:04d}", notebooks)


def tree_memory(root: int) -> int:
    """Bytes of memory of a process and all its descendants (PSS where readable, else RSS)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        total += _process_memory(pid)
    return total


def _process_memory(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def measure(argv: list[str], cwd: Path, notebooks: int) -> Run:
    """Run a command; its wall time and the peak memory of its process tree (sampled every 50 ms)."""
    tools = str(Path(sys.executable).parent)
    env = {**os.environ, "PYTHONPATH": _python_path(),
           "PATH": os.pathsep.join([tools, os.environ.get("PATH", "")])}
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    peak = 0
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)
    reader.start()
    while process.poll() is None:
        peak = max(peak, tree_memory(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    reader.join()
    if process.returncode not in (0, 1):  # nbgrader exits 1 when a notebook could not be graded
        raise SystemExit(f"{argv[:4]} failed ({process.returncode}):\n{b''.join(stderr).decode()[-3000:]}")
    return Run(seconds, peak / 2**20, notebooks)


def grade_both(template: Course, work: Path, students: int, workers: int | None,
               skip_nbgrader: bool) -> tuple[Run | None, Run]:
    """Grade one synthetic class of `students` with plain nbgrader and with `grader autograde`."""
    ours = Course(work / f"grader-{students}")
    shutil.copytree(template.root, ours.root)
    synthetic_class(ours, students)
    notebooks = students * len(ours.notebook_names())
    plain_run = None
    if not skip_nbgrader:
        plain = Course(work / f"nbgrader-{students}")
        shutil.copytree(ours.root, plain.root)
        with (plain.root / "nbgrader_config.py").open("a", encoding="utf-8") as config:
            config.write(PLAIN_NBGRADER)
        plain_command = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT]
        plain_run = measure(plain_command, plain.root, notebooks)
    command = [sys.executable, "-c", "from grader.cli import main; main()", "autograde", "--course",
               str(ours.root)] + (["--workers", str(workers)] if workers else [])
    our_run = measure(command, ours.root, notebooks)
    if not skip_nbgrader and cell_scores(plain) != cell_scores(ours):
        print(f"  N={students}: plain nbgrader and grader autograde give DIFFERENT scores", flush=True)
    return plain_run, our_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=10, help="class size N (default 10)")
    parser.add_argument("--sizes", help="several class sizes, e.g. 10,20,40 (overrides --students)")
    parser.add_argument("--workers", type=int, help="grader autograde --workers (default: one per core)")
    parser.add_argument("--skip-nbgrader", action="store_true", help="time grader autograde only")
    parser.add_argument("--keep", action="store_true", help="keep the course folders (printed)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else [args.students]

    work = Path(tempfile.mkdtemp(prefix="bench-autograde-"))
    try:
        template = new_course(work / "template", Course(REPO))
        release(template)
        notebooks = len(template.notebook_names())
        print(f"{os.cpu_count()} cores; {notebooks} notebooks per student; building and grading "
              f"classes of {', '.join(map(str, sizes))} students ...", flush=True)
        grade_both(template, work, 1, args.workers, args.skip_nbgrader)  # warm-up (caches), not counted
        rows = []
        for students in sizes:
            plain, ours = grade_both(template, work, students, args.workers, args.skip_nbgrader)
            rows.append((students, plain, ours))
            _print_row(students, plain, ours, header=len(rows) == 1)
        if len(rows) > 1:
            first, last = rows[0], rows[-1]
            growth = last[2].seconds / first[2].seconds
            print(f"\ngrader autograde: {last[0] / first[0]:g}x the students took {growth:.2f}x the time, "
                  f"peak memory {first[2].peak_mb:.0f} -> {last[2].peak_mb:.0f} MB")
    finally:
        if args.keep:
            print(f"course folders kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _print_row(students: int, plain: Run | None, ours: Run, header: bool) -> None:
    if header:
        print(f"\n{'N':>5} {'notebooks':>9} | {'nbgrader s/nb':>13} {'peak MB':>8} | "
              f"{'grader s/nb':>11} {'peak MB':>8} | {'speed-up':>8}")
    plain_cells = (f"{plain.per_notebook:13.3f} {plain.peak_mb:8.0f}" if plain else f"{'-':>13} {'-':>8}")
    ratio = f"{plain.per_notebook / ours.per_notebook:7.1f}x" if plain else f"{'-':>8}"
    ours_cells = f"{ours.per_notebook:11.3f} {ours.peak_mb:8.0f}"
    print(f"{students:>5} {ours.notebooks:>9} | {plain_cells} | {ours_cells} | {ratio}", flush=True)


if __name__ == "__main__":
    main()
