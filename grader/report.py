"""`grader report`: one self-contained HTML page on how the class did.

It reads the gradebook (the scores) and the result records of `grader autograde` (each test's
verdict and diagnosed mistake, and why a submission was not graded). The page holds a histogram
of the students' totals, the pass rate of each test, the most frequent diagnosed mistakes and
the submissions that were not graded; the plots are PNGs made with matplotlib and embedded, so
the page needs nothing beside it.
"""

from __future__ import annotations

import base64
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from grader.course import Course
from grader.errors import GraderError
from grader.results import UnitRecord, load_records
from grader.scores import cell_scores, student_totals

BINS = 10
TOP_MISTAKES = 15
MISTAKE = re.compile(r"^This matches a known mistake: (?P<name>.+?)\.?\s*$", re.MULTILINE)


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


def mistake_name(message: str) -> str | None:
    """The known mistake a failing check's message names, if any."""
    found = MISTAKE.search(message or "")
    return found.group("name") if found else None


def summarize(course: Course) -> ClassSummary:
    """The class's numbers, from the gradebook and the result records."""
    records = load_records(course)
    if not records:
        raise GraderError(f"{course.root}: no grading results yet; run `grader autograde` first.")
    summary = ClassSummary()
    summary.totals = student_totals(cell_scores(course))
    summary.histogram = histogram(summary.totals.values())
    summary.rates = _rates(records, course.notebook_names())
    summary.mistakes = _mistakes(records)
    summary.units = Counter(record.status for record in records)
    summary.not_graded = [(r.student, r.notebook, r.reason) for r in records if r.status == "not graded"]
    summary.missing = [(r.student, r.notebook) for r in records if r.status == "missing"]
    return summary


def histogram(totals: Iterable[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """Students per tenth of the maximum total: [0, 10) ... [90, 100] percent."""
    counts = [0] * BINS
    for score, maximum in totals:
        share = score / maximum if maximum else 0.0
        counts[min(int(share * BINS + 1e-9), BINS - 1)] += 1
    width = 100 / BINS
    return [(index * width, (index + 1) * width, count) for index, count in enumerate(counts)]


def _rates(records: list[UnitRecord], notebooks: list[str]) -> list[TestRate]:
    passed: Counter = Counter()
    graded: Counter = Counter()
    for record in records:
        if record.status != "graded":
            continue
        for cell in record.cells:
            key = (record.notebook, cell["cell"])
            graded[key] += 1
            passed[key] += cell["score"] >= cell["max_score"]
    order = {name: index for index, name in enumerate(notebooks)}
    keys = sorted(graded, key=lambda key: order.get(key[0], len(order)))  # stable: cell order kept
    return [TestRate(notebook, cell, passed[(notebook, cell)], graded[(notebook, cell)])
            for notebook, cell in keys]


def _mistakes(records: list[UnitRecord]) -> list[MistakeCount]:
    counts: Counter = Counter()
    for record in records:
        found = set()
        for cell in record.cells:
            name = mistake_name(cell.get("message", ""))
            if name and cell["score"] < cell["max_score"]:
                found.add((record.notebook, cell["cell"], name))
        counts.update(found)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [MistakeCount(notebook, cell, name, count) for (notebook, cell, name), count in ranked]


def build_report(course: Course, path: Path, force: bool = False) -> Path:
    """Write the class report to `path` (an HTML file); refuse to overwrite one unless `force`."""
    if path.exists() and not force:
        raise GraderError(f"{path}: exists; pass --force to overwrite it.")
    summary = summarize(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(summary, course.course_id), encoding="utf-8")
    return path


def render(summary: ClassSummary, title: str) -> str:
    """The report page."""
    students = len(summary.totals)
    scores = sorted(score / maximum * 100 if maximum else 0.0 for score, maximum in summary.totals.values())
    mean = sum(scores) / len(scores) if scores else 0.0
    median = _median(scores)
    units = summary.units
    overview = _table(
        "overview", ["what", "value"],
        [["students", str(students)], ["notebooks graded", str(units["graded"])],
         ["notebooks not graded", str(units["not graded"])], ["notebooks missing", str(units["missing"])],
         ["mean total", f"{mean:.1f}%"], ["median total", f"{median:.1f}%"]])
    bins = _table("histogram", ["total score", "students"],
                  [[_bin_label(low, high), str(count)] for low, high, count in summary.histogram])
    rates = _table("pass-rates", ["notebook", "test", "passed", "graded", "pass rate"],
                   [[rate.notebook, rate.cell, str(rate.passed), str(rate.graded), f"{rate.rate:.0%}"]
                    for rate in summary.rates])
    top = summary.mistakes[:TOP_MISTAKES]
    mistakes = _table("mistakes", ["mistake", "notebook", "test", "submissions"],
                      [[m.name, m.notebook, m.cell, str(m.count)] for m in top]) if top else (
        "<p>No known mistake was diagnosed.</p>")
    not_graded = _table("not-graded", ["student", "notebook", "why"],
                        [list(row) for row in summary.not_graded]) if summary.not_graded else (
        "<p>Every handed-in notebook was graded.</p>")
    missing = _table("missing", ["student", "notebook"],
                     [list(row) for row in summary.missing]) if summary.missing else (
        "<p>No notebook is missing.</p>")
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Class report: {escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Class report: {escape(title)}</h1>
<p class="note">Made by <code>grader report</code> on {generated} from the gradebook and the grading
results.</p>
<h2>Overview</h2>
{overview}
<h2>Total scores</h2>
{_image(_histogram_plot(summary.histogram), "Histogram of the students' total scores")}
{bins}
<h2>Pass rate per test</h2>
<p class="note">A test is passed with full marks; only graded notebooks count.</p>
{_image(_rates_plot(summary.rates), "Pass rate of each test")}
{rates}
<h2>Most frequent diagnosed mistakes</h2>
<p class="note">Submissions whose failing test named a known mistake (top {TOP_MISTAKES}).</p>
{_image(_mistakes_plot(top), "Most frequent diagnosed mistakes") if top else ""}
{mistakes}
<h2>Not graded</h2>
{not_graded}
<h2>Missing</h2>
{missing}
</body>
</html>
"""


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.number { text-align: right; }
img { max-width: 100%; }
.note { color: #555; font-size: 0.9rem; }
"""


def _median(values: list[float]) -> float:
    if not values:
        return 0.0
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _bin_label(low: float, high: float) -> str:
    return f"{low:g}-{high:g}%" if high >= 100 else f"{low:g}-<{high:g}%"


def _table(name: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in header)
    body = "\n".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f'<table id="{name}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def _cell(value: str) -> str:
    number = re.fullmatch(r"[\d.]+%?", value) is not None
    return f'<td class="number">{escape(value)}</td>' if number else f"<td>{escape(value)}</td>"


def _image(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></p>'


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
