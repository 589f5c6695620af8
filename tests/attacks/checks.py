"""Assertions every attack test makes: the attack scores what its baseline scores, classmates keep their
scores, the batch and its rerun finish."""

from __future__ import annotations

from tests.attacks.support import GradedClass, describe


def assert_batch_and_rerun_finish(graded: GradedClass) -> None:
    assert graded.first.finished and graded.first.returncode == 0, describe(graded)
    assert "Traceback" not in graded.first.output, describe(graded)
    assert graded.rerun.finished and graded.rerun.returncode == 0, describe(graded)
    for student, notebooks in graded.students.items():
        for notebook in notebooks:
            assert graded.record(student, notebook) is not None, f"{student} {notebook} was never recorded"


def assert_classmates_unharmed(graded: GradedClass, notebook: str) -> None:
    """The correct classmate keeps full marks and the blank one keeps 0 (both graded after the attackers)."""
    correct = graded.scores("y-correct", notebook)
    maxima = graded.maxima(notebook)
    assert correct and correct == {cell: maxima[cell] for cell in correct}, (correct, describe(graded))
    blank = graded.scores("z-blank", notebook)
    assert blank and not any(blank.values()), (blank, describe(graded))
    for student in ("y-correct", "z-blank"):
        assert "PLANTED-BY-ANOTHER-STUDENT" not in graded.outputs(student, notebook)
        assert graded.record(student, notebook).status == "graded", graded.record(student, notebook)


def assert_scores_at_most(graded: GradedClass, attacker: str, baseline: str, notebook: str) -> None:
    """Cell by cell, the attacker scores no more than the same code without the attack (it may lose)."""
    expected = graded.scores(baseline, notebook)
    mine = graded.scores(attacker, notebook)
    assert expected and set(mine) == set(expected), (mine, expected, describe(graded))
    assert all(mine[cell] <= expected[cell] for cell in expected), (mine, expected, describe(graded))


def refused(graded: GradedClass, student: str, notebook: str, cell: str) -> bool:
    """Whether the test cell's output says a reference was refused (what it was handed was too big)."""
    from nbformat import read

    path = graded.course.step_dir("autograded", student) / f"{notebook}.ipynb"
    if not path.exists():
        return False
    for found in read(str(path), as_version=4).cells:
        if found.metadata.get("nbgrader", {}).get("grade_id") == cell:
            return "reference" in str(found.get("outputs", []))
    return False


def assert_scores_like(graded: GradedClass, attacker: str, baseline: str, notebook: str) -> None:
    """Cell by cell, the attacker scores exactly what the same code without the attack scores."""
    expected = graded.scores(baseline, notebook)
    assert expected, f"{baseline} has no grades: {describe(graded)}"
    mine = graded.scores(attacker, notebook)
    assert mine == expected, (mine, expected, graded.record(attacker, notebook), describe(graded))
