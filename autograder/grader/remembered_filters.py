"""nbconvert's costly pure filters, their results remembered within a process.

Feedback renders the same instructor cells (given code, test headers, instructions)
in every student's notebook of an assignment; nbconvert's ``clean_html`` (bleach) and
``highlight_code`` (pygments) are pure functions of their arguments, so each result is
computed once per process and the page is byte for byte what the filter would give.
Each filter keeps its last 512 results of inputs up to :data:`_REMEMBERED_CHARS` of
HTML (longer ones are rare and seldom repeat): a few MB for a course's notebooks,
some 30 MB each at most.
"""

from __future__ import annotations

import functools

from nbconvert.filters import clean_html as nbconvert_clean_html
from nbconvert.filters.highlight import Highlight2HTML

#: Longest HTML whose cleaning is remembered (the highlighted code of a cell of some
#: 100 lines); bigger ones are recomputed.
_REMEMBERED_CHARS = 32_000
#: Longest code whose highlighting is remembered: pygments' HTML is up to about 8
#: times as long as the code.
_REMEMBERED_CODE_CHARS = _REMEMBERED_CHARS // 8


@functools.lru_cache(maxsize=512)
def _remembered_clean_html(element: str | bytes) -> str:
    return nbconvert_clean_html(element)


def clean_html_remembered(element) -> str:
    """nbconvert's ``clean_html`` filter (bleach with nbconvert's allowlist), its
    result remembered for inputs up to :data:`_REMEMBERED_CHARS`."""
    if isinstance(element, (str, bytes)) and len(element) <= _REMEMBERED_CHARS:
        return _remembered_clean_html(element)
    return nbconvert_clean_html(element)


@functools.lru_cache(maxsize=512)
def _highlighted(lexer: str, options: tuple, source: str, language, magics) -> str:
    highlight = Highlight2HTML(pygments_lexer=lexer, extra_formatter_options=dict(options))
    return highlight(source, language, {"magics_language": magics} if magics else None)


class RememberedHighlight:
    """nbconvert's ``highlight_code`` filter for one notebook's language, its result
    remembered for sources up to :data:`_REMEMBERED_CODE_CHARS`."""

    def __init__(self, highlight: Highlight2HTML) -> None:
        self._highlight = highlight
        self._options = tuple(sorted(highlight.extra_formatter_options.items()))

    def __call__(self, source, language=None, metadata=None):
        magics = (metadata or {}).get("magics_language")
        if (not isinstance(source, str) or len(source) > _REMEMBERED_CODE_CHARS
                or not isinstance(magics, (str, type(None)))):
            return self._highlight(source, language, metadata)
        try:
            return _highlighted(self._highlight.pygments_lexer, self._options, source,
                                language, magics)
        except TypeError:  # an option pygments takes that is not hashable
            return self._highlight(source, language, metadata)
