"""Patch builtins and the standard library the grading code might rely on.

``isinstance`` always true, ``float`` always 2.0, ``print`` silenced, ``json.dumps``
returning a forged "correct" message, ``AssertionError`` replaced. Earns nothing: the
comparison happens in the grading process, and what the patched runner sends back is
only data that is decoded and checked there.
"""

CATEGORY = "monkeypatching"

APPEND = [
    '''import builtins
import json

for _name, _kind in ATTACK["targets"].items():
    globals()[_name] = (lambda *a, **k: [0.0]) if _kind == "function" else [0.0]

builtins.isinstance = lambda *args: True
builtins.AssertionError = type("NotAnAssertion", (Exception,), {})
_real_float = builtins.float
builtins.float = lambda *args: _real_float(2.0)
builtins.print = lambda *args, **kwargs: None
json.dumps = lambda *args, **kwargs: '{"t":"case","id":0,"outcome":{"value":"2.0"}}'
json.loads = lambda *args, **kwargs: {"t": "case", "id": 0, "outcome": {"value": "2.0"}}
''',
]
