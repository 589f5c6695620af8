"""One pipeline, one course model, any assignment (issue: the structure a maintainer can change safely).

- `grader autograde` and `nbgrader autograde` run the steps the course configures and give identical
  gradebooks on a class with every sample (a step added to the config runs in both);
- the report is derived from what grading left behind, so it says the same after either command;
  a notebook that could not be graded as a whole is never shown as graded; only mistakes the
  instructor's checks name are listed;
- `grader autograde` after `nbgrader autograde` works for an instructor who is not root;
- a second assignment goes through every command next to lecture01.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from traitlets.utils.importstring import import_item

from grader.autograde import autograde
from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import Course, new_course
from grader.feedback import feedback
from grader.outcomes import outcomes
from grader.pipeline import configured_names, grading_steps
from grader.records import load_record
from grader.release import release
from grader.report import summarize
from grader.samples import all_samples
from grader.status import Status
from tests.pipeline_steps import STAMP

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
GRADER = Path(sys.executable).with_name("grader")
SVM = "02_svm_loss"
STEP = "tests.pipeline_steps.StampGradedNotebook"
CRASH = "import os\nos._exit(0)\n"
CLAIM = "This matches a known mistake: free points for me"


def _class(folder: Path) -> Course:
    """A released course that stamps graded notebooks; one student per sample, plus two special ones."""
    course = new_course(folder, Course(REPO))
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\nc.Autograde.autograde_preprocessors.append({STEP!r})\n")
    release(course)
    for sample in all_samples():
        variants = {**{f"alt-{k}": v for k, v in sample.alternatives.items()},
                    **{f"mistake-{i}": m.cells for i, m in enumerate(sample.mistakes)}}
        for label, cells in variants.items():
            submit(course, f"{sample.notebook[:2]}-{label}"[:60], {sample.notebook: solved_notebook(
                course, sample.notebook, cells)})
    crashed = solved_notebook(course, SVM)
    crashed.cells.insert(1, nbformat.v4.new_code_cell(CRASH))
    submit(course, "crash", {SVM: crashed})
    solution = next(cell for cell in release_notebook(course, SVM).cells
                    if cell.metadata.get("nbgrader", {}).get("solution"))
    name = solution.source.split("def ", 1)[1].split("(", 1)[0]
    claim = {solution.metadata.nbgrader.grade_id: f"def {name}(*args):\n    raise ValueError({CLAIM!r})\n"}
    submit(course, "claimer", {SVM: solved_notebook(course, SVM, claim)})
    return course


@pytest.fixture(scope="module")
def graded_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Course, Course]:
    """The class graded by `grader autograde` and, in a copy, by plain `nbgrader autograde`."""
    ours = _class(tmp_path_factory.mktemp("ours") / "course")
    theirs = Course(tmp_path_factory.mktemp("theirs") / "course")
    shutil.copytree(ours.root, theirs.root)
    autograde(ours)
    theirs.nbgrader("autograde", "lecture01", check=False)
    return ours, theirs


def test_both_commands_build_the_steps_the_config_lists(graded_twice):
    ours, _ = graded_twice
    config = ours.config()
    steps = grading_steps(config)
    built = [type(step) for step in (*steps.executing, *steps.saving)]
    listed = [import_item(n) if isinstance(n, str) else n
              for n in configured_names(config, "sanitize_preprocessors")
              + configured_names(config, "autograde_preprocessors")]
    assert built == listed
    assert built[-1] is import_item(STEP)


def test_both_commands_give_identical_gradebooks_and_run_the_added_step(graded_twice):
    ours, theirs = graded_twice
    from grader.scores import cell_scores

    assert cell_scores(ours) == cell_scores(theirs)
    for course in (ours, theirs):
        for student in course.students("autograded", "lecture01"):
            for path in course.folder("autograded", "lecture01", student).glob("*.ipynb"):
                assert nbformat.read(path, as_version=4).metadata.get(STAMP) == student, path


def test_the_report_says_the_same_whichever_command_graded(graded_twice):
    ours, theirs = graded_twice
    assert summarize(ours) == summarize(theirs)
    assert outcomes(ours).units == outcomes(theirs).units


def test_a_notebook_not_graded_as_a_whole_is_never_shown_as_graded(graded_twice):
    for course in graded_twice:
        unit = next(u for u in outcomes(course).units if u.student == "crash" and u.notebook == SVM)
        assert unit.status is Status.NOT_GRADED and "ended the grading process" in unit.reason
        assert ("crash", SVM) in {(s, n) for s, n, _ in summarize(course).not_graded}


def test_only_mistakes_the_checks_name_are_reported(graded_twice):
    ours, _ = graded_twice
    summary = summarize(ours)
    assert summary.mistakes, "the sample mistakes are diagnosed"
    assert all("free points" not in mistake.name for mistake in summary.mistakes)
    claimer = next(u for u in outcomes(ours).units if u.student == "claimer" and u.notebook == SVM)
    assert any(CLAIM in cell.message for cell in claimer.cells), "the claim really reached the messages"


def test_feedback_for_one_student_is_only_that_students(graded_twice, tmp_path):
    course = Course(tmp_path / "course")
    shutil.copytree(graded_twice[0].root, course.root)
    everyone = feedback(course)
    mine = feedback(course, "crash")
    assert len(everyone.files) > len(mine.files) == 1
    assert all(path.parent.parent.name == "crash" for path in mine.files)


def _runs_as_nobody(command: list[str]) -> bool:
    """Whether uid 65534 can start this command at all (not so for a checkout inside a private folder,
    say `mktemp -d`: the command's files cannot be reached)."""
    run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd="/",
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    return not (run.returncode in (126, 127) or "Permission denied" in run.stderr)


def test_grader_autograde_after_nbgrader_autograde_as_an_unprivileged_instructor(graded_twice):
    if not _runs_as_nobody([str(GRADER), "--help"]):
        pytest.skip("uid 65534 cannot reach this checkout or its Python (a private folder above them)")
    _, theirs = graded_twice
    read_only = [p for p in theirs.folder("autograded", "lecture01", "crash").iterdir()]
    assert read_only and all(not os.stat(p).st_mode & 0o222 for p in read_only), "nbgrader left them 0444"
    folder = Path(tempfile.mkdtemp(prefix="instructor-", dir="/tmp"))
    try:
        course = Course(folder / "course")
        shutil.copytree(theirs.root, course.root)
        subprocess.run(["chown", "-R", "65534:65534", str(folder)], check=True)
        os.chmod(folder, 0o755)
        command = [str(GRADER), "autograde", "--force", "--student", "crash", "--course", str(course.root)]
        environment = {**os.environ, "HOME": str(folder), "PYTHONPATH": str(REPO)}
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        refused = subprocess.run([*as_nobody, *command], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, env=environment)
        delegation = os.geteuid() == 0 and bool(_v1_hierarchies())
        if delegation:  # an instructor without a cgroup of their own is refused, and told what to do
            assert refused.returncode != 0 and "Traceback" not in refused.stderr
            assert "resource container" in refused.stderr and "delegated" in refused.stderr, refused.stderr
        # Where this machine's Python lies in a folder the instructor cannot read (say, under /root),
        # bubblewrap cannot start it for them: the rest of the sandbox is still checked.
        bubblewrap = "bubblewrap cannot start this Python" not in refused.stderr
        with _delegated_cgroup(65534) as enter:  # what docs/sandbox.md tells the administrator to do
            # the instructor's grader started inside it (as cgexec does)
            run = subprocess.run(["sh", "-c", f'{enter} exec "$@"', "grader", *as_nobody, *command,
                                  *([] if bubblewrap and delegation else ["--no-sandbox"])],
                                 capture_output=True, text=True, stdin=subprocess.DEVNULL, env=environment)
        assert run.returncode == 0, run.stderr[-2000:]
        assert "Traceback" not in run.stderr
        assert "not graded: crash 02_svm_loss" in run.stdout
        unsandboxed = load_record(course, "lecture01", "crash", "01_forward_propagation").unsandboxed
        if delegation:
            assert "resource container" not in unsandboxed, unsandboxed  # the delegated cgroup is used
        if bubblewrap and delegation:
            assert unsandboxed == "" and "WITHOUT a complete sandbox" not in run.stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _v1_hierarchies() -> list[Path]:
    """This process's cgroup in each v1 hierarchy the grader uses (empty where there is no cgroup v1)."""
    from grader.sandbox.container import ROOT, V1_CONTROLLERS

    found = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(","):
            if name in (*V1_CONTROLLERS, "cpuacct"):
                found[name] = ROOT / name / path.lstrip("/")
    return list(found.values()) if set(V1_CONTROLLERS) <= set(found) else []


@contextlib.contextmanager
def _delegated_cgroup(uid: int):
    """A cgroup in each v1 hierarchy owned by `uid` (as `cgcreate -a uid -t uid` makes it); yields the
    shell words that move a shell into it. Without cgroup v1 (or root) nothing is delegated."""
    folders = [parent / f"grader-delegated-{os.getpid()}" for parent in _v1_hierarchies()]
    if os.geteuid() != 0:
        folders = []
    try:
        for folder in folders:
            folder.mkdir()
            for path in (folder, folder / "cgroup.procs", folder / "tasks"):
                os.chown(path, uid, uid)
        yield "".join(f"echo $$ > {folder}/cgroup.procs && " for folder in folders)
    finally:
        for folder in folders:
            for child in [p for p in folder.iterdir() if p.is_dir()]:
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                folder.rmdir()


TINY = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# Lecture 2 · Exercise 1: doubling"},
        {"cell_type": "code", "execution_count": None, "outputs": [],
         "metadata": {"nbgrader": {"grade": False, "grade_id": "double", "locked": False, "schema_version": 3,
                                   "solution": True, "task": False}},
         "source": "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"},
        {"cell_type": "code", "execution_count": None, "outputs": [],
         "metadata": {"nbgrader": {"grade": True, "grade_id": "test_double", "locked": True, "points": 2,
                                   "schema_version": 3, "solution": False, "task": False}},
         "source": "import checks\nassert double(3) == 6, 'double(3) should be 6'"},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _cli(course: Course, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GRADER), *args, "--course", str(course.root)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def test_a_second_assignment_runs_through_every_command(tmp_path):
    course = new_course(tmp_path / "course", Course(REPO), notebooks=[SVM])
    second = course.folder("source", "lecture02")
    second.mkdir(parents=True)
    shutil.copy2(course.folder("source", "lecture01") / "checks.py", second / "checks.py")
    (second / "01_double.ipynb").write_text(nbformat.writes(nbformat.from_dict(TINY)))
    assert course.assignments() == ["lecture01", "lecture02"]
    ambiguous = _cli(course, "autograde")
    assert ambiguous.returncode == 1 and "several assignments" in ambiguous.stderr
    for name in ("lecture01", "lecture02"):
        for command in (["lint", name], ["release", name]):
            run = _cli(course, *command)
            assert run.returncode == 0, (command, run.stderr)
    submit(course, "ada", {"01_double": solved_notebook(course, "01_double", assignment="lecture02")},
           assignment="lecture02")
    submit(course, "ben", {"01_double": release_notebook(course, "01_double", "lecture02")},
           assignment="lecture02")
    submit(course, "ada", {SVM: solved_notebook(course, SVM, assignment="lecture01")}, assignment="lecture01")
    for command in (["autograde", "lecture02"], ["autograde", "lecture01"], ["feedback", "lecture02"],
                    ["export", "lecture02"], ["report", "lecture02"]):
        run = _cli(course, *command)
        assert run.returncode == 0, (command, run.stderr)
        assert "Traceback" not in run.stderr
    scores = {(u.student, u.notebook): (u.score, u.max_score) for u in outcomes(course, "lecture02").units}
    assert scores == {("ada", "01_double"): (2.0, 2.0), ("ben", "01_double"): (0.0, 2.0)}
    assert {u.student for u in outcomes(course, "lecture01").units} == {"ada"}
    assert (course.exports("lecture02") / "report.html").is_file()
    assert (course.exports("lecture02") / "scores.csv").read_text(encoding="utf-8").count("\n") == 3
    assert sorted(p.name for p in course.folder("feedback", "lecture02", "ada").glob("*.html")) == [
        "01_double.html"]
