"""Hostile and broken submissions, graded through `grader autograde`: none can fool or break grading.

One class holds every case of grader/samples/attacks.py, so the class is graded once (two workers):

- each attack (the baseline wrong answer plus the attack) scores exactly what the wrong answer alone
  scores, cell by cell;
- honest students (warnings, prints, plots, magics, helpers, extra cells) keep full marks;
- each fault costs only its own submission: "not graded" with a clear reason, earned points kept;
- no file outside autograded/ changes, and inside it only the graded notebooks, the result records
  and the gradebook; no process of a submission outlives grading; nothing reaches the network;
- the feedback shows no hidden test code, no hidden input and no expected value of a hidden test.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nbformat import NotebookNode, from_dict, v4

from grader.autograde import AutogradeResult, autograde
from grader.classroom import solved_notebook, submit
from grader.course import Course
from grader.feedback import feedback
from grader.notebooks import read_notebook
from grader.records import load_record
from grader.samples.attacks import ANSWERS, ATTACKS, NOTEBOOK, WRONG, Attack
from grader.scores import CellScore, cell_scores

ASSIGNMENT = "lecture01"  # the assignment of the course these build

# Short time limits keep the suite fast; 1 GiB of memory is what the report asks the course to configure.
LIMITS = ("\nc.SandboxedExecute.cell_seconds = 4\nc.SandboxedExecute.wall_seconds = 10\n"
          "c.SandboxedExecute.memory_bytes = 1 << 30\n")
ALLOWED_CHANGES = (r"gradebook\.db(-journal|-wal|-shm)?", r"graded/[^/]+/lecture01/[^/]+\.ipynb",
                   r"graded/[^/]+/lecture01/checks\.py", r"results/[^/]+/(lecture01/)?[^/]+\.json")
# nbgrader's DeduplicateIds leaves `"nbgrader": {}` on a copied cell, which CheckCellMetadata then refuses
# (schema version 0): the unit is "not graded". Fixed by the change to grader/autograde.py in the report.
RESUBMITTER = "resubmit"


@dataclass
class Graded:
    """The graded class and everything observed while grading it."""

    course: Course
    result: AutogradeResult
    rows: list[CellScore]
    before: dict[str, str]
    after: dict[str, str]
    secret: str
    markers: dict[str, str]
    connections: list[bytes]
    leftovers: list[str]
    seconds: float
    resubmission: AutogradeResult | None = None
    rows_after_resubmission: list[CellScore] = field(default_factory=list)


def _marker(attack: Attack) -> str:
    return "hostile" + re.sub(r"[^a-z0-9]", "", attack.name)


def _fill(text: str, course: Course, attack: Attack, port: int, secret_file: Path) -> str:
    return (text.replace("@COURSE@", str(course.root)).replace("@MARKER@", _marker(attack))
            .replace("@PORT@", str(port)).replace("@SECRET@", str(secret_file)))


def _tests(notebook: NotebookNode) -> list[NotebookNode]:
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _edit(notebook: NotebookNode, edit: str) -> None:
    """Change the notebook's structure the way a hostile student could."""
    tests = _tests(notebook)
    others = [c for c in notebook.cells if c not in tests]
    if edit == "tests-last":
        notebook.cells = others + tests
    elif edit == "tests-first":
        notebook.cells = tests + others
    elif edit == "edit-tests":
        for cell in tests:
            cell.source = "assert True\nprint('all tests passed')"
    elif edit == "raise-points":
        for cell in tests:
            cell.metadata.nbgrader["points"] = 1000
    elif edit == "delete-test":
        notebook.cells.remove(tests[0])
    elif edit == "rename-test":
        tests[0].metadata.nbgrader["grade_id"] = "test_mine"
        tests[0].source = "pass"
    elif edit == "duplicate-test":
        index = notebook.cells.index(tests[1])
        notebook.cells[index + 1:index + 1] = [from_dict(json.loads(json.dumps(tests[1]))) for _ in range(2)]
    elif edit == "new-grade-cell":
        cell = v4.new_code_cell("pass")
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                     "grade_id": "bonus", "schema_version": 3, "task": False}
        notebook.cells.append(cell)
    elif edit == "duplicate-id":
        solution = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution"))
        notebook.cells.insert(notebook.cells.index(solution) + 1, from_dict(json.loads(json.dumps(solution))))
    elif edit == "bad-schema":
        for cell in notebook.cells:
            if "nbgrader" in cell.metadata:
                cell.metadata.nbgrader["schema_version"] = 99
    elif edit:
        raise ValueError(edit)


