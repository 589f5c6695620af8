"""What a student meets in the lecture's own setup and with a beginner's mistakes, in a real kernel.

- The release runs top to bottom without matplotlib (the lecture's environment is Python 3.10, numpy and
  jupyter): every cell that is not a plot works, each plot cell says in one line what to install. The kernel
  is the one named by the environment variable LECTURE_PYTHON (a Python with numpy and ipykernel and no
  matplotlib, e.g. a venv made with `python3.10 -m venv`), or else this project's Python with matplotlib
  made unimportable the way Python marks an absent module (sys.modules["matplotlib"] = None).
- Each mistake of grader/samples that has a `says` phrase shows it in its visible test: named in the
  lecture's words, or a Python/numpy error translated into one sentence, never the raw message alone.
- A function that changes its input in place fails its visible test with a message saying so.
- The last cell adds up the visible tests in points.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from grader.notebooks import (
    HIDDEN_DELIMITERS,
    fill,
    is_solution,
    is_test,
    nbgrader_meta,
    read_notebook,
    solutions,
)
from grader.samples import Mistake, all_samples
from tests.conftest import REPO

RELEASE = REPO.root / "release" / "lecture01"
SOURCE = REPO.source
NOTEBOOKS = sorted(p.stem for p in RELEASE.glob("*.ipynb"))
INSTALL = ("This cell draws a plot: to see it, install matplotlib (conda install matplotlib, or pip install "
           "matplotlib) and restart the kernel; nothing else needs it.")
FRAME = re.compile(r"checks\.py|Traceback \(most recent call last\)|File \"|line \d+, in ")
# What numpy and Python say about the beginners' mistakes: never the only thing a student sees.
RAW = re.compile(r"only integer scalar arrays|truth value of an array|arrays can be converted to Python "
                 r"scalars|matmul: Input operand|could not be broadcast|bitwise_xor|math range error")
SAYS = [m for s in all_samples() for m in s.mistakes if m.says]
IN_PLACE = {  # functions that give the right value but change the caller's array
    "02_svm_loss": ("svm_loss_single", """def svm_loss_single(s, y):
    s -= s[y] - 1
    s[y] = 0
    return np.sum(np.maximum(0, s))
""", "svm_loss_single(np.array([3.2, 5.1, -1.7]), 0) changed its input `s` in place"),
    "03_softmax_cross_entropy": ("softmax", """def softmax(S):
    S -= np.max(S, axis=0)
    np.exp(S, out=S)
    S /= np.sum(S, axis=0)
    return S
""", "changed its input `S` in place"),
}


def _client(notebook: NotebookNode, folder: Path, kernel: str = "python3") -> NotebookClient:
    return NotebookClient(notebook, kernel_name=kernel, timeout=120, allow_errors=True,
                          resources={"metadata": {"path": str(folder)}})


def _run(client: NotebookClient, notebook: NotebookNode, index: int, source: str | None = None) -> list:
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


def _errors(outputs: list) -> list:
    return [o for o in outputs if o.output_type == "error"]


def _solved(name: str) -> tuple[NotebookNode, dict[str, str]]:
    instructor = solutions(read_notebook(SOURCE / f"{name}.ipynb"))
    return fill(read_notebook(RELEASE / f"{name}.ipynb"), instructor), instructor


def _points(name: str) -> dict[str, float]:
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
            for c in read_notebook(SOURCE / f"{name}.ipynb").cells if is_test(c)}


@pytest.fixture(scope="module")
def release_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("release") / "lecture01"
    shutil.copytree(RELEASE, folder)
    return folder


@pytest.fixture(scope="module")
def without_matplotlib(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The name of a kernel in which `import matplotlib` fails, as in the lecture's environment."""
    python = os.environ.get("LECTURE_PYTHON")
    if python:
        argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    else:
        start = ("import sys; sys.modules['matplotlib'] = None; "
                 "from ipykernel import kernelapp; kernelapp.launch_new_instance()")
        argv = [sys.executable, "-c", start, "-f", "{connection_file}"]
    home = tmp_path_factory.mktemp("jupyter")
    (home / "kernels" / "no-matplotlib").mkdir(parents=True)
    spec = {"argv": argv, "display_name": "Python without matplotlib", "language": "python"}
    (home / "kernels" / "no-matplotlib" / "kernel.json").write_text(json.dumps(spec))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(home), previous]))
    yield "no-matplotlib"
    if previous is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = previous


