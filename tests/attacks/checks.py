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


def assert_scores_like(graded: GradedClass, attacker: str, baseline: str, notebook: str) -> None:
    """Cell by cell, the attacker scores exactly what the same code without the attack scores."""
    expected = graded.scores(baseline, notebook)
    assert expected, f"{baseline} has no grades: {describe(graded)}"
    mine = graded.scores(attacker, notebook)
    assert mine == expected, (mine, expected, graded.record(attacker, notebook), describe(graded))
