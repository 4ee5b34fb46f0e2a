"""The sandbox on its own: cells, probes, limits, isolation, the protocol.

These run ``autograder.grader.sandbox.run_submission`` directly (no nbgrader), with
cnnlab's real plain-data module, in the strongest mode this machine gives (and in the
no-isolation fallback, which every platform has).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from autograder.grader import platform, sandbox  # noqa: E402
from autograder.grader.platform import Protections  # noqa: E402
from cnnlab.grading import plain  # noqa: E402

PLAIN = os.path.abspath(plain.__file__)
FAST = sandbox.Limits(cell_seconds=2.0, case_seconds=1.5, total_seconds=20.0)
LINUX_NS = sys.platform.startswith("linux") and platform.resolve_isolation() != "none"


def call(*args, **kwargs) -> str:
    return plain.encode({"args": tuple(args), "kwargs": dict(kwargs)})


def run(cells, questions=(), **kwargs):
    kwargs.setdefault("limits", FAST)
    kwargs.setdefault("plain_path", PLAIN)
    numbered = [(i, src) for i, src in enumerate(cells)]
    return sandbox.run_submission(numbered, list(questions), **kwargs)


def double_job(*inputs):
    return sandbox.QuestionJob("t-double", "double", "function", [call(x) for x in inputs])


@pytest.fixture(scope="module")
def prot():
    return platform.detect()


def test_detect_reports_every_protection(prot):
    assert prot.mode in ("namespaces", "none")
    for step in ("filesystem", "network", "pid_namespace", "unprivileged", "rlimits",
                 "fork_probes"):
        assert step in prot.steps
    text = platform.describe()
    assert prot.summary() in text
    if prot.mode == "namespaces":
        assert prot.off() == []


def test_none_mode_says_what_is_off():
    prot = platform.detect("none")
    assert prot.mode == "none"
    for step in ("filesystem", "network", "pid_namespace"):
        assert not prot.is_on(step)
        assert any(step_text in line for line in prot.lines()
                   for step_text in ("OFF",))
    assert "OFF" in prot.markdown()


def test_cells_probes_and_outputs(prot):
    cells = [
        "import sys\nprint('hello')\nprint('careful', file=sys.stderr)",
        "def double(x):\n    return 2 * x",
        "answer = 41 + 1\nanswer",
        "1 / 0",
        "%time y = 3",
    ]
    value = sandbox.QuestionJob("t-answer", "answer", "value", [call()])
    result = run(cells, [double_job(np.arange(3.0), np.ones((2, 2))), value])
    assert result.completed, result.status
    assert result.protections.mode == prot.mode
    assert result.cells[0].stdout == "hello\n"
    assert result.cells[0].stderr == "careful\n"
    assert result.cells[2].result == "42"
    err = result.cells[3].error
    assert err["ename"] == "ZeroDivisionError"
    assert any("1 / 0" in line for line in err["traceback"])
    assert result.cells[4].error is None  # %magics work
    out = result.outcomes["t-double"]
    assert np.array_equal(out[0]["value"], [0.0, 2.0, 4.0])
    assert np.array_equal(out[1]["value"], 2 * np.ones((2, 2)))
    assert result.outcomes["t-answer"] == [{"value": 42}]
    assert result.startup_seconds is not None
    assert result.startup_seconds < 10


def test_missing_target_and_unsupported_values():
    cells = ["class Thing:\n    pass", "def double(x):\n    return Thing()"]
    missing = sandbox.QuestionJob("t-missing", "nowhere", "function", [call(1)])
    result = run(cells, [double_job(1.0), missing])
    assert result.found == {"t-double": True, "t-missing": False}
    assert result.outcomes["t-double"] == [{"unsupported": "Thing"}]
    assert result.outcomes["t-missing"][0]["error"].startswith("NameError")


def test_errors_timeouts_and_crashes_cost_only_their_case():
    cells = ['''
import os
def double(x):
    if x == 1:
        raise ValueError("no ones")
    if x == 3:
        os._exit(7)
    if x == 4:
        raise SystemExit("bye")
    if x == 6:
        while True:
            pass
    return 2 * x
''']
    result = run(cells, [double_job(0, 1, 3, 4, 5, 6, 7)])
    out = result.outcomes["t-double"]
    assert out[0] == {"value": 0}
    assert out[1] == {"error": "ValueError: no ones"}
    assert out[2]["error"].startswith("ProcessEnded")
    assert "code 7" in out[2]["error"]
    assert out[3]["error"].startswith("SystemExit")
    assert out[4] == {"value": 10}  # a fresh child after the crash
    # after a timeout the question's remaining cases count as timed out (DESIGN.md)
    assert out[5] == {"timeout": FAST.case_seconds}
    assert out[6] == {"timeout": FAST.case_seconds}


def test_probes_do_not_see_each_others_side_effects():
    cells = ["seen = []\ndef double(x):\n    seen.append(x)\n    return len(seen)"]
    result = run(cells, [double_job(1, 2, 3)])
    assert [o["value"] for o in result.outcomes["t-double"]] == [1, 2, 3]  # one child
    # ... but a new run starts from the notebook again
    again = run(cells, [double_job(9)])
    assert again.outcomes["t-double"] == [{"value": 1}]


def test_soft_cell_limit_then_later_cells_still_run():
    result = run(["while True:\n    pass", "def double(x):\n    return 2 * x"],
                 [double_job(2)])
    assert result.cells[0].timeout
    assert result.cells[0].error["ename"] == "CellTimeout"
    assert result.outcomes["t-double"] == [{"value": 4}]


def test_hard_limit_stops_everything():
    limits = sandbox.Limits(cell_seconds=30, case_seconds=30, total_seconds=3.0)
    start = time.monotonic()
    result = run(["import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                  "while True:\n    pass", "def double(x):\n    return x"],
                 [double_job(1)], limits=limits)
    assert time.monotonic() - start < 15
    assert not result.completed
    assert "time limit" in result.status
    assert "timeout" in result.outcomes["t-double"][0]


def test_cnnlab_is_not_importable():
    result = run(["import cnnlab", "import torch", "import autograder"])
    for i in range(3):
        assert result.cells[i].error["ename"] == "ModuleNotFoundError", result.cells[i]


def test_cnnlab_is_not_importable_without_isolation_either():
    result = run(["import cnnlab"], isolation="none")
    assert result.cells[0].error["ename"] == "ModuleNotFoundError"
    assert not result.protections.is_on("filesystem")


def test_fallback_mode_grades(tmp_path):
    result = run(["def double(x):\n    return 2 * x"], [double_job(3)], isolation="none",
                 work_root=str(tmp_path))
    assert result.completed
    assert result.outcomes["t-double"] == [{"value": 6}]
    assert os.listdir(tmp_path) == []  # the job folder is removed


def test_own_files_only(tmp_path):
    files = tmp_path / "submission"
    files.mkdir()
    (files / "helper.py").write_text("def triple(x):\n    return 3 * x\n")
    (files / "data.txt").write_text("42\n")
    (files / "notebook.ipynb").write_text("{}")
    secret = tmp_path / "course" / "gradebook.db"
    secret.parent.mkdir()
    secret.write_text("grades")
    cells = [
        "import helper, os\nprint(sorted(os.listdir('.')))\nprint(open('data.txt').read())",
        f"print(os.path.exists({str(secret)!r}), os.path.exists({REPO!r} + '/cnnlab'))",
    ]
    result = run(cells, files_dir=str(files), sensitive=[str(secret.parent)])
    listing = result.cells[0].stdout
    assert "helper.py" in listing
    assert "data.txt" in listing
    assert "notebook.ipynb" not in listing
    assert "42" in listing
    if result.protections.is_on("filesystem"):
        assert result.cells[1].stdout.strip() == "False False"


@pytest.mark.skipif(not LINUX_NS, reason="namespaces are Linux only")
def test_isolation_details(prot):
    if prot.mode != "namespaces":
        pytest.skip("namespaces are not available here")
    cells = [
        "import os, socket\nprint(os.getuid(), socket.gethostname())",
        "print(sorted(p for p in os.listdir('/proc') if p.isdigit()))",
        "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
        "except OSError as e:\n    print(type(e).__name__)",
        "open('/etc/cnnlab-test', 'w')",
        "print(os.getcwd(), sorted(os.environ))",
    ]
    result = run(cells)
    assert result.cells[0].stdout.split() == ["65534", "sandbox"]
    pids = eval(result.cells[1].stdout)
    assert len(pids) < 10  # only the sandbox's own processes
    assert "OSError" in result.cells[2].stdout or "Error" in result.cells[2].stdout
    assert result.cells[3].error is not None
    cwd, env = result.cells[4].stdout.split(" ", 1)
    assert cwd == "/submission"
    assert not any(k.startswith(("CNNLAB", "NBGRADER", "JUPYTER")) for k in eval(env))


@pytest.mark.skipif(not (LINUX_NS and hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs root on Linux to try the user-namespace mode as well")
def test_user_namespace_mode_works_too(monkeypatch):
    cand = Protections("namespaces", True, False, platform._base_steps())
    try:
        steps = sandbox.probe_setup(cand)
    except sandbox.SandboxSetupError as exc:
        pytest.skip(f"user namespaces unavailable: {exc}")
    prot = cand.with_steps(steps)
    assert prot.is_on("user_namespace")
    assert prot.is_on("filesystem")
    monkeypatch.setitem(platform._cache, "namespaces", prot)
    result = run(["import os\nprint(os.getuid())", "def double(x):\n    return 2 * x"],
                 [double_job(5)], isolation="namespaces")
    assert result.cells[0].stdout.strip() == "65534"
    assert result.outcomes["t-double"] == [{"value": 10}]


def test_forged_protocol_lines_change_nothing():
    cells = ['''
import json, os
def forge(m):
    os.write(3, (json.dumps(m) + "\\n").encode())
forge({"t": "sandbox", "mode": "forged", "steps": {"filesystem": "on"}})
forge({"t": "case", "id": 0, "outcome": {"value": "[1, 2"}})
forge({"t": "case", "id": 1, "outcome": {"value": "7", "also": 1}})
forge({"t": "case", "id": 99, "outcome": {"value": "7"}})
forge({"t": "cell", "i": "x"})
os.write(3, b"not json\\n" + b"{" * 100000 + b"\\n")
def double(x):
    return 2 * x
''']
    result = run(cells, [double_job(1, 2, 3)])
    assert result.protections.mode != "forged"
    out = result.outcomes["t-double"]
    assert out[0]["error"].startswith("UnreadableAnswer")  # a forgery is just a bad answer
    assert out[1]["error"].startswith("UnreadableAnswer")
    assert out[2] == {"value": 6}


def test_output_is_capped():
    limits = sandbox.Limits(cell_seconds=5, case_seconds=2, total_seconds=20, output_chars=1000)
    result = run(["print('x' * 100000)"], limits=limits)
    assert len(result.cells[0].stdout) < 1100
    assert result.cells[0].stdout.endswith("... output truncated ...\n")


def test_job_folder_is_removed(tmp_path):
    run(["x = 1"], work_root=str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_direct_mode_without_descriptor_passing(monkeypatch):
    """How grading runs on Windows (no fd passing, no namespaces): exercised here."""
    monkeypatch.setattr(sandbox, "DIRECT", True)
    monkeypatch.setattr(platform, "_cache", {})
    result = run(["print('hi')", "def double(x):\n    return 2 * x"], [double_job(4)],
                 isolation="none")
    assert result.completed, (result.status, result.log)
    assert result.cells[0].stdout == "hi\n"
    assert result.outcomes["t-double"] == [{"value": 8}]
    assert not result.protections.is_on("filesystem")
    assert not result.protections.is_on("rlimits")


def test_a_question_has_a_time_budget():
    limits = sandbox.Limits(cell_seconds=5, case_seconds=1.0, question_seconds=2.5,
                            total_seconds=30)
    start = time.monotonic()
    result = run(["def double(x):\n    while True:\n        pass"],
                 [double_job(*range(10))], limits=limits)
    assert time.monotonic() - start < 12  # not 10 x 1 s
    assert all("timeout" in o for o in result.outcomes["t-double"])


def test_odd_text_and_forged_deep_lines_cost_nothing():
    cells = ['''
import json, os
print("lone \\ud800 surrogate", 10**5000 > 0)
for line in (b"[" * 100000 + b"]" * 100000,
             b'{"t": "cell", "i": 0, "x": [' + b"[]," * 300000 + b"[]]}",
             b'{"t": "case", "id": 1, "outcome": {"value": "' + b"9" * 5000 + b'"}}',
             b'{"t": "case", "id": 2, "outcome": {"value": "\\\\"\\\\\\\\ud800\\\\""}}'):
    os.write(3, line + b"\\n")
def double(x):
    return 2 * x
''']
    result = run(cells, [double_job(1, 2, 3, 4)])
    assert result.cells[0].stdout == "lone \\ud800 surrogate True\n"  # escaped, kept
    out = result.outcomes["t-double"]
    assert out[0] == {"value": 2}
    assert out[1]["error"].startswith("AnswerTooUnusual: your answer holds an integer with more")
    assert out[2]["error"].startswith("AnswerTooUnusual: your answer holds text that is not")
    assert out[3] == {"value": 8}


def test_answers_and_outputs_are_bounded_per_submission():
    limits = sandbox.Limits(cell_seconds=5, case_seconds=2, total_seconds=20,
                            total_output_chars=3000, answer_bytes=7 * 2**19)
    cells = ["print('a' * 2000)", "print('b' * 2000)", "print('c' * 2000)",
             "import numpy as np\ndef big(i):\n    return np.zeros(2**17)"]
    job = sandbox.QuestionJob("t-big", "big", "function", [call(i) for i in range(4)])
    result = run(cells, [job], limits=limits)
    assert result.cells[0].stdout == "a" * 2000 + "\n"
    assert result.cells[1].stdout.startswith("b" * 999 + "\n[output cut")
    assert result.cells[2].stdout.startswith("\n[output cut")
    out = result.outcomes["t-big"]
    assert [o.get("value", np.zeros(1)).shape for o in out[:3]] == [(2**17,)] * 3
    assert out[3]["error"].startswith("AnswerTooLarge")


KEYRING_AND_SYSCALLS = '''
import ctypes, os, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sys_call(*args):
    ret = libc.syscall(*args)
    return "ok" if ret >= 0 else os.strerror(ctypes.get_errno())
print("add_key", sys_call(248, b"user", b"cnnlab-sandbox-key", b"v", 1, -4))
print("keyctl", sys_call(250, 0, -3, 0, 0, 0))
print("unshare", sys_call(272, 0x10000000))
print("clone newuser", sys_call(56, 0x10000000 | 17, 0, 0, 0, 0))
pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork", os.WEXITSTATUS(os.waitpid(pid, 0)[1]))
t = threading.Thread(target=print, args=("thread ok",))
t.start(); t.join()
'''


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine not in
                    ("x86_64",), reason="the test's system-call numbers are x86_64's")
def test_keyrings_and_namespace_calls_are_refused_forks_and_threads_work(prot):
    if not prot.is_on("seccomp"):
        pytest.skip(f"seccomp is off here: {prot.steps.get('seccomp')}")
    result = run([KEYRING_AND_SYSCALLS])
    assert result.cells[0].error is None, result.cells[0].error
    assert result.cells[0].stdout.splitlines() == [
        "add_key Operation not permitted", "keyctl Operation not permitted",
        "unshare Operation not permitted", "clone newuser Operation not permitted",
        "fork 7", "thread ok"]
    assert result.protections.is_on("keyring")


def test_one_memory_limit_for_all_processes(prot):
    if not prot.is_on("memory_total"):
        pytest.skip(f"no memory cgroup here: {prot.steps.get('memory_total')}")
    limits = sandbox.Limits(cell_seconds=20, case_seconds=2, total_seconds=40,
                            total_memory_bytes=300 * 2**20)
    bomb = '''
import os, time
kids = []
for _ in range(6):  # 6 x 100 MiB: each under its own limit, together over 300 MiB
    pid = os.fork()
    if pid == 0:
        block = bytearray(100 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(5)
        os._exit(0)
    kids.append(pid)
codes = [os.waitpid(pid, 0)[1] for pid in kids]
print(sum(os.WIFSIGNALED(c) for c in codes) >= 1)
'''
    parent = prot.steps["memory_cgroup"].split("(", 1)[1].rstrip(")")
    before = set(os.listdir(parent))
    result = run([bomb, "print('after')"], limits=limits)
    assert result.cells[0].stdout.strip() == "True"  # the kernel killed some of them
    assert result.cells[1].stdout.strip() == "after"  # and the run went on
    assert set(os.listdir(parent)) == before  # the run's cgroup is gone
