"""autograder/grader/html_access.py: the feedback page gets nbconvert's accessibility
touches (alt text, keyboard focus) without its whole-page BeautifulSoup pass, and reads
as nbconvert's own exporter would have written it."""

from __future__ import annotations

import base64
import copy
import os
import re
import sys

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder.adversarial import a40_html_in_feedback as attack
from autograder.grader import html_access as A
from autograder.grader import html_safety as H
from autograder.grader import remembered_filters as R
from autograder.tools import course as C

#: A 1x1 PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)).decode()
FOCUSABLE = (".jp-Notebook div.jp-Cell-inputWrapper", ".jp-Notebook div.jp-OutputArea-output")


def nbconvert_pass(html: str) -> str:
    """What nbconvert 7.17's ``HTMLExporter.from_notebook_node`` does to a rendered
    page (the reference the rewrite must agree with)."""
    soup = BeautifulSoup(html, features="html.parser")
    for elem in soup.select("img:not([alt])"):
        elem.attrs["alt"] = A.MISSING_ALT
    for selector in FOCUSABLE:
        for elem in soup.select(selector):
            elem.attrs["tabindex"] = "0"
    return str(soup)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def parsed(html: str) -> str:
    """``html`` parsed and written again, with the random ids of JavaScript outputs'
    ``<div>`` s made equal."""
    return _UUID.sub("uuid", str(BeautifulSoup(html, features="html.parser")))


@pytest.mark.parametrize("html", [
    '<img src="a.png">', '<IMG SRC="a.png">', '<img src="a.png"/>', "<img src=a.png/>",
    "<img src=a.png >", "<img>", '<img alt="x" src="a.png">', '<img alt src="a.png">',
    '<img alt="" src="a.png">', "<img src='a\"b'>", '<img src="a"title="t">',
    '<img src="a.png">\n<p>text</p>\n<img\n  src="b.png"\n>',
    '<script>var s = "<img src=x>";</script><style>p{}</style><!-- <img src=y> -->',
    '<textarea><img src=x></textarea><img src="y">',
    '<body class="jp-Notebook"><div class="jp-Cell jp-Cell-inputWrapper">a</div>'
    '<div class="x jp-OutputArea-output y" tabindex="-1">b</div>'
    '<div class="jp-OutputArea-output"/><span class="jp-OutputArea-output">c</span></body>',
    '<div class="jp-Cell-inputWrapper">outside the notebook</div>'
    '<div class="jp-Notebook"></div><div class="jp-OutputArea-output">after it</div>',
    '<body class="jp-Notebook"><div><div></div></div></span></div>'
    '<div class="jp-OutputArea-output"></div></body>'
    '<div class="jp-OutputArea-output">after the body</div>',
    '<div class="jp-Notebook"><br></br><img src=x><p><div class="jp-OutputArea-output">'
    "</div></div>",
])
def test_rewrite_parses_as_nbconvert_pass(html):
    rewritten, _ = A.make_accessible(html)
    assert parsed(rewritten) == nbconvert_pass(html)


def test_rewrite_counts_and_leaves_other_bytes_alone():
    html = '<p>a &amp; b</p><img src="x.png"><img alt="y" src="y.png"><br/>'
    rewritten, missing = A.make_accessible(html)
    assert missing == 1
    assert rewritten == html.replace('src="x.png">', f'src="x.png" alt="{A.MISSING_ALT}">')
    assert A.make_accessible("<p>no images</p>") == ("<p>no images</p>", 0)


def _png_output(**metadata):
    return nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"},
                                  metadata={"image/png": metadata} if metadata else {})


