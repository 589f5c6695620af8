"""What grading does once instead of per notebook or per test cell, and that it changes no result.

Real nbgrader (its Gradebook, CheckCellMetadata), the real sandbox (bubblewrap, one zygote).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import nbgrader.api
import pytest
import sqlalchemy
from nbformat import NotebookNode, v4
from nbgrader.api import Gradebook
from nbgrader.preprocessors import CheckCellMetadata, OverwriteCells

from grader.classroom import release_notebook
from grader.course import Course, _put_tools_on_path
from grader.pipeline import configured_names
from grader.preprocessors import OverwriteCellsReadOnce, SandboxedExecute
from grader.reuse import reused_setup
from grader.sandbox.trusted import execute, load_checks
from grader.sandbox.zygote import Zygote, bubblewrap_available
from tests.test_isolation import _notebook

REPO = Path(__file__).resolve().parent.parent
CHECKS = REPO / "source" / "lecture01" / "checks.py"
ASSIGNMENT, SVM = "lecture01", "02_svm_loss"


def test_gradebooks_share_one_engine_only_while_grading(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _put_tools_on_path()  # nbgrader runs alembic when it creates a gradebook
    with reused_setup():
        with Gradebook(url) as first:
            first.add_assignment("a")
            first.add_student("s1")
            engine = first.engine
        with Gradebook(url) as second:
            assert second.engine is engine  # compiled SQL is reused across notebooks
            assert [s.id for s in second.students] == ["s1"]  # and nbgrader works as before
    assert nbgrader.api.create_engine is sqlalchemy.create_engine
    with Gradebook(url) as outside:
        assert outside.engine is not engine


def test_the_gradebooks_tables_are_checked_once_per_engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _put_tools_on_path()
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_):
        statements.append(statement)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    try:
        with reused_setup():
            with Gradebook(url) as first:  # a new gradebook: its tables are created, as nbgrader does
                first.add_student("s1")
            checking = _table_checks(statements)
            statements.clear()
            with Gradebook(url) as second:
                assert [s.id for s in second.students] == ["s1"]
            assert checking and not _table_checks(statements)
        assert "create_all" not in vars(nbgrader.api.Base.metadata)  # MetaData's own method again
        statements.clear()
        with Gradebook(url):
            assert _table_checks(statements)  # outside: every time
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", record)


def _table_checks(statements: list[str]) -> list[str]:
    """The SQL statements that ask SQLite which tables exist and what they hold."""
    return [s for s in statements if "PRAGMA" in s or "sqlite_master" in s]


def _notebook_with_grade_cell(points: object):
    cell = v4.new_code_cell("assert True")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                                 "grade_id": "test_a", "schema_version": 3, "task": False}
    return v4.new_notebook(cells=[cell])


def _check_metadata(notebook) -> str:
    try:
        CheckCellMetadata().preprocess(notebook, {})
    except Exception as error:  # the verdict nbgrader gives, compared below
        return f"{type(error).__name__}: {error}"
    return "valid"


def test_metadata_is_checked_as_strictly_with_the_schema_checked_once():
    good, bad = _notebook_with_grade_cell(2), _notebook_with_grade_cell("two")
    plain = _check_metadata(good), _check_metadata(bad)
    with reused_setup():
        reused = _check_metadata(good), _check_metadata(bad), _check_metadata(bad)
    assert plain[0] == reused[0] == "valid"
    assert plain[1].startswith("ValidationError") and reused[1] == reused[2] == plain[1]
    assert nbgrader.nbgraderformat.common.jsonschema is jsonschema


def test_the_checks_module_is_fresh_for_every_test_cell():
    first, second = load_checks(CHECKS), load_checks(CHECKS)
    assert first is not second and first.__file__ == str(CHECKS)
    first.marker = "from an earlier test cell"
    assert not hasattr(second, "marker") and not hasattr(load_checks(CHECKS), "marker")


needs_sandbox = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot start a sandbox")

_CELLS = r'''
import os
import matplotlib.pyplot as plt
token = os.urandom(8).hex()  # a new one wherever the cells run (again)
fig, ax = plt.subplots(figsize=(3, 2))
ax.set_ylabel("a long label that tight_layout moves")
fig.tight_layout()
lo, hi = ax.get_xlim()  # with pyplot's stand-in this cell raises: its replay is done again, for real


def seen():
    """Where the test's call runs: which world, and which pyplot."""
    return token, type(plt).__name__


