"""Grading a small class of attackers and classmates with the real `grader` command, in a subprocess.

Each class is graded by its own `grader autograde` process (so no sandbox survives from one class into
another) and a second run checks that a rerun finishes. The peak memory of the command's process tree
is measured with getrusage(RUSAGE_CHILDREN) in a small wrapper process.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from grader.classroom import submit
from grader.course import Course
from grader.scores import CellScore, cell_scores

ASSIGNMENT = "lecture01"  # the assignment of the course these build

# Short limits keep a class fast (as tests/test_hostile.py does); 1 GiB is what the README configures.
LIMITS = ("\nc.SandboxedExecute.cell_seconds = 4\nc.SandboxedExecute.wall_seconds = 10\n"
          "c.SandboxedExecute.memory_bytes = 1 << 30\n")
_WRAPPER = ("import json, resource, subprocess, sys\n"
            "code = subprocess.run(json.loads(sys.argv[1])).returncode\n"
            "print(f'@@PEAK {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', file=sys.stderr)\n"
            "sys.exit(code)\n")


@dataclass
class Run:
    """One `grader` command: exit code, output, peak memory of its largest process, whether it ended."""

    returncode: int | None
    stdout: str
    stderr: str
    peak_bytes: int
    finished: bool

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def grader(course: Course | None, *args: str, timeout: float = 600,
           prepare: Callable[[], None] | None = None, python: str = sys.executable,
           env: dict[str, str] | None = None) -> Run:
    """Run `grader ARGS --course ROOT` in a new session; kill that session if it runs over `timeout`."""
    command = [python, "-c", "from grader.cli import main; main()", *args]
    if course is not None:
        command += ["--course", str(course.root)]
    cwd = str(course.root) if course is not None else None
    wrapped = [sys.executable, "-c", _WRAPPER, json.dumps(command)]
    process = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                               start_new_session=True, preexec_fn=prepare, cwd=cwd, env=env)
    try:
        out, err = process.communicate(timeout=timeout)
        finished = True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the session this test started: the command and its sandboxes
        out, err = process.communicate()
        finished = False
    peak = 0
    for line in err.splitlines():
        if line.startswith("@@PEAK "):
            peak = int(line.split()[1]) * 1024
    err = "\n".join(line for line in err.splitlines() if not line.startswith("@@PEAK "))
    return Run(process.returncode if finished else None, out, err, peak, finished)


def cpu_limit(seconds: int) -> Callable[[], None]:
    """A preexec function: the command's processes get at most `seconds` of CPU time each (`ulimit -t`)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))

    return limit


def new_course(template: Course, folder: Path, limits: str = LIMITS) -> Course:
    """A fresh copy of the released course with short limits."""
    target = folder / "course"
    shutil.copytree(template.root, target)
    with open(target / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write(limits)
    return Course(target)


def submit_raw(course: Course, student: str, notebook: str, data: bytes) -> Path:
    """Hand in a notebook file exactly as these bytes."""
    folder = course.step_dir("submitted", student)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.ipynb"
    path.write_bytes(data)
    return path


@dataclass(frozen=True)
class Record:
    """What `grader autograde` recorded for one unit."""

    status: str
    reason: str


def record(course: Course, student: str, notebook: str) -> Record | None:
    """The unit's grading record (the record's location and API changed during round 2; both are read)."""
    try:  # the code before the round-2 fixes
        from grader.results import load_record
    except ImportError:
        from grader.records import load_record

        found = load_record(course, ASSIGNMENT, student, notebook)
    else:
        found = load_record(course, student, notebook)
    return None if found is None else Record(str(getattr(found.status, "value", found.status)), found.reason)


@dataclass
class GradedClass:
    """A class graded twice by `grader autograde` (the second run is the rerun) and what it left."""

    course: Course
    students: dict[str, dict[str, NotebookNode | bytes | None]]
    first: Run
    rerun: Run
    rows: list[CellScore] = field(default_factory=list)

    def scores(self, student: str, notebook: str) -> dict[str, float]:
        return {r.cell: r.score for r in self.rows if r.student == student and r.notebook == notebook}

    def maxima(self, notebook: str) -> dict[str, float]:
        return {r.cell: r.max_score for r in self.rows if r.notebook == notebook}

    def record(self, student: str, notebook: str) -> Record | None:
        return record(self.course, student, notebook)

    def outputs(self, student: str, notebook: str) -> str:
        """Everything the graded notebook's cells show (outputs of student and test cells), as JSON text."""
        path = self.course.step_dir("autograded", student) / f"{notebook}.ipynb"
        if not path.exists():
            return ""
        return json.dumps([cell.get("outputs", []) for cell in json.loads(path.read_text())["cells"]])


def grade_class(course: Course, students: dict[str, dict[str, NotebookNode | bytes]], workers: int = 1,
                timeout: float = 600, **options) -> GradedClass:
    """Hand in every student's notebooks and grade them twice with `grader autograde --workers N`."""
    for student, notebooks in students.items():
        submit(course, student, {name: nb for name, nb in notebooks.items() if nb is not None})
    first = grader(course, "autograde", "--workers", str(workers), timeout=timeout, **options)
    rows = cell_scores(course)
    rerun = grader(course, "autograde", "--workers", str(workers), timeout=timeout, **options)
    return GradedClass(course, students, first, rerun, rows)


def _shown(run: Run) -> str:
    lines = [line for line in run.output.splitlines() if not line.startswith(("missing:", "grading:"))]
    return "\n".join(lines)[-3000:]


def describe(graded: GradedClass) -> str:
    """What the runs printed, for assertion messages."""
    return (f"first run: exit {graded.first.returncode}, finished {graded.first.finished}\n"
            f"{_shown(graded.first)}\nrerun: exit {graded.rerun.returncode}\n{_shown(graded.rerun)}")


SVM = "02_svm_loss"
FORWARD = "01_forward_propagation"
SCORES = "06_scores"
# The baseline wrong answers: one function wrong (02), one answer wrong (01); 06 is left blank.
WRONG = {SVM: {"svm_loss_single": "def svm_loss_single(s, y):\n"
                                   "    return np.sum(np.maximum(0, s - s[y] + 1))\n"},
         FORWARD: {"answer_n_biases": "answer_n_biases = 625"}}


def with_cells(notebook: NotebookNode, *sources: str, kind: str = "code") -> NotebookNode:
    """The notebook with these cells appended (code, markdown or raw)."""
    from nbformat import v4

    make = {"code": v4.new_code_cell, "markdown": v4.new_markdown_cell, "raw": v4.new_raw_cell}[kind]
    notebook.cells.extend(make(source) for source in sources)
    return notebook


def classmates(course: Course, notebook: str = SVM) -> dict[str, dict[str, NotebookNode]]:
    """The wrong-answer baseline (graded first), and a correct and a blank classmate (graded last)."""
    from grader.classroom import release_notebook, solved_notebook

    return {"a-baseline": {notebook: solved_notebook(course, notebook, WRONG.get(notebook, {}))},
            "y-correct": {notebook: solved_notebook(course, notebook)},
            "z-blank": {notebook: release_notebook(course, notebook)}}
