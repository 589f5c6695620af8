"""Feedback pages in a real browser (headless Chromium): inert, offline, formulas right, legible.

A small class is graded with `grader autograde`; one student's graded notebook is then given hostile
content of every kind (markdown links and images of every scheme, raw HTML, outputs of every MIME type,
metadata of the wrong types), as a grader that lets anything through would have left it. Every URL in it
points to a local HTTP server, and every script would set `window.__pwned`.

- The same notebook exported by plain nbconvert (no wall) makes requests and runs scripts: the attacks
  are live (the marker).
- Its feedback page makes no request, runs no script, and holds no element that could.
- Every formula of the six notebooks renders as MathML with the network off, escaped once; a screenshot
  per notebook is saved (to $INERT_SCREENSHOTS when set).
- Each test is titled by its function and points, with no checker's class name; a notebook that breaks
  the renderer gets its own one-line note and a short page, and the class's other pages are written.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from nbconvert.exporters import HTMLExporter
from nbformat import NotebookNode, v4

from grader.autograde import autograde
from grader.classroom import solved_notebook, submit
from grader.course import Course, new_course
from grader.feedback import feedback
from grader.notebooks import read_notebook, write_notebook
from grader.release import release
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # grades a class and drives a browser

NOTEBOOKS = ["01_forward_propagation", "02_svm_loss", "03_softmax_cross_entropy", "04_regularization",
             "05_binary_cross_entropy", "06_scores"]
HOSTILE_NOTEBOOK = "02_svm_loss"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
MISTAKE = "def svm_loss_single(s, y):\n    return float(np.sum(np.maximum(0, s - s[y] + 1)))\n"


class Requests(BaseHTTPRequestHandler):
    """Records every request's path; answers with a tiny script / image / page."""

    seen: list[str] = []  # noqa: RUF012 - one list per server, set in the fixture

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b"window.__pwned = 'remote script';" if self.path.endswith(".js") else b""
        self.send_response(200)
        kind = "application/javascript" if self.path.endswith(".js") else "image/png"
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Seen", (Requests,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def _hostile_markdown(url: str) -> str:
    run = f"window.__pwned = 'script'; fetch('{url}/ran')"
    schemes = [f"{url}/md-http", f"//127.0.0.1:{url.rsplit(':', 1)[1]}/md-schemeless",
               "javascript:window.__pwned='js-link'", "vbscript:msgbox(1)", "file:///etc/passwd",
               "data:text/html;base64," + base64.b64encode(f"<script>{run}</script>".encode()).decode(),
               "attachment:absent.png", "ftp://127.0.0.1/x"]
    links = "\n".join(f"[link {i}]({target}) ![image {i}]({target})" for i, target in enumerate(schemes))
    return f"""# Hostile $a<b$ and $x > y \\& z$
{links}

<script>{run}</script>
<img src="{url}/img"> <img src=x onerror="{run}"> <img srcset="{url}/srcset 2x">
<svg onload="{run}"><script>{run}</script><image href="{url}/svg-image"/></svg>
<math><mtext><img src=x onerror="{run}"></mtext><mi href="javascript:window.__pwned=1">x</mi></math>
<iframe src="{url}/frame"></iframe><object data="{url}/object"></object><embed src="{url}/embed">
<link rel="stylesheet" href="{url}/style.css"><style>@import url({url}/import.css);</style>
<div style="background-image:url({url}/bg)">styled</div>
<table background="{url}/table"><tr><td>t</td></tr></table>
<meta http-equiv="refresh" content="0;url={url}/refresh"><base href="{url}/base/">
<form action="{url}/form"><input type="image" src="{url}/input">
<button formaction="{url}/b">go</button></form>
<video src="{url}/video" autoplay></video><audio src="{url}/audio" autoplay></audio>
<details open ontoggle="{run}"><summary>s</summary></details>
<a href="{url}/ping" ping="{url}/ping2">a</a><script src="{url}/remote.js"></script>
"""