def _submission(course: Course, attack: Attack, port: int, secret_file: Path) -> NotebookNode | bytes:
    if attack.raw is not None:
        return attack.raw
    base = WRONG.get(attack.notebook, {}) if attack.kind in ("same", "tamper", "leak") else {}
    cells = {name: _fill(code, course, attack, port, secret_file)
             for name, code in {**base, **attack.cells}.items()}
    notebook = solved_notebook(course, attack.notebook, cells)
    for code in attack.extra:
        notebook.cells.append(v4.new_code_cell(_fill(code, course, attack, port, secret_file)))
    _edit(notebook, attack.edit)
    return notebook


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _processes_with(words: list[str]) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found += [f"{pid}: {cmdline}" for word in words if word in cmdline]
    return found


def _listen() -> tuple[socket.socket, list[bytes]]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []

    def accept() -> None:
        while server.fileno() != -1:
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            received.append(connection.recv(100) or b"(connected)")
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    return server, received


@pytest.fixture(scope="module")
def graded(released_template: Course, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    folder = tmp_path_factory.mktemp("hostile")
    target = folder / "course"
    shutil.copytree(released_template.root, target)
    with open(target / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write(LIMITS)
    course = Course(target)
    secret = secrets.token_hex(16)
    secret_file = folder / "instructor-secret.txt"
    secret_file.write_text(secret)
    server, connections = _listen()
    port = server.getsockname()[1]
    for attack in ATTACKS:
        submit(course, attack.name, {attack.notebook: _submission(course, attack, port, secret_file)})
        for name, text in attack.files.items():
            path = course.step_dir("submitted", attack.name) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_fill(text, course, attack, port, secret_file))
    submit(course, RESUBMITTER, {NOTEBOOK: solved_notebook(course, NOTEBOOK)})
    submit(course, "wrong-answers", {ANSWERS: solved_notebook(course, ANSWERS, WRONG[ANSWERS])})
    before = _tree(course.root)
    start = time.perf_counter()
    result = autograde(course, workers=2)
    seconds = time.perf_counter() - start
    time.sleep(3)  # a detached process that survived would write after 2 s
    after = _tree(course.root)
    markers = {attack.name: _marker(attack) for attack in ATTACKS}
    leftovers = _processes_with(list(markers.values()))
    server.close()
    rows = cell_scores(course)
    graded = Graded(course, result, rows, before, after, secret, markers, connections, leftovers, seconds)
    # A resubmission that cannot be graded clears the earlier grade.
    submit(course, RESUBMITTER, {NOTEBOOK: b'{"cells": [{"cell_type": "code", "source": "oops'})
    graded.resubmission = autograde(course, students=[RESUBMITTER], workers=1)
    graded.rows_after_resubmission = cell_scores(course)
    return graded


def _scores(rows: list[CellScore], student: str, notebook: str) -> dict[str, tuple[float, float]]:
    return {r.cell: (r.score, r.max_score) for r in rows if r.student == student and r.notebook == notebook}


def _attack(name: str) -> Attack:
    return next(a for a in ATTACKS if a.name == name)


def _cases(kind: str) -> list:
    return [pytest.param(a, id=a.name) for a in ATTACKS if a.kind == kind]


SAME = _cases("same")
HONEST = _cases("honest")
FAULTS = [a for a in ATTACKS if a.kind == "fault"]


def _baseline(graded: Graded, notebook: str) -> dict[str, tuple[float, float]]:
    expected = _scores(graded.rows, "baseline" if notebook == NOTEBOOK else "wrong-answers", notebook)
    assert expected and any(score < top for score, top in expected.values())
    return expected


@pytest.mark.parametrize("attack", SAME)
def test_an_attack_scores_what_the_wrong_answer_scores(graded: Graded, attack: Attack):
    expected = _baseline(graded, attack.notebook)
    assert _scores(graded.rows, attack.name, attack.notebook) == expected, graded.result.not_graded.get(
        (attack.name, attack.notebook))


@pytest.mark.parametrize("attack", _cases("tamper"))
def test_changed_grading_metadata_scores_like_the_wrong_answer_or_is_reported(graded: Graded, attack: Attack):
    expected = _baseline(graded, attack.notebook)
    mine = _scores(graded.rows, attack.name, attack.notebook)
    reason = graded.result.not_graded.get((attack.name, attack.notebook))
    if reason is None:
        assert mine == expected
    else:
        assert "metadata" in reason or "schema" in reason.lower(), reason
        assert set(mine) == set(expected) and all(score == 0 for score, _ in mine.values())


@pytest.mark.parametrize("attack", _cases("leak"))
def test_code_that_tries_to_leak_hidden_inputs_gains_nothing(graded: Graded, attack: Attack):
    expected = _baseline(graded, attack.notebook)
    mine = _scores(graded.rows, attack.name, attack.notebook)
    assert set(mine) == set(expected)
    assert all(mine[cell][0] <= expected[cell][0] for cell in mine), mine
    shown = _outputs(graded, attack.name, attack.notebook)
    assert "on a hidden test" in shown or "ended its process" in shown  # the hidden tests did run
    assert "HIDDENLEAK" not in shown


@pytest.mark.parametrize("attack", HONEST)
def test_honest_code_keeps_full_marks(graded: Graded, attack: Attack):
    mine = _scores(graded.rows, attack.name, attack.notebook)
    assert mine and all(score == top for score, top in mine.values()), mine
    assert (attack.name, attack.notebook) not in graded.result.not_graded


@pytest.mark.parametrize("attack", _cases("fault"))
def test_a_fault_costs_only_its_own_submission(graded: Graded, attack: Attack):
    unit = (attack.name, attack.notebook)
    if attack.reason:
        assert unit in graded.result.not_graded, "the fault went unreported"
        reason = graded.result.not_graded[unit]
        assert attack.reason.lower() in reason.lower(), reason
        record = load_record(graded.course, ASSIGNMENT, *unit)
        assert record is not None and record.status == "not graded" and record.reason == reason
    mine = _scores(graded.rows, attack.name, attack.notebook)
    assert mine, "no grades in the gradebook"
    for cell in attack.keeps:
        assert mine[cell][0] == mine[cell][1], f"{cell} lost its points: {mine}"
    assert all(0 <= score <= top for score, top in mine.values())


def test_the_batch_goes_on_and_only_faults_are_not_graded(graded: Graded):
    expected = {(a.name, a.notebook) for a in FAULTS if a.reason}
    reported = set(graded.result.not_graded)
    allowed = {a.name for a in ATTACKS if a.kind in ("fault", "tamper", "leak")} | {"test-cell-duplicated"}
    unexpected = {unit: graded.result.not_graded[unit]
                  for unit in reported - expected if unit[0] not in allowed}
    assert not unexpected
    assert expected <= reported
    solution = _scores(graded.rows, RESUBMITTER, NOTEBOOK)
    assert solution and all(score == top for score, top in solution.values())


def test_no_score_above_a_cells_maximum(graded: Graded):
    assert all(0 <= r.score <= r.max_score for r in graded.rows)
    maxima = {(r.notebook, r.cell): r.max_score for r in graded.rows if r.student == RESUBMITTER}
    for row in graded.rows:
        if row.notebook == NOTEBOOK and (row.notebook, row.cell) in maxima:
            assert row.max_score == maxima[(row.notebook, row.cell)]
    assert not any(r.cell == "bonus" for r in graded.rows)


def test_no_file_outside_autograded_changes(graded: Graded):
    outside = {p: d for p, d in graded.before.items() if not p.startswith("autograded/")}
    now = {p: d for p, d in graded.after.items() if not p.startswith("autograded/")}
    assert now == outside


def test_inside_autograded_only_grades_records_and_graded_notebooks_change(graded: Graded):
    changed = [p.removeprefix("autograded/") for p, d in graded.after.items()
               if p.startswith("autograded/") and graded.before.get(p) != d]
    unexpected = [p for p in changed if not any(re.fullmatch(rule, p) for rule in ALLOWED_CHANGES)]
    assert not unexpected
    removed = [p for p in graded.before if p not in graded.after]
    assert not removed
    graded_files = [Path(p).name for p in changed if p.startswith("graded/")]
    assert not any(name.startswith(("numpy", "sitecustomize", "pwned")) for name in graded_files)


def test_no_process_outlives_grading(graded: Graded):
    assert graded.leftovers == []
    assert not any(Path("/tmp").glob("hostile*")) and not Path("/tmp/pwned").exists()


def test_nothing_reaches_the_network(graded: Graded):
    assert graded.connections == []


def _outputs(graded: Graded, student: str, notebook: str) -> str:
    """Everything the student's cells showed in the graded notebook."""
    path = graded.course.step_dir("autograded", student) / f"{notebook}.ipynb"
    assert path.exists(), f"{student} was not graded"
    return json.dumps([cell.get("outputs", []) for cell in read_notebook(path).cells])


def test_the_sandbox_sees_nothing_of_the_instructor(graded: Graded):
    for name in ("snoop-proc-home-ptrace", "read-source-exec-solution", "write-course-files", "network"):
        shown = _outputs(graded, name, NOTEBOOK)
        assert graded.secret not in shown
        assert str(graded.course.root) not in shown
    assert "solutions found: 0" in _outputs(graded, "read-source-exec-solution", NOTEBOOK)
    snoop = _outputs(graded, "snoop-proc-home-ptrace", NOTEBOOK)
    assert "ptrace" in snoop and "autograded" not in snoop and "nbgrader" not in snoop
    shown = _outputs(graded, "write-course-files", NOTEBOOK)
    opened = re.findall(r"unclosed file <_io.TextIOWrapper name='([^']+)'", shown)
    assert all(name.startswith("/tmp/") for name in opened), opened  # only the sandbox's own /tmp is writable


def test_graded_notebooks_stay_small(graded: Graded):
    path = graded.course.step_dir("autograded", "huge-output") / f"{NOTEBOOK}.ipynb"
    assert path.exists() and path.stat().st_size < 2_000_000


def test_a_failed_regrade_clears_the_old_grade(graded: Graded):
    before = _scores(graded.rows, RESUBMITTER, NOTEBOOK)
    assert before and all(score == top for score, top in before.values())
    assert (RESUBMITTER, NOTEBOOK) in graded.resubmission.not_graded
    after = _scores(graded.rows_after_resubmission, RESUBMITTER, NOTEBOOK)
    assert after and all(score == 0 for score, _ in after.values())
    assert load_record(graded.course, ASSIGNMENT, RESUBMITTER, NOTEBOOK).status == "not graded"
    assert not (graded.course.step_dir("autograded", RESUBMITTER) / f"{NOTEBOOK}.ipynb").exists()
    others = [r for r in graded.rows_after_resubmission if r.student != RESUBMITTER]
    assert others == [r for r in graded.rows if r.student != RESUBMITTER]


def _hidden_parts(course: Course, notebook: str) -> tuple[list[str], list[str]]:
    """Lines of hidden test code, and the numbers in them that the visible parts do not show."""
    source = read_notebook(course.source / f"{notebook}.ipynb")
    release = json.dumps(read_notebook(course.release / f"{notebook}.ipynb"))
    lines: list[str] = []
    numbers: set[str] = set()
    for cell in source.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines += [line.strip() for line in block.splitlines() if len(line.strip()) > 25]
            numbers |= {n for n in re.findall(r"-?\d+\.\d{3,}(?:e-?\d+)?", block) if n not in release}
    return lines, sorted(numbers)


@pytest.fixture(scope="module")
def feedback_pages(graded: Graded) -> dict[str, str]:
    pages = feedback(graded.course).files
    texts = {}
    for page in pages:
        page_html = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", " ", page_html))
        texts[f"{page.parent.parent.name}/{page.stem}"] = text
    return texts


def test_feedback_shows_no_hidden_test_code_inputs_or_expected_values(graded: Graded, feedback_pages):
    assert any(key.startswith("baseline/") for key in feedback_pages)
    hidden = {notebook: _hidden_parts(graded.course, notebook) for notebook in (NOTEBOOK, ANSWERS)}
    for key, text in feedback_pages.items():
        notebook = key.split("/")[1]
        if notebook not in hidden:
            continue
        lines, numbers = hidden[notebook]
        assert "BEGIN HIDDEN" not in text
        shown = [line for line in lines if line in text]
        assert not shown, f"{key} shows hidden test code: {shown[:3]}"
        leaked = [number for number in numbers if number in text]
        assert not leaked, f"{key} shows hidden values: {leaked[:5]}"
        assert "HIDDENLEAK" not in text, f"{key} shows what a hidden test gave the student's code"
        assert not re.search(r"\b(55555|44444|22222)\b", text), f"{key} shows a hidden input's size"
        assert "Traceback" not in text or "Traceback (most recent call last)" not in text


def test_feedback_shows_each_tests_verdict_and_message(graded: Graded, feedback_pages):
    text = feedback_pages[f"baseline/{NOTEBOOK}"]
    assert "svm_loss_single" in text and "expected" in text
    assert "includes the j = y_i term" in text


def test_a_timestamp_that_is_not_a_time_costs_only_its_student(make_course):
    course = make_course()
    submit(course, "good", {NOTEBOOK: solved_notebook(course, NOTEBOOK)})
    submit(course, "planted", {NOTEBOOK: solved_notebook(course, NOTEBOOK)})
    (course.step_dir("submitted", "planted") / "timestamp.txt").write_text("not a time at all")
    result = autograde(course, workers=1)
    assert "good" in result.graded
    good = _scores(cell_scores(course), "good", NOTEBOOK)
    assert good and all(score == top for score, top in good.values())


def test_memory_is_limited(graded: Graded):
    shown = _outputs(graded, "memory", NOTEBOOK)
    assert shown.count("MemoryError") >= 2  # 32 GiB of numpy and 2 GiB of bytes both refused
