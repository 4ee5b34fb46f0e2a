"""What the grading commands' processes leave out of their start-up.

``jsonschema`` (imported by ``nbformat``, so by every nbgrader command) builds its
string-format checkers when it is first imported. With the ``rfc3987-syntax`` package
installed (``jsonschema[format-nongpl]``, which ``nbformat`` asks for), that includes
compiling some thirty Lark grammars for the ``iri`` and ``iri-reference`` formats:
about 1.2 s of CPU, a third of a grading command's imports, in the coordinator and in
every feedback helper (python-jsonschema/jsonschema#1428). No schema these processes
validate uses those formats (a notebook's schema has none, and nbformat and nbgrader
validate without a format checker), so :func:`skip_unused_format_checkers` tells
Python the package is absent before ``jsonschema`` is imported: ``jsonschema`` then
simply has no ``iri`` checker, as on an installation without the package.
"""

from __future__ import annotations

import sys

#: Imported by ``jsonschema`` only for the ``iri`` formats, which grading never checks.
UNUSED_FORMAT_PACKAGES = ("rfc3987_syntax",)


def skip_unused_format_checkers() -> None:
    """Before ``jsonschema`` is imported in this process: its unused ``iri`` checkers'
    package counts as not installed (``import`` of it raises ``ImportError``, which
    ``jsonschema`` expects of an optional package). Does nothing once ``jsonschema``
    is imported, or when the package was imported already."""
    if "jsonschema" in sys.modules:
        return
    for name in UNUSED_FORMAT_PACKAGES:
        sys.modules.setdefault(name, None)
