"""`grader autograde`: grade a whole class in parallel, safely, with progress and resumption.

Each (student, notebook) is one unit of work: one submitted notebook in, one result out. Workers
(processes on this machine, or a Dask cluster) sanitize the notebook with nbgrader's preprocessors
and run it with `SandboxedExecute`; only this supervising process writes the gradebook, the graded
notebooks and the result records, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cache
from multiprocessing import get_context
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat import NotebookNode, from_dict
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    LimitOutput,
    OverwriteKernelspec,
)
from sqlalchemy.exc import SAWarning
from tqdm import tqdm
from traitlets.config import Config

from grader import ASSIGNMENT
from grader.course import Course
from grader.errors import GraderError
from grader.notebooks import read_notebook, write_notebook
from grader.preprocessors import (
    DropEmptyNbgraderMetadata,
    OverwriteCellsShared,
    SandboxedExecute,
    SaveAutoGradesShared,
)
from grader.results import UnitRecord, load_record, save_record

SANITIZE = (ClearOutput, DeduplicateIds, DropEmptyNbgraderMetadata, OverwriteKernelspec, OverwriteCellsShared,
            CheckCellMetadata)
FINISH = (ClearMetadataPreprocessor, LimitOutput, SaveAutoGradesShared, AssignLatePenalties)


@dataclass
class AutogradeResult:
    """Who was graded, what could not be graded and why, and what was missing or skipped."""

    graded: list[str] = field(default_factory=list)
    not_graded: dict[tuple[str, str], str] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Unit:
    """One submitted notebook to grade."""

    root: str
    student: str
    notebook: str
    digest: str


def submitted_students(course: Course) -> list[str]:
    """Students with a submission folder for this assignment."""
    root = course.step_dir("submitted", "*").parent.parent
    return sorted(path.parent.name for path in root.glob(f"*/{ASSIGNMENT}") if path.is_dir())


def autograde(course: Course, students: Iterable[str] | None = None, force: bool = False,
              workers: int | None = None, scheduler: str | None = None,
              progress: bool = False) -> AutogradeResult:
    """Grade the submissions of `students` (default: everyone who submitted).

    Already graded, unchanged submissions are skipped unless `force`. `workers` processes run
    in parallel (default: one per core); with `scheduler` (tcp://host:port) a Dask cluster does.
    """
    everyone = submitted_students(course)
    chosen = sorted(set(students)) if students is not None else everyone
    for student in chosen:
        if student not in everyone:
            raise GraderError(f"{course.step_dir('submitted', student)}: no submission for student "
                              f"{student!r}; check the id or collect the submissions first.")
    result = AutogradeResult()
    units = list(_units(course, chosen, force, result))
    done = _run(units, workers, scheduler)
    for unit, outcome in tqdm(done, total=len(units), disable=not progress, unit="notebook",
                              desc="grading", dynamic_ncols=True):
        record = _finish(course, unit, outcome)
        if record.status == "not graded":
            result.not_graded[(unit.student, unit.notebook)] = record.reason
    names = course.notebook_names()
    result.graded = [s for s in chosen if not all((s, n) in result.not_graded for n in names)]
    return result


def _units(course: Course, students: list[str], force: bool, result: AutogradeResult) -> Iterator[Unit]:
    """The units to grade: a unit whose submission and tests are unchanged since it was graded is skipped."""
    names = course.notebook_names()
    tests = {name: _tests_digest(course, name) for name in names}
    with course.gradebook() as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush notices
        for student in students:
            if not _known(gradebook, student):
                gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(ASSIGNMENT, student, timestamp=course.timestamp(student))
            for name in names:
                path = course.step_dir("submitted", student) / f"{name}.ipynb"
                if not path.exists():
                    result.missing.append((student, name))
                    _zero(gradebook, student, name)
                    save_record(course, UnitRecord(student, name, "missing", "not handed in"))
                    continue
                digest = f"{hashlib.sha256(path.read_bytes()).hexdigest()}:{tests[name]}"
                old = load_record(course, student, name)
                if not force and old and old.digest == digest and old.status != "not graded":
                    result.skipped.append((student, name))
                    continue
                yield Unit(str(course.root), student, name, digest)


def _tests_digest(course: Course, name: str) -> str:
    """What grading a notebook depends on besides the submission: its source notebook and the checks."""
    digest = hashlib.sha256((course.source / f"{name}.ipynb").read_bytes())
    for support in _executor(str(course.root)).support_files:
        if (course.source / support).is_file():
            digest.update((course.source / support).read_bytes())
    return digest.hexdigest()[:16]


def _known(gradebook, student: str) -> bool:
    try:
        gradebook.find_student(student)
    except MissingEntry:
        return False
    return True


def _zero(gradebook, student: str, notebook: str) -> None:
    """Clear a notebook's grades: nothing of an earlier grading survives a failed one."""
    submission = gradebook.find_submission_notebook(notebook, ASSIGNMENT, student)
    for grade in submission.grades:
        grade.auto_score = 0
        grade.needs_manual_grade = False
    gradebook.db.commit()


def _run(units: list[Unit], workers: int | None, scheduler: str | None) -> Iterator[tuple[Unit, dict]]:
    """(unit, outcome) as each unit finishes, on a Dask cluster, in worker processes, or here."""
    if not units:
        return
    if scheduler:
        yield from _run_on_dask(units, scheduler)
        return
    count = min(workers or os.cpu_count() or 1, len(units))
    if count == 1:
        for unit in units:
            yield unit, grade_unit(unit)
        return
    yield from _run_in_pool(units, count)


def _run_on_dask(units: list[Unit], scheduler: str) -> Iterator[tuple[Unit, dict]]:
    """The same units on a Dask cluster; a failing Dask worker costs only the unit it had."""
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise GraderError("--scheduler needs the Dask extra: pip install -e '.[dask]'") from None
    with Client(scheduler) as client:
        futures = {client.submit(grade_unit, unit, pure=False): unit for unit in units}
        for future in dask_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:  # the worker died or could not run the unit
                outcome = {"error": f"the Dask worker failed: {type(error).__name__}"}
            yield futures[future], outcome


def _run_in_pool(units: list[Unit], count: int) -> Iterator[tuple[Unit, dict]]:
    """At most `count` units in flight; a worker process that dies costs only the units it had."""
    waiting = list(reversed(units))
    breaks: dict[Unit, int] = {}
    while waiting:
        with ProcessPoolExecutor(count, mp_context=get_context("spawn")) as pool:
            running = {}
            while waiting or running:
                while waiting and len(running) < 2 * count:  # busy while the supervisor saves
                    unit = waiting.pop()
                    running[pool.submit(grade_unit, unit)] = unit
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    unit = running.pop(future)
                    try:
                        yield unit, future.result()
                    except BrokenProcessPool:
                        broken = True
                        breaks[unit] = breaks.get(unit, 0) + 1
                        if breaks[unit] >= 2:
                            yield unit, {"error": "the grading process died twice while grading it"}
                        else:
                            waiting.append(unit)
                if broken:
                    for unit in running.values():
                        breaks[unit] = breaks.get(unit, 0) + 1
                        waiting.append(unit)
                    break


@cache
def _config(root: str) -> Config:
    return Course(Path(root)).config()


@cache
def _executor(root: str) -> SandboxedExecute:
    return SandboxedExecute(config=_config(root))


def grade_unit(unit: Unit) -> dict:
    """Sanitize and run one submitted notebook (in a worker); the outcome is plain data."""
    course = Course(Path(unit.root))
    path = course.step_dir("submitted", unit.student) / f"{unit.notebook}.ipynb"
    try:
        notebook = read_notebook(path)
        resources = _resources(course, unit)
        for step in SANITIZE:
            notebook, resources = step(config=_config(unit.root))(notebook, resources)
    except GraderError as error:
        return {"error": str(error).removeprefix(f"{path}: ")}
    except Exception as error:  # nbgrader refuses the notebook: it costs only this unit
        detail = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        return {"error": f"the notebook's grading cells or their metadata were changed ({detail}); "
                         "ask for a resubmission made from the released notebook"}
    resources["metadata"] = {"path": str(course.source)}
    notebook, resources = _executor(unit.root).preprocess(notebook, resources)
    return {"notebook": notebook, "problems": resources.get("grader_problems", [])}


@cache
def _finish_steps(root: str) -> tuple[type, ...]:
    """FINISH, without the late-penalty step when the course sets no late-submission penalty."""
    config = _config(root)
    plugin = config.AssignLatePenalties.get("plugin_class")
    penalty = config.LateSubmissionPlugin.get("penalty_method", "none")
    if plugin is None and penalty == "none":
        return tuple(step for step in FINISH if step is not AssignLatePenalties)
    return FINISH


def _resources(course: Course, unit: Unit) -> dict:
    return {"nbgrader": {"notebook": unit.notebook, "assignment": ASSIGNMENT, "student": unit.student,
                         "db_url": course.db_url}}


def _finish(course: Course, unit: Unit, outcome: dict) -> UnitRecord:
    """Save grades and the graded notebook of one unit (only the supervisor does this)."""
    target = course.step_dir("autograded", unit.student) / f"{unit.notebook}.ipynb"
    if "error" in outcome:
        with course.gradebook() as gradebook:
            _zero(gradebook, unit.student, unit.notebook)
        target.unlink(missing_ok=True)
        record = UnitRecord(unit.student, unit.notebook, "not graded", outcome["error"], unit.digest)
        save_record(course, record)
        return record
    notebook: NotebookNode = from_dict(outcome["notebook"])
    resources = _resources(course, unit)
    for step in _finish_steps(unit.root):
        notebook, resources = step(config=_config(unit.root))(notebook, resources)
    write_notebook(notebook, target)
    for support in _executor(unit.root).support_files:
        if (course.source / support).is_file():
            shutil.copy2(course.source / support, target.parent / support)
    problems = outcome.get("problems", [])
    status = "not graded" if problems else "graded"
    record = UnitRecord(unit.student, unit.notebook, status, "; ".join(problems), unit.digest,
                        cells=_cell_results(notebook))
    save_record(course, record)
    return record


def _cell_results(notebook: NotebookNode) -> list[dict]:
    """Each test cell's verdict and message, as the graded notebook shows it."""
    from nbgrader.utils import determine_grade, is_grade

    cells = []
    for cell in notebook.cells:
        if is_grade(cell) and cell.cell_type == "code":
            score, max_score = determine_grade(cell)
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            message = f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else ""
            cells.append({"cell": cell.metadata.nbgrader.grade_id, "score": score, "max_score": max_score,
                          "message": message})
    return cells