def _expected_summary(name: str) -> str:
    points = _points(name)
    functions = sum(p for grade_id, p in points.items() if not grade_id.startswith("test_answer_"))
    return f"Visible tests: {functions:g} of {functions:g} points ("


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_release_runs_without_matplotlib(release_copy: Path, without_matplotlib: str, name: str):
    untouched = nbformat.read(release_copy / f"{name}.ipynb", as_version=4)
    solved, _ = _solved(name)
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "try:\n    import matplotlib\nexcept ImportError:\n    print('no matplotlib')")])
    _client(probe, release_copy, without_matplotlib).execute()
    assert _text(probe.cells[0].outputs).strip() == "no matplotlib"
    plots = 0
    for notebook, is_solved in ((untouched, False), (solved, True)):
        client = _client(notebook, release_copy, without_matplotlib)
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                outputs = _run(client, notebook, index)
                text = _text(outputs)
                where = f"{name} ({'solved' if is_solved else 'untouched'}), cell {index}: {text}"
                if is_solution(cell) and not is_solved:
                    continue  # an unanswered question or function of the untouched release
                assert not FRAME.search(text) and "matplotlib" not in text.replace(INSTALL, ""), where
                if is_test(cell) and not is_solved:
                    assert [e.ename for e in _errors(outputs)] == ["CheckFailed"], where
                    continue
                assert not _errors(outputs), where
                if "plt." in cell.source or "ax." in cell.source:
                    lines = text.strip().splitlines()
                    waiting = not is_solved and lines[-1].endswith("above first (this cell uses it).")
                    assert lines[-1] == INSTALL or waiting, where
                    plots += is_solved
                if is_solved:
                    assert "above first" not in text and "Fix " not in text, where
            summary = _text(notebook.cells[-1].outputs)
            if is_solved:
                assert summary.startswith(_expected_summary(name)), summary
            else:
                assert "not passed yet" in summary or summary.startswith("No visible test"), summary
    assert plots >= 1, f"{name} has no plot cell"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_solved_release_shows_its_plots_and_a_full_total_with_matplotlib(release_copy: Path, name: str):
    notebook, _ = _solved(name)
    client = _client(notebook, release_copy)
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            outputs = _run(client, notebook, index)
            text = _text(outputs)
            assert not _errors(outputs), f"{name}, cell {index}: {text}"
            assert INSTALL not in text and "above first" not in text, f"{name}, cell {index}: {text}"
            if "plt.show()" in cell.source:
                drawn = any("image/png" in o.get("data", {}) for o in outputs)
                assert drawn, f"{name}, cell {index} drew nothing"
    assert _text(notebook.cells[-1].outputs).startswith(_expected_summary(name))


def _by_notebook(mistakes: list[Mistake]) -> dict[str, list[Mistake]]:
    found: dict[str, list[Mistake]] = {}
    for mistake in mistakes:
        found.setdefault(mistake.notebook, []).append(mistake)
    return found


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_by_notebook(SAYS)))
def test_beginners_mistakes_are_named_and_numpy_errors_translated(release_copy: Path,
                                                                  without_matplotlib: str, name: str):
    """In the lecture's environment where LECTURE_PYTHON names it (numpy's messages differ by version)."""
    notebook, instructor = _solved(name)
    index_of = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(notebook.cells)
                if nbgrader_meta(c).get("grade_id")}
    shows = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "checks.needs(" in c.source]
    client = _client(notebook, release_copy, without_matplotlib)
    problems = []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                assert not _errors(_run(client, notebook, index)), f"{name}: the solution fails"
        for mistake in _by_notebook(SAYS)[name]:
            for grade_id, code in mistake.cells.items():
                _run(client, notebook, index_of[grade_id], code)
            for test in mistake.fails:
                errors = _errors(_run(client, notebook, index_of[test]))
                shown = "\n".join(line for e in errors for line in e.traceback)
                if not errors or errors[0].ename != "CheckFailed" or FRAME.search(shown):
                    problems.append(f"{mistake.name}: not a plain check message: {shown}")
                elif _normal(mistake.says) not in _normal(shown):
                    problems.append(f"{mistake.name}: does not say {mistake.says!r}: {shown}")
                elif RAW.search(shown) and "What it means:" not in shown:
                    problems.append(f"{mistake.name}: only numpy's own words: {shown}")
            for index in shows:  # a cell that shows the functions never crashes, and says what to fix
                outputs = _run(client, notebook, index)
                if _errors(outputs) or FRAME.search(_text(outputs)):
                    problems.append(f"{mistake.name}: cell {index} crashed: {_text(outputs)}")
            for grade_id in mistake.cells:
                _run(client, notebook, index_of[grade_id], instructor[grade_id])
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_a_wrong_answer_to_question_1_or_2_stops_the_demo_with_one_line(release_copy: Path):
    name = "01_forward_propagation"
    notebook, instructor = _solved(name)
    index_of = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(notebook.cells)
                if nbgrader_meta(c).get("grade_id")}
    demo = next(i for i, c in enumerate(notebook.cells)
                if "answer_weight_shape" in c.source and "checks.needs" in c.source)
    client = _client(notebook, release_copy)
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                _run(client, notebook, index)
        for answer, wrong, says in (("answer_weight_shape", "(625, 16)", "Check question 1 first"),
                                    ("answer_weight_shape", "625", "Answer question 1 first"),
                                    ("answer_n_biases", "625", "Check question 2 first")):
            _run(client, notebook, index_of[answer], f"{answer} = {wrong}")
            outputs = _run(client, notebook, demo)
            assert not _errors(outputs) and _text(outputs).strip().startswith(says), _text(outputs)
            assert len(_text(outputs).strip().splitlines()) == 1
            _run(client, notebook, index_of[answer], instructor[answer])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_a_function_that_changes_its_input_fails_its_visible_test(release_copy: Path, name: str):
    notebook, _ = _solved(name)
    function, code, says = IN_PLACE[name]
    index_of = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(notebook.cells)
                if nbgrader_meta(c).get("grade_id")}
    client = _client(notebook, release_copy)
    with client.setup_kernel():
        for index in range(index_of[function]):
            if notebook.cells[index].cell_type == "code":
                _run(client, notebook, index)
        _run(client, notebook, index_of[function], code)
        errors = _errors(_run(client, notebook, index_of[f"test_{function}"]))
        assert errors and errors[0].ename == "CheckFailed" and says in errors[0].evalue, errors
        summary = _text(_run(client, notebook, len(notebook.cells) - 1))
        assert f"{function} 0 of" in summary and "not passed yet" in summary, summary


