"""Round-2 attacks on the sandbox (issue 9): one student must never reach a classmate, a later test cell,
or the trusted side's memory.

Each class is graded by `grader autograde --workers 1` in a subprocess: the baseline wrong answer first,
then the attacker, then a correct and a blank classmate in the same worker (and so the same sandbox).
Measured against the code before the round-2 fixes (commit c942de6); each test's docstring says whether
the attack won then.
"""

from __future__ import annotations

import pytest

from grader.classroom import solved_notebook
from grader.course import Course
from grader.notebooks import read_notebook, solutions
from tests.attacks import code
from tests.attacks.checks import (
    assert_batch_and_rerun_finish,
    assert_classmates_unharmed,
    assert_scores_at_most,
    assert_scores_like,
    refused,
)
from tests.attacks.support import (
    FORWARD,
    SVM,
    WRONG,
    GradedClass,
    classmates,
    cpu_limit,
    describe,
    grade_class,
    new_course,
    with_cells,
)

pytestmark = pytest.mark.slow


def _planted(course: Course) -> str:
    """The planted module, carrying the attacker's own correct solutions of 02_svm_loss."""
    right = solutions(read_notebook(course.source / f"{SVM}.ipynb"))
    return code.PLANTED.replace("@RIGHT@", repr(right))


def _planting(course: Course, attack: str) -> str:
    return attack.replace("@PLANTED@", repr(_planted(course)))


def _wrong(course: Course, notebook: str = SVM):
    return solved_notebook(course, notebook, WRONG.get(notebook, {}))


def _grade(released_template: Course, tmp_path_factory, name: str, attackers: dict, notebook: str = SVM,
           **options) -> GradedClass:
    course = new_course(released_template, tmp_path_factory.mktemp(name))
    students = classmates(course, notebook)
    students.update({student: {notebook: build(course)} for student, build in attackers.items()})
    return grade_class(course, dict(sorted(students.items())), **options)


# ----------------------------------------------------------------------------- a process that survives


@pytest.fixture(scope="module")
def zombie(released_template, tmp_path_factory) -> GradedClass:
    return _grade(released_template, tmp_path_factory, "zombie", {
        "m-zombie": lambda course: with_cells(_wrong(course), _planting(course, code.ZOMBIE_SURVIVOR))})


def test_a_zombie_leader_process_does_not_survive_into_the_next_notebook(zombie: GradedClass):
    """A process whose main thread exited with a raw SYS_exit while another thread runs shows state Z and
    was skipped by the zygote's kill loop; it planted a compiled `checks` after every wipe.

    Measured on c942de6, the attack won: the correct classmate graded after it scored 1/5.
    """
    shown = zombie.outputs("m-zombie", SVM)
    assert "ZOMBIE-ARMED planted=True" in shown, shown[-2000:]  # its thread outlived the main thread
    assert_batch_and_rerun_finish(zombie)
    assert_scores_like(zombie, "m-zombie", "a-baseline", SVM)
    assert_classmates_unharmed(zombie, SVM)


# ----------------------------------------------------------------------------- the wipe


@pytest.fixture(scope="module")
def readonly(released_template, tmp_path_factory) -> GradedClass:
    return _grade(released_template, tmp_path_factory, "readonly", {
        "m-readonly-pycache": lambda course: with_cells(_wrong(course),
                                                        _planting(course, code.READONLY_PYCACHE))})


def test_a_read_only_folder_with_a_compiled_module_does_not_survive_the_wipe(readonly: GradedClass):
    """/scratch/__pycache__ made read-only (chmod 555) with an unchecked-hash checks.pyc in it: the wipe ran
    as the student's uid and could not empty it, and the next notebook's `import checks` loaded it.

    Measured on c942de6, the attack won: the correct classmate graded after it scored 1/5.
    """
    shown = readonly.outputs("m-readonly-pycache", SVM)
    assert "WIPE-ARMED 0o555 ['checks." in shown, shown[-2000:]
    assert_batch_and_rerun_finish(readonly)
    assert_scores_like(readonly, "m-readonly-pycache", "a-baseline", SVM)
    assert_classmates_unharmed(readonly, SVM)


# ----------------------------------------------------------------------------- test cells


def _leaker(course: Course):
    notebook = solved_notebook(course, SVM, {"svm_loss_single": code.LEAK_CHANNELS,
                                            "svm_losses": "# defined above", "svm_loss": "# defined above"})
    return with_cells(notebook, code.LAST_CELL)


