"""The notebooks' own cost: what running a graded class costs with no grader at all.

Each graded notebook of the class (the student's cells, the instructor's cells and the test cells,
hidden tests included) runs in a fork of a warm plain Python (warmed up as the sandbox's zygote is),
cell after cell in one namespace, with its figures rendered to PNG after each cell as the graded
notebook shows them (the sandbox worker's own functions). No sandbox, no isolation per test cell, no
nbgrader, no gradebook: the floor under any grader that runs the notebooks and shows their figures.
The CPU time of each fork is measured (the fastest of a few runs), so a busy machine raises it little.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SANDBOX_INSIDE = REPO / "grader" / "sandbox" / "inside"

# Runs in a process of its own: argv[1] the folder of checks.py, argv[2] the runs per notebook, argv[3]
# the sandbox's code folder; stdin a JSON list of notebook paths. It warms up, executes the cells and
# renders the figures with the sandbox's own functions (supervisor.prewarm, cells.execute,
# figures.collect), so the floor is the same work the grader does in a world, without the world.
MEASURE = r"""
import gc, json, os, signal, sys
sys.path[:0] = [sys.argv[3], sys.argv[1]]
import nbformat
from IPython.core.inputtransformer2 import TransformerManager
import state, supervisor
from cells import execute
from figures import collect
from grader.sandbox.zygote import Limits
paths, runs = json.load(sys.stdin), int(sys.argv[2])
limits = Limits(memory_bytes=0, cpu_seconds=0, wall_seconds=0, cell_seconds=0)
state.Output.text, state.Output.figure_bytes, state.Output.figures = (
    limits.text, limits.figure_bytes, limits.figures)

def run_cells(cells):
    namespace = {"__name__": "__main__"}
    for source in cells:
        try:
            execute(TransformerManager().transform_cell(source), namespace)
        except BaseException:
            pass
        collect()

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

supervisor.prewarm()
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
    done = subprocess.run([sys.executable, "-c", MEASURE, str(support), str(runs), str(SANDBOX_INSIDE)],
                          input=json.dumps([str(path) for path in notebooks]), capture_output=True,
                          text=True, cwd=support, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring the notebooks' own cost failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
