"""Helpers for the tests of the course's questions files."""

from __future__ import annotations


def sentence_with(mistakes, phrase: str) -> str:
    """The one sentence of ``mistakes`` (builder Mistakes) that contains ``phrase``."""
    found = {m.sentence for m in mistakes if phrase in m.sentence}
    assert len(found) == 1, (phrase, found)
    return found.pop()
