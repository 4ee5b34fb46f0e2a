"""The accessibility touches nbconvert's HTML exporter gives a page, without its
whole-page BeautifulSoup round trip.

nbconvert 7's ``HTMLExporter.from_notebook_node`` parses every rendered page with
BeautifulSoup (``html.parser``) to give each ``<img>`` without ``alt`` a placeholder
text and to make input wrappers and outputs keyboard-focusable (``tabindex="0"`` on
``.jp-Notebook div.jp-Cell-inputWrapper`` and ``.jp-Notebook div.jp-OutputArea-output``),
then serializes the whole tree back. That is most of the cost of a feedback page.
:func:`make_accessible` finds the same start tags with the same tokenizer
(:class:`html.parser.HTMLParser`, the one BeautifulSoup used) and the same notion of
nesting (BeautifulSoup's: void elements never open, an end tag closes the innermost
open element of its name and is ignored if there is none), and rewrites only those
tags; every other byte of the page is left as rendered. Parsed again, the page is the
tree nbconvert's exporter would have produced.

A page with no ``<img`` and no ``jp-Notebook`` at all (nbgrader's feedback template
without image outputs) is returned without parsing: nothing in it can change, except a
notebook container whose class is spelled with character references
(``jp&#45;Notebook``), which no template writes.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

#: The text nbconvert gives an image that has none.
MISSING_ALT = "No description has been provided for this image"
#: Classes of the ``<div>`` s that get keyboard focus inside a ``.jp-Notebook``.
FOCUSABLE_CLASSES = frozenset({"jp-Cell-inputWrapper", "jp-OutputArea-output"})
NOTEBOOK_CLASS = "jp-Notebook"
#: Elements BeautifulSoup's HTML tree builder closes as soon as they open.
VOID_ELEMENTS = frozenset({
    "area", "base", "basefont", "bgsound", "br", "col", "command", "embed", "frame",
    "hr", "image", "img", "input", "isindex", "keygen", "link", "menuitem", "meta",
    "nextid", "param", "source", "spacer", "track", "wbr",
})
#: A start tag that a new attribute can follow directly before its closing ``>`` or
#: ``/>``: the tag name alone, or a last attribute that is quoted or followed by a
#: space (an unquoted value would take in a ``/`` before it).
_APPENDABLE = re.compile(r"""<[a-zA-Z][^\s/>]*(?:\s.*?(?<=["'\s]))?\s*/?>\Z""", re.DOTALL)

_IMG = re.compile("<img", re.IGNORECASE)


def make_accessible(html: str) -> tuple[str, int]:
    """``html`` with ``alt`` on every image that has none and ``tabindex="0"`` on the
    focusable ``div`` s, and how many images had no ``alt``."""
    if NOTEBOOK_CLASS not in html and not _IMG.search(html):
        return html, 0
    finder = _TagFinder(html)
    if not finder.edits:
        return html, finder.missing_alt
    parts, last = [], 0
    for start, end, tag in finder.edits:
        parts += [html[last:start], tag]
        last = end
    parts.append(html[last:])
    return "".join(parts), finder.missing_alt


def _with_attribute(tag: str, text: str, attrs: list[tuple[str, str | None]], name: str,
                    value: str) -> str:
    """The start tag ``text`` (parsed as ``attrs``) with ``name="value"``: appended
    if the tag has no such attribute and ends cleanly, else the tag written anew from
    its parsed attributes (as BeautifulSoup writes it)."""
    if all(n != name for n, _ in attrs) and _APPENDABLE.match(text):
        cut = len(text) - (2 if text.endswith("/>") else 1)
        return f'{text[:cut]} {name}="{value}"{text[cut:]}'
    merged = dict(attrs)  # a repeated attribute: the last one wins, as in BeautifulSoup
    merged[name] = value
    written = "".join(f' {n}="{escape(v or "", quote=True)}"' for n, v in merged.items())
    return f"<{tag}{written}>"


class _TagFinder(HTMLParser):
    """Collects the rewrites of one page: (start, end, new tag) in page order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)  # as BeautifulSoup's builder
        self.edits: list[tuple[int, int, str]] = []
        self.missing_alt = 0
        self._open: list[tuple[str, bool]] = []  # (tag, has the notebook class)
        self._in_notebook = 0
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", html)]
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            if all(name != "alt" for name, _ in attrs):
                self.missing_alt += 1
                self._edit(tag, attrs, "alt", MISSING_ALT)
        elif tag == "div" and self._in_notebook and any(
                name == "class" and FOCUSABLE_CLASSES.intersection((value or "").split())
                for name, value in attrs):
            self._edit(tag, attrs, "tabindex", "0")
        if tag not in VOID_ELEMENTS:
            notebook = any(name == "class" and NOTEBOOK_CLASS in (value or "").split()
                           for name, value in attrs)
            self._open.append((tag, notebook))
            self._in_notebook += notebook

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth][0] == tag:
                self._in_notebook -= sum(nb for _, nb in self._open[depth:])
                del self._open[depth:]
                return

    def _edit(self, tag: str, attrs, name: str, value: str) -> None:
        text = self.get_starttag_text()
        start = self._offset()
        self.edits.append((start, start + len(text),
                           _with_attribute(tag, text, attrs, name, value)))

