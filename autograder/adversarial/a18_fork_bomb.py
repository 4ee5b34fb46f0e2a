"""Fork until the system runs out of processes; every child keeps forking and spinning.

Costs only its own points: the process limit stops the forking, the children die with
the sandbox's PID namespace when the run ends (or at the hard time limit), and the next
submission starts with none of them.
"""

CATEGORY = "resource exhaustion"
REQUIRES = ("rlimits",)

APPEND = [
    '''import os

while True:
    try:
        os.fork()
    except OSError:
        pass
''',
]
