"""One SQLAlchemy engine per gradebook for the whole of a grading process.

nbgrader opens a new :class:`nbgrader.api.Gradebook` for nearly every step of every
notebook (creating the student and the submission, each preprocessor that reads or
writes grades, the gradebook check after each submission: some 16 per notebook), and
each one used to build a new engine. A new engine starts with an empty statement cache,
so every ORM query was compiled to SQL again: compiling was about a third of the
gradebook's CPU in a grading run. :func:`share` makes ``nbgrader.api`` reuse one engine
per database URL in this process, so each query is compiled once per run.

Nothing else changes: every ``Gradebook`` still gets its own session and transactions,
and its ``close()`` still disposes of the engine's connections (SQLAlchemy then opens
new ones on the next use, on the same file), so the database is read and written
exactly as before, by the same single process.
"""

from __future__ import annotations

import threading
from typing import Any

_engines: dict[tuple, Any] = {}
_lock = threading.Lock()


def shared_engine(url, **options):
    """The engine of ``url`` with ``options``: built on the first call, the same object
    afterwards (``sqlalchemy.create_engine``'s signature)."""
    import sqlalchemy

    key = (str(url), tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = sqlalchemy.create_engine(url, **options)
        return engine


def share() -> None:
    """From now on, nbgrader's gradebooks in this process share their engines."""
    import nbgrader.api

    nbgrader.api.create_engine = shared_engine
