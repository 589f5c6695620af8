"""What a student wrote reaches a person only as inert text or allowlisted markup.

Two walls, each at a choke point:

- `safe_html` cleans HTML after markdown and outputs became HTML (nh3, Ammonia's bindings): only the
  tags, attributes and URL schemes listed here survive. Invariant: no script, no event handler, no
  style, no frame or form, and nothing the browser loads by itself (an image keeps only a `data:` URL
  of a raster image; a link is followed only when clicked).
- `terminal_safe` makes any text derived from a submission fit for a terminal or a record: every
  control character (C0, DEL, C1, the bidirectional overrides) is shown escaped, and a long value is
  cut, saying so. Invariant: a line printed or recorded holds no escape sequence and ends where it ends.
"""

from __future__ import annotations

import re
import unicodedata

import nh3

# The HTML a page may show: text structure, tables, code, images, and MathML (the formulas).
HTML_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl",
             "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "ins", "kbd", "li",
             "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup",
             "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"}
MATHML_TAGS = {"math", "menclose", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo", "mover",
               "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle",
               "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover", "none",
               "semantics", "annotation"}
MATHML_ATTRIBUTES = {"accent", "accentunder", "columnalign", "columnlines", "columnspacing", "display",
                     "displaystyle", "fence", "form", "largeop", "linethickness", "lspace", "mathsize",
                     "mathvariant", "maxsize", "minsize", "movablelimits", "notation", "rowalign",
                     "rowlines", "rowspacing", "rspace", "scriptlevel", "separator", "stretchy",
                     "symmetric", "width", "height", "depth", "encoding"}
HTML_ATTRIBUTES = {"*": {"class", "id", "title", "lang", "dir"}, "a": {"href", "name"},
                   "img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan", "align"},
                   "th": {"colspan", "rowspan", "align", "scope"}, "ol": {"start"},
                   "input": {"type", "checked", "disabled"},
                   **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS}}
LINK_SCHEMES = {"http", "https", "mailto"}
IMAGE_URL = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z")


def _attribute(tag: str, name: str, value: str) -> str | None:
    """Per-attribute rules nh3's lists cannot say: images only from data: URLs, inputs only checkboxes."""
    if tag == "img" and name == "src":
        return value if IMAGE_URL.match(value) else None
    if tag == "input" and name == "type":
        return value if value == "checkbox" else None
    if name in ("width", "height") and tag == "img":
        return value if re.fullmatch(r"\d{1,5}(px|%)?", value) else None
    return value


def safe_html(fragment: str) -> str:
    """The fragment with only allowlisted tags, attributes and URL schemes (see the module's invariant)."""
    return nh3.clean(fragment, tags=HTML_TAGS | MATHML_TAGS, attributes=HTML_ATTRIBUTES,
                     url_schemes=LINK_SCHEMES, attribute_filter=_attribute, strip_comments=True,
                     link_rel="noopener noreferrer nofollow", clean_content_tags={"script", "style"})


# C0, DEL, C1, and the formatting characters that reorder or hide text (bidi overrides, zero widths).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
                     r"\ufff9-\ufffb]")
LINE_LIMIT = 500


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: object, limit: int = LINE_LIMIT, newlines: bool = False) -> str:
    """`text` for a terminal or a record: control characters escaped (`\\x1b`), at most `limit`
    characters, ending "… (N more characters)" when cut. Newlines and tabs are escaped too unless
    `newlines` (a multi-line message); a carriage return always is (it would overwrite the line)."""
    text = unicodedata.normalize("NFC", str(text))
    if not newlines:
        text = text.replace("\n", "\\n").replace("\t", "\\t")
    text = _UNSAFE.sub(_escaped, text)
    if len(text) > limit:  # the result is at most `limit` long, so cutting twice changes nothing
        keep = max(limit - 40, 0)
        text = f"{text[:keep]}… ({len(text) - keep} more characters)"
    return text
