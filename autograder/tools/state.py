"""What the last runs graded: ``<course>/.cnnlab/grading-state.json``.

One entry per submission (``student/assignment``) with the input key it was graded
with (see :meth:`autograder.tools.planning.Planner.input_key`), its score and time,
the keys of its notebooks' outcomes in the result store (``None`` in a state
written before they were recorded), and whether its feedback has been written since.
An entry is written only after nbgrader has stored that submission's grades and the
gradebook check passed, and the file is replaced atomically: an interrupted run
leaves the previous state, so the next run grades again whatever was not finished.
Its feedback is marked written only once ``generate_feedback`` has rendered it, so a
run stopped between the gradebook pass and the feedback writes that feedback next time.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass

STATE_FILE = os.path.join(".cnnlab", "grading-state.json")


@dataclass
class Entry:
    input_key: str
    score: float
    max_score: float
    seconds: float
    graded_at: float
    results: list[str] | None = None
    feedback: bool = False  # feedback written for this grading (False in older states)


class GradingState:
    def __init__(self, course: str) -> None:
        self.path = os.path.join(course, STATE_FILE)
        self.entries: dict[str, Entry] = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                raw = json.load(fh).get("submissions", {})
            self.entries = {k: Entry(**v) for k, v in raw.items()}
        except (OSError, ValueError, TypeError):
            self.entries = {}

    def unchanged(self, name: str, input_key: str) -> bool:
        entry = self.entries.get(name)
        return entry is not None and entry.input_key == input_key

    def record(self, name: str, input_key: str, score: float, max_score: float,
               seconds: float, results: list[str] | None = None) -> None:
        self.entries[name] = Entry(input_key, score, max_score, seconds, time.time(),
                                   None if results is None else sorted(results))

    def feedback_due(self, name: str) -> bool:
        """Graded, but its feedback not written since."""
        entry = self.entries.get(name)
        return entry is not None and not entry.feedback

    def feedback_written(self, names) -> None:
        """The feedback of ``names`` (``student/assignment``) has been written."""
        for name in names:
            if name in self.entries:
                self.entries[name].feedback = True

    def forget(self, name: str) -> None:
        self.entries.pop(name, None)

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"submissions": {k: asdict(v) for k, v in sorted(self.entries.items())}},
                      fh, indent=1)
        os.replace(tmp, self.path)
