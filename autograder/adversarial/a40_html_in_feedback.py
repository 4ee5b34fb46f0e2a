"""HTML that runs in the browser of whoever opens the feedback or the formgrader (the
student, a TA, the instructor): ``<script>`` in a markdown cell, an ``<img onerror>``,
an ``<svg onload>``, an ``<iframe srcdoc>``, a ``javascript:`` link, a raw cell marked
``text/html``, an SVG attachment, a cell tag that closes its HTML attribute, and rich
outputs (``text/html``, JavaScript, SVG) saved in the notebook.
Each would mark the page (``document.title``, a ``data-pwned`` attribute) when run.

Runs nothing: student markdown is rendered once and sanitized with an allowlist
(``grader/html_safety.py``), raw cells are escaped, outputs keep only text and
PNG/JPEG, tags and ids keep only safe characters, and the feedback's rendered markdown
is sanitized again.
"""

CATEGORY = "feedback HTML"
MARKS = ("html",)

PWN = "document.title='PWNED';document.documentElement.setAttribute('data-pwned','1')"
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" onload="' + PWN.replace("'", "&apos;")
       + '"><script>' + PWN + "</script></svg>")


def MUTATE(nb):
    import base64

    import nbformat

    md = nbformat.v4.new_markdown_cell
    cells = [
        md("# Notes\n\n<script>" + PWN + "</script>\n\nSome text."),
        md('<img src="x" onerror="' + PWN + '">'),
        md(SVG),
        md('<iframe srcdoc="<script>parent.' + PWN + '</script>"></iframe>'),
        md("[click me](javascript:" + PWN + ")\n\n<a href='javascript:" + PWN + "'>me too</a>"),
        md('<div>\n\n`<img src=x onerror="' + PWN + '">`\n</div>'),
        md("<style>body{background:url(javascript:" + PWN + ")}</style>"),
        md("![svg](attachment:x.svg)"),
    ]
    cells[-1]["attachments"] = {"x.svg": {"image/svg+xml": base64.b64encode(
        SVG.encode()).decode()}}
    raw = nbformat.v4.new_raw_cell("<script>" + PWN + "</script>")
    raw.metadata["raw_mimetype"] = "text/html"
    cells.append(raw)
    code = nbformat.v4.new_code_cell("1")
    code.metadata["tags"] = ['x"><img src=x onerror="document.title=/PWNED/.source">']
    code.outputs = [nbformat.v4.new_output(
        "display_data", data={"text/html": "<script>" + PWN + "</script>",
                              "application/javascript": PWN, "image/svg+xml": SVG,
                              "text/plain": "x"})]
    cells.append(code)
    nb.cells = cells + nb.cells
    nb.metadata["title"] = "</title><script>" + PWN + "</script>"
