"""Benchmark: `grader autograde` against plain `nbgrader autograde` on a synthetic class; where its time goes.

For each class size N it builds a class of N students from the samples (correct, written
differently, with typical mistakes, the untouched release, and broken uploads), grades one copy
with plain nbgrader (its default preprocessors, a fresh Jupyter kernel per notebook) and an
identical copy with `grader autograde`, checks that both give the same scores (it says so when
they differ), and prints wall seconds per notebook, their ratio and the peak memory of each
command's process tree (the sum of its processes' PSS, sampled every 50 ms). Beside it, from the
same grading: where the time of one notebook went (autograde's own timings, see
grader.autograde.AutogradeResult.timings), the sandbox's share split by a py-spy profile when
py-spy is installed (`--profile`, a further grading of the same class). Below the ratio, the floor:
the graded notebooks run with no grader at all (own_cost.py), the least any grader could take per
notebook on this machine, and the most it could gain over plain nbgrader. A class of one student is
graded first to warm the caches and is not counted.

    python benchmarks/bench_autograde.py                          # N = 10
    python benchmarks/bench_autograde.py --sizes 10,100           # both in one run
    python benchmarks/bench_autograde.py --sizes 100,300,1000 --skip-nbgrader   # linear in N? memory flat?
    python benchmarks/bench_autograde.py --students 20 --dask     # also on a local Dask cluster
    python benchmarks/bench_autograde.py --before /tmp/before     # also the package in /tmp/before/grader

This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from grader.classroom import release_notebook, solved_notebook, submit
from grader.course import Course, _python_path, new_course
from grader.release import release
from grader.samples import all_samples
from grader.scores import cell_scores

sys.path.insert(0, str(Path(__file__).resolve().parent))
from own_cost import own_cpu_seconds  # beside this script

ASSIGNMENT = "lecture01"  # the assignment of the course these build

REPO = Path(__file__).resolve().parent.parent
SANDBOX_INSIDE = REPO / "grader" / "sandbox" / "inside"


def _nbgrader_defaults() -> str:
    """nbgrader's own default autograde pipeline (Execute: a Jupyter kernel per notebook), as config."""
    from nbgrader.converters import Autograde

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    names = ", ".join(f'"{step.__module__}.{step.__name__}"' for step in steps)
    return f"\n# Benchmark baseline: plain nbgrader.\nc.Autograde.autograde_preprocessors = [{names}]\n"


PLAIN_NBGRADER = _nbgrader_defaults()
BROKEN = b'{"cells": [{"cell_type": "code", "source": "import numpy as np'

# `grader autograde` as the command runs it (its imports), reporting its timings as JSON.
DRIVER = """
import json, sys, time
begin = time.perf_counter()
root, workers, scheduler, output = sys.argv[1:5]
from grader.cli import app  # noqa: F401 - the command's own imports, in its order
if not scheduler and workers != "1":
    try:
        from grader.forkserver import start_early
    except ImportError:  # an older grader (--before) starts its workers' server on first use
        pass
    else:
        start_early()
from grader.autograde import autograde
from grader.course import Course
imported = time.perf_counter() - begin
result = autograde(Course(__import__("pathlib").Path(root)), workers=int(workers) or None,
                   scheduler=scheduler or None)
timings = {**getattr(result, "timings", {}), "imports": imported, "process": time.perf_counter() - begin,
           "process cpu": time.process_time()}
open(output, "w").write(json.dumps(timings))
"""


@dataclass
class Run:
    """One grading command's cost (and, for grader autograde, its own timings)."""

    seconds: float
    peak_mb: float
    notebooks: int
    timings: dict = field(default_factory=dict)
    cpu_samples: list = field(default_factory=list)  # (seconds since the start, busy, all jiffies)

    def busy(self, since: float = 0.0, until: float | None = None) -> float | None:
        """How busy the machine's cores were (0-1) between two moments of the run, from /proc/stat."""
        window = [sample for sample in self.cpu_samples
                  if since <= sample[0] <= (self.seconds if until is None else until)]
        if len(window) < 2 or window[-1][2] == window[0][2]:
            return None
        return (window[-1][1] - window[0][1]) / (window[-1][2] - window[0][2])

    @property
    def per_notebook(self) -> float:
        return self.seconds / self.notebooks


