"""`grader report`: one self-contained HTML page on how the class did.

Its numbers are derived, like every export, from what grading left behind (grader.outcomes: the
gradebook's scores and the graded notebooks), so it agrees with the scores CSV and the LMS files
whichever command graded. The page holds a histogram of the students' totals, the pass rate of each
test, the most frequent mistakes the instructor's checks diagnosed and the submissions that were not
graded; it is rendered from a jinja2 template with autoescape, and its plots are embedded PNGs.
"""

from __future__ import annotations

import base64
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure

from grader.course import Course
from grader.errors import GraderError
from grader.files import write_text_atomically
from grader.outcomes import AssignmentOutcomes, Outcome, outcomes
from grader.scores import student_totals
from grader.status import Status

BINS = 10
TOP_MISTAKES = 15


@dataclass(frozen=True)
class TestRate:
    """How many graded submissions passed one test cell (full marks)."""

    notebook: str
    cell: str
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class MistakeCount:
    """How many submissions one diagnosed mistake was found in."""

    notebook: str
    cell: str
    name: str
    count: int


@dataclass
class ClassSummary:
    """The numbers the report shows."""

    totals: dict[str, tuple[float, float]] = field(default_factory=dict)  # student: (score, max)
    histogram: list[tuple[float, float, int]] = field(default_factory=list)  # (from %, to %, students)
    rates: list[TestRate] = field(default_factory=list)
    mistakes: list[MistakeCount] = field(default_factory=list)
    not_graded: list[tuple[str, str, str]] = field(default_factory=list)  # (student, notebook, reason)
    missing: list[tuple[str, str]] = field(default_factory=list)
    units: Counter = field(default_factory=Counter)  # status: count


def summarize(course: Course, assignment: str | None = None) -> ClassSummary:
    """The class's numbers, from the derived outcomes of every notebook."""
    derived = outcomes(course, assignment)
    if not derived.units:
        raise GraderError(f"{course.step_root('submitted', derived.assignment)}: no submissions of "
                          f"{derived.assignment} yet; collect them and run `grader autograde` first.")
    summary = ClassSummary()
    summary.totals = student_totals(derived.scores)
    summary.histogram = histogram(summary.totals.values())
    summary.rates = _rates(derived)
    summary.mistakes = _mistakes(derived.units)
    summary.units = Counter(unit.status for unit in derived.units)
    summary.not_graded = [(u.student, u.notebook, u.reason) for u in derived.units
                          if u.status in (Status.NOT_GRADED, Status.PENDING)]
    summary.missing = [(u.student, u.notebook) for u in derived.units if u.status is Status.MISSING]
    return summary


