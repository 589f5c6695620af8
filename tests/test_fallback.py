"""Without bubblewrap, grading still works, with limits, and says loudly that it is not sandboxed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader.classroom import solved_notebook, submit
from grader.course import CONFIG_FILE, Course
from grader.records import load_record
from grader.samples import all_samples
from grader.scores import cell_scores

pytestmark = pytest.mark.slow  # grades a whole class


def test_grading_without_the_sandbox_gives_the_same_verdicts_and_warns(course: Course):
    with (course.root / CONFIG_FILE).open("a", encoding="utf-8") as config:
        config.write("\nc.SandboxedExecute.sandbox = False  # as on a machine without bubblewrap\n")
    samples = next(s for s in all_samples() if s.notebook == "02_svm_loss")
    mistake = samples.mistakes[0]
    submit(course, "correct", {samples.notebook: solved_notebook(course, samples.notebook)})
    submit(course, "mistaken", {samples.notebook: solved_notebook(course, samples.notebook, mistake.cells)})

    command = [sys.executable, "-m", "grader.cli", "autograde", "--course", str(course.root)]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    message = (refused.stdout + refused.stderr).strip()
    assert len(message.splitlines()) == 1 and "--no-sandbox" in message, message  # one line, what to do

    run = subprocess.run([*command, "--no-sandbox"], capture_output=True, text=True)

    assert run.returncode == 0, run.stderr
    assert "graded WITHOUT a complete sandbox" in run.stdout
    for student in ("correct", "mistaken"):  # every record keeps it
        record = load_record(course, course.assignment(), student, samples.notebook)
        assert "the sandbox was turned off" in record.unsandboxed
    rows = [r for r in cell_scores(course) if r.notebook == samples.notebook]
    assert all(r.score == r.max_score for r in rows if r.student == "correct")
    assert {r.cell for r in rows if r.student == "mistaken" and r.score < r.max_score} == set(mistake.fails)
