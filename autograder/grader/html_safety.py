"""What a student wrote never runs in the browser of whoever reads it.

Feedback HTML and the formgrader show a student's notebook to the student, to TAs and
to the instructor. Everything in it that the student controls (markdown cells, raw
cells, attachments, outputs, cell tags and ids) is hostile HTML until made safe:

* :class:`SanitizeStudentHTML` (autograde, after grading, and generate_feedback):
  rewrites the notebook itself. Markdown and raw cells that are not the instructor's
  (locked cells are restored from the master) go through an allowlist HTML sanitizer
  (``bleach``, as nbconvert's own ``SanitizeHTML``): unknown tags are shown as text,
  event handlers, ``style`` and ``javascript:`` links are dropped. Outputs keep only
  text, PNG and JPEG; attachments only PNG and JPEG; cell tags and ids keep only
  letters, digits, ``-`` and ``_`` (they become HTML attributes). The autograded
  notebook the formgrader renders is therefore clean too.
* :class:`SafeHTMLExporter` (generate_feedback's exporter): sanitizes the *rendered*
  markdown as well (a ``[link](javascript:...)`` is only a link after rendering) and
  turns on nbconvert's ``sanitize_html`` for outputs.

The exporter gives the page nbconvert's accessibility touches (``alt`` text, keyboard
focus) with :func:`~autograder.grader.html_access.make_accessible`, which rewrites
only the tags concerned instead of parsing and re-serializing the whole page, and its
bleach and pygments filters remember their results
(:mod:`~autograder.grader.remembered_filters`): the same cleaning, done once for the
cells that recur in every student's notebook.
"""

from __future__ import annotations

import functools
import re

import bleach
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, default

from autograder.grader.html_access import make_accessible
from autograder.grader.remembered_filters import RememberedHighlight, clean_html_remembered

try:
    from jinja2 import pass_context
except ImportError:  # pragma: no cover - Jinja2 < 3
    from jinja2 import contextfilter as pass_context

