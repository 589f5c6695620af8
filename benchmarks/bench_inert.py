"""Benchmark: work on submission text, before and after issue 19, at sizes 16, 32 and 64 kB.

Before: nbconvert's markdown with math and its `strip_files_prefix` filter (what nbgrader's feedback
template ran on every markdown cell), and collect's old file-name normalisation (its pattern is
repeated here to measure it). After: grader.mathml, the feedback exporter's filter, and
grader.lms.notebook_names.normalize. Prints CPU seconds and the growth from one size to the next
(linear: about 2; quadratic: about 4). tests/test_inert_growth.py asserts the ratios.

    python benchmarks/bench_inert.py
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable

from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.filters.strings import strip_files_prefix

from grader.feedback_page import strip_files_prefix as linear_strip_files_prefix
from grader.lms.notebook_names import normalize
from grader.mathml import markdown_to_html

SIZES = (16_000, 32_000, 64_000)
_OLD_PREFIXES = re.compile(r"^(kopie\s+von|copy\s+of|kopie_von|copy_of)[\s_]+", re.IGNORECASE)
_OLD_SUFFIXES = re.compile(r"(\s*\(\d+\)|\s*-\s*(kopie|copy)(\s*\(\d+\))?|[\s_](kopie|copy)|-\d+|\s+\d+)$",
                           re.IGNORECASE)


def old_normalize(stem: str) -> str:
    text = stem.strip()
    while True:
        shorter = _OLD_SUFFIXES.sub("", _OLD_PREFIXES.sub("", text)).strip()
        if shorter == text or not shorter:
            break
        text = shorter
    return re.sub(r"[\s-]+", "_", text).casefold()


def seconds(work: Callable[[str], object], text: str) -> float:
    """CPU seconds of work(text), the best of three runs (of one when a run takes over a second)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        work(text)
        best = min(best, time.process_time() - start)
        if best > 1:
            break
    return best


CASES = {
    "feedback markdown, unclosed \\[ (before)": (lambda t: strip_files_prefix(markdown2html_mistune(t)),
                                                lambda n: "\\[ a " * (n // 5)),
    "feedback markdown, unclosed \\[ (after)": (lambda t: linear_strip_files_prefix(markdown_to_html(t)),
                                               lambda n: "\\[ a " * (n // 5)),
    "file name, run of spaces (before)": (old_normalize, lambda n: "02_svm_loss" + " " * n + "b"),
    "file name, run of spaces (after)": (normalize, lambda n: "02_svm_loss" + " " * n + "b"),
}


def main() -> None:
    print(f"{'case':45} " + " ".join(f"{size // 1000:>6} kB" for size in SIZES) + "   growth")
    for name, (work, make) in CASES.items():
        times = [seconds(work, make(size)) for size in SIZES]
        growth = " ".join(f"{b / max(a, 1e-6):.1f}x" for a, b in itertools.pairwise(times))
        print(f"{name:45} " + " ".join(f"{t:8.3f}s" for t in times) + f"   {growth}")


if __name__ == "__main__":
    main()
