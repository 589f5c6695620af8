"""The `grader` command: a thin layer over the functions that do the work."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.course import Course

app = typer.Typer(help="Auto-graded exercises: lint, release, bundle, collect, autograde, feedback, export, "
                       "report, demo. Each command takes the assignment, like nbgrader.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

CourseOption = Annotated[
    Path | None, typer.Option("--course", help="Course folder (default: here or above).")
]
AssignmentArgument = Annotated[
    str | None, typer.Argument(help="Assignment: a folder of source/ (optional when the course has one).",
                               show_default=False)
]


def _course(path: Path | None) -> Course:
    from grader.course import Course

    return Course.find(path)


def _fail(error: GraderError) -> None:
    typer.echo(f"error: {_printable(str(error), newlines=True)}", err=True)
    raise typer.Exit(1)


@app.command("lint")
def lint_command(assignment: AssignmentArgument = None, course: CourseOption = None) -> None:
    """Check the instructor notebooks: delimiters, metadata, grade ids, test cells, outputs."""
    from grader.lint import lint

    try:
        problems = lint(_course(course), assignment)
    except GraderError as error:
        _fail(error)
    for problem in problems:
        typer.echo(problem)
    if problems:
        raise typer.Exit(1)
    typer.echo("source notebooks: OK")


@app.command("release")
def release_command(assignment: AssignmentArgument = None, course: CourseOption = None) -> None:
    """Regenerate the student versions (release/ASSIGNMENT) from source/ASSIGNMENT."""
    from grader.release import release

    try:
        path = release(_course(course), assignment)
    except GraderError as error:
        _fail(error)
    typer.echo(f"student versions written to {path}")


@app.command("autograde")
def autograde_command(
    assignment: AssignmentArgument = None,
    student: Annotated[list[str] | None, typer.Option("--student", help="Grade only this student.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Grade again what was graded before.")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Parallel workers (default: 1 per core).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Grade on a Dask cluster: tcp://HOST:PORT (needs the 'dask' extra).")] = None,
    no_sandbox: Annotated[bool, typer.Option(
        "--no-sandbox", help="Grade even where a part of the sandbox is missing (it is kept in every "
        "record); without it, grading refuses to start there.")] = False,
    course: CourseOption = None,
) -> None:
    """Grade the submissions in autograded/submitted: sandboxed, in parallel, resumable."""
    if not scheduler and workers != 1:
        from grader.forkserver import start_early

        start_early()  # the workers' server imports the grader while this process does
    from grader.autograde import autograde

    try:
        result = autograde(_course(course), student or None, force=force, workers=workers,
                           scheduler=scheduler, progress=True, assignment=assignment, accept_risk=no_sandbox)
    except GraderError as error:
        _fail(error)
    if result.unsandboxed:
        typer.echo(f"WARNING: graded WITHOUT a complete sandbox ({'; '.join(result.unsandboxed)}); "
                   "every record says so")
    typer.echo(f"graded: {len(result.graded)} students"
               + (f" ({len(result.skipped)} unchanged notebooks skipped)" if result.skipped else ""))
    for (who, notebook), reason in sorted(result.not_graded.items()):
        typer.echo(_printable(f"not graded: {who} {notebook}: {reason}"))
    for who, notebook in result.missing:
        typer.echo(_printable(f"missing: {who} {notebook} (scored 0)"))


@app.command("feedback")
def feedback_command(
    assignment: AssignmentArgument = None,
    student: Annotated[str | None, typer.Option("--student", help="Only this student.")] = None,
    course: CourseOption = None,
) -> None:
    """Write the HTML feedback of every graded notebook to autograded/feedback (always anew)."""
    from grader.feedback import feedback

    try:
        result = feedback(_course(course), student, assignment)
    except GraderError as error:
        _fail(error)
    for note in result.notes:
        typer.echo(f"note: {_printable(note)}")
    who = f" of {student}" if student else ""
    typer.echo(f"{len(result.files)} feedback files{who} in autograded/feedback")


@app.command("export")
def export_command(
    assignment: AssignmentArgument = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Scores CSV to write (default: autograded/exports/ASSIGNMENT/scores.csv); "
        "the LMS files go beside it.")] = None,
    moodle_worksheet: Annotated[Path | None, typer.Option(
        "--moodle-worksheet", help="Moodle grading worksheet to fill (only read; a filled copy is written).",
    )] = None,
    canvas_gradebook: Annotated[Path | None, typer.Option(
        "--canvas-gradebook", help="Canvas gradebook export to make a Canvas grades import from.")] = None,
    canvas_assignment: Annotated[str | None, typer.Option(
        "--canvas-assignment", help="Canvas column to fill: 'Title (id)', title or id.")] = None,
    feedback_zip: Annotated[bool, typer.Option(
        "--feedback-zip", help="Also zip the feedback HTML for Moodle's 'Upload multiple feedback files in a "
        "zip' and Canvas's 'Re-Upload Submissions'.")] = False,
    zero_missing: Annotated[bool, typer.Option(
        "--zero-missing", help="Give 0 to LMS students without a submission (default: no grade).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")] = False,
    course: CourseOption = None,
) -> None:
    """Write every student's scores (total, per notebook, per question) as CSV, and the LMS import files."""
    from grader.export import LmsFiles, export

    try:
        the_course = _course(course)
        name = the_course.assignment(assignment)
        target = _given(output) or the_course.exports(name) / "scores.csv"
        lms = LmsFiles(_given(moodle_worksheet), _given(canvas_gradebook), canvas_assignment, feedback_zip,
                       zero_missing)
        result = export(the_course, target, lms, force, name)
    except GraderError as error:
        _fail(error)
    for path in result.written:
        typer.echo(f"written: {path}")
    for note in result.notes:
        typer.echo(f"note: {_printable(note)}")