@pytest.fixture(scope="module")
def leaks(released_template, tmp_path_factory) -> GradedClass:
    return _grade(released_template, tmp_path_factory, "leaks", {"m-leak-channels": _leaker})


def test_test_cells_cannot_carry_hidden_inputs_to_each_other(leaks: GradedClass):
    """Hidden inputs stored as directory names (/tmp, /dev/shm), symlink targets, file names and in a process
    serving an abstract socket, read back by the next test cell and printed into the feedback. The functions
    answer right only where every channel works inside a test's process and nothing crossed from another.

    Measured on c942de6, the attack won: test_svm_losses's output (and so the feedback) showed hidden inputs
    of test_svm_loss_single, e.g. chan-HIDDENLEAK-0.500_-1.200_2.000_1.700_3.100-y2.
    """
    assert_batch_and_rerun_finish(leaks)
    assert_scores_like(leaks, "m-leak-channels", "y-correct", SVM)  # probes ran and found nothing foreign
    shown = leaks.outputs("m-leak-channels", SVM)
    assert "HIDDENLEAK" not in shown and "SELF" not in shown.replace("found=[]", ""), shown[-3000:]
    assert_classmates_unharmed(leaks, SVM)


# ----------------------------------------------------------------------------- the trusted side


@pytest.fixture(scope="module")
def nested(released_template, tmp_path_factory) -> GradedClass:
    return _grade(released_template, tmp_path_factory, "nested", {
        "m-nested-reply": lambda course: with_cells(_wrong(course), code.NESTED_ARM, code.NESTED_TRIGGER)})


def test_a_deeply_nested_reply_costs_only_its_own_notebook(nested: GradedClass):
    """A cell's reply forged as a JSON array nested 200,000 deep: RecursionError in the trusted side's codec,
    which nothing caught.

    Measured on c942de6, the attack won: `grader autograde` died at this student, the rerun too, and the
    classmates after it were never graded (no record of the attacker either).
    """
    assert_batch_and_rerun_finish(nested)
    assert "NEST-ARMED" in nested.outputs("m-nested-reply", SVM)  # the attack ran
    assert_scores_like(nested, "m-nested-reply", "a-baseline", SVM)
    assert_classmates_unharmed(nested, SVM)


@pytest.fixture(scope="module")
def slow_reply(released_template, tmp_path_factory) -> GradedClass:
    return _grade(released_template, tmp_path_factory, "slowreply", {
        "m-slow-reply": lambda course: with_cells(_wrong(course), code.SLOW_ARM, code.SLOW_TRIGGER)},
        timeout=150)


def test_a_reply_that_trickles_in_is_stopped_at_the_time_limit(slow_reply: GradedClass):
    """A cell's reply sent one byte every 3 s: each read waits less than a cell's limit (4 s here), and the
    deadline was checked only between messages.

    Measured on c942de6, the attack won: the class did not finish within 150 s (the notebook's limit is 10 s;
    the reply alone takes about 5 minutes).
    """
    assert_batch_and_rerun_finish(slow_reply)
    assert "SLOW-ARMED" in slow_reply.outputs("m-slow-reply", SVM)  # the attack ran
    assert_scores_like(slow_reply, "m-slow-reply", "a-baseline", SVM)
    assert_classmates_unharmed(slow_reply, SVM)


@pytest.fixture(scope="module")
def bomb(released_template, tmp_path_factory) -> GradedClass:
    return _grade(released_template, tmp_path_factory, "bomb", {
        "m-reference-bomb": lambda course: with_cells(solved_notebook(
            course, FORWARD, {**WRONG[FORWARD], "forward_propagation": code.REFERENCE_BOMB}),
            code.LAST_CELL)},
        notebook=FORWARD)


def test_a_reference_called_back_on_huge_arrays_stays_within_the_limits(bomb: GradedClass):
    """forward_propagation calls the hidden test's reference layer_forward on a (11180, 1) and a (1, 11180)
    array: a 1.25e8-element outer product computed, encoded and sent by the trusted grading process.

    Measured on c942de6, the attack won: the grading process tree peaked at 4.8 GiB (limit: 1 GiB per
    process) and worked for minutes past the cell's 4 s limit.
    """
    peak_gib = bomb.first.peak_bytes / 2**30
    assert peak_gib < 1.5, f"the grading process tree peaked at {peak_gib:.2f} GiB"
    assert_batch_and_rerun_finish(bomb)
    assert_scores_at_most(bomb, "m-reference-bomb", "a-baseline", FORWARD)
    full = bomb.scores("m-reference-bomb", FORWARD)["test_forward_propagation"] == 3
    assert full or refused(bomb, "m-reference-bomb", FORWARD, "test_forward_propagation")  # the bomb went off
    assert_classmates_unharmed(bomb, FORWARD)