#: Tags a student's markdown may produce (what Markdown itself renders, and a few
#: harmless ones students use).
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl",
    "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol",
    "p", "pre", "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "u", "ul",
})
ALLOWED_ATTRIBUTES = {
    "div": ["class"],  # only STUDENT_MARKDOWN_CLASS survives (see _attribute_allowed)
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["align"], "th": ["align"],
}
#: The instructor's rendered markdown may also carry ``class`` and ``id`` (styling,
#: anchors); student cells never keep them (a fake "score" box, say).
INSTRUCTOR_ATTRIBUTES = {**ALLOWED_ATTRIBUTES, "*": ["class", "id"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
SAFE_OUTPUT_KEYS = frozenset({"text/plain", "image/png", "image/jpeg"})
SAFE_ATTACHMENTS = frozenset({"image/png", "image/jpeg"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def clean(html: str, *, instructor: bool = False) -> str:
    """``html`` with only allowlisted tags, attributes and URL schemes; anything else
    escaped (shown as text), comments removed.

    A pure function of its arguments, remembered for the last few thousand: the
    instructor's cells recur in every student's notebook and feedback of a class."""
    return _clean(html, instructor)


@functools.lru_cache(maxsize=4096)
def _clean(html: str, instructor: bool) -> str:
    attributes = INSTRUCTOR_ATTRIBUTES if instructor else ALLOWED_ATTRIBUTES
    return bleach.clean(html, tags=ALLOWED_TAGS, attributes=_attribute_allowed(attributes),
                        protocols=ALLOWED_PROTOCOLS | {"data"}, strip=False,
                        strip_comments=True)


_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]*$")
STUDENT_MARKDOWN_CLASS = "cnnlab-student-markdown"


def _attribute_allowed(attributes: dict):
    def allowed(tag: str, name: str, value: str) -> bool:
        if value.lower().lstrip().startswith("data:"):  # embedded attachments only
            return tag == "img" and name == "src" and bool(_DATA_IMAGE.match(value))
        if tag == "div" and name == "class" and "*" not in attributes:
            return value == STUDENT_MARKDOWN_CLASS
        return name in attributes.get(tag, ()) or name in attributes.get("*", ())
    return allowed


def render_markdown(source: str, cell=None) -> str:
    """A student's markdown rendered once (nbconvert's renderer, attachments embedded)
    and sanitized, as one line of HTML in a ``<div>``: Markdown passes such a block
    through unchanged, so rendering it again (feedback, formgrader) changes nothing and
    cannot turn text back into markup.

    Without attachments the result depends on ``source`` alone and is remembered for
    the last few thousand: a markdown cell nbgrader does not lock (the instructor's
    prose between the questions, unless the student edited it) recurs in every
    student's notebook (sources of at most :data:`REMEMBERED_MARKDOWN_CHARS`)."""
    if source.startswith(_WRAPPER) and "\n" not in source:  # rendered before
        return clean(source)
    if not (cell or {}).get("attachments") and len(source) <= REMEMBERED_MARKDOWN_CHARS:
        return _rendered_without_attachments(source)
    return _rendered(source, cell)


#: Longest markdown source whose rendering is remembered (a class of huge cells would
#: otherwise keep thousands of them in memory).
REMEMBERED_MARKDOWN_CHARS = 20_000
_WRAPPER = f'<div class="{STUDENT_MARKDOWN_CLASS}">'


@functools.lru_cache(maxsize=4096)
def _rendered_without_attachments(source: str) -> str:
    return _rendered(source, None)


def _rendered(source: str, cell) -> str:
    html = _exporter().markdown2html({"cell": cell or {}, "resources": {}}, source)
    body = clean(html).strip().replace("\r", "").replace("\n", "&#10;")
    return f"{_WRAPPER}{body}</div>"


_EXPORTER: list[HTMLExporter] = []


def _exporter() -> HTMLExporter:
    if not _EXPORTER:
        _EXPORTER.append(HTMLExporter(embed_images=False))
    return _EXPORTER[0]


def safe_name(text: object, limit: int = 64) -> str:
    """A tag or id reduced to characters that are safe in an HTML attribute."""
    return _SAFE_NAME.sub("_", str(text))[:limit]


def _is_locked(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader")
    return isinstance(meta, dict) and bool(meta.get("locked"))


class SanitizeStudentHTML(NbGraderPreprocessor):
    """Make every student-controlled part of the notebook safe to render as HTML."""

    enabled = Bool(True, help="Sanitize student HTML (turn off only for trusted "
                              "notebooks)").tag(config=True)

    def preprocess(self, nb, resources):
        if not self.enabled:
            return nb, resources
        seen: set[str] = set()
        for index, cell in enumerate(nb.cells):
            self._clean_cell(cell)
            cell_id = cell.get("id")
            if cell_id is not None:
                new = safe_name(cell_id) or f"cell-{index}"
                if new in seen:
                    new = f"{new}-{index}"
                seen.add(new)
                cell["id"] = new
        return nb, resources

    def _clean_cell(self, cell) -> None:
        meta = cell.setdefault("metadata", {})
        tags = meta.get("tags")
        if tags is not None:
            meta["tags"] = ([safe_name(t) for t in tags[:20] if safe_name(t)]
                            if isinstance(tags, list) else [])
        if cell.cell_type in ("markdown", "raw") and not _is_locked(cell):
            source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
            if cell.cell_type == "markdown":
                cell.source = render_markdown(source, cell)
                cell.pop("attachments", None)  # embedded by render_markdown
            else:
                cell.source = clean(source)
            if cell.cell_type == "raw":
                meta.pop("raw_mimetype", None)
                meta.pop("format", None)
        if "attachments" in cell:
            cell["attachments"] = {
                safe_name(name, 200): {k: v for k, v in bundle.items() if k in SAFE_ATTACHMENTS}
                for name, bundle in dict(cell["attachments"]).items() if isinstance(bundle, dict)}
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if "data" in output:
                    output["data"] = {k: v for k, v in output["data"].items()
                                      if k in SAFE_OUTPUT_KEYS}
                if "metadata" in output:
                    output["metadata"] = {}


class SafeHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter with rendered markdown sanitized and ``sanitize_html``
    on (outputs, raw cells). Used for feedback (``GenerateFeedback.exporter_class``)."""

    @default("sanitize_html")
    def _sanitize_html_default(self):
        return True

    def default_filters(self):
        yield from super().default_filters()
        yield ("clean_html", clean_html_remembered)

    def from_notebook_node(self, nb, resources=None, **kw):
        """nbconvert 7's ``HTMLExporter.from_notebook_node`` with its BeautifulSoup pass
        replaced by :func:`make_accessible` (the same page for a reader, parsed the
        same) and code highlighting remembered."""
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get(
            "highlight_code",
            RememberedHighlight(Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        html, missing_alt = make_accessible(html)
        if missing_alt:
            self.log.warning("Alternative text is missing on %s image(s).", missing_alt)
        return html, resources

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        html = super().markdown2html(context, source)
        return clean(html, instructor=_is_locked(cell))
