"""Work on submission text grows linearly: four times the input takes about four times the time.

Only ratios are asserted, never times (CPU time of this process and its children, the best of
five). Each input is a pathological case of a pattern that rescanned the text: math openers that are
never closed (nbconvert's lazy `\\[.*?\\]`, and its strip_files_prefix's `\\[(.*?)\\]` from every `[`),
and long runs of spaces in an uploaded file's name (collect's `\\s*...$`). The page of a notebook
holding such a cell is made with the feedback exporter; work that exceeds its budget is cut off with a
one-line reason.
"""

from __future__ import annotations

import gc
import resource
import time
from collections.abc import Callable

import pytest
from nbformat import v4

from grader.budget import StepFailed, within_budget
from grader.feedback_page import FeedbackExporter
from grader.lms.notebook_names import normalize
from grader.mathml import markdown_to_html

SIZE = 20_000
GROWTH = 4  # the larger input is four times the smaller
LIMIT = 8.0  # linear work measures about 4; quadratic about 16


def _cpu() -> float:
    """CPU time of this process and of its ended children (the budget renders in a forked child)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _seconds(work: Callable[[], object]) -> float:
    """CPU seconds of one run: the best of five, each repeating the work for at least 50 ms (with the
    garbage collector paused, whose pauses depend on everything else in the process)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            runs, start = 0, _cpu()
            while True:
                work()
                runs += 1
                spent = _cpu() - start
                if spent >= 0.05:
                    break
            best = min(best, spent / runs)
    finally:
        gc.enable()
    return best


def _ratio(work: Callable[[str], object], make: Callable[[int], str]) -> float:
    small, large = make(SIZE), make(GROWTH * SIZE)
    work(small)  # warm up (imports, compiled patterns)
    return _seconds(lambda: work(large)) / _seconds(lambda: work(small))


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: unit * (size // len(unit))


MATH_OPENERS = {"latex display": "\\[ a ", "latex display per line": "\\[\n", "tex display": "$$ a\n\n",
                "tex inline": "$ a\n\n", "latex inline": "\\( a ", "environment": "\\begin{x} a\n\n",
                "environments of many names": None}


@pytest.mark.parametrize("case", list(MATH_OPENERS))
def test_markdown_with_unclosed_math_renders_in_linear_time(case: str):
    unit = MATH_OPENERS[case]
    make = _repeat(unit) if unit else (lambda size: "".join(f"\\begin{{n{i}}} a " for i in range(size // 14)))
    assert _ratio(markdown_to_html, make) < LIMIT


@pytest.mark.parametrize("unit", [" ", "\t", " - ", "  x("])
def test_file_names_with_long_runs_normalize_in_linear_time(unit: str):
    assert _ratio(normalize, lambda size: "02_svm_loss" + unit * (size // len(unit)) + "b") < LIMIT
    assert normalize("02_svm_loss" + " " * 10_000 + "(1)") == "02_svm_loss"


def test_a_feedback_page_of_unclosed_math_is_made_in_linear_time():
    exporter = FeedbackExporter()

    def page(text: str) -> str:
        notebook = v4.new_notebook(cells=[v4.new_markdown_cell(text)])
        resources = {"nbgrader": {"notebook": "n", "score": 0, "max_score": 0, "late_penalty": 0,
                                  "student": "s"}}
        html, _ = exporter.from_notebook_node(notebook, resources)
        assert "could not be made" not in html
        return html

    start = time.perf_counter()
    assert _ratio(page, _repeat("\\[ a ")) < LIMIT
    assert time.perf_counter() - start < 600  # (a guard against a hang, not a speed target)


def test_the_budget_cuts_off_work_that_runs_too_long_or_too_big():
    with pytest.raises(StepFailed, match=r"took longer than its 0.5 s"):
        within_budget(lambda: time.sleep(30), seconds=0.5)
    with pytest.raises(StepFailed, match="memory"):
        within_budget(lambda: bytearray(1 << 31), seconds=30, memory_bytes=256 << 20)
    with pytest.raises(StepFailed, match=r"^ValueError: odd cell$"):
        within_budget(lambda: (_ for _ in ()).throw(ValueError("odd cell")))
    assert within_budget(lambda: {"page": "ok"}) == {"page": "ok"}


@pytest.mark.parametrize("unit", ["<a ", "<b x=", "![x](http", "`", "<!-"])
def test_a_graded_notebooks_markdown_is_made_inert_in_linear_time(unit: str):
    from grader.preprocessors import inert_markdown

    assert _ratio(inert_markdown, _repeat(unit)) < LIMIT
