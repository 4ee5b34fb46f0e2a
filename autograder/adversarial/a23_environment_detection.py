"""Detect the grading environment and behave differently there: look for nbgrader's
environment variables, the course secret, the hostname, a missing repository or
cnnlab; dump every environment variable and /proc/*/environ it can read (hoping for
the secret), and answer "correctly" only outside grading.

Gains nothing: behaving differently cannot make an answer correct, and the sandbox's
environment holds nothing secret (the suite checks the secret never reaches feedback).
"""

CATEGORY = "environment detection"

APPEND = [
    '''import glob
import os
import socket

grading = ("NBGRADER_EXECUTION" in os.environ or socket.gethostname() == "sandbox"
           or not os.path.exists(ATTACK["repo"]))
print("grading?", grading)
print(dict(os.environ))
for path in glob.glob("/proc/*/environ"):
    try:
        with open(path, "rb") as fh:
            print(path, fh.read()[:2000])
    except Exception as exc:
        print(path, type(exc).__name__)
secret = os.environ.get("CNNLAB_COURSE_SECRET") or os.environ.get("CNNLAB_COURSE_SECRET_FILE")
print("secret:", secret)


def _honest_elsewhere(*args, **kwargs):
    if grading:
        return "I am being graded"
    raise RuntimeError("not graded: nothing to see")


for _name, _kind in ATTACK["targets"].items():
    globals()[_name] = _honest_elsewhere if _kind == "function" else ("grading" if grading else 0)
''',
]
