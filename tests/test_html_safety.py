"""autograder/grader/html_safety.py: nothing a student wrote becomes live HTML in
feedback or in the formgrader."""

from __future__ import annotations

import os
import sys
from html.parser import HTMLParser

import nbformat
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder.adversarial import a40_html_in_feedback as attack
from autograder.grader import html_safety as H


class _Live(HTMLParser):
    """Collects what a browser would run or load: script-like tags, event handlers,
    javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "style", "svg", "object", "embed", "meta", "link"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}.{name}")
            if name in ("href", "src") and (value or "").strip().lower().startswith(
                    ("javascript:", "data:text", "vbscript:")):
                self.found.append(f"{tag}.{name}={value[:20]}")


def live(html: str) -> list[str]:
    parser = _Live()
    parser.feed(html)
    return parser.found


def _hostile_notebook():
    nb = nbformat.v4.new_notebook()
    attack.MUTATE(nb)
    locked = nbformat.v4.new_markdown_cell('<div class="alert">Instructor <b>text</b></div>')
    locked.metadata["nbgrader"] = {"locked": True, "grade_id": "intro", "grade": False,
                                   "solution": False, "schema_version": 3}
    nb.cells.append(locked)
    return nb


def _sanitized():
    nb = _hostile_notebook()
    H.SanitizeStudentHTML().preprocess(nb, {})
    return nb


def test_markdown_is_rendered_once_and_sanitized():
    nb = _sanitized()
    first = nb.cells[0].source
    assert first.startswith('<div class="cnnlab-student-markdown"><h1>Notes')
    assert "&lt;script&gt;document.title" in first  # shown as text, not run
    assert "\n" not in first


def test_no_live_markup_anywhere_in_the_sanitized_notebook():
    nb = _sanitized()
    for cell in nb.cells[:-1]:  # the last is the instructor's locked cell
        assert live(cell.source) == [], cell.source
    raw = nb.cells[8]
    assert "raw_mimetype" not in raw.metadata
    code = nb.cells[9]
    assert code.metadata["tags"] == ["x___img_src_x_onerror__document_title__PWNED__source__"]
    assert set(code.outputs[0]["data"]) == {"text/plain"}



def test_cell_ids_are_made_safe():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("a"),
                                         nbformat.v4.new_markdown_cell("b")])
    nb.cells[0]["id"] = 'a"><script>x</script>'
    nb.cells[1]["id"] = 'a"><script>x</script>'
    H.SanitizeStudentHTML().preprocess(nb, {})
    assert [c["id"] for c in nb.cells] == ["a___script_x__script_", "a___script_x__script_-1"]


def test_instructor_cells_are_left_as_written():
    nb = _sanitized()
    assert nb.cells[-1].source == '<div class="alert">Instructor <b>text</b></div>'


def test_sanitizing_twice_changes_nothing():
    nb = _sanitized()
    once = [c.source for c in nb.cells]
    H.SanitizeStudentHTML().preprocess(nb, {})
    assert [c.source for c in nb.cells] == once


def test_markdown_that_hides_html_in_code_spans_inside_an_html_block():
    # In an HTML block, backticks are literal: the <img> would be live HTML.
    html = H.render_markdown('<div>\n`<img src=x onerror="alert(1)">`\n</div>')
    assert live(html) == []
    assert live('<div>\n`<img src=x onerror="alert(1)">`\n</div>') == ["img.onerror"]


@pytest.mark.parametrize(("markdown", "kept"), [
    ("*emphasis* and `x < y`", "<em>emphasis</em> and <code>x &lt; y</code>"),
    ("$a < b$", "$a &lt; b$"),
    ("> quoted", "<blockquote>"),
    ("[site](https://example.org)", '<a href="https://example.org">site</a>'),
])
def test_ordinary_markdown_still_reads_well(markdown, kept):
    assert kept in H.render_markdown(markdown)


def test_png_attachments_survive_svg_ones_do_not():
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMI"
           "QAAAABJRU5ErkJggg==")
    cell = nbformat.v4.new_markdown_cell("![dot](attachment:dot.png) ![svg](attachment:x.svg)")
    cell["attachments"] = {"dot.png": {"image/png": png},
                           "x.svg": {"image/svg+xml": "PHN2Zz48L3N2Zz4="}}
    nb = nbformat.v4.new_notebook(cells=[cell])
    H.SanitizeStudentHTML().preprocess(nb, {})
    assert f'src="data:image/png;base64,{png}"' in nb.cells[0].source
    assert "image/svg" not in nb.cells[0].source


def test_markdown_without_attachments_is_rendered_once_with_them_each_time(monkeypatch):
    """The same source gives the same HTML; without attachments the second time costs
    no rendering, and a cell's attachments are never taken from another cell's."""
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMI"
           "QAAAABJRU5ErkJggg==")
    source = "Some *prose* <b onclick=x>bold</b>"
    first = H.render_markdown(source)
    rendered = []
    real = H._rendered
    monkeypatch.setattr(H, "_rendered", lambda s, c: rendered.append(s) or real(s, c))
    assert H.render_markdown(source) == first
    assert rendered == []
    source += " ![dot](attachment:dot.png)"
    cell = nbformat.v4.new_markdown_cell(source)
    cell["attachments"] = {"dot.png": {"image/png": png}}
    with_image = H.render_markdown(source, cell)
    assert H.render_markdown(source, cell) == with_image
    assert rendered == [source, source]
    assert f"data:image/png;base64,{png}" in with_image
    assert "data:image" not in first
    assert "onclick" not in first
    assert "onclick" not in with_image
    huge = "x" * (H.REMEMBERED_MARKDOWN_CHARS + 1)
    H.render_markdown(huge)
    H.render_markdown(huge)
    assert rendered.count(huge) == 2


def test_feedback_exporter_sanitizes_rendered_markdown_and_outputs():
    nb = _hostile_notebook()  # not preprocessed: the exporter alone must hold too
    html, _ = H.SafeHTMLExporter().from_notebook_node(nb)
    body = html.split("<body", 1)[1]
    assert [x for x in live(body) if x != "<script>"] == []
    assert "PWNED" not in "".join(_scripts(body))  # the page's own scripts only


def _scripts(html: str) -> list[str]:
    out, rest = [], html
    while "<script" in rest:
        rest = rest.split("<script", 1)[1]
        out.append(rest.split("</script>", 1)[0])
    return out
