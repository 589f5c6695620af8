"""`grader autograde`: grade a whole class in parallel, safely, with progress and resumption.

Each (student, notebook) is one unit of work: one submitted notebook in, one result out. The
supervising process registers the class in the gradebook; workers run the course's configured
sanitize steps and autograde steps up to the executing one (grader.pipeline) and then the rest
(saving grades, late penalties), writing the gradebook, the graded notebook and the record of their
unit, so an interrupted run resumes where it stopped. On a Dask cluster, whose workers may be other
machines, the workers stop after executing and the supervising process alone does the rest and
writes. Every unit is guarded: whatever goes wrong with one notebook makes that notebook "not
graded" with a reason, and the batch goes on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from itertools import chain, islice
from pathlib import Path

from nbformat import NotebookNode, from_dict
from nbgrader.api import MissingEntry
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SAWarning
from tqdm import tqdm
from traitlets.config import Config

from grader import pipeline
from grader.course import Course
from grader.errors import GraderError
from grader.forkserver import worker_context
from grader.notebooks import parse_notebook, read_submission, write_notebook
from grader.outcomes import graded_problems
from grader.records import UnitRecord, load_record, save_record
from grader.reuse import reused_setup
from grader.status import Status


@dataclass
class AutogradeResult:
    """Who was graded, what could not be graded and why, and what was missing or skipped."""

    graded: list[str] = field(default_factory=list)
    not_graded: dict[tuple[str, str], str] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Where the run's time went, in seconds summed over its units: "worker:<step>" and "supervisor:<step>"
    # (wall; " cpu" appended: that process's CPU), "sandbox:cpu", "sandbox:<part>" (wall seconds of the
    # parts of executing, see grader.sandbox.trusted.NotebookRun.timings), "supervisor:register" (registering
    # the class), "supervisor:waiting" (blocked on the workers, registering included), "supervisor:first"
    # (until the first unit was done), "supervisor:wall"/"supervisor:cpu" (all of autograde), "units".
    timings: Counter = field(default_factory=Counter)
    unsandboxed: list[str] = field(default_factory=list)  # what of the sandbox was missing (--no-sandbox)


@dataclass(frozen=True)
class Unit:
    """One submitted notebook to grade."""

    root: str
    assignment: str
    student: str
    notebook: str
    digest: str
    accept_risk: bool = False  # grade even where a part of the sandbox is missing (--no-sandbox)


def autograde(course: Course, students: Iterable[str] | None = None, force: bool = False,
              workers: int | None = None, scheduler: str | None = None,
              progress: bool = False, assignment: str | None = None,
              accept_risk: bool = False) -> AutogradeResult:
    """Grade the submissions of `students` (default: everyone who submitted) to `assignment`.

    Already graded, unchanged submissions are skipped unless `force`. `workers` processes run
    in parallel (default: one per core); with `scheduler` (tcp://host:port) a Dask cluster does.
    The workers start (and warm their sandboxes) while the supervisor is still registering the
    class in the gradebook, and grade each unit as soon as it is registered.

    Where a part of the sandbox is missing it refuses (GraderError), unless `accept_risk`: then what
    was missing is in the result and in every record.
    """
    started, cpu = time.perf_counter(), time.process_time()
    result = AutogradeResult(unsandboxed=_missing_isolation(str(course.root)))
    if result.unsandboxed and not accept_risk:
        missing = "; ".join(result.unsandboxed)
        raise GraderError(f"grading refused, the sandbox is incomplete here: {missing}. "
                          "Install what is missing (docs/sandbox.md), or pass --no-sandbox to grade "
                          "without it (every record then says so).")
    assignment = course.assignment(assignment)
    everyone = course.students("submitted", assignment)
    chosen = sorted(set(students)) if students is not None else everyone
    for student in chosen:
        if student not in everyone:
            raise GraderError(f"{course.folder('submitted', assignment, student)}: no submission for student "
                              f"{student!r}; check the id or collect the submissions first.")
    timings = result.timings
    with _quick_sqlite_commits(), reused_setup():
        units = _timed_iterator(_units(course, assignment, chosen, force, result), timings,
                                "supervisor:register")
        names = course.notebook_names(assignment)
        with tqdm(total=len(chosen) * len(names), disable=not progress, unit="notebook", desc="grading",
                  dynamic_ncols=True) as bar:
            done = _timed_iterator(_run(units, workers, scheduler), timings, "supervisor:waiting")
            failed = 0
            for unit, outcome in done:
                if not timings["units"]:
                    timings["supervisor:first"] = time.perf_counter() - started
                timings.update(outcome.pop("timings", {}))
                record = outcome.get("record") or finish(course, unit, outcome, timings)
                if record.status is Status.NOT_GRADED:
                    result.not_graded[(unit.student, unit.notebook)] = record.reason
                    failed += 1
                timings["units"] += 1
                # graded here, or skipped, missing or unreadable on the way (those cost no grading)
                passed = len(result.skipped) + len(result.missing) + len(result.not_graded) - failed
                bar.update(timings["units"] + passed - bar.n)
            bar.update(bar.total - bar.n)
    result.graded = [s for s in chosen if not all((s, n) in result.not_graded for n in names)]
    timings["supervisor:wall"] += time.perf_counter() - started
    timings["supervisor:cpu"] += time.process_time() - cpu
    return result


def _timed_iterator(items: Iterator, timings: Counter, key: str) -> Iterator:
    """The items; the time spent waiting for each (producing it, or blocked on a worker) is added to key."""
    iterator = iter(items)
    while True:
        with _timer(timings, key):
            item = next(iterator, _END)
        if item is _END:
            return
        yield item


_END = object()


@contextmanager
def _quick_sqlite_commits() -> Iterator[None]:
    """While grading, an SQLite gradebook commits to its write-ahead log without waiting for the disk.

    nbgrader's SaveAutoGrades commits once per graded cell; with SQLite's default rollback journal
    each commit waits for the disk twice. In WAL mode with synchronous=NORMAL a commit survives the
    grading process being killed (only a power cut may lose the last ones; the database stays
    consistent), and the log is written back to the database when the run ends.
    """
    event.listen(Engine, "connect", _wal_mode)
    try:
        yield
    finally:
        event.remove(Engine, "connect", _wal_mode)


def _wal_mode(connection, _record) -> None:
    if isinstance(connection, sqlite3.Connection):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")


def _units(course: Course, assignment: str, students: list[str], force: bool,
           result: AutogradeResult) -> Iterator[Unit]:
    """The units to grade, student by student as each is registered in the gradebook.

    A unit whose submission and tests are unchanged since it was graded is skipped.
    """
    names = course.notebook_names(assignment)
    tests = {name: _tests_digest(course, assignment, name) for name in names}
    with course.gradebook(assignment) as gradebook:
        for student in students:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush notices
                units = _student_units(course, gradebook, assignment, student, names, tests, force, result)
            yield from units


def _student_units(course: Course, gradebook, assignment: str, student: str, names: list[str],
                   tests: dict[str, str], force: bool, result: AutogradeResult) -> list[Unit]:
    """Register one student's submission; the notebooks of it to grade."""
    if not _known(gradebook, student):
        gradebook.update_or_create_student(student)
    gradebook.update_or_create_submission(assignment, student,
                                          timestamp=course.timestamp(assignment, student))
    units = []
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
        units.append(Unit(str(course.root), assignment, student, name, digest, bool(result.unsandboxed)))
    return units


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


def _run(units: Iterator[Unit], workers: int | None, scheduler: str | None) -> Iterator[tuple[Unit, dict]]:
    """(unit, outcome) as each unit finishes, on a Dask cluster, in worker processes, or here."""
    first = list(islice(units, 2))  # the pool starts as soon as a second unit is registered
    if not first:
        return
    units = chain(first, units)
    if scheduler:
        yield from _run_on_dask(list(units), scheduler)
        return
    if (workers or os.cpu_count() or 1) == 1 or len(first) == 1:
        for unit in units:
            yield unit, grade_unit(unit)
        return
    yield from _run_in_pool(units, workers or os.cpu_count() or 1, first[0].root, first[0].accept_risk)


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


def _run_in_pool(units: Iterator[Unit], count: int, root: str,
                 accept_risk: bool = False) -> Iterator[tuple[Unit, dict]]:
    """Units in parallel; when a worker process dies, only the unit that killed it is lost.

    A dying process takes down the whole pool and every unit in flight with it. Those units are
    suspects: each is graded again on its own, so the one that kills its process is found (and
    reported "not graded"), and its innocent neighbours are graded as usual.
    """
    suspects: list[Unit] = []
    pending = iter(units)
    exhausted = False
    while not exhausted or suspects:
        if suspects:
            unit = suspects.pop()
            yield unit, _grade_alone(unit)
            continue
        with _pool(count, root, accept_risk) as pool:
            running = {}
            while not exhausted or running:
                while not exhausted and len(running) < 2 * count:  # busy while the supervisor saves
                    unit = next(pending, None)
                    if unit is None:
                        exhausted = True
                        break
                    running[pool.submit(grade_and_save, unit)] = unit
                if not running:
                    break
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


def _pool(count: int, root: str, accept_risk: bool = False) -> ProcessPoolExecutor:
    """Worker processes forked from a server that imported the grader once; each warms its sandbox at once."""
    return ProcessPoolExecutor(count, mp_context=worker_context(), initializer=_warm_up,
                               initargs=(root, accept_risk))


def _warm_up(root: str, accept_risk: bool = False) -> None:
    """Build the steps and start the sandbox of this worker before its first unit arrives."""
    try:
        zygote = getattr(_steps(root, accept_risk).executor(), "zygote", None)
        if callable(zygote):
            zygote()
    except Exception:  # the first unit meets the same problem and reports it
        pass


def _grade_alone(unit: Unit) -> dict:
    """Grade one unit in a process of its own; if that process dies, the unit is what killed it."""
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        try:
            return pool.submit(grade_and_save, unit).result()
        except BrokenProcessPool:
            return {"error": "grading it ended the grading process itself (graded alone, it died again)"}


@cache
def _config(root: str) -> Config:
    return Course(Path(root)).config()


@cache
def _steps(root: str, accept_risk: bool = False) -> pipeline.GradingSteps:
    config = _config(root)
    if accept_risk:  # --no-sandbox: the instructor accepted grading without a part of the sandbox
        config = Config(config)
        config.SandboxedExecute.accept_risk = True
    return pipeline.grading_steps(config)


def _support_files(root: str) -> list[str]:
    return list(getattr(_steps(root).executor(), "support_files", []))


def grade_unit(unit: Unit) -> dict:
    """Run one submitted notebook through the worker's steps (in a worker); the outcome is plain data.

    Nothing raises out of here: any failure is this unit's "not graded" reason. The outcome's
    "timings" say where the unit's time went in the worker (seconds per step, and its CPU).
    """
    cpu, sandbox_cpu = time.process_time(), _children_cpu()
    timings: Counter = Counter()
    course = Course(Path(unit.root))
    path = course.folder("submitted", unit.assignment, unit.student) / f"{unit.notebook}.ipynb"
    try:
        with _timer(timings, "worker:read"):
            notebook = parse_notebook(read_submission(path, course.step_root("submitted", unit.assignment)),
                                      path)
        resources = _resources(course, unit)
        with reused_setup():
            steps = _steps(unit.root, unit.accept_risk).executing
            notebook, resources = _run_steps(steps, notebook, resources, timings, "worker")
        outcome = {"notebook": notebook, "problems": resources.get("grader_problems", []),
                   "unsandboxed": resources.get("grader_unsandboxed", [])}
        parts = resources.get("grader_timings", {})
        timings.update({f"sandbox:{part}": seconds for part, seconds in parts.items()})
    except GraderError as error:
        outcome = {"error": str(error).removeprefix(f"{path}: ")}
    except Exception as error:  # nbgrader refuses the notebook, or grading it failed: only this unit
        detail = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
        if _raised_by_nbgrader(error) or "metadata" in str(error).lower():
            outcome = {"error": f"the notebook's grading cells or their metadata were changed ({detail}); "
                                "ask for a resubmission made from the released notebook"}
        else:
            outcome = {"error": f"grading it failed ({detail})"}
    timings["worker:cpu"] += time.process_time() - cpu
    timings["sandbox:cpu"] += max(0.0, _children_cpu() - sandbox_cpu)
    outcome["timings"] = dict(timings)
    return outcome


def grade_and_save(unit: Unit) -> dict:
    """grade_unit, then finish, in this process (a worker of this machine's pool): the outcome is the
    unit's record and where its time went."""
    with _quick_sqlite_commits(), reused_setup():  # as the supervisor's autograde() has them
        outcome = grade_unit(unit)
        timings = Counter(outcome.pop("timings"))
        record = finish(Course(Path(unit.root)), unit, outcome, timings, side="worker")
    return {"record": record, "timings": dict(timings)}


def _raised_by_nbgrader(error: Exception) -> bool:
    """Whether one of nbgrader's own steps raised the error (it refused the notebook's grading cells)."""
    package = f"{os.sep}nbgrader{os.sep}"
    return type(error).__module__.startswith("nbgrader") or any(
        package in frame.filename for frame in traceback.extract_tb(error.__traceback__))


def _run_steps(steps: tuple, notebook: NotebookNode, resources: dict, timings: Counter,
               side: str) -> tuple[NotebookNode, dict]:
    """pipeline.run, one step at a time, each step's time added to timings ("side:StepName")."""
    for step in steps:
        with _timer(timings, f"{side}:{type(step).__name__}"):
            notebook, resources = pipeline.run((step,), notebook, resources)
    return notebook, resources


@contextmanager
def _timer(timings: Counter, key: str) -> Iterator[None]:
    """Add the wall seconds of the block to timings[key], its CPU seconds (this process's) to key + " cpu"."""
    begin, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        timings[key] += time.perf_counter() - begin
        timings[f"{key} cpu"] += time.process_time() - cpu


def _children_cpu() -> float:
    """CPU seconds of this process's descendants, live or reaped (a worker's sandbox); 0 without /proc."""
    total, todo = 0, [os.getpid()]
    try:
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").iterdir():  # a child started by any thread (Dask's)
                todo.extend(int(child) for child in (task / "children").read_text().split())
            if pid != os.getpid():
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    except (OSError, ValueError, IndexError):  # a process that just ended, or no /proc
        pass
    return total / os.sysconf("SC_CLK_TCK")


def _resources(course: Course, unit: Unit) -> dict:
    return {"nbgrader": {"notebook": unit.notebook, "assignment": unit.assignment, "student": unit.student,
                         "db_url": course.db_url},
            "metadata": {"path": str(course.folder("source", unit.assignment)), "name": unit.notebook}}


def finish(course: Course, unit: Unit, outcome: dict, timings: Counter | None = None,
           side: str = "supervisor") -> UnitRecord:
    """Save the grades, the graded notebook and the record of one graded unit; never raises.

    `side` names the process in the timings: "worker" (this machine's pool) or "supervisor".
    """
    timings = Counter() if timings is None else timings
    if "error" in outcome:
        with _timer(timings, f"{side}:failures"):
            return _record_failure(course, unit, str(outcome["error"]))
    try:
        return _save(course, unit, from_dict(outcome["notebook"]), timings, side,
                     "; ".join(map(str, outcome.get("unsandboxed", []))))
    except Exception as error:  # saving failed (encoding, nbgrader, the file system): only this unit
        detail = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
        return _record_failure(course, unit, f"its graded notebook could not be saved ({detail})")


def _save(course: Course, unit: Unit, notebook: NotebookNode, timings: Counter, side: str,
          unsandboxed: str = "") -> UnitRecord:
    resources = _resources(course, unit)
    steps = _steps(unit.root).saving
    notebook, resources = _run_steps(steps, notebook, resources, timings, side)
    with _timer(timings, f"{side}:write"):
        graded = course.folder("autograded", unit.assignment, unit.student)
        write_notebook(notebook, graded / f"{unit.notebook}.ipynb")
        _copy_support_files(course, unit, graded)
        problems = graded_problems(notebook)
        status = Status.NOT_GRADED if problems else Status.GRADED
        record = UnitRecord(unit.student, unit.notebook, status, "; ".join(problems), unit.digest,
                            unsandboxed)
        save_record(course, unit.assignment, record)
    return record


def _copy_support_files(course: Course, unit: Unit, graded: Path) -> None:
    """The instructor's files beside the graded notebooks (as nbgrader leaves them), unless already there."""
    source = course.folder("source", unit.assignment)
    for support in _support_files(unit.root):
        original, target = source / support, graded / support
        if not original.is_file():
            continue
        data = original.read_bytes()
        if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
            continue
        target.unlink(missing_ok=True)  # nbgrader leaves it read-only
        shutil.copyfile(original, target)


def _record_failure(course: Course, unit: Unit, reason: str) -> UnitRecord:
    try:
        with course.gradebook(unit.assignment) as gradebook:
            return _fail(course, gradebook, unit, reason)
    except Exception as error:  # the gradebook itself failed: still record why, and go on
        reason = f"{reason}; its grades could not be cleared ({type(error).__name__})"
        record = UnitRecord(unit.student, unit.notebook, Status.NOT_GRADED, reason, unit.digest)
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


def _missing_isolation(root: str) -> list[str]:
    """What of the sandbox the configured executor would grade without (empty: fully isolated)."""
    from grader.sandbox.zygote import missing_isolation

    executor = _steps(root).executor()
    if not hasattr(executor, "zygote"):
        return ["the configured executor does not use the sandbox"]
    if getattr(executor, "sandbox", None) is False:
        return ["the sandbox was turned off (c.SandboxedExecute.sandbox = False)"]
    return missing_isolation()
