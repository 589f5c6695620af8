"""The exporter of `grader feedback` (nbgrader's GenerateFeedback.exporter_class): inert, offline pages.

nbgrader's feedback exporter is an HTMLExporter with its `feedback` template. This one differs in four
ways, each a wall:
- the page's head is the template's own (CSS inlined; no script, no MathJax, no link to elsewhere), and
  everything between <body> and </body> is sanitized after it was rendered (grader.inert.safe_html):
  what the markdown, the outputs of any MIME type and the metadata became is cleaned as HTML;
- formulas are MathML written with the page (grader.mathml), found in linear time;
- each test is titled by its question and points (grader_feedback/index.html.j2);
- one notebook's page is made within a time and memory budget (grader.budget): a notebook that breaks
  the renderer or exceeds the budget gets a short page saying so and a `grader-note:` line in the log,
  and the class's other pages are written.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import nbformat
import nbgrader
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.strings import files_url_pattern
from nbformat import NotebookNode
from traitlets import Float, Integer
from traitlets.config import Config

from grader.budget import MEMORY_BYTES, SECONDS, StepFailed, within_budget
from grader.inert import safe_html, terminal_safe
from grader.mathml import MathMLRenderer, latex_to_mathml, markdown_to_html

TEMPLATES = str(Path(__file__).resolve().parent / "templates")
NBGRADER_TEMPLATES = str(Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader"
                         / "templates")


def question(grade_id: object) -> str:
    """A test cell's title: the function or question it tests (its grade id without `test_`)."""
    return str(grade_id or "test").removeprefix("test_")


def strip_files_prefix(page: str) -> str:
    """nbconvert's filter of that name for HTML (src="files/x" becomes src="x"), in linear time. Its
    second pattern, for markdown links (`\\[(.*?)\\]\\(files/`), rescans a line from every `[` (many
    `\\[` in a cell made a page take minutes), and finds nothing in HTML, which is what it is given here."""
    return files_url_pattern.sub(r"\1=\2", page)


def latex_output(latex: str) -> str:
    """A text/latex output: its formula as MathML (the delimiters $$, $, \\[ taken off)."""
    body = str(latex).strip()
    for opener, closer in (("$$", "$$"), ("\\[", "\\]"), ("$", "$"), ("\\(", "\\)")):
        if body.startswith(opener) and body.endswith(closer) and len(body) >= len(opener) + len(closer):
            return latex_to_mathml(body[len(opener):len(body) - len(closer)], display=True)
    return latex_to_mathml(body, display=True)


def inert_page(page: str) -> str:
    """The page with everything between the template's <body> and the last </body> sanitized."""
    start = page.find("<body>")
    end = page.rfind("</body>")
    if start < 0 or end < start:
        raise ValueError("the feedback template wrote no <body>")
    start += len("<body>")
    return page[:start] + safe_html(page[start:end]) + page[end:]


def withheld_page(notebook: str, reason: str) -> str:
    """The page of a notebook whose feedback could not be made."""
    name, why = html.escape(notebook), html.escape(reason)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{name}</title>\n'
            f"</head>\n<body>\n<h1>{name}</h1>\n<p>The feedback page of this notebook could not be made "
            f"({why}). Your grade is not affected; ask your instructor for your feedback.</p>\n"
            "</body>\n</html>\n")


def _plain(value: Any) -> Any:
    """Resources as plain dicts and lists, without the template's helper functions (to pickle them)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if not callable(item)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback HTML, inert and offline (see the module)."""

    seconds = Float(SECONDS, help="Time budget of one notebook's feedback page, in seconds.").tag(config=True)
    memory_bytes = Integer(MEMORY_BYTES, help="Memory budget of one notebook's feedback page.").tag(
        config=True)

    def __init__(self, config: Config | None = None, **kwargs: Any) -> None:
        # nbgrader's GenerateFeedback configures every HTMLExporter's template: this class's own wins.
        config = Config(config or {})
        config.FeedbackExporter.template_name = "grader_feedback"
        config.FeedbackExporter.extra_template_basedirs = [TEMPLATES, NBGRADER_TEMPLATES]
        config.FeedbackExporter.extra_template_paths = [NBGRADER_TEMPLATES]  # extends feedback/index.html.j2
        super().__init__(config=config, **kwargs)

    @pass_context
    def markdown2html(self, context: dict, source: str) -> str:
        cell = context.get("cell", {})
        renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}), embed_images=False,
                                  path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                                  anchor_link_text=self.anchor_link_text,
                                  exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
        return markdown_to_html(source, renderer)

    def default_filters(self) -> Any:
        yield from super().default_filters()
        yield ("question", question)
        yield ("strip_files_prefix", strip_files_prefix)
        yield ("latex2html", latex_output)

    def from_file(self, file_stream: Any, resources: dict | None = None, **kw: Any) -> tuple[str, dict]:
        """The page of a notebook file; one that is not a readable notebook gets the short page."""
        try:
            notebook = nbformat.read(file_stream, as_version=4)
        except Exception as error:  # any reading error: this notebook's page only
            return self._withheld(resources, StepFailed(f"not a readable notebook ({type(error).__name__})"))
        return self.from_notebook_node(notebook, resources, **kw)

    def from_notebook_node(self, nb: NotebookNode, resources: dict | None = None,
                           **kw: Any) -> tuple[str, dict]:
        parent = super()

        def render() -> tuple[str, dict]:
            page, written = parent.from_notebook_node(nb, resources, **kw)
            return page, _plain(written)

        try:
            page, written = within_budget(render, self.seconds, self.memory_bytes)
            if resources is None:
                resources = {}
            resources.update(written)
            return inert_page(page), resources
        except (StepFailed, ValueError) as failure:
            return self._withheld(resources, failure)

    def _withheld(self, resources: dict | None, failure: Exception) -> tuple[str, dict]:
        """The short page of a notebook whose page could not be made, and its `grader-note:` line."""
        who = (resources or {}).get("nbgrader", {})
        notebook = str(who.get("notebook", "notebook"))
        self.log.warning("grader-note: %s %s: no feedback page: %s", terminal_safe(who.get("student")),
                         terminal_safe(notebook), terminal_safe(failure, limit=300))
        resources = resources if resources is not None else {}
        resources.setdefault("output_extension", self.file_extension)
        return withheld_page(notebook, str(failure)), resources