@app.command("demo")
def demo_command(
    into: Annotated[Path | None, typer.Option("--into", help="New folder for the demo class.")] = None,
    course: CourseOption = None,
) -> None:
    """Run a whole sample class: release, hand in, autograde, feedback, export; print the scores."""
    from grader.demo import run_demo

    try:
        template = _course(course or _package_course())
        demo_course, table = run_demo(template, into)
    except GraderError as error:
        _fail(error)
    typer.echo(table)
    typer.echo(f"\nThe demo class is in {demo_course.root}: feedback in autograded/feedback, "
               f"scores and the class report in {demo_course.exports(demo_course.assignment())}.")


# --- LMS commands (collect, bundle) are registered here ---


def _printable(text: str, newlines: bool = False) -> str:
    """Text for the terminal: control characters shown escaped, a long value cut (grader.inert)."""
    from grader.inert import terminal_safe

    return terminal_safe(text, limit=2000, newlines=newlines)


def _given(path: Path | None) -> Path | None:
    """A path the user typed, made absolute against the folder the command runs in."""
    return path.resolve() if path is not None else None


@app.command("collect")
def collect_command(
    first: Annotated[str, typer.Argument(
        metavar="[ASSIGNMENT] DOWNLOAD",
        help="The assignment (optional when the course has one), then the zip from Moodle's 'Download all "
             "submissions' or Canvas's 'Download Submissions' (only read).")],
    second: Annotated[str | None, typer.Argument(hidden=True, show_default=False)] = None,
    worksheet: Annotated[Path | None, typer.Option(
        "--worksheet", help="Moodle grading worksheet: the roster and each submission's time.")] = None,
    participants: Annotated[Path | None, typer.Option(
        "--participants", help="Moodle participants export (CSV): first and last names and emails.")] = None,
    canvas_gradebook: Annotated[Path | None, typer.Option(
        "--canvas-gradebook", help="Canvas gradebook export (CSV): the roster, names and ids.")] = None,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="Time zone of the LMS's times, e.g. Europe/Berlin (default: this computer's).",
    )] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace submissions collected before.")] = False,
    course: CourseOption = None,
) -> None:
    """Put the notebooks of an LMS submissions zip into autograded/submitted and register the students."""
    from grader.lms.collect import collect

    assignment, download = (None, Path(first)) if second is None else (first, Path(second))
    try:
        report = collect(_course(course), download.resolve(), worksheet=_given(worksheet),
                         participants=_given(participants), canvas_gradebook=_given(canvas_gradebook),
                         timezone=timezone, force=force, assignment=assignment)
    except GraderError as error:
        _fail(error)
    lms = report.lms.capitalize()
    typer.echo(f"collected: {len(report.collected)} students from {lms} (times from {report.times_from})")
    for line in report.notes:
        typer.echo(f"note: {_printable(line)}")
    for line in report.ignored:
        typer.echo(f"ignored: {_printable(line)}")
    for student in report.unchanged:
        typer.echo(f"unchanged: {_printable(student)} (collected before, same files)")
    for student in report.kept:
        typer.echo(f"kept: {_printable(student)} was collected before and the download differs; "
                   "pass --force to replace it")
    for line in report.problems:
        typer.echo(f"problem: {_printable(line)}")
    if report.without_submission:
        typer.echo(_printable(f"no submission: {', '.join(report.without_submission)}"))
    typer.echo(f"registered: {report.registered} students in the gradebook")


@app.command("bundle")
def bundle_command(
    assignment: AssignmentArgument = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Zip to write (default: autograded/exports/ASSIGNMENT/ASSIGNMENT.zip).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing zip.")] = False,
    course: CourseOption = None,
) -> None:
    """Zip release/lecture01 with instructions for students, ready to upload to the LMS."""
    from grader.lms.bundle import bundle

    try:
        the_course = _course(course)
        name = the_course.assignment(assignment)
        target = _given(output) or the_course.exports(name) / f"{name}.zip"
        path = bundle(the_course, target, force, name)
    except GraderError as error:
        _fail(error)
    typer.echo(f"student zip written to {path}")


@app.command("report")
def report_command(
    assignment: AssignmentArgument = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="HTML file to write (default: autograded/exports/ASSIGNMENT/report.html).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing report.")] = False,
    course: CourseOption = None,
) -> None:
    """Write one HTML page on the graded class: score histogram, pass rates, mistakes, not graded."""
    from grader.report import build_report

    try:
        the_course = _course(course)
        name = the_course.assignment(assignment)
        target = _given(output) or the_course.exports(name) / "report.html"
        path = build_report(the_course, target, force, name)
    except GraderError as error:
        _fail(error)
    typer.echo(f"class report written to {path}")


def _package_course() -> Path:
    """The course folder this package was installed from (a checkout of the repository)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "nbgrader_config.py").exists() else Path.cwd()


def main() -> None:
    app(prog_name="grader")


if __name__ == "__main__":
    sys.exit(main())