def histogram(totals: Iterable[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """Students per tenth of the maximum total: [0, 10) ... [90, 100] percent."""
    counts = [0] * BINS
    for score, maximum in totals:
        share = score / maximum if maximum else 0.0
        counts[min(int(share * BINS + 1e-9), BINS - 1)] += 1
    width = 100 / BINS
    return [(index * width, (index + 1) * width, count) for index, count in enumerate(counts)]


def _rates(derived: AssignmentOutcomes) -> list[TestRate]:
    passed: Counter = Counter()
    graded: Counter = Counter()
    for unit in derived.units:
        if unit.status is not Status.GRADED:
            continue
        for cell in unit.cells:
            graded[(unit.notebook, cell.cell)] += 1
            passed[(unit.notebook, cell.cell)] += cell.passed
    order = {name: index for index, name in enumerate(derived.notebooks)}
    keys = sorted(graded, key=lambda key: order.get(key[0], len(order)))  # stable: cell order kept
    return [TestRate(notebook, cell, passed[(notebook, cell)], graded[(notebook, cell)])
            for notebook, cell in keys]


def _mistakes(units: list[Outcome]) -> list[MistakeCount]:
    counts: Counter = Counter()
    for unit in units:
        counts.update({(unit.notebook, cell.cell, cell.mistake) for cell in unit.cells if cell.mistake})
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [MistakeCount(notebook, cell, name, count) for (notebook, cell, name), count in ranked]


def build_report(course: Course, path: Path, force: bool = False, assignment: str | None = None) -> Path:
    """Write the class report to `path` (an HTML file); refuse to overwrite one unless `force`."""
    if path.exists() and not force:
        raise GraderError(f"{path}: exists; pass --force to overwrite it.")
    assignment = course.assignment(assignment)
    summary = summarize(course, assignment)
    write_text_atomically(path, render(summary, course.course_id, assignment))
    return path


_TEMPLATES = Environment(loader=PackageLoader("grader", "templates"),
                         autoescape=select_autoescape(["j2", "html"]))
_TEMPLATES.tests["number_like"] = lambda value: re.fullmatch(r"[\d.]+%?", str(value)) is not None


def render(summary: ClassSummary, title: str, assignment: str = "") -> str:
    """The report page (every value is escaped by the template)."""
    scores = sorted(score / maximum * 100 if maximum else 0.0 for score, maximum in summary.totals.values())
    units = summary.units
    top = summary.mistakes[:TOP_MISTAKES]
    overview = [["students", str(len(summary.totals))], ["notebooks graded", str(units[Status.GRADED])],
                ["notebooks not graded", str(units[Status.NOT_GRADED] + units[Status.PENDING])],
                ["notebooks missing", str(units[Status.MISSING])],
                ["mean total", f"{(sum(scores) / len(scores) if scores else 0.0):.1f}%"],
                ["median total", f"{_median(scores):.1f}%"]]
    plots = {"histogram": _png(_histogram_plot(summary.histogram)), "rates": _png(_rates_plot(summary.rates)),
             "mistakes": _png(_mistakes_plot(top)) if top else ""}
    return _TEMPLATES.get_template("report.html.j2").render(
        title=title, assignment=assignment, generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        overview=overview, plots=plots, top=TOP_MISTAKES,
        bins=[[_bin_label(low, high), str(count)] for low, high, count in summary.histogram],
        rates=[[r.notebook, r.cell, str(r.passed), str(r.graded), f"{r.rate:.0%}"] for r in summary.rates],
        mistakes=[[m.name, m.notebook, m.cell, str(m.count)] for m in top],
        not_graded=[list(row) for row in summary.not_graded], missing=[list(row) for row in summary.missing])


def _median(values: list[float]) -> float:
    if not values:
        return 0.0
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _bin_label(low: float, high: float) -> str:
    return f"{low:g}-{high:g}%" if high >= 100 else f"{low:g}-<{high:g}%"


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _histogram_plot(bins: list[tuple[float, float, int]]) -> Figure:
    figure = Figure(figsize=(6, 3))
    axes = figure.subplots()
    axes.bar([low for low, _, _ in bins], [count for _, _, count in bins], width=100 / BINS, align="edge",
             color="#4c72b0", edgecolor="white")
    axes.set(xlim=(0, 100), xlabel="total score (% of the maximum)", ylabel="students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return figure


def _rates_plot(rates: list[TestRate]) -> Figure:
    figure = Figure(figsize=(6, 0.6 + 0.28 * max(len(rates), 1)))
    axes = figure.subplots()
    labels = [f"{rate.notebook[:2]} {rate.cell}" for rate in rates]
    axes.barh(range(len(rates)), [rate.rate * 100 for rate in rates], color="#55a868")
    axes.set_yticks(range(len(rates)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set(xlim=(0, 100), xlabel="passed (% of graded notebooks)")
    return figure


def _mistakes_plot(mistakes: list[MistakeCount]) -> Figure:
    figure = Figure(figsize=(6, 0.6 + 0.3 * len(mistakes)))
    axes = figure.subplots()
    labels = [_shorten(f"{m.cell}: {m.name}", 60) for m in mistakes]
    axes.barh(range(len(mistakes)), [m.count for m in mistakes], color="#c44e52")
    axes.set_yticks(range(len(mistakes)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set(xlabel="submissions")
    axes.xaxis.get_major_locator().set_params(integer=True)
    return figure


def _shorten(text: str, limit: int) -> str:
    """A plot label: at most `limit` characters, `$` shown as itself (not as mathtext)."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")