def synthetic_class(course: Course, students: int) -> None:
    """Hand in `students` submissions: 4 in 10 correct, 2 written differently, 2 with a mistake in
    one notebook, 1 untouched release, 1 with a corrupt notebook."""
    samples = all_samples()
    names = course.notebook_names()
    alternatives = [(s.notebook, code) for s in samples for code in s.alternatives.values()]
    mistakes = [m for s in samples for m in s.mistakes]
    built: dict[tuple, NotebookNode] = {}

    def solved(name: str, key: object = None, code: dict | None = None) -> NotebookNode:
        if (name, key) not in built:  # the same notebook for every student of a kind: built once
            built[(name, key)] = solved_notebook(course, name, code)
        return built[(name, key)]

    released = {name: release_notebook(course, name) for name in names}
    for index in range(students):
        kind = index % 10
        notebooks: dict[str, NotebookNode | bytes] = {name: solved(name) for name in names}
        if kind in (4, 5) and alternatives:
            which = index % len(alternatives)
            notebook, code = alternatives[which]
            notebooks[notebook] = solved(notebook, ("alternative", which), code)
        elif kind in (6, 7) and mistakes:
            which = (index * 7) % len(mistakes)
            mistake = mistakes[which]
            notebooks[mistake.notebook] = solved(mistake.notebook, ("mistake", which), mistake.cells)
        elif kind == 8:
            notebooks = dict(released)
        elif kind == 9:
            notebooks[names[-1]] = BROKEN  # the last: plain nbgrader skips a student's notebooks after it
        submit(course, f"student{index:04d}", notebooks)