def _course_notebooks() -> list:
    """The course's release notebooks, each answered by its correct sample, with images
    of every origin added, and the hostile notebook."""
    notebooks = []
    for assignment in C.assignments_in(os.path.join(C.AUTOGRADER, "release")):
        nb = nbformat.read(C.release_path(C.AUTOGRADER, assignment), as_version=4)
        correct = [s for s in C.load_samples(C.SAMPLES, assignment) if s.student == "correct"]
        C.apply_submission(nb, correct[0])
        notebooks.append(nb)
    for nb in notebooks:  # what GetGrades gives nbgrader's template
        for cell in nb.cells:
            if "nbgrader" in cell.metadata:
                cell.metadata.nbgrader.setdefault("score", 0)
                cell.metadata.nbgrader.setdefault("points", 0)
    images = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell
    attached = md("![](attachment:p.png) and ![with alt](attachment:p.png)")
    attached["attachments"] = {"p.png": {"image/png": PNG}}
    locked = md('Instructor: <img src="given.png"> ![](given2.png)')
    locked.metadata["nbgrader"] = {"locked": True, "grade_id": "given", "grade": False,
                                   "solution": False, "schema_version": 3}
    code = nbformat.v4.new_code_cell("plot()")
    code.outputs = [_png_output(), _png_output(width=20, height=10),
                    nbformat.v4.new_output("display_data", data={"image/jpeg": PNG})]
    images.cells = [md("![a figure](fig.png) ![](nothing.png)"),
                    md('<img src="raw.png"> <img src="raw2.png" alt="said">'),
                    attached, locked, code,
                    nbformat.v4.new_raw_cell('<img src="in-raw.png">')]
    notebooks.append(images)
    hostile = nbformat.v4.new_notebook()
    attack.MUTATE(hostile)
    notebooks.append(hostile)
    return notebooks


class _Reference(H.SafeHTMLExporter):
    """The same exporter with nbconvert's own ``from_notebook_node`` (BeautifulSoup)."""

    from_notebook_node = HTMLExporter.from_notebook_node


def _feedback_config():
    """nbgrader's feedback template, as ``generate_feedback`` sets it up."""
    import nbgrader
    from traitlets.config import Config

    root = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")
    c = Config()
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.extra_template_basedirs = [os.path.join(root, "templates")]
    c.HTMLExporter.extra_template_paths = [
        os.path.join(root, "static", "node_modules", "bootstrap", "dist", "css")]
    return c


@pytest.mark.parametrize("template", ["lab", "feedback"])
@pytest.mark.parametrize("sanitized", [True, False], ids=["sanitized", "exporter-alone"])
def test_feedback_pages_read_as_nbconvert_writes_them(template, sanitized):
    config = _feedback_config() if template == "feedback" else None
    ours, reference = H.SafeHTMLExporter(config=config), _Reference(config=config)
    resources = {"nbgrader": {"notebook": "nb", "score": 1, "max_score": 2,
                              "late_penalty": 0}}
    images = 0
    for nb in _course_notebooks():
        if sanitized:
            H.SanitizeStudentHTML().preprocess(nb, {})
        html, _ = ours.from_notebook_node(copy.deepcopy(nb), copy.deepcopy(resources))
        expected, _ = reference.from_notebook_node(copy.deepcopy(nb),
                                                   copy.deepcopy(resources))
        assert parsed(html) == parsed(expected)
        soup = BeautifulSoup(html, features="html.parser")
        assert all(img.has_attr("alt") for img in soup.find_all("img"))
        for selector in FOCUSABLE:
            assert all(div.get("tabindex") == "0" for div in soup.select(selector))
        images += len(soup.find_all("img"))
        if template == "lab":
            assert soup.select(FOCUSABLE[0])
    # nbgrader's template shows rendered markdown as it is (our markdown2html sanitized
    # it); nbconvert's lab template passes it through clean_html, which escapes <img>.
    assert images >= (8 if template == "feedback" else 3)


def test_remembered_filters_give_what_nbconvert_gives():
    from nbconvert.filters import clean_html
    from nbconvert.filters.highlight import Highlight2HTML

    source = "def f(x):\n    return '<script>' + x  # <b>\n"
    assert R.clean_html_remembered(source) == clean_html(source)
    assert R.clean_html_remembered(b"<svg onload=x>") == clean_html(b"<svg onload=x>")
    highlight = R.RememberedHighlight(Highlight2HTML(pygments_lexer="ipython3"))
    for _ in range(2):
        assert highlight(source) == Highlight2HTML(pygments_lexer="ipython3")(source)
        assert highlight("%%bash\nls", metadata={"magics_language": "bash"}) == \
            Highlight2HTML(pygments_lexer="ipython3")("%%bash\nls",
                                                      metadata={"magics_language": "bash"})