def test_the_notebooks_say_what_an_in_place_change_costs_and_where_examples_are_rows():
    for name in NOTEBOOKS:
        cells = read_notebook(SOURCE / f"{name}.ipynb").cells
        text = " ".join(" ".join(c.source.split()) for c in cells if c.cell_type == "markdown")
        assert "unchanged" in text and "loses its points" in text, name
        rows = r"d2l\.ai \(the lecture's book 2\), PyTorch and Keras put the examples in \*\*rows\*\*"
        assert re.search(rows, text), name


def test_visible_test_tables_hold_only_visible_cases():
    """A `<notebook>_tests.json` beside the notebooks is released to students: hidden tests never read it,
    and each table in it is one a visible part of its test cell names."""
    for path in sorted(SOURCE.glob("*_tests.json")):
        notebook = read_notebook(SOURCE / f"{path.name.removesuffix('_tests.json')}.ipynb")
        assert (RELEASE / path.name).read_bytes() == path.read_bytes()
        cells = {nbgrader_meta(c).get("grade_id"): c.source for c in notebook.cells if is_test(c)}
        for grade_id, cases in json.loads(path.read_text(encoding="utf-8")).items():
            visible, _, rest = cells[grade_id].partition(HIDDEN_DELIMITERS[0])
            hidden = rest.partition(HIDDEN_DELIMITERS[1])[0]
            assert "visible_tables" not in hidden, grade_id
            for case in cases:
                assert f'"{case}"' in visible, (path.name, grade_id, case)


ALTERNATIVES = {s.notebook: s.alternatives for s in all_samples()}


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_correct_variant_passes_its_visible_tests_and_leaves_its_inputs_alone(release_copy: Path,
                                                                                     name: str):
    """The checks added to the visible tests (inputs unchanged, demos checking first) fail no correct code."""
    notebook, instructor = _solved(name)
    client = _client(notebook, release_copy)
    problems = []
    with client.setup_kernel():
        for variant, code in {"the instructor's": {}, **ALTERNATIVES[name]}.items():
            filled = fill(read_notebook(RELEASE / f"{name}.ipynb"), {**instructor, **code})
            for index, cell in enumerate(filled.cells):
                if cell.cell_type == "code":
                    outputs = _run(client, filled, index)
                    text = _text(outputs)
                    if _errors(outputs) or "above first" in text:
                        problems.append(f"{variant}, cell {index}: {text}")
            if not _text(filled.cells[-1].outputs).startswith(_expected_summary(name)):
                problems.append(f"{variant}: {_text(filled.cells[-1].outputs)}")
    assert not problems, "\n".join(problems)
