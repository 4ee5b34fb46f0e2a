"""Helpers for the tests of the course's questions files.

:func:`sentence_with` finds a misconception's sentence by a phrase of it;
:func:`diagnoses` runs a wrong implementation through a question and returns what the
report names; :func:`declared_mistakes` lists a questions file's mistakes.
"""

from __future__ import annotations

import numpy as np

from cnnlab.grading import question, variant_for
from cnnlab.grading.build import Mistake
from cnnlab.grading.check import run_case


def sentence_with(mistakes, phrase: str) -> str:
    """The one sentence of ``mistakes`` (builder Mistakes) that contains ``phrase``."""
    found = {m.sentence for m in mistakes if phrase in m.sentence}
    assert len(found) == 1, (phrase, found)
    return found.pop()


def diagnoses(key: str, target, variant=None, seed: int = 11) -> list[str]:
    """Run ``target`` on a question's visible and hidden cases; return the diagnoses.

    The run must lose points: ``target`` is a deliberately wrong implementation.
    """
    q = question(key)
    variant = variant or variant_for(q.assignment)
    cases = q.visible_cases(variant) + q.hidden_cases(np.random.default_rng(seed), variant)
    report = q.grade([run_case(q, target, case) for case in cases], cases, variant)
    assert report.score < report.points, "the wrong implementation must lose points"
    return report.diagnoses()


def declared_mistakes(module) -> list[Mistake]:
    """Every Mistake a questions file declares at module level (alone or in lists)."""
    found = []
    for value in vars(module).values():
        items = value if isinstance(value, list | tuple) else [value]
        found += [m for m in items if isinstance(m, Mistake)]
    assert found
    return found


def assert_fixed_sentences(module) -> None:
    """Each sentence is fixed text (never formatted with a case's numbers), short."""
    for mistake in declared_mistakes(module):
        assert mistake.sentence.endswith("."), mistake.sentence
        assert len(mistake.sentence) < 260, mistake.sentence
        assert "{" not in mistake.sentence, mistake.sentence