def tree_memory(root: int) -> int:
    """Bytes of memory of a process and all its descendants (PSS where readable, else RSS)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        total += _process_memory(pid)
    return total


def _process_memory(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def measure(argv: list[str], cwd: Path, notebooks: int, python_path: str | None = None) -> Run:
    """Run a command; its wall time and the peak memory of its process tree (sampled every 50 ms)."""
    tools = str(Path(sys.executable).parent)
    env = {**os.environ, "PYTHONPATH": python_path or _python_path(),
           "PATH": os.pathsep.join([tools, os.environ.get("PATH", "")])}
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    peak = 0
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)
    reader.start()
    samples = [(0.0, *_cpu_jiffies())]
    while process.poll() is None:
        peak = max(peak, tree_memory(process.pid))
        time.sleep(0.05)
        samples.append((time.perf_counter() - start, *_cpu_jiffies()))
    seconds = time.perf_counter() - start
    reader.join()
    if process.returncode not in (0, 1):  # nbgrader exits 1 when a notebook could not be graded
        raise SystemExit(f"{argv[:4]} failed ({process.returncode}):\n{b''.join(stderr).decode()[-3000:]}")
    return Run(seconds, peak / 2**20, notebooks, cpu_samples=samples)


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, all) jiffies of the machine's cores so far (/proc/stat's first line); (0, 0) without it."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    idle = sum(fields[3:5])  # idle, iowait
    return sum(fields) - idle, sum(fields)


def grade_with_grader(course: Course, notebooks: int, workers: int | None, scheduler: str | None = None,
                      package: Path | None = None, profile: Path | None = None) -> Run:
    """`grader autograde` of a course (the package in `package`, default this one); its timings kept."""
    output = course.root / "timings.json"
    command = [sys.executable, "-c", DRIVER, str(course.root), str(workers or 0), scheduler or "",
               str(output)]
    if profile:
        command = [_py_spy(), "record", "--subprocesses", "--nonblocking", "--rate",
                   "100", "--format", "raw", "--output", str(profile), "--", *command]
    python_path = os.pathsep.join([str(package), _python_path()]) if package else None
    run = measure(command, course.root, notebooks, python_path)
    if not output.exists():
        raise SystemExit(f"grader autograde of {course.root} did not finish")
    run.timings = json.loads(output.read_text())
    return run


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy") or "py-spy"


def grade_all(template: Course, work: Path, students: int, args: argparse.Namespace) -> dict[str, Run]:
    """Grade one synthetic class of `students` with plain nbgrader, `grader autograde` and the extras."""
    ours = Course(work / f"grader-{students}")
    shutil.copytree(template.root, ours.root)
    synthetic_class(ours, students)
    notebooks = students * len(ours.notebook_names())
    copies = {name: _copy(ours, work / f"{name}-{students}") for name in
              ["nbgrader"] * (not args.skip_nbgrader) + ["before"] * bool(args.before) + ["dask"] * args.dask}
    runs: dict[str, Run] = {}
    if "nbgrader" in copies:
        plain = copies["nbgrader"]
        with (plain.root / "nbgrader_config.py").open("a", encoding="utf-8") as config:
            config.write(PLAIN_NBGRADER)
        runs["nbgrader"] = measure([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], plain.root,
                                   notebooks)
    if "before" in copies:
        runs["before"] = grade_with_grader(copies["before"], notebooks, args.workers, package=args.before)
    runs["grader"] = grade_with_grader(ours, notebooks, args.workers, package=args.package)
    if "dask" in copies:
        runs["dask"] = _grade_on_dask(copies["dask"], notebooks, args.package)
    scores, outputs = cell_scores(ours), graded_outputs(ours)
    for name, copy in copies.items():
        if cell_scores(copy) != scores:
            print(f"  N={students}: {name} and grader autograde give DIFFERENT scores", flush=True)
        else:
            print(f"  N={students}: {name} gives the same scores as grader autograde", flush=True)
        if name != "nbgrader":  # a Jupyter kernel words errors and tracebacks its own way
            print(f"  N={students}: {name}: {compare_outputs(graded_outputs(copy), outputs)}", flush=True)
    runs["grader"].timings["own"] = own_cost(ours, students)
    if args.profile and students == max(args.sizes):
        profiled = _copy(Course(template.root), work / f"profiled-{students}")
        synthetic_class(profiled, students)
        raw = work / f"profile-{students}.txt"
        grade_with_grader(profiled, notebooks, args.workers, package=args.package, profile=raw)
        runs["grader"].timings["profile"] = sandbox_shares(raw)
    return runs


SAMPLED_STUDENTS = 100  # the notebooks' own cost is measured on the first 100 students' notebooks


def own_cost(course: Course, students: int) -> float:
    """CPU seconds per notebook of the class's graded notebooks run with no grader at all (own_cost.py),
    on its first SAMPLED_STUDENTS students; a notebook that could not be graded costs nothing."""
    sampled = sorted(course.students("autograded", ASSIGNMENT))[:SAMPLED_STUDENTS]
    paths = [path for student in sampled
             for path in sorted(course.folder("autograded", ASSIGNMENT, student).glob("*.ipynb"))]
    seconds = own_cpu_seconds(paths, course.folder("release", ASSIGNMENT))
    return sum(seconds) / (min(students, SAMPLED_STUDENTS) * len(course.notebook_names()))


def graded_outputs(course: Course) -> dict[tuple[str, str, int], str]:
    """Every code cell's outputs in the graded notebooks (figures as their PNG data), by student, notebook
    and cell."""
    outputs = {}
    for student in course.students("autograded", ASSIGNMENT):
        for path in sorted(course.folder("autograded", ASSIGNMENT, student).glob("*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for index, cell in enumerate(cells):
                if cell.get("cell_type") == "code":
                    outputs[(student, path.stem, index)] = json.dumps(cell.get("outputs", []), sort_keys=True)
    return outputs


def compare_outputs(theirs: dict, ours: dict) -> str:
    """Whether two gradings of a class show the same outputs, figures included, in every cell."""
    figures = sum(text.count('"image/png"') for text in ours.values())
    different = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
    if not different:
        return f"identical outputs in all {len(ours)} code cells, its {figures} figures included"
    return f"DIFFERENT outputs in {len(different)} of {len(ours)} code cells, e.g. {different[:3]}"


def _copy(course: Course, target: Path) -> Course:
    shutil.copytree(course.root, target)
    return Course(target)


def _grade_on_dask(course: Course, notebooks: int, package: Path | None) -> Run:
    """The class graded on a local Dask cluster of two single-threaded worker processes."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        return grade_with_grader(course, notebooks, None, scheduler=cluster.scheduler_address,
                                 package=package)


