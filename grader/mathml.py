"""Markdown with LaTeX math to HTML whose formulas are MathML: offline, escaped once, in linear time.

nbconvert's markdown parsers (MathBlockParser, MathInlineParser) find math with lazy DOTALL regexes
(`\\[.*?\\]`): from every opener without a closer they rescan the rest of the text, so a cell of many
unclosed `\\[` costs time quadratic in its length. The subclasses here match only the opener; its closer
is looked up in an index of every closer of the text, built once per text (a bisect per opener). The
renderer writes each formula as MathML (latex2mathml) when the page is written: the browser shows it
with no script and no network, and `<`, `>`, `&` are escaped exactly once, by the MathML writer.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from collections import defaultdict
from re import Match
from typing import Any, ClassVar

from latex2mathml.converter import convert
from mistune import BlockState, HTMLRenderer, InlineState
from nbconvert.filters.markdown_mistune import (
    IPythonRenderer,
    MarkdownWithMath,
    MathBlockParser,
    MathInlineParser,
)

_CLOSERS = {"$$": re.compile(r"(?<!\\)\$\$"), r"\]": re.compile(r"(?<!\\)\\\]"),
            r"\)": re.compile(r"(?<!\\)\\\)"), "$": re.compile(r"(?<![$\\])\$")}
_END = re.compile(r"\\end\{([a-z]*\*?)\}")


class Closers:
    """Where each math closer occurs in one text; built in one pass per closer kind, on first use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._found: dict[str, list[int]] = {}

    def after(self, closer: str, position: int) -> int | None:
        """The start of the first `closer` at or after `position`; None if there is none."""
        if closer not in self._found:
            self._found[closer] = self._scan(closer)
        starts = self._found[closer]
        index = bisect_left(starts, position)
        return starts[index] if index < len(starts) else None

    def _scan(self, closer: str) -> list[int]:
        if closer.startswith("end:"):
            if "end:" not in self._found:
                ends: dict[str, list[int]] = defaultdict(list)
                for match in _END.finditer(self.text):
                    ends[match.group(1)].append(match.start())
                self._found.update({f"end:{name}": starts for name, starts in ends.items()})
                self._found["end:"] = self._found.get("end:", [])
            return self._found.get(closer, [])
        return [match.start() for match in _CLOSERS[closer].finditer(self.text)]


def _closers(parser: Any, text: str) -> Closers:
    """The closer index of `text`, kept on the parser while it parses the same text."""
    index = getattr(parser, "_closer_index", None)
    if index is None or index.text is not text:
        index = Closers(text)
        parser._closer_index = index
    return index


def _span(parser: Any, text: str, start: int, opener_end: int, closer: str,
          minimum_body: int = 0) -> tuple[int, int] | None:
    """(body end, span end) of the math opened at `start`; None when it is never closed."""
    length = len(closer) if not closer.startswith("end:") else len(f"\\end{{{closer[4:]}}}")
    found = _closers(parser, text).after(closer, opener_end + minimum_body)
    return None if found is None else (found, found + length)


class LinearMathBlockParser(MathBlockParser):
    """nbconvert's block parser; a multi-line formula is found from its opener by the closer index."""

    MULTILINE_MATH = r"(?<!\\)[$]{2}|\\\[|\\begin\{(?P<math_env_name>[a-z]*\*?)\}"
    SPECIFICATION: ClassVar[dict[str, str]] = {**MathBlockParser.SPECIFICATION,
                                               "multiline_math": MULTILINE_MATH}

    def parse_multiline_math(self, m: Match[str], state: BlockState) -> int | None:
        opener = m.group(0)
        closer = "$$" if opener == "$$" else r"\]" if opener == "\\[" else f"end:{m.group('math_env_name')}"
        span = _span(self, state.src, m.start(), m.end(), closer)
        if span is None:
            return None
        state.add_paragraph(state.src[m.start():span[1]])
        return span[1]


class LinearMathInlineParser(MathInlineParser):
    """nbconvert's inline parser; each kind of formula is found from its opener by the closer index."""

    SPECIFICATION: ClassVar[dict[str, str]] = {
        **MathInlineParser.SPECIFICATION,
        "block_math_tex": r"(?<!\\)\$\$", "block_math_latex": r"(?<!\\)\\\[",
        "inline_math_tex": r"(?<![$\\])\$", "inline_math_latex": r"(?<!\\)\\\(",
        "latex_environment": r"\\begin\{(?P<math_env_name>[a-z]*\*?)\}"}

    def _math(self, m: Match[str], state: InlineState, closer: str, kind: str, minimum_body: int = 0
              ) -> int | None:
        span = _span(self, state.src, m.start(), m.end(), closer, minimum_body)
        if span is None:
            return None
        body = state.src[m.end():span[0]]
        if kind == "latex_environment":
            state.append_token({"type": kind, "attrs": {"name": m.group("math_env_name"), "body": body}})
        else:
            state.append_token({"type": kind, "raw": body})
        return span[1]

    def parse_block_math_tex(self, m: Match[str], state: InlineState) -> int | None:
        return self._math(m, state, "$$", "block_math")

    def parse_block_math_latex(self, m: Match[str], state: InlineState) -> int | None:
        return self._math(m, state, r"\]", "block_math")

    def parse_inline_math_tex(self, m: Match[str], state: InlineState) -> int | None:
        return self._math(m, state, "$", "inline_math", minimum_body=1)

    def parse_inline_math_latex(self, m: Match[str], state: InlineState) -> int | None:
        return self._math(m, state, r"\)", "inline_math")

    def parse_latex_environment(self, m: Match[str], state: InlineState) -> int | None:
        return self._math(m, state, f"end:{m.group('math_env_name')}", "latex_environment")


def latex_to_mathml(latex: str, display: bool) -> str:
    """A formula as MathML; one latex2mathml cannot read is shown as its LaTeX source, escaped."""
    try:
        return convert(latex.strip(), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds for input it does not know
        return f'<code class="latex" title="formula shown as LaTeX">{html.escape(latex)}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's renderer, with each formula written as MathML instead of left for MathJax, and an
    image of a missing attachment shown by its alt text (nbconvert raises, and no page is made)."""

    def _embed_image_or_attachment(self, src: str) -> str:
        if src.startswith("attachment:") and src.removeprefix("attachment:") not in self.attachments:
            return ""
        return super()._embed_image_or_attachment(src)

    def heading(self, text: str, level: int, **attrs: Any) -> str:
        if "<math" in text:  # nbconvert's anchor goes through ElementTree, which prefixes MathML's tags
            return HTMLRenderer.heading(self, text, level, **attrs)
        return super().heading(text, level, **attrs)

    def block_math(self, body: str) -> str:
        return latex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return latex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return latex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


def markdown_to_html(source: str, renderer: MathMLRenderer | None = None) -> str:
    """Markdown (with math) as HTML with MathML formulas; not sanitized (see grader.inert.safe_html)."""
    parser = MarkdownWithMath(renderer=renderer or MathMLRenderer(escape=False),
                              block=LinearMathBlockParser(), inline=LinearMathInlineParser(hard_wrap=False))
    return parser.render(source)
