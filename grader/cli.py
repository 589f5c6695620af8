"""The `grader` command: a thin layer over the functions that do the work."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from grader.course import Course
from grader.errors import GraderError

app = typer.Typer(help="Lecture 1 exercises: lint, release, autograde, feedback, export, demo.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

CourseOption = Annotated[
    Path | None, typer.Option("--course", help="Course folder (default: here or above).")
]


def _course(path: Path | None) -> Course:
    return Course.find(path)


def _fail(error: GraderError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)


@app.command("lint")
def lint_command(course: CourseOption = None) -> None:
    """Check the instructor notebooks: delimiters, metadata, grade ids, test cells, outputs."""
    from grader.lint import lint

    try:
        problems = lint(_course(course))
    except GraderError as error:
        _fail(error)
    for problem in problems:
        typer.echo(problem)
    if problems:
        raise typer.Exit(1)
    typer.echo("source notebooks: OK")


@app.command("release")
def release_command(course: CourseOption = None) -> None:
    """Regenerate release/lecture01 (the student versions) from source/lecture01."""
    from grader.release import release

    try:
        path = release(_course(course))
    except GraderError as error:
        _fail(error)
    typer.echo(f"student versions written to {path}")


@app.command("autograde")
def autograde_command(
    student: Annotated[list[str] | None, typer.Option("--student", help="Grade only this student.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Grade again what was graded before.")] = False,
    course: CourseOption = None,
) -> None:
    """Grade the submissions in autograded/submitted with nbgrader."""
    from grader.autograde import autograde

    try:
        result = autograde(_course(course), student or None, force=force)
    except GraderError as error:
        _fail(error)
    typer.echo(f"graded: {len(result.graded)} students")
    for (who, notebook), reason in sorted(result.not_graded.items()):
        typer.echo(f"not graded: {who} {notebook}: {reason}")
    for who, notebook in result.missing:
        typer.echo(f"missing: {who} {notebook} (scored 0)")


@app.command("feedback")
def feedback_command(
    student: Annotated[str | None, typer.Option("--student", help="Only this student.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write feedback again.")] = False,
    course: CourseOption = None,
) -> None:
    """Write the HTML feedback of every graded notebook to autograded/feedback."""
    from grader.feedback import feedback

    try:
        files = feedback(_course(course), student, force)
    except GraderError as error:
        _fail(error)
    typer.echo(f"{len(files)} feedback files in autograded/feedback")


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")] = Path(
        "autograded/exports/scores.csv"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    course: CourseOption = None,
) -> None:
    """Write every student's scores (total, per notebook, per question) as CSV."""
    from grader.export import export_scores

    try:
        the_course = _course(course)
        target = output if output.is_absolute() else the_course.root / output
        path = export_scores(the_course, target, force)
    except GraderError as error:
        _fail(error)
    typer.echo(f"scores written to {path}")


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
    typer.echo(f"\nThe demo class is in {demo_course.root} (feedback in autograded/feedback).")


# --- LMS commands (collect, bundle) are registered here ---


def _package_course() -> Path:
    """The course folder this package was installed from (a checkout of the repository)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "nbgrader_config.py").exists() else Path.cwd()


def main() -> None:
    app(prog_name="grader")


if __name__ == "__main__":
    sys.exit(main())