# ----------------------------------------------------------------------------- the sandbox's share


def _waiting_lines() -> set[str]:
    """Places ("file.py:line") of the sandbox's code where it blocks (select, recv, waitpid): samples
    there are idle."""
    blocking = {"select", "recv", "recv_fds", "waitpid", "read", "receive", "sleep"}
    places = set()
    for path in SANDBOX_INSIDE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        places |= {f"{path.name}:{node.lineno}" for node in ast.walk(tree) if isinstance(node, ast.Call)
                   and getattr(node.func, "attr", getattr(node.func, "id", "")) in blocking}
    return places


BLOCKING = {"recv_fds", "_exactly", "Condition.wait", "Event.wait", "select"}  # waiting wherever they are


def _blocked(leaf: str, waiting: set[str]) -> bool:
    """Whether a sample's innermost frame is the sandbox waiting (for a message, a child, a socket)."""
    name, _, where = leaf.partition(" (")
    return name in BLOCKING or Path(where.rstrip(")")).name in waiting


def sandbox_shares(raw: Path) -> dict[str, float]:
    """Shares of the sandbox's busy samples: world start-up, the notebook's cells, figures, test calls."""
    waiting = _waiting_lines()
    shares: Counter = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        parts = stack.split(";")
        processes = [index for index, part in enumerate(parts) if part.startswith("process ")]
        if not processes or "worker.py" not in parts[processes[-1]] or not count.isdigit():
            continue  # not a sandbox process (the supervisor, a grading worker)
        frames = parts[processes[-1] + 1:]
        names = [frame.split(" (")[0] for frame in frames]
        if not frames or _blocked(frames[-1], waiting):
            continue
        if "collect" in names:
            shares["figures"] += int(count)
        elif "run_cell" in names:
            shares["cells"] += int(count)
        elif "answer_requests" in names:
            shares["test calls"] += int(count)
        elif "zygote" in names and "prewarm" not in names:
            shares["world start-up"] += int(count)
    total = sum(shares.values()) or 1
    return {name: value / total for name, value in shares.items()}


# ----------------------------------------------------------------------------- printing


def _print_row(students: int, runs: dict[str, Run], header: bool) -> None:
    if header:
        print(f"\n{'N':>5} {'notebooks':>9} | {'nbgrader s/nb':>13} {'peak MB':>8} | {'grader s/nb':>11} "
              f"{'peak MB':>8} | {'speed-up':>8} | {'before s/nb':>11} {'after/before':>12}")
    plain, ours, before = runs.get("nbgrader"), runs["grader"], runs.get("before")
    plain_cells = f"{plain.per_notebook:13.3f} {plain.peak_mb:8.0f}" if plain else f"{'-':>13} {'-':>8}"
    ratio = f"{plain.per_notebook / ours.per_notebook:7.1f}x" if plain else f"{'-':>8}"
    before_cells = (f"{before.per_notebook:11.3f} {before.per_notebook / ours.per_notebook:11.2f}x" if before
                    else f"{'-':>11} {'-':>12}")
    ours_cells = f"{ours.per_notebook:11.3f} {ours.peak_mb:8.0f}"
    print(f"{students:>5} {ours.notebooks:>9} | {plain_cells} | {ours_cells} | {ratio} | {before_cells}",
          flush=True)
    if "dask" in runs:
        print(f"{'':>5} {'':>9}   on a local Dask cluster of 2 workers: {runs['dask'].per_notebook:.3f} s/nb")
    if ours.timings.get("own"):
        _print_floor(plain, ours)


NBGRADER_STEP_ROWS = ("SaveAutoGrades, AssignLatePenalties", "nbgrader's other steps")  # rows of breakdown()


