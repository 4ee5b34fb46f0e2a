"""Answers and protocol lines built to break the grader's decoder: a 5000-digit
integer, text with lone surrogates (which cannot be written into a notebook), lists
that are small on the wire but many objects when parsed, and forged lines nested a
hundred thousand deep or holding a 5000-digit number. Any one of them used to end the
submission as nbgrader's "error processing assignment", unexplained.

Earns nothing and breaks nothing: the plain-data module refuses each by its limit
(digits, valid text, items, nesting) on both sides of the sandbox, checking nesting
and size before it parses; the case fails with a message, the rest is graded.
"""

CATEGORY = "decoder"

APPEND = [
    '''import json
import os

_values = [10**5000, "wrong \\ud800 text", [[]] * 2_000_000, {"\\udfff": 1}]
for _i, (_name, _kind) in enumerate(ATTACK["targets"].items()):
    _v = _values[_i % len(_values)]
    if _kind == "function":
        globals()[_name] = lambda *a, _v=_v, **k: _v
    else:
        globals()[_name] = _v
print("odd text in an output: \\ud800 \\udfff")
for _line in (b"[" * 100_000 + b"]" * 100_000,
              b'{"t": "cell", "i": 0, "x": [' + b"[]," * 500_000 + b"[]]}",
              b'{"t": "case", "id": 0, "outcome": {"value": "' + b"9" * 5000 + b'"}}',
              b'{"t": "case", "id": 1, "outcome": {"value": "[' + b"[]," * 2_000_000 + b'[]]"}}'):
    try:
        os.write(3, _line + b"\\n")
    except OSError as exc:
        print("fd 3:", exc)
''',
]
