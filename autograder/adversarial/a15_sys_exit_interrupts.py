"""Raise ``SystemExit``, ``KeyboardInterrupt`` and ``GeneratorExit`` at top level and
from the graded functions; call ``exit()`` and ``quit()``.

Costs only its own points: top-level exits are ordinary cell errors, and a probe's
``BaseException`` is reported as that case's error.
"""

CATEGORY = "process escape"

APPEND = [
    '''import sys

_errors = [SystemExit, KeyboardInterrupt, GeneratorExit]


def _make(exc):
    def target(*args, **kwargs):
        raise exc("bye")
    return target


for _i, (_name, _kind) in enumerate(ATTACK["targets"].items()):
    if _kind == "function":
        globals()[_name] = _make(_errors[_i % 3])
''',
    "raise SystemExit(0)",
    "raise KeyboardInterrupt",
    "import sys\nsys.exit(3)",
    "exit()",
    "quit()",
]