def _print_floor(plain: Run | None, ours: Run) -> None:
    """The least any grader could take per notebook on this machine: the notebooks' own CPU (own_cost.py),
    alone and with nbgrader's own steps as this run measured them, spread over the cores."""
    cores = os.cpu_count() or 1
    own = ours.timings["own"]
    steps = sum(cpu for part, _, cpu in breakdown(ours) if cpu is not None
                and part.split(": ", 1)[-1] in NBGRADER_STEP_ROWS)
    for label, cpu in (("the notebooks' own cost, with no grader", own),
                       ("  and nbgrader's steps (CPU as measured above)", own + steps / 1000)):
        floor = cpu / cores
        ceiling = f", at most {plain.per_notebook / floor:4.1f}x plain nbgrader" if plain else ""
        print(f"{'':>16}{label + ':':<50} {1000 * cpu:4.0f} ms CPU per notebook; on {cores} cores at least "
              f"{floor:.3f} s/nb{ceiling} (grader autograde: {ours.per_notebook / floor:.2f}x that)")


SANDBOX_STEP = "worker:SandboxedExecute"
GRADEBOOK_STEPS = ("SaveAutoGrades", "AssignLatePenalties")


def breakdown(run: Run) -> list[tuple[str, float, float | None]]:
    """(part, wall ms per notebook, CPU ms per notebook or None) of one grader run."""
    t = Counter(run.timings)
    units = t["units"] or run.notebooks  # an older grader reports no timings but its imports and process

    def per(value: float) -> float:
        return 1000 * value / units

    own = ("cpu", "wall", "waiting", "register", "write", "failures", "first", "read")

    def steps(side: str) -> list[str]:
        return [k for k in t if k.startswith(f"{side}:") and not k.endswith(" cpu") and k != SANDBOX_STEP
                and k.split(":", 1)[1] not in own]

    rows: list[tuple[str, float, float | None]] = [
        ("start-up: imports of the command (once per run)", per(t["imports"]), None),
        ("start-up: until the first notebook was graded (once)", per(t["supervisor:first"]), None)]
    sandbox = t["sandbox:cpu"]
    shares = run.timings.get("profile") or {}
    rows.append(("worker: executing (SandboxedExecute), wall", per(t[SANDBOX_STEP]),
                 per(t[SANDBOX_STEP + " cpu"])))
    rows.append(("  of it, test cells in the trusted worker (CPU)", per(t[SANDBOX_STEP + " cpu"]),
                 per(t[SANDBOX_STEP + " cpu"])))
    rows.append(("  of it, the sandbox (CPU of its processes)", per(sandbox), per(sandbox)))
    # Wall time of executing's parts, as the trusted worker saw them (sandbox:<part>, NotebookRun.timings).
    tests_own = t["sandbox:tests"] - t["sandbox:replays"] - t["sandbox:test worlds"]
    worlds = t["sandbox:worlds"] + t["sandbox:test worlds"]
    for part, value in (("opening worlds (fork, namespaces, folders)", worlds),
                        ("the notebook's cells and figures (its own cost)", t["sandbox:cells"]),
                        ("  of it, rendering figures to PNG (timed by the sandbox)", t["sandbox:figures"]),
                        ("replaying the cells for test cells", t["sandbox:replays"]),
                        ("test cells: their calls and checks", tests_own)):
        rows.append((f"  part: {part}", per(value), None))
    for part in ("world start-up", "cells", "figures", "test calls"):
        if part in shares:
            share = sandbox * shares[part]
            rows.append((f"    sandbox: {part} (py-spy share {shares[part]:.0%})", per(share), per(share)))
    rows.append(("worker: reading the submission", per(t["worker:read"]), per(t["worker:read cpu"])))
    rows.append(("supervisor: registering the class in the gradebook", per(t["supervisor:register"]), None))
    # nbgrader's steps and the saving run in the workers of this machine's pool, in the supervisor on Dask
    for side in ("worker", "supervisor"):
        keys = steps(side)
        gradebook = [k for k in keys if k.split(":", 1)[1] in GRADEBOOK_STEPS]
        for label, chosen in (("SaveAutoGrades, AssignLatePenalties", gradebook),
                              ("nbgrader's other steps", [k for k in keys if k not in gradebook])):
            rows.append((f"{side}: {label}", per(sum(t[k] for k in chosen)),
                         per(sum(t[k + " cpu"] for k in chosen))))
        rows.append((f"{side}: graded notebook, files, record", per(t[f"{side}:write"]),
                     per(t[f"{side}:write cpu"])))
    idle = t["supervisor:waiting"] - t["supervisor:register"]
    rows.append(("supervisor: idle, waiting on workers", per(idle), None))
    rows.append(("supervisor: all of autograde() (the above on its side)", per(t["supervisor:wall"]),
                 per(t["supervisor:cpu"])))
    rows.append(("supervisor: the whole process, imports included", per(t["process"]), per(t["process cpu"])))
    return rows


