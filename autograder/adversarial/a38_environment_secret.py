"""Look for the course secret and the grading process's environment: this process's
environment, ``/proc/self/environ``, the parent's and init's ``/proc/<pid>/environ``,
every ``/proc/*/environ`` it can open, and ``/proc/<pid>/cmdline`` of each. The grader
is started with ``CNNLAB_COURSE_SECRET`` set in this suite.

Gets nothing: nsinit starts with an environment of its own (``LANG`` only), the
runner's is a fixed minimal one, and the sandbox's ``/proc`` shows only its own PID
namespace, whose init runs as another user.
"""

CATEGORY = "environment detection"

APPEND = [
    '''import os

loot = {"environ": dict(os.environ)}
for pid in ["self", str(os.getppid()), "1", *sorted(p for p in os.listdir("/proc")
                                                  if p.isdigit())]:
    for name in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as fh:
                loot[f"{pid}/{name}"] = fh.read(20000).decode(errors="replace")
        except OSError as exc:
            loot[f"{pid}/{name}"] = type(exc).__name__
print(loot)
''',
]