def _hostile_outputs(url: str) -> list[NotebookNode]:
    run = f"window.__pwned = 'output'; fetch('{url}/output-ran')"
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" onload="{run}"><script>{run}</script>'
           f'<image href="{url}/svg-output"/></svg>')
    every = {"text/html": f"<b>html</b><script>{run}</script><img src='{url}/html-img'>",
             "image/svg+xml": svg, "application/javascript": run,
             "text/markdown": f"<img src='{url}/markdown-output'> <script>{run}</script>",
             "text/latex": r"$\href{javascript:window.__pwned=1}{x} < y$",
             "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2},
             "application/x-unknown": "<script>unknown</script>", "text/plain": "plain <script>"}
    outputs = [v4.new_output("display_data", data={kind: value}) for kind, value in every.items()]
    image = {"image/png": {"width": f"1 onerror=\"{run}\"", "alt": "<script>"}}
    outputs.append(v4.new_output("display_data", data={"image/png": PNG}, metadata=image))
    isolated = {"text/html": f"<iframe src='{url}/isolated'></iframe>"}
    outputs.append(v4.new_output("display_data", data=isolated, metadata={"text/html": {"isolated": True}}))
    outputs.append(v4.new_output("error", ename="<script>", evalue=f"<img src='{url}/evalue'>",
                                 traceback=[f"<img src='{url}/traceback'>"]))
    outputs.append(v4.new_output("stream", name="stdout", text=f"<img src='{url}/stream'>"))
    return outputs


def _make_hostile(notebook: NotebookNode, url: str) -> NotebookNode:
    notebook.metadata["title"] = f"</title><script>{url}</script>"
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0, "</script><script>window.__pwned=1//": 1}}
    markdown = v4.new_markdown_cell(_hostile_markdown(url))
    markdown.metadata["tags"] = ['"><script>window.__pwned=1</script>']
    code = v4.new_code_cell("print('hostile outputs')")
    code.outputs = _hostile_outputs(url)
    code.metadata["tags"] = ["<script>window.__pwned=1</script>"]
    notebook.cells[1:1] = [markdown, code]
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, server: tuple[str, list[str]]) -> Course:
    """Six notebooks of one correct student, one mistaken and hostile student, one broken notebook."""
    url, _ = server
    course = new_course(tmp_path_factory.mktemp("inert") / "course", REPO, notebooks=NOTEBOOKS)
    release(course)
    submit(course, "ada", {name: solved_notebook(course, name) for name in NOTEBOOKS})
    submit(course, "mallory", {HOSTILE_NOTEBOOK: solved_notebook(course, HOSTILE_NOTEBOOK,
                                                                 {"svm_loss_single": MISTAKE})})
    submit(course, "bob", {name: solved_notebook(course, name) for name in NOTEBOOKS[:3]})
    autograde(course, workers=2)
    # What grading left, made hostile after the fact: the feedback's wall must hold on its own.
    path = course.step_dir("autograded", "mallory") / f"{HOSTILE_NOTEBOOK}.ipynb"
    write_notebook(_make_hostile(read_notebook(path), url), path)
    # Metadata of the wrong types: nbconvert refuses bob's 01 (a tag that is not a string) and its
    # exporter raises on bob's 02 (language_info a list).
    for name, edit in ((NOTEBOOKS[0], {"tags": [{"not": "a string"}]}), (NOTEBOOKS[1], None)):
        path = course.step_dir("autograded", "bob") / f"{name}.ipynb"
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if edit:
            notebook["cells"][0]["metadata"].update(edit)
        else:
            notebook["metadata"]["language_info"] = ["odd"]
        path.write_text(json.dumps(notebook), encoding="utf-8")
    # A graded notebook that is no longer a notebook at all (bob's 03).
    unreadable = course.step_dir("autograded", "bob") / f"{NOTEBOOKS[2]}.ipynb"
    unreadable.write_text('{"cells": [', encoding="utf-8")
    return course


@pytest.fixture(scope="module")
def pages(graded: Course) -> dict[str, object]:
    result = feedback(graded)
    return {"files": {f"{p.parent.parent.name}/{p.stem}": p for p in result.files}, "notes": result.notes}


