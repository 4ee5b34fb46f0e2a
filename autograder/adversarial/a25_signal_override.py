"""Disable the time limits through signals: ignore SIGALRM (and SIGTERM, SIGINT,
SIGXCPU), cancel the interval timer, then loop forever, at top level and in the graded
function.

Costs only its own points: the per-call limit kills with SIGKILL, which cannot be
caught, and the hard wall-clock limit is enforced from outside the sandbox.
"""

CATEGORY = "resource exhaustion"

APPEND = [
    '''import signal


def _stubborn(*args, **kwargs):
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass


for _name, _kind in ATTACK["targets"].items():
    if _kind == "function":
        globals()[_name] = _stubborn
''',
    '''import signal

for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
signal.setitimer(signal.ITIMER_REAL, 0)
while True:
    pass
''',
]
