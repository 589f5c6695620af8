"""`grader bundle`: one zip of the student versions, ready to upload to the LMS as course material.

The zip holds a folder ``lecture01/`` with every released notebook, checks.py (and any other file of
release/lecture01) and INSTRUCTIONS.md: how to open the notebooks, fill them in, check them with the
visible tests, and hand in the .ipynb files through the LMS.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.lms.archive import is_junk
from grader.lms.csvfile import check_writable, write_atomically

INSTRUCTIONS = "INSTRUCTIONS.md"


def bundle(course: Course, output: Path, force: bool = False, assignment: str | None = None) -> Path:
    """Write the student zip of an assignment's release folder with instructions; return its path."""
    assignment = course.assignment(assignment)
    release = course.folder("release", assignment)
    source = course.folder("source", assignment)
    names = course.notebook_names(assignment)
    missing = [name for name in names if not (release / f"{name}.ipynb").exists()]
    if missing:
        raise GraderError(f"{release}: no student version of {', '.join(missing)}; "
                          "run `grader release` first.")
    stale = [name for name in names if (source / f"{name}.ipynb").stat().st_mtime
             > (release / f"{name}.ipynb").stat().st_mtime]
    if stale:
        raise GraderError(f"{release}: {', '.join(stale)} changed in source/ after the last release; "
                          "run `grader release` first.")
    check_writable([output], [], force)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(release.rglob("*")):
            relative = path.relative_to(release)
            if path.is_file() and not is_junk(relative.parts) and path.suffix != ".pyc":
                archive.write(path, f"{assignment}/{relative.as_posix()}")
        archive.writestr(f"{assignment}/{INSTRUCTIONS}", instructions(course, assignment))
    write_atomically(output, buffer.getvalue())
    return output


def instructions(course: Course, assignment: str) -> str:
    """The students' instructions, listing the notebooks and their points."""
    rows = []
    total = 0.0
    names = course.notebook_names(assignment)
    for name in names:
        points = _points(course.folder("release", assignment) / f"{name}.ipynb")
        total += points
        rows.append(f"| `{name}.ipynb` | {points:g} |")
    table = "\n".join(["| Notebook | Points |", "| --- | --- |", *rows, f"| **Total** | **{total:g}** |"])
    return _TEXT.format(assignment=assignment, table=table, example=names[0])


def _points(path: Path) -> float:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(float(cell.get("metadata", {}).get("nbgrader", {}).get("points", 0) or 0)
               for cell in notebook.get("cells", [])
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


_TEXT = """\
# {assignment}: how to work on the exercises and hand them in

This folder holds the exercise notebooks of {assignment} and `checks.py`, which their test cells use.

{table}

## 1. Open the notebooks

1. Unzip this file. Keep all files together in the folder `{assignment}`: the notebooks need `checks.py`
   next to them.
2. Start JupyterLab in that folder (`jupyter lab` in a terminal, or open the folder from the JupyterLab
   launcher) and open the notebooks in order. Any Jupyter works (JupyterLab, Notebook, VS Code), as long as
   it saves `.ipynb` files.

## 2. Fill them in

- Write your code in the cells that say `# YOUR CODE HERE` and delete the line
  `raise NotImplementedError()`. Write text answers where a cell says "YOUR ANSWER HERE".
- Do not delete, copy or move cells, and do not change the test cells (the ones with `assert` or
  `checks.`): grading finds your answers by the cells' hidden ids.
- Use only the packages the notebook imports (NumPy, Matplotlib).

## 3. Check your work with the visible tests

- Run each test cell after your answer: it prints what it checked, or tells you what is wrong and often
  which typical mistake explains it.
- Before you hand in, choose **Kernel > Restart Kernel and Run All Cells...** and make sure every
  notebook runs from top to bottom without errors. Grading runs your notebook the same way, from a fresh
  start, with more (hidden) tests than the visible ones; passing the visible tests is a good sign but not
  a guarantee.
- Save the notebook (**File > Save Notebook**, or Ctrl+S / Cmd+S).

## 4. Hand in through the LMS

- Upload the `.ipynb` files, one per notebook, **with their names unchanged** (for example
  `{example}.ipynb`, not `{example} (1).ipynb` or `Copy of {example}.ipynb`; renamed copies are usually
  recognised, but not always). You may also upload them together in one `.zip` file. Do not upload
  `checks.py`, and do not upload PDFs or screenshots instead of notebooks.
- **Moodle:** open the assignment, click **Add submission** (or **Edit submission**), drag the files into
  the file area, click **Save changes**, then **Submit assignment** if that button is shown.
- **Canvas:** open the assignment, click **Start Assignment** (or **New Attempt**), choose **Upload File**
  for each notebook (**Add Another File** for the next), then click **Submit Assignment**.
- Your grade and one feedback page per notebook (an HTML file showing each test's result) appear in the
  LMS once the exercises are graded.
"""
