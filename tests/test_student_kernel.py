"""What a student sees in a real Jupyter kernel: friendly messages, never a frame of checks.py.

The release notebooks run cell by cell through nbclient with the venv's `python3` kernel, in a copy
of release/ (so `checks.py` is beside them), exactly as a student runs them in JupyterLab.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from grader.notebooks import fill, is_solution, is_test, nbgrader_meta, read_notebook, solutions
from grader.samples import Mistake, all_samples
from grader.samples.facts import FACTS_NOTEBOOK, facts_mistakes
from tests.conftest import REPO

RELEASE = REPO.root / "release" / "lecture01"
SOURCE = REPO.root / "source" / "lecture01"
NOTEBOOKS = sorted(p.stem for p in RELEASE.glob("*.ipynb"))
FRIENDLY = re.compile(r"is not implemented yet|is not defined yet: in the cell above|^Fix .+ first:")
# Visible tests that use another graded function, and the functions they use.
DEPENDENTS = {
    "test_forward_propagation": ("sigmoid", "layer_forward"),
    "test_svm_losses": ("svm_loss_single",),
    "test_svm_loss": ("svm_losses",),
    "test_cross_entropy_losses": ("softmax",),
    "test_cross_entropy_loss": ("cross_entropy_losses",),
}
FRAME = re.compile(r"checks\.py|Traceback \(most recent call last\)|File \"|line \d+, in ")


def _client(notebook: NotebookNode, folder: Path) -> NotebookClient:
    return NotebookClient(notebook, kernel_name="python3", timeout=120, allow_errors=True,
                          resources={"metadata": {"path": str(folder)}})


def _run_cell(client: NotebookClient, notebook: NotebookNode, index: int, source: str | None = None) -> list:
    cell = notebook.cells[index]
    if source is not None:
        cell.source = source
    cell.outputs = []
    client.execute_cell(cell, index)
    return cell.outputs


def _text(outputs: list) -> str:
    parts = []
    for output in outputs:
        if output.output_type == "error":
            parts += [output.ename, output.evalue, *output.traceback]
        elif output.output_type == "stream":
            parts.append(output.text)
        elif "text/plain" in output.get("data", {}):
            parts.append(output.data["text/plain"])
    return "\n".join(parts)


@pytest.fixture(scope="module")
def release_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("release") / "lecture01"
    shutil.copytree(RELEASE, folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_untouched_release_shows_only_friendly_messages(release_copy: Path, name: str):
    notebook = nbformat.read(release_copy / f"{name}.ipynb", as_version=4)
    client = _client(notebook, release_copy)
    failing_tests = 0
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            outputs = _run_cell(client, notebook, index)
            where = f"{name}, cell {index} ({nbgrader_meta(cell).get('grade_id', 'not graded')})"
            text = _text(outputs)
            assert "NameError" not in text, f"{where}: {text}"
            errors = [o for o in outputs if o.output_type == "error"]
            if is_solution(cell):
                assert all(e.ename == "NotImplementedError" for e in errors), f"{where}: {text}"
                continue
            assert not FRAME.search(text), f"{where} shows a traceback: {text}"
            if is_test(cell):
                assert len(errors) == 1 and errors[0].ename == "CheckFailed", f"{where}: {text}"
                assert FRIENDLY.search(errors[0].evalue), f"{where}: {errors[0].evalue}"
                assert errors[0].traceback[0].endswith(errors[0].evalue.splitlines()[0] + "\x1b[0m")
                failing_tests += 1
                continue
            assert not errors, f"{where} ends in an error: {text}"
            if "above first" in text:  # a cell that shows the student's functions: nothing drawn yet
                assert not any("image/png" in o.get("data", {}) for o in outputs), f"{where} drew a figure"
                assert len(text.strip().splitlines()) == 1, f"{where}: {text}"
    assert failing_tests == sum(is_test(c) for c in notebook.cells)


def _solved(name: str) -> tuple[NotebookNode, dict[str, str]]:
    instructor = solutions(read_notebook(SOURCE / f"{name}.ipynb"))
    return fill(read_notebook(RELEASE / f"{name}.ipynb"), instructor), instructor


def _facts_samples() -> dict[str, list[tuple[Mistake, str]]]:
    """Per notebook: (sample mistake, the FACTS.md mistake it stands for)."""
    found: dict[str, list[tuple[Mistake, str]]] = {}
    samples = {s.notebook: s for s in all_samples()}
    for function, text in facts_mistakes():
        notebook = FACTS_NOTEBOOK[function]
        for mistake in samples[notebook].mistakes:
            if text.lower() in mistake.name.lower():
                found.setdefault(notebook, []).append((mistake, text))
    return found


FACTS_SAMPLES = _facts_samples()


def test_every_facts_mistake_has_a_sample_to_run():
    covered = {text for pairs in FACTS_SAMPLES.values() for _, text in pairs}
    assert covered == {text for _, text in facts_mistakes()}


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FACTS_SAMPLES))
def test_each_facts_mistake_is_named_by_its_visible_test(release_copy: Path, name: str):
    notebook, instructor = _solved(name)
    index_of = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(notebook.cells)
                if nbgrader_meta(c).get("grade_id")}
    client = _client(notebook, release_copy)
    unnamed = []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                outputs = _run_cell(client, notebook, index)
                assert not any(o.output_type == "error" for o in outputs), f"{name}: the solution fails"
        for mistake, facts_text in FACTS_SAMPLES[name]:
            for grade_id, code in mistake.cells.items():
                _run_cell(client, notebook, index_of[grade_id], code)
            for test in mistake.fails:
                outputs = _run_cell(client, notebook, index_of[test])
                errors = [o for o in outputs if o.output_type == "error"]
                shown = "\n".join(line for e in errors for line in e.traceback)
                assert errors and errors[0].ename == "CheckFailed", f"{mistake.name}: {_text(outputs)}"
                assert not FRAME.search(shown), f"{mistake.name} shows a frame: {shown}"
                if _normal(facts_text) not in _normal(shown):
                    unnamed.append(f"{mistake.name} ({test}): {errors[0].evalue}")
            for test, helpers in DEPENDENTS.items():  # a test that uses the mistaken function blames it
                broken = [h for h in helpers if h in mistake.cells]
                if test not in index_of or not broken or test in mistake.fails:
                    continue
                errors = [o for o in _run_cell(client, notebook, index_of[test]) if o.output_type == "error"]
                first = errors[0].evalue.splitlines()[0] if errors else ""
                if errors and not (first.startswith("Fix ") and broken[0] in first):
                    unnamed.append(f"{mistake.name} ({test}) does not say to fix {broken[0]} first: {first}")
            for grade_id in mistake.cells:  # back to the instructor's code for the next mistake
                _run_cell(client, notebook, index_of[grade_id], instructor[grade_id])
    assert not unnamed, "\n".join(unnamed)
