"""Helpers shared by the adversarial suites (tests/test_adversarial*.py): run a real
nbgrader or grade command with a key in the grader's session keyring and measure its
memory, look for leaks in feedback, check uid 65534's keyrings, and open a page in
headless Chromium to see whether any student script ran."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

_MEASURED = """import atexit, ctypes, os, resource, runpy, sys
def _report():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stderr.write("\\nPEAK-RSS-KIB %d %d\\n" % (own, kids))
atexit.register(_report)
libc = ctypes.CDLL(None, use_errno=True)
numbers = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(os.uname().machine)
if numbers:  # a session keyring of the grading user's own, holding a key
    libc.syscall(numbers[1], 1, b"cnnlab-grader-session", 0, 0, 0)
    key = sys.argv[1].encode()
    libc.syscall(numbers[0], b"user", b"cnnlab-grader-key", key, len(key), -3)
sys.argv = [sys.argv[2], *sys.argv[3:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def run_measured(module, args, *, cwd, env, grader_key):
    """Run ``python -m <module> <args>`` with a key in the grader's session keyring;
    return (process, its own peak RSS, its largest descendant's peak RSS) in bytes."""
    proc = subprocess.run([sys.executable, "-c", _MEASURED, grader_key, module, *args],
                          cwd=cwd, env=env, text=True, capture_output=True, check=False)
    peaks = [ln.split()[1:] for ln in proc.stderr.splitlines()
             if ln.startswith("PEAK-RSS-KIB ")]
    if not peaks:
        return proc, None, None
    return proc, int(peaks[-1][0]) * 1024, int(peaks[-1][1]) * 1024


def nbgrader_measured(course, command, assignment, env, grader_key):
    """Run ``nbgrader <command> <assignment> --force`` (see :func:`run_measured`);
    return (process, its own peak RSS in bytes)."""
    proc, own, _kids = run_measured("nbgrader", [command, assignment, "--force"], cwd=course,
                                    env=env, grader_key=grader_key)
    return proc, own


_KEY_SEARCH = """import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
keyctl = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
for ring in (-4, -5):  # uid 65534's user and user-session keyrings
    found = libc.syscall(keyctl, 10, ring, b"user", sys.argv[1].encode(), 0)  # SEARCH
    print("found" if found >= 0 else os.strerror(ctypes.get_errno()))
"""


def nobody_keys(description):
    """Whether a key ``description`` is in uid 65534's keyrings (as seen by that uid
    outside any sandbox), or why that cannot be checked here."""
    python = "/usr/bin/python3"  # one that uid 65534 can run (the venv's may be private)
    if (os.uname().machine not in ("x86_64", "aarch64") or os.geteuid() != 0
            or not os.path.exists(python)):
        return "not checked (needs root on x86_64 or aarch64 and /usr/bin/python3)"
    proc = subprocess.run([python, "-I", "-S", "-c", _KEY_SEARCH, description],
                          user=65534, group=65534, extra_groups=[], capture_output=True,
                          text=True, check=False, cwd="/")
    return proc.stdout.split() or f"not checked: {proc.stderr.strip()[-200:]}"


def leaks(course, markers):
    """student -> [(file, marker)] for every course secret or marker found in any file
    (HTML or not) under feedback/<student>, and in the files besides notebooks under
    autograded/<student> (an autograded notebook holds the tests by design)."""
    found: dict[str, list] = {}
    for step in ("feedback", "autograded"):
        base = os.path.join(course, step)
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                path = os.path.join(dirpath, name)
                if step == "autograded" and name.endswith(".ipynb"):
                    continue
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    found.setdefault("?", []).append((path, "not a regular file"))
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
                student = os.path.relpath(path, base).split(os.sep)[0]
                for marker in markers:
                    if marker.encode() in data:
                        found.setdefault(student, []).append((os.path.relpath(path, course),
                                                              marker))
    return found


def disk_bytes(course):
    """Apparent bytes of what grading wrote (autograded/, feedback/), links not followed."""
    total = 0
    for step in ("autograded", "feedback"):
        for dirpath, _dirs, files in os.walk(os.path.join(course, step)):
            total += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
    return total


def chromium():
    for path in ("/usr/bin/chromium", shutil.which("chromium") or "",
                 shutil.which("chromium-browser") or ""):
        if path and os.access(path, os.X_OK):
            return path
    return None


def page_state(playwright, profile, path):
    """Open ``path`` in headless Chromium; return (title, data-pwned, dialogs seen)."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=chromium(), headless=True,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update"])
    try:
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto("file://" + str(path), wait_until="load", timeout=60_000)
        page.wait_for_timeout(1500)  # onerror/onload handlers and timers
        return (page.title(), page.evaluate(
            "document.documentElement.getAttribute('data-pwned')"), dialogs)
    finally:
        context.close()
