"""The notebooks' own cost: what running a graded class costs with no grader at all.

Each graded notebook of the class (the student's cells, the instructor's cells and the test cells,
hidden tests included) runs in a fork of a warm plain Python (numpy and matplotlib imported, one
figure drawn), cell after cell in one namespace, with its figures rendered to PNG after each cell as
the graded notebook shows them. No sandbox, no isolation per test cell, no nbgrader, no gradebook:
the floor under any grader that runs the notebooks and shows their figures. The CPU time of each
fork is measured (the fastest of a few runs), so a busy machine raises it little.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Runs in a process of its own: argv[1] the folder of checks.py; stdin a JSON list of notebook paths.
MEASURE = r"""
import ast, gc, io, json, os, resource, signal, sys
os.environ["MPLBACKEND"] = "Agg"
import numpy.random  # noqa: F401
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.layout_engine import PlaceHolderLayoutEngine
import nbformat
from IPython.core.inputtransformer2 import TransformerManager
plt.show = lambda *args, **kwargs: None
sys.path.insert(0, sys.argv[1])
paths, runs = json.load(sys.stdin), int(sys.argv[2])

def figures():
    for number in plt.get_fignums():
        figure = plt.figure(number)
        if type(figure.get_layout_engine()) is PlaceHolderLayoutEngine:
            figure._layout_engine = None  # as the grader renders it: one draw, the same pixels
        figure.savefig(io.BytesIO(), format="png", dpi=72)
    plt.close("all")

def run_cells(cells):
    namespace = {"__name__": "__main__"}
    for source in cells:
        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, "<cell>", "exec"), namespace)
            if last is not None:
                repr(eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace))
        except BaseException:
            pass
        figures()

def cpu_of_one_run(cells):
    pid = os.fork()
    if pid == 0:
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            signal.alarm(120)
            run_cells(cells)
        finally:
            os._exit(0)
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime

fig, ax = plt.subplots()
ax.plot([0, 1], label=r"$\sigma(z)$")
ax.set_title("warm-up")
ax.legend()
figures()
gc.collect()
gc.freeze()
seconds = []
for path in paths:
    cells = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    seconds.append(min(cpu_of_one_run(cells) for _ in range(runs)))
print(json.dumps(seconds))
"""


def own_cpu_seconds(notebooks: list[Path], support: Path, runs: int = 2) -> list[float]:
    """CPU seconds of each notebook's own run (the fastest of `runs`), in a fork of a warm Python."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(support), str(runs)],
                          input=json.dumps([str(path) for path in notebooks]), capture_output=True,
                          text=True, cwd=support, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring the notebooks' own cost failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