def _open(chromium, path: Path, wait: float = 1.5) -> None:
    chromium.get("about:blank")
    chromium.get(path.as_uri())
    time.sleep(wait)  # time for any request or timer a page might start


INSPECT = """
const live = [];
for (const element of document.querySelectorAll('*')) {
  for (const attribute of element.attributes) {
    const name = attribute.name.toLowerCase();
    if (name.startsWith('on') || name === 'style' || name === 'srcset' || name === 'ping' ||
        name === 'background' || name === 'formaction' ||
        (name === 'src' && !attribute.value.startsWith('data:image/')) ||
        (name === 'href' && /^\\s*(javascript|vbscript|data|file)/i.test(attribute.value)))
      live.push(element.tagName + ' ' + name + '=' + attribute.value.slice(0, 60));
  }
}
return {pwned: window.__pwned === undefined ? null : String(window.__pwned), title: document.title,
        scripts: document.scripts.length, live: live,
        dangerous: Array.from(document.querySelectorAll(
            'iframe,frame,object,embed,link,meta[http-equiv],base,form,video,audio,svg,body style'))
            .map(e => e.tagName),
        resources: performance.getEntriesByType('resource').map(e => e.name)};
"""


def test_without_the_wall_the_hostile_notebook_requests_and_runs_scripts(graded, server, chromium, tmp_path):
    _, seen = server
    notebook = read_notebook(graded.step_dir("autograded", "mallory") / f"{HOSTILE_NOTEBOOK}.ipynb")
    for cell in notebook.cells:  # plain nbconvert refuses a missing attachment; the rest is the same
        cell.source = cell.source.replace("attachment:absent.png", "absent.png")
    plain, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
    page = tmp_path / "plain.html"
    page.write_text(plain, encoding="utf-8")
    seen.clear()
    _open(chromium, page)
    state = chromium.execute_script(INSPECT)
    ran = state["pwned"] is not None or any(path.endswith(("/ran", "/output-ran")) for path in seen)
    assert ran and len(seen) >= 5, f"the attacks are not live, the test below would prove nothing: {seen}"


def test_the_feedback_page_requests_nothing_and_runs_nothing(pages, server, chromium):
    url, seen = server
    path = pages["files"][f"mallory/{HOSTILE_NOTEBOOK}"]
    seen.clear()
    _open(chromium, path)
    state = chromium.execute_script(INSPECT)
    assert seen == [], f"the page made requests: {seen}"
    assert state["pwned"] is None and state["scripts"] == 0
    assert state["title"] == HOSTILE_NOTEBOOK
    assert state["live"] == [] and state["dangerous"] == []
    assert state["resources"] == []
    text = chromium.find_element("tag name", "body").text
    assert "plain <script>" in text  # what the student's code printed is shown as they wrote it
    assert "(not shown" in text or "a script output" in text  # what cannot be shown says so
    source = path.read_text(encoding="utf-8")
    assert url not in source.split("<body>", 1)[0]  # the head is the template's own
    assert "<script" not in source.lower()