# ----------------------------------------------------------------------------- the install


@pytest.fixture(scope="module")
def snoop(released_template, tmp_path_factory) -> GradedClass:
    return _grade(released_template, tmp_path_factory, "snoop", {
        "m-snoop-package": lambda course: with_cells(_wrong(course), code.SNOOP_PACKAGE)})


def test_no_file_of_the_grader_package_is_readable_in_the_sandbox(snoop: GradedClass):
    """The sandbox walks every folder on its sys.path looking for the grader package and solution code.

    With this repository's editable install the attack found nothing before the fixes either; the
    non-editable install is tested in tests/test_attacks_install.py.
    """
    shown = snoop.outputs("m-snoop-package", SVM)
    assert "SNOOPED" in shown, shown[-2000:]
    assert "grader files: []" in shown, shown[-3000:]
    assert_batch_and_rerun_finish(snoop)
    assert_scores_like(snoop, "m-snoop-package", "a-baseline", SVM)



# ----------------------------------------------------------------------------- a dead worker process

# The trusted side may work for the attacker for as long as a test lets it: cells of 30 s, notebooks of 120 s.
LONG_LIMITS = ("\nc.SandboxedExecute.cell_seconds = 30\nc.SandboxedExecute.wall_seconds = 120\n"
               "c.SandboxedExecute.memory_bytes = 1 << 30\n")
CPU_SECONDS = 20  # what the instructor's `ulimit -t` gives each process of the grading command
INNOCENTS = ("b1-innocent", "b2-innocent", "b3-innocent", "b4-innocent")


@pytest.fixture(scope="module")
def dead_worker(released_template, tmp_path_factory) -> GradedClass:
    course = new_course(released_template, tmp_path_factory.mktemp("deadworker"), LONG_LIMITS)
    slow = "import time\ntime.sleep(10)  # an honest notebook that takes a while"
    students = {"a-killer": {FORWARD: with_cells(solved_notebook(course, FORWARD, {
        **WRONG[FORWARD], "forward_propagation": code.WORKER_KILLER}), code.LAST_CELL)}}
    for name in INNOCENTS:
        students[name] = {FORWARD: with_cells(solved_notebook(course, FORWARD), slow)}
    students["c-baseline"] = {FORWARD: _wrong(course, FORWARD)}
    return grade_class(course, students, workers=2, prepare=cpu_limit(CPU_SECONDS))


def test_a_submission_that_kills_its_worker_costs_only_itself(dead_worker: GradedClass):
    """With `ulimit -t 20` on the grading command, forward_propagation keeps the trusted worker multiplying
    900x900 integer matrices through the reference layer_forward until the kernel kills the worker (SIGXCPU);
    two workers grade it next to four slow, correct neighbours.

    Measured on c942de6, the attack won: the first run reported the killer "not graded: the grading process
    died twice" (the neighbours were graded: here they were not in flight at both deaths), but the rerun
    graded the killer alone in the supervising process itself, which the kernel killed: the rerun died.
    """
    assert_batch_and_rerun_finish(dead_worker)
    record = dead_worker.record("a-killer", FORWARD)
    mine = dead_worker.scores("a-killer", FORWARD)
    stopped = mine.get("test_forward_propagation") == dead_worker.maxima(FORWARD)["test_forward_propagation"]
    stopped = stopped or refused(dead_worker, "a-killer", FORWARD, "test_forward_propagation")
    assert stopped or record.status == "not graded", (record, mine)  # the loop ran until refused, or killed
    maxima = dead_worker.maxima(FORWARD)
    for name in INNOCENTS:
        assert dead_worker.record(name, FORWARD).status == "graded", (name, describe(dead_worker))
        assert dead_worker.scores(name, FORWARD) == {cell: maxima[cell] for cell in maxima}, name
    baseline = dead_worker.scores("c-baseline", FORWARD)
    assert baseline and all(mine[cell] <= baseline[cell] for cell in baseline), (mine, baseline)
