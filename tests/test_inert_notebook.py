"""The graded notebook shows nothing live where the instructor opens it (formgrader renders it with
nbconvert's classic HTML; JupyterLab renders its markdown and outputs).

- The hostile notebook of test_inert_pages (every scheme, raw HTML, outputs of every MIME type, metadata
  of the wrong kind), after grading's last step InertNotebook, exported as formgrader exports it and
  opened in headless Chromium: no request reaches the local server, no script runs. (The same notebook
  without the step requests and runs: tests/test_inert_pages.py's first test.)
- A student's hostile markdown and metadata, graded with `grader autograde`: the graded notebook keeps
  the instructor's markdown (its <details> included) and the student's text, shown as text, and saying so.
"""

from __future__ import annotations

import json
import time

import pytest
from nbconvert.exporters import HTMLExporter
from nbformat import v4

from grader.autograde import autograde
from grader.classroom import solved_notebook, submit
from grader.notebooks import read_notebook
from grader.preprocessors import InertNotebook
from tests.test_inert_pages import HOSTILE_NOTEBOOK, INSPECT, _hostile_markdown, _make_hostile, server

pytestmark = pytest.mark.slow  # drives a browser, grades a notebook

__all__ = ["server"]  # the fixture, shared


def test_an_inert_graded_notebook_shown_as_formgrader_shows_it_requests_and_runs_nothing(
        released_template, server, chromium, tmp_path):
    url, seen = server
    notebook = _make_hostile(solved_notebook(released_template, HOSTILE_NOTEBOOK), url)
    notebook, _ = InertNotebook().preprocess(notebook, {})
    kinds = {kind for cell in notebook.cells for output in cell.get("outputs", [])
             for kind in output.get("data", {})}
    assert kinds <= {"text/plain", "text/html", "image/png", "image/jpeg", "image/gif"}
    page, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
    path = tmp_path / "graded.html"
    path.write_text(page, encoding="utf-8")
    seen.clear()
    chromium.get("about:blank")
    chromium.get(path.as_uri())
    time.sleep(1.5)
    state = chromium.execute_script(INSPECT)
    assert seen == [], f"the page made requests: {seen}"
    assert state["pwned"] is None
    text = chromium.find_element("tag name", "body").text
    assert "shown as its text" in text and "not shown: output of type" in text


def test_grading_keeps_the_instructors_markdown_and_shows_a_students_html_as_text(make_course):
    course = make_course()
    notebook = solved_notebook(course, HOSTILE_NOTEBOOK)
    hostile = _hostile_markdown("http://127.0.0.1:9")
    notebook.cells.append(v4.new_markdown_cell(hostile))
    notebook.cells.append(v4.new_markdown_cell("A fine answer: $a<b$ and <b>bold</b>."))
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    notebook.metadata["title"] = {"not": "a string"}
    notebook.cells[0].metadata["tags"] = ["ok", "<script>x</script>"]
    submit(course, "mallory", {HOSTILE_NOTEBOOK: notebook})
    result = autograde(course, workers=1)
    assert "mallory" in result.graded, result.not_graded
    graded = read_notebook(course.step_dir("autograded", "mallory") / f"{HOSTILE_NOTEBOOK}.ipynb")
    released = read_notebook(course.folder("release", "lecture01") / f"{HOSTILE_NOTEBOOK}.ipynb")
    instructor = [c.source for c in released.cells if c.cell_type == "markdown"]
    shown = [c.source for c in graded.cells if c.cell_type == "markdown"]
    assert shown[:len(instructor)] == instructor and any("<details>" in s for s in instructor)
    assert hostile in shown[-2] and shown[-2].startswith("*(This cell held raw HTML")
    assert shown[-1] == "A fine answer: $a<b$ and <b>bold</b>."
    assert "widgets" not in graded.metadata and "title" not in graded.metadata
    assert graded.cells[0].metadata["tags"] == ["ok"]
    assert json.dumps(graded).count("<script>") == hostile.count("<script>")  # only inside the code block
