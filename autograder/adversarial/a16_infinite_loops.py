"""Loop forever: at top level, in a loop that swallows every exception (so the soft
per-cell limit cannot stop it), and in the graded functions.

Costs only its own points: the per-call limit kills the function's process, and the
hard wall-clock limit ends the whole run (and every process it started).
"""

CATEGORY = "resource exhaustion"

APPEND = [
    '''def _spin(*args, **kwargs):
    while True:
        pass


for _name, _kind in ATTACK["targets"].items():
    if _kind == "function":
        globals()[_name] = _spin
''',
    "while True:\n    pass",
    '''while True:
    try:
        while True:
            pass
    except BaseException:
        pass
''',
]
