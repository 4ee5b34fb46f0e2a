"""Return values that must never be unpickled or trusted: an object whose
``__reduce__`` runs a shell command, a cyclic list, a list nested 100 000 deep, a
generator, a function, a complex array, a dict with non-str keys, bytes, and an array
too large for memory.

Earns nothing and runs nothing: nothing is pickled; plain-data conversion refuses each
by exact type, depth or size, and the grading process only ever decodes JSON.
"""

CATEGORY = "equality tricks"

APPEND = [
    '''import numpy as np


class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/cnnlab-pwned",))


cyclic = []
cyclic.append(cyclic)
deep = []
cur = deep
for _ in range(100_000):
    nxt = []
    cur.append(nxt)
    cur = nxt
_values = [Evil(), cyclic, deep, (i for i in range(3)), print, np.ones(3, dtype=complex),
           {1: 2.0}, b"bytes", None]


def _huge(*a, **k):
    return np.zeros(2**40)


for _i, (_name, _kind) in enumerate(ATTACK["targets"].items()):
    _v = _values[_i % len(_values)]
    if _kind == "function":
        globals()[_name] = _huge if _i == 0 else (lambda *a, _v=_v, **k: _v)
    else:
        globals()[_name] = _v
''',
]
