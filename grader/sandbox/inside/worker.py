"""The sandboxed side of grading, started by the trusted side inside bubblewrap (or, as the fallback,
as a plain process): the zygote, which forks a world per notebook and per test cell.

This folder imports nothing of the course: only the standard library, numpy, matplotlib, IPython's
input transformer and its own modules: supervisor.py (the zygote and its worlds), cells.py (running
a notebook's cells), calls.py (serving a test cell's calls), figures.py, state.py, codec.py (the plain
data that crosses) and protocol.py (the messages, which the trusted side imports too). It never
decides a verdict: the trusted grading process decides everything, and sends every limit.
"""

from __future__ import annotations

import supervisor

if __name__ == "__main__":
    supervisor.zygote()