def width():
    """A value only matplotlib itself gives."""
    return fig.get_figwidth(), hi
'''


def _grade(*cells: str, tests: tuple[str, ...]):
    notebook = _notebook(*cells, tests=tests)
    zygote = Zygote(True)
    zygote.start()
    try:
        run = execute(notebook, zygote, {"checks.py": CHECKS.read_bytes()}, CHECKS,
                      SandboxedExecute(cell_seconds=20, wall_seconds=60).limits())
    finally:
        zygote.stop()
    assert not run.problems
    return run.notebook.cells, run.timings


_SEEN = "import json\nprint(json.dumps([*seen(), token]))"


@needs_sandbox
def test_the_first_test_cell_has_the_notebooks_world_and_later_ones_a_replay_with_pyplots_stand_in():
    """The first test cell runs where the cells ran (the same token, matplotlib itself); the second in
    a new world, where the cells were replayed with pyplot's stand-in (nothing built, nothing laid out).
    The figure the notebook shows was drawn as always."""
    cells, timings = _grade("import os\nimport matplotlib.pyplot as plt\ntoken = os.urandom(8).hex()\n"
                            "fig, ax = plt.subplots()\nax.plot([0, 1])\nfig.tight_layout()\n"
                            # written so that the choice of world does not see it reach pyplot
                            "def seen():\n    import sys\n"
                            "    return token, type(sys.modules['matplot' + 'lib.pyplot']).__name__",
                            tests=(_SEEN, _SEEN))
    assert any("image/png" in output.get("data", {}) for output in cells[0].outputs)
    first, second = (json.loads(cell.outputs[0]["text"]) for cell in cells[1:])
    assert first[0] == first[2] and first[1] == "module"  # the notebook's own world, real pyplot
    assert second[0] != second[2] and second[1] == "_PyplotStandIn"  # a replay, the stand-in
    assert timings["replays"] > 0 and timings["cells"] > 0


@needs_sandbox
def test_a_replay_that_goes_otherwise_or_a_test_that_fails_with_the_stand_in_is_done_for_real():
    """The cells unpack a value only matplotlib gives (with the stand-in the cell raises, which it did not
    when it ran: the replay is done again with matplotlib); a test of a value only matplotlib gives
    passes. Neither costs a point: the verdict is matplotlib's, and no error output is kept."""
    cells, _ = _grade(_CELLS, tests=(_SEEN, _SEEN, "assert width()[0] == 3.0, width()\nprint('ok')"))
    assert [output.get("output_type") for output in cells[0].outputs] == ["display_data"]
    _, second, third = cells[1:]
    _, pyplot, _ = json.loads(second.outputs[0]["text"])
    assert pyplot == "module"  # the cell went otherwise with the stand-in: replayed with matplotlib
    assert [output.get("output_type") for output in third.outputs] == ["stream"]
    assert third.outputs[0]["text"] == "ok\n"


@needs_sandbox
def test_a_function_that_reaches_a_figure_is_tested_where_the_cells_were_replayed_with_matplotlib():
    """A function that needs a real figure (it reads a name bound from pyplot): its test worlds replay
    the cells with matplotlib itself, decided before any test runs, and each test runs once."""
    cells = "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(3, 2))\ndef width():\n" \
            "    return fig.get_figwidth()"
    graded, _ = _grade(cells, tests=("print('first')", "assert width() == 3.0\nprint('right')",
                                           "assert width() == 4.0, 'wrong'"))
    _, right, wrong = graded[1:]
    assert right.outputs[0]["text"] == "right\n" and len(right.outputs) == 1
    assert wrong.outputs[-1]["output_type"] == "error" and wrong.outputs[-1]["evalue"] == "wrong"


@needs_sandbox
def test_a_replay_runs_the_python_that_ipythons_syntax_became():
    """A cell with a magic and a shell escape runs as IPython would have it; a replay for a later test
    cell runs the Python it became (told by the cell's first run), with the same result."""
    cell = "%matplotlib inline\n%time y = 6 * 7\nlisting = !ls\ndef answer():\n    return y"
    graded, timings = _grade(cell, tests=("print(answer())", "print(answer())"))
    assert "(shell command not run while grading: ls)" in graded[0].outputs[0]["text"]
    assert [cell.outputs[0]["text"] for cell in graded[1:]] == ["42\n", "42\n"]
    assert timings["replays"] > 0 and not timings["tests run again"]


_LAID_OUT_FIGURE = '''
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.plot([0, 1, 4], label=r"$\\hat{y} = x^2$")
ax.set_title("precision = 0.60, recall = 0.60")
ax.set_ylabel("a long label that tight_layout moves")
ax.legend()
fig.tight_layout()
'''

_COUNT_DRAWS = '''
from matplotlib.figure import Figure
draws = []
_draw = Figure.draw
Figure.draw = lambda self, renderer: (draws.append(1), _draw(self, renderer))[1]
'''


@needs_sandbox
def test_a_laid_out_figure_is_drawn_once_into_the_pixels_matplotlib_saves(tmp_path: Path):
    """After tight_layout a figure keeps an idle layout engine, for which savefig drew it twice. The
    graded notebook's figure is drawn once, and is byte for byte what savefig gives in a plain Python."""
    graded, timings = _grade(_COUNT_DRAWS + _LAID_OUT_FIGURE, "print(len(draws))", tests=())
    figure = next(output["data"]["image/png"] for output in graded[0].outputs if "data" in output)
    assert graded[1].outputs[0]["text"] == "1\n"
    assert 0 < timings["figures"] < timings["cells"]  # the breakdown's rendering, a part of the cells' time
    reference = tmp_path / "reference.png"
    script = (_COUNT_DRAWS + _LAID_OUT_FIGURE
              + f"fig.savefig({str(reference)!r}, format='png', dpi=72)\nassert len(draws) == 2, draws\n")
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "MPLBACKEND": "Agg"})
    assert base64.b64decode(figure) == reference.read_bytes()


def _tampered(course) -> NotebookNode:
    """A released notebook a student changed the ways OverwriteCells looks at: a locked test cell's code
    and points, a cell's type, and a deleted test cell."""
    notebook = release_notebook(course, SVM)
    tests = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    tests[0].source = "print('all tests passed')"
    tests[0].metadata.nbgrader["points"] = 100
    answer = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution"))
    answer.cell_type = "markdown"
    answer.pop("outputs", None)
    answer.pop("execution_count", None)
    notebook.cells.remove(tests[-1])
    return notebook


def test_overwriting_cells_from_one_read_does_what_nbgraders_overwritecells_does(course):
    """The same notebook comes out of nbgrader's OverwriteCells and of OverwriteCellsReadOnce (the
    course's step), from far fewer queries of the gradebook."""
    resources = {"nbgrader": {"notebook": SVM, "assignment": ASSIGNMENT, "db_url": course.db_url}}
    outcomes, queries = {}, {}
    for step in (OverwriteCells(add_missing_cells=True), OverwriteCellsReadOnce(add_missing_cells=True)):
        statements: list[str] = []

        def record(_connection, _cursor, statement, *_, seen: list[str] = statements):
            seen.append(statement)

        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", record)
        try:
            notebook, _ = step.preprocess(_tampered(course), json.loads(json.dumps(resources)))
        finally:
            sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", record)
        for cell in notebook.cells:
            cell.pop("id", None)  # a cell added back gets a new random id
        outcomes[type(step).__name__] = json.dumps(notebook, sort_keys=True)
        queries[type(step).__name__] = sum(statement.lstrip().upper().startswith("SELECT")
                                           for statement in statements)
    assert outcomes["OverwriteCellsReadOnce"] == outcomes["OverwriteCells"]
    assert "all tests passed" not in outcomes["OverwriteCells"]  # the locked test cell was put back
    assert "was missing from the submission" in outcomes["OverwriteCells"]  # the deleted one added back
    assert queries["OverwriteCellsReadOnce"] <= 7 < 2 * 7 < queries["OverwriteCells"], queries


def test_the_course_overwrites_cells_with_the_step_that_reads_them_once():
    names = configured_names(Course(REPO).config(), "sanitize_preprocessors")
    assert "grader.preprocessors.OverwriteCellsReadOnce" in names
    assert "nbgrader.preprocessors.OverwriteCells" not in names
