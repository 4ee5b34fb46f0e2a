"""Write outside the submission's own folder: sentinel files the suite placed in the
repository, in the course root and in a temporary folder of the grading machine, the
runner and the plain-data module the sandbox uses, /etc, /usr, /root and the home
directory.

Changes nothing outside: those paths are absent or read-only in the sandbox; its
working folder and /tmp are its own size-limited tmpfs, discarded afterwards.
"""

CATEGORY = "gradebook and file access"
REQUIRES = ("filesystem",)
MARKS = ("sentinels",)

APPEND = [
    '''import os

targets = list(ATTACK["sentinels"]) + [
    "/sandbox/grader/runner.py", "/sandbox/grader/plain.py", "/sandbox/grader/job.json",
    "/etc/cnnlab-pwned", "/usr/lib/cnnlab-pwned", "/root/cnnlab-pwned",
    os.path.expanduser("~/cnnlab-pwned"), os.path.join(ATTACK["course_root"], "pwned.txt"),
]
for path in targets:
    try:
        with open(path, "a") as fh:
            fh.write("pwned\\n")
        print("wrote", path)
    except Exception as exc:
        print(path, type(exc).__name__)
''',
]