def _formulas(notebook: NotebookNode) -> list[str]:
    """The LaTeX of every formula in the notebook's markdown ($$...$$ and $...$)."""
    text = "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    text = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.S)
    return [a or b for a, b in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", text, flags=re.S)]


MATH = """
const maths = Array.from(document.querySelectorAll('math'));
return {count: maths.length, texts: maths.map(m => m.textContent),
        empty: maths.filter(m => m.getBoundingClientRect().width === 0).length,
        fallback: document.querySelectorAll('code.latex').length,
        visible: Array.from(document.querySelectorAll('.text_cell_render')).map(e => e.innerText).join(' ')};
"""


def _screenshot(chromium, target: Path) -> None:
    metrics = chromium.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = chromium.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 30000), "scale": 1}})
    target.write_bytes(base64.b64decode(shot["data"]))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_formula_renders_offline_escaped_once(graded, pages, chromium, name, tmp_path):
    formulas = _formulas(read_notebook(graded.step_dir("autograded", "ada") / f"{name}.ipynb"))
    assert formulas
    chromium.execute_cdp_cmd("Network.enable", {})
    chromium.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        _open(chromium, pages["files"][f"ada/{name}"], wait=0.5)
        found = chromium.execute_script(MATH)
        folder = Path(os.environ.get("INERT_SCREENSHOTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        _screenshot(chromium, folder / f"feedback-{name}.png")
    finally:
        chromium.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    assert found["count"] == len(formulas) and found["empty"] == 0 and found["fallback"] == 0
    texts = "".join(found["texts"])
    for escaped in ("&lt;", "&gt;", "&amp;", "lt;", "gt;"):
        assert escaped not in texts
    for character in "<>":  # each shown once, as itself
        assert texts.count(character) == sum(f.count(character) for f in formulas)
    assert found["visible"] and "$" not in found["visible"], "raw LaTeX is shown"
    assert "\\frac" not in found["visible"] and "\\sum" not in found["visible"]


def test_each_test_is_titled_by_its_question_and_points(pages, chromium):
    _open(chromium, pages["files"][f"mallory/{HOSTILE_NOTEBOOK}"], wait=0.2)
    toc = chromium.find_element("id", "toc").text
    assert "svm_loss_single" in toc and "0.0 / 2.0 points" in toc and "Test cell" not in toc
    text = chromium.find_element("tag name", "body").text
    assert "CheckFailed" not in text and "svm_loss_single(" in text
    wide = chromium.execute_script(
        "return Array.from(document.querySelectorAll('pre')).filter(p => p.scrollWidth > p.clientWidth + 2)"
        ".length")
    assert wide == 0, "a message needs horizontal scrolling"


def test_a_notebook_that_breaks_the_renderer_costs_only_itself(pages):
    notes = pages["notes"]
    for name in NOTEBOOKS[:3]:
        assert len([n for n in notes if "bob" in n and name in n]) == 1, notes
    assert len(notes) == 3 and all("\n" not in n and len(n) < 500 for n in notes)
    tags = pages["files"][f"bob/{NOTEBOOKS[0]}"].read_text(encoding="utf-8")
    assert "could not be made" in tags and "is not of type" in tags
    language = pages["files"][f"bob/{NOTEBOOKS[1]}"].read_text(encoding="utf-8")
    assert "could not be made" in language and "AttributeError" in language
    unreadable = pages["files"][f"bob/{NOTEBOOKS[2]}"].read_text(encoding="utf-8")
    assert "could not be made" in unreadable and "not a readable notebook" in unreadable
    assert set(pages["files"]) >= {f"ada/{name}" for name in NOTEBOOKS}
    assert json.dumps(notes).count("Traceback") == 0


def test_the_class_report_shows_hostile_text_as_text(server, chromium, tmp_path):
    from collections import Counter

    from grader.report import ClassSummary, MistakeCount, TestRate, histogram, render
    from grader.status import Status

    url, seen = server
    markup = f"<img src='{url}/report' onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>"
    student, notebook = f"eve{markup}\x1b]0;PWNED\x07", f"02{markup}"
    summary = ClassSummary(totals={student: (1.0, 2.0), "ada": (2.0, 2.0)})
    summary.histogram = histogram(summary.totals.values())
    summary.rates = [TestRate(notebook, f"test{markup}", 1, 2)]
    summary.mistakes = [MistakeCount(notebook, "test_x", f"mistake {markup} $x$", 1)]
    summary.not_graded = [(student, notebook, f"reason {markup}")]
    summary.missing = [(student, notebook)]
    summary.units = Counter({Status.GRADED: 1, Status.NOT_GRADED: 1, Status.MISSING: 1})
    page = tmp_path / "report.html"
    page.write_text(render(summary, f"course{markup}", "lecture01"), encoding="utf-8")
    seen.clear()
    _open(chromium, page)
    state = chromium.execute_script(INSPECT)
    assert seen == [] and state["pwned"] is None and state["scripts"] == 0 and state["live"] == []
    assert state["resources"] == [] and state["dangerous"] == []
    text = chromium.find_element("tag name", "body").text
    assert f"reason {markup}" in text  # shown as the text it is
