"""Crash the process that runs the graded function: ``os._exit``, ``os.abort``, a
segmentation fault through ``ctypes``, and SIGKILL to itself.

Costs only its own points: each question is answered in a forked child; a crash ends
that child, the case counts as an error, and a fresh child continues with the next.
"""

CATEGORY = "process escape"

APPEND = [
    '''import ctypes
import os
import signal


def _exit(*a, **k):
    os._exit(0)


def _abort(*a, **k):
    os.abort()


def _segfault(*a, **k):
    ctypes.string_at(0)


def _kill(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)


_crashes = [_exit, _abort, _segfault, _kill]
for _i, (_name, _kind) in enumerate(ATTACK["targets"].items()):
    if _kind == "function":
        globals()[_name] = _crashes[_i % 4]
''',
]
