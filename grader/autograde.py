"""`grader autograde`: grade a whole class in parallel, safely, with progress and resumption.

Each (student, notebook) is one unit of work: one submitted notebook in, one result out. Workers
(processes on this machine, or a Dask cluster) run the course's configured sanitize steps and
autograde steps up to the executing one (grader.pipeline); the supervising process runs the rest
(saving grades, late penalties) and alone writes the gradebook, the graded notebooks and the
records, so an interrupted run resumes where it stopped. Every unit is guarded: whatever goes
wrong with one notebook makes that notebook "not graded" with a reason, and the batch goes on.
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

from nbformat import NotebookNode, from_dict
from nbgrader.api import MissingEntry
from sqlalchemy.exc import SAWarning
from tqdm import tqdm
from traitlets.config import Config

from grader import pipeline
from grader.course import Course
from grader.errors import GraderError
from grader.notebooks import parse_notebook, read_submission, write_notebook
from grader.outcomes import graded_problems
from grader.records import UnitRecord, load_record, save_record
from grader.status import Status


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
    assignment: str
    student: str
    notebook: str
    digest: str


def autograde(course: Course, students: Iterable[str] | None = None, force: bool = False,
              workers: int | None = None, scheduler: str | None = None,
              progress: bool = False, assignment: str | None = None) -> AutogradeResult:
    """Grade the submissions of `students` (default: everyone who submitted) to `assignment`.

    Already graded, unchanged submissions are skipped unless `force`. `workers` processes run
    in parallel (default: one per core); with `scheduler` (tcp://host:port) a Dask cluster does.
    """
    assignment = course.assignment(assignment)
    everyone = course.students("submitted", assignment)
    chosen = sorted(set(students)) if students is not None else everyone
    for student in chosen:
        if student not in everyone:
            raise GraderError(f"{course.folder('submitted', assignment, student)}: no submission for student "
                              f"{student!r}; check the id or collect the submissions first.")
    result = AutogradeResult()
    units = list(_units(course, assignment, chosen, force, result))
    done = _run(units, workers, scheduler)
    for unit, outcome in tqdm(done, total=len(units), disable=not progress, unit="notebook",
                              desc="grading", dynamic_ncols=True):
        record = finish(course, unit, outcome)
        if record.status is Status.NOT_GRADED:
            result.not_graded[(unit.student, unit.notebook)] = record.reason
    names = course.notebook_names(assignment)
    result.graded = [s for s in chosen if not all((s, n) in result.not_graded for n in names)]
    return result


def _units(course: Course, assignment: str, students: list[str], force: bool,
           result: AutogradeResult) -> Iterator[Unit]:
    """The units to grade: a unit whose submission and tests are unchanged since it was graded is skipped."""
    names = course.notebook_names(assignment)
    tests = {name: _tests_digest(course, assignment, name) for name in names}
    with course.gradebook(assignment) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush notices
        for student in students:
            if not _known(gradebook, student):
                gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(assignment, student,
                                                  timestamp=course.timestamp(assignment, student))
            for name in names:
                path = course.folder("submitted", assignment, student) / f"{name}.ipynb"
                if not path.exists() and not path.is_symlink():
                    result.missing.append((student, name))
                    _zero(gradebook, assignment, student, name)
                    save_record(course, assignment, UnitRecord(student, name, Status.MISSING, "not handed in"))
                    continue
                try:
                    data = read_submission(path, course.step_root("submitted", assignment))
                except GraderError as error:
                    reason = str(error).removeprefix(f"{path}: ")
                    _fail(course, gradebook, Unit(str(course.root), assignment, student, name, ""), reason)
                    result.not_graded[(student, name)] = reason
                    continue
                digest = f"{hashlib.sha256(data).hexdigest()}:{tests[name]}"
                old = load_record(course, assignment, student, name)
                if not force and old and old.digest == digest and old.status is Status.GRADED:
                    result.skipped.append((student, name))
                    continue
                yield Unit(str(course.root), assignment, student, name, digest)


def _tests_digest(course: Course, assignment: str, name: str) -> str:
    """What grading a notebook depends on besides the submission: its source notebook and the checks."""
    source = course.folder("source", assignment)
    digest = hashlib.sha256((source / f"{name}.ipynb").read_bytes())
    for support in _support_files(str(course.root)):
        if (source / support).is_file():
            digest.update((source / support).read_bytes())
    return digest.hexdigest()[:16]


def _known(gradebook, student: str) -> bool:
    try:
        gradebook.find_student(student)
    except MissingEntry:
        return False
    return True


def _zero(gradebook, assignment: str, student: str, notebook: str) -> None:
    """Clear a notebook's grades: nothing of an earlier grading survives a failed one."""
    submission = gradebook.find_submission_notebook(notebook, assignment, student)
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
    """Units in parallel; when a worker process dies, only the unit that killed it is lost.

    A dying process takes down the whole pool and every unit in flight with it. Those units are
    suspects: each is graded again on its own, so the one that kills its process is found (and
    reported "not graded"), and its innocent neighbours are graded as usual.
    """
    waiting = list(reversed(units))
    suspects: list[Unit] = []
    while waiting or suspects:
        if suspects:
            unit = suspects.pop()
            yield unit, _grade_alone(unit)
            continue
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
                        suspects.append(unit)
                if broken:
                    suspects.extend(running.values())
                    break


def _grade_alone(unit: Unit) -> dict:
    """Grade one unit in a process of its own; if that process dies, the unit is what killed it."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(grade_unit, unit).result()
        except BrokenProcessPool:
            return {"error": "grading it ended the grading process itself (graded alone, it died again)"}


@cache
def _config(root: str) -> Config:
    return Course(Path(root)).config()


@cache
def _steps(root: str) -> pipeline.GradingSteps:
    return pipeline.grading_steps(_config(root))


def _support_files(root: str) -> list[str]:
    return list(getattr(_steps(root).executor(), "support_files", []))


def grade_unit(unit: Unit) -> dict:
    """Run one submitted notebook through the worker's steps (in a worker); the outcome is plain data.

    Nothing raises out of here: any failure is this unit's "not graded" reason.
    """
    course = Course(Path(unit.root))
    path = course.folder("submitted", unit.assignment, unit.student) / f"{unit.notebook}.ipynb"
    try:
        notebook = parse_notebook(read_submission(path, course.step_root("submitted", unit.assignment)), path)
        resources = _resources(course, unit)
        notebook, resources = pipeline.run(_steps(unit.root).in_worker, notebook, resources)
        return {"notebook": notebook, "problems": resources.get("grader_problems", [])}
    except GraderError as error:
        return {"error": str(error).removeprefix(f"{path}: ")}
    except Exception as error:  # nbgrader refuses the notebook, or grading it failed: only this unit
        detail = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
        if type(error).__module__.startswith("nbgrader") or "metadata" in str(error).lower():
            return {"error": f"the notebook's grading cells or their metadata were changed ({detail}); "
                             "ask for a resubmission made from the released notebook"}
        return {"error": f"grading it failed ({detail})"}


def _resources(course: Course, unit: Unit) -> dict:
    return {"nbgrader": {"notebook": unit.notebook, "assignment": unit.assignment, "student": unit.student,
                         "db_url": course.db_url},
            "metadata": {"path": str(course.folder("source", unit.assignment)), "name": unit.notebook}}


def finish(course: Course, unit: Unit, outcome: dict) -> UnitRecord:
    """Save grades and the graded notebook of one unit (only the supervisor does this); never raises."""
    if "error" in outcome:
        return _record_failure(course, unit, str(outcome["error"]))
    try:
        return _save(course, unit, from_dict(outcome["notebook"]))
    except Exception as error:  # saving failed (encoding, nbgrader, the file system): only this unit
        detail = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
        return _record_failure(course, unit, f"its graded notebook could not be saved ({detail})")


def _save(course: Course, unit: Unit, notebook: NotebookNode) -> UnitRecord:
    resources = _resources(course, unit)
    notebook, resources = pipeline.run(_steps(unit.root).in_supervisor, notebook, resources)
    graded = course.folder("autograded", unit.assignment, unit.student)
    write_notebook(notebook, graded / f"{unit.notebook}.ipynb")
    source = course.folder("source", unit.assignment)
    for support in _support_files(unit.root):
        if (source / support).is_file():
            target = graded / support
            target.unlink(missing_ok=True)  # nbgrader leaves it read-only
            shutil.copyfile(source / support, target)
    problems = graded_problems(notebook)
    status = Status.NOT_GRADED if problems else Status.GRADED
    record = UnitRecord(unit.student, unit.notebook, status, "; ".join(problems), unit.digest)
    save_record(course, unit.assignment, record)
    return record


def _record_failure(course: Course, unit: Unit, reason: str) -> UnitRecord:
    try:
        with course.gradebook(unit.assignment) as gradebook:
            return _fail(course, gradebook, unit, reason)
    except Exception as error:  # the gradebook itself failed: still record why, and go on
        record = UnitRecord(unit.student, unit.notebook, Status.NOT_GRADED,
                            f"{reason}; its grades could not be cleared ({type(error).__name__})", unit.digest)
        save_record(course, unit.assignment, record)
        return record


def _fail(course: Course, gradebook, unit: Unit, reason: str) -> UnitRecord:
    """A unit that cannot be graded: no grades, no graded notebook, a record that says why."""
    _zero(gradebook, unit.assignment, unit.student, unit.notebook)
    (course.folder("autograded", unit.assignment, unit.student) / f"{unit.notebook}.ipynb").unlink(
        missing_ok=True)
    record = UnitRecord(unit.student, unit.notebook, Status.NOT_GRADED, reason, unit.digest)
    save_record(course, unit.assignment, record)
    return record
