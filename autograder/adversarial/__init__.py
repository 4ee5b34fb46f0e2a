"""Hostile submissions: the grader's adversarial suite (``tests/test_adversarial.py``).

Each ``aNN_<name>.py`` file describes one attack as edits to an assignment's release
notebook. Its docstring says what it tries; module-level names say how:

CATEGORY   one of :data:`CATEGORIES`
PREPEND    code cells inserted at the top of the notebook
APPEND     code cells added at the end (after the answer cells, so names defined
           here replace the student's answers)
FILES      extra files in the submission folder ({relative path: text})
MUTATE     optional ``mutate(nb)``: structural edits (delete or edit test cells, ...)
PLANT      optional ``plant(folder, attack)``: makes what FILES cannot (links, FIFOs,
           sparse files, many files) in the submission folder; ``attack`` is the
           ``ATTACK`` dict below
REQUIRES   protections the attack needs in order to be harmless to the *grading
           machine* (``autograder.grader.platform`` names); the suite skips it, saying
           why, where they are off
MARKS      what the suite checks besides the common assertions ("no_connection", ...)

Attacks are written for the worst case, an attacker who knows the course layout:
the suite prepends a cell ``ATTACK = {...}`` with the host paths of the course root,
the gradebook, the master notebook, another student's submission, the repository,
sentinel files, a loopback port listening on the grading machine, and the targets
(name -> "function" or "value") of the assignment being attacked.

Every attack must earn no more than a blank submission, leave the rest of the batch
graded normally and the gradebook intact, and put no hidden test text in feedback.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

CATEGORIES = (
    "shell patching",
    "monkeypatching",
    "equality tricks",
    "cell deletion and editing",
    "gradebook and file access",
    "resource exhaustion",
    "process escape",
    "environment detection",
    "network",
    "fake output",
    "reference import",
    "protocol forgery",
    "submission files",
    "decoder",
    "kernel keyrings",
    "feedback HTML",
)


@dataclass(frozen=True)
class Attack:
    name: str
    doc: str
    category: str
    prepend: Sequence[str] = ()
    append: Sequence[str] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    mutate: Callable[[Any], None] | None = None
    plant: Callable[[str, Mapping[str, Any]], None] | None = None
    requires: Sequence[str] = ()
    marks: Sequence[str] = ()


def load(path: str) -> Attack:
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f"_cnnlab_attack_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    category = module.CATEGORY
    if category not in CATEGORIES:
        raise ValueError(f"{name}: unknown category {category!r}")
    if not (module.__doc__ or "").strip():
        raise ValueError(f"{name}: an attack needs a docstring saying what it tries")
    return Attack(name=name, doc=module.__doc__.strip(), category=category,
                  prepend=tuple(getattr(module, "PREPEND", ())),
                  append=tuple(getattr(module, "APPEND", ())),
                  files=dict(getattr(module, "FILES", {})),
                  mutate=getattr(module, "MUTATE", None),
                  plant=getattr(module, "PLANT", None),
                  requires=tuple(getattr(module, "REQUIRES", ())),
                  marks=tuple(getattr(module, "MARKS", ())))


def attacks() -> list[Attack]:
    """All attacks in this folder, in file order."""
    names = sorted(n for n in os.listdir(HERE) if n.startswith("a") and n.endswith(".py")
                   and n[1:3].isdigit())
    return [load(os.path.join(HERE, n)) for n in names]


def attack_cell(context: Mapping[str, Any]) -> str:
    """The ``ATTACK = {...}`` cell: what a well-informed attacker knows."""
    return "ATTACK = " + repr(dict(context))