def _print_breakdown(students: int, runs: dict[str, Run]) -> None:
    names = [name for name in ("before", "grader") if name in runs]
    print(f"\nN={students}: where the time of one notebook went (ms per notebook, wall / CPU):")
    tables = {name: breakdown(runs[name]) for name in names}
    print(f"  {'':<72}" + "".join(f" {name:>17}" for name in names))
    for index, (part, _, _) in enumerate(tables["grader"]):
        cells = []
        for name in names:
            rows = tables[name]
            _, wall, cpu = rows[index] if index < len(rows) else (part, 0.0, None)
            cells.append(f" {wall:8.1f} / {cpu:6.1f}" if cpu is not None else f" {wall:8.1f} /      -")
        print(f"  {part:<72}" + "".join(cells))
    ours = runs["grader"]
    first = ours.timings.get("imports", 0) + ours.timings.get("supervisor:first", 0)
    shares = [ours.busy(), ours.busy(until=first), ours.busy(since=first)]
    if None not in shares:
        print(f"  the machine's cores busy (/proc/stat) while grader autograde ran: {shares[0]:.0%}; until "
              f"its first notebook was graded ({first:.1f} s): {shares[1]:.0%}; after: {shares[2]:.0%}")


def _load() -> str:
    """How busy the (shared) machine is: the load average, and the CPU pressure where Linux reports it."""
    text = f"load average {os.getloadavg()[0]:.1f}"
    try:
        some = Path("/proc/pressure/cpu").read_text().split("\n")[0].split()
        text += f", CPU pressure {some[1].split('=')[1]}% (10 s) {some[2].split('=')[1]}% (60 s)"
    except (OSError, IndexError):
        pass
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=10, help="class size N (default 10)")
    parser.add_argument("--sizes", help="several class sizes, e.g. 10,100 (overrides --students)")
    parser.add_argument("--workers", type=int, help="grader autograde --workers (default: one per core)")
    parser.add_argument("--skip-nbgrader", action="store_true", help="time grader autograde only")
    parser.add_argument("--dask", action="store_true", help="also grade on a local Dask cluster of 2 workers")
    parser.add_argument("--before", type=Path, help="also grade with the grader package in DIR/grader")
    parser.add_argument("--package", type=Path, help="grade with the package in DIR/grader (a snapshot)")
    parser.add_argument("--profile", action="store_true",
                        help="split the sandbox's time with py-spy (a further grading of the largest class)")
    parser.add_argument("--keep", action="store_true", help="keep the course folders (printed)")
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else [args.students]
    if args.profile and not Path(_py_spy()).is_file():
        raise SystemExit("--profile needs py-spy: pip install py-spy")

    work = Path(tempfile.mkdtemp(prefix="bench-autograde-"))
    try:
        template = new_course(work / "template", Course(REPO))
        release(template)
        notebooks = len(template.notebook_names())
        print(f"{os.cpu_count()} cores, {_load()} at the start; {notebooks} "
              f"notebooks per student; classes of {', '.join(map(str, args.sizes))} students ...", flush=True)
        warm = argparse.Namespace(**{**vars(args), "dask": False, "profile": False, "sizes": [1]})
        grade_all(template, work, 1, warm)  # warm-up (caches), not counted
        rows = []
        for students in args.sizes:
            runs = grade_all(template, work, students, args)
            rows.append((students, runs))
            _print_row(students, runs, header=len(rows) == 1)
        for students, runs in rows:
            _print_breakdown(students, runs)
        if len(rows) > 1:
            (first, a), (last, b) = rows[0], rows[-1]
            growth = b["grader"].seconds / a["grader"].seconds
            print(f"\ngrader autograde: {last / first:g}x the students took {growth:.2f}x the time, "
                  f"peak memory {a['grader'].peak_mb:.0f} -> {b['grader'].peak_mb:.0f} MB")
        print(f"{_load()} at the end", flush=True)
    finally:
        if args.keep:
            print(f"course folders kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
