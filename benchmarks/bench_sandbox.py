"""Benchmark: executing one notebook in the sandbox, per notebook of the lecture, this grader against another.

Each instructor notebook (solutions and tests) is executed the way `SandboxedExecute` does it, with
one warm sandbox (grader.sandbox.trusted.execute), several times; the fastest run counts. With
`--before DIR` the package in DIR/grader is measured in the same run, alternating with this one
(each in a process of its own), and the ratio is printed per notebook. Where this grader keeps them,
it also prints what the notebook's execution spent replaying its cells for test cells and how many
worlds it opened.

    python benchmarks/bench_sandbox.py                        # this checkout
    python benchmarks/bench_sandbox.py --before /tmp/before   # and the package in /tmp/before/grader

This is a benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "source" / "lecture01"

# Runs in a process of its own, with the package to measure first on sys.path.
MEASURE = r"""
import json, sys, time
from pathlib import Path
import nbformat
from grader.sandbox import trusted
from grader.sandbox.zygote import Limits, Zygote
source, runs = Path(sys.argv[1]), int(sys.argv[2])
limits = Limits(memory_bytes=1 << 30, cpu_seconds=60, wall_seconds=120, cell_seconds=30)
files = {"checks.py": (source / "checks.py").read_bytes()}
zygote = Zygote(None)
zygote.start()
results = {}
for path in sorted(source.glob("*.ipynb")):
    notebook = nbformat.read(path, as_version=4)
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        run = trusted.execute(notebook, zygote, files, source / "checks.py", limits)
        seconds = time.perf_counter() - start
        parts = dict(getattr(run, "timings", {}) or {})
        if best is None or seconds < best["seconds"]:
            best = {"seconds": seconds, "replays": parts.get("replays"), "problems": run.problems}
    results[path.stem] = best
zygote.stop()
print(json.dumps(results))
"""


def measure(package: Path, runs: int) -> dict:
    """The fastest execution of each notebook with the grader package in `package`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", MEASURE, str(SOURCE), str(runs)], env=env, cwd=package,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {package} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="also measure the grader package in DIR/grader")
    parser.add_argument("--runs", type=int, default=5, help="executions per notebook; the fastest counts")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of this grader and --before")
    args = parser.parse_args()
    packages = {"now": REPO} | ({"before": args.before} if args.before else {})
    best: dict[str, dict] = {name: {} for name in packages}
    for _ in range(args.rounds if args.before else 1):
        for name, package in packages.items():
            for notebook, result in measure(package, args.runs).items():
                if notebook not in best[name] or result["seconds"] < best[name][notebook]["seconds"]:
                    best[name][notebook] = result
    print(f"seconds per notebook, the fastest of {args.runs} x {args.rounds if args.before else 1} runs "
          f"(load average {os.getloadavg()[0]:.1f}):")
    header = f"  {'notebook':<28} {'now':>7} {'replays':>8}"
    header += f" {'before':>7} {'replays':>8} {'before/now':>10}" if args.before else ""
    print(header)
    totals = {name: 0.0 for name in packages}
    for notebook, result in best["now"].items():
        line = f"  {notebook:<28} {result['seconds']:7.3f} {_seconds(result['replays'])}"
        totals["now"] += result["seconds"]
        if args.before:
            old = best["before"][notebook]
            totals["before"] += old["seconds"]
            ratio = old["seconds"] / result["seconds"]
            line += f" {old['seconds']:7.3f} {_seconds(old['replays'])} {ratio:9.2f}x"
        if result["problems"]:
            line += f"  problems: {result['problems']}"
        print(line)
    line = f"  {'all six':<28} {totals['now']:7.3f} {'':>8}"
    if args.before:
        line += f" {totals['before']:7.3f} {'':>8} {totals['before'] / totals['now']:9.2f}x"
    print(line)


def _seconds(value: float | None) -> str:
    return f"{value:8.3f}" if value is not None else f"{'-':>8}"


if __name__ == "__main__":
    main()
