"""Kill other processes: the parent, PID 1, every process it may signal
(``kill(-1, SIGKILL)``), and its process group.

Harms only itself: in its own PID namespace, as an unprivileged user, it can see and
signal only its own processes; the grader and the rest of the batch are outside.
"""

CATEGORY = "process escape"
REQUIRES = ("pid_namespace", "unprivileged")

APPEND = [
    '''import os
import signal

for action in (lambda: os.kill(os.getppid(), signal.SIGKILL),
               lambda: os.kill(1, signal.SIGKILL),
               lambda: os.killpg(0, signal.SIGTERM),
               lambda: os.kill(-1, signal.SIGKILL)):
    try:
        action()
    except Exception as exc:
        print(type(exc).__name__, exc)
''',
]
