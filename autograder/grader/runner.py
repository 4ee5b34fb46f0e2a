"""Run one student's notebook code inside the sandbox and answer the grader's probes.

Started by ``nsinit.py`` as ``python -I -S runner.py job.json`` (isolated mode, no
site module, so no ``.pth`` file runs and the editable cnnlab is not importable).
Standard library + NumPy (+ IPython for ``%magics`` when installed) only; it never
imports cnnlab or ``autograder``. The plain-data module (``cnnlab/grading/plain.py``)
is loaded from the copy in this directory, by file path.

What it does, in order:

1. Executes the student's code cells one by one (never a test cell: the grading
   process does not send them), each with a soft time limit, capturing stdout,
   stderr, the last expression's value and any error for the feedback.
2. For each question, looks up the target name in the notebook namespace and, in a
   forked child (one per question, restarted after a crash or a timeout), calls it on
   each case's arguments, converts the result with ``to_plain`` and sends it back.

Everything goes to the grading process as JSON lines on the protocol descriptor
(fd 3), never on stdout. Nothing here decides a grade: student code may patch any
of it, and the grading process treats whatever arrives as untrusted data.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import select
import signal
import sys
import time
import traceback

PROTOCOL_FD = 3
MAX_LINE = 64 * 1024 * 1024  # one case's answer, encoded
ERROR_CHARS = 500


class CellTimeout(BaseException):
    """Raised in the student's cell when its soft time limit is over."""


class Channel:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, message: dict) -> None:
        data = (json.dumps(message, separators=(",", ":"), allow_nan=True) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]


class Capture(io.TextIOBase):
    """A text stream that keeps at most ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        if len(text) > room:
            self.truncated = True
        return len(text)

    def value(self) -> str:
        text = "".join(self.parts)
        return text + ("\n... output truncated ...\n" if self.truncated else "")


class _Blocked:
    """Import hook: refuse packages a graded answer must not call (cnnlab, ...).

    Where the sandbox has its own filesystem these packages are not even on disk; this
    hook only makes the message clear (and is all there is on other platforms).
    """

    def __init__(self, names) -> None:
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in self.names:
            raise ModuleNotFoundError(
                f"No module named {name!r}: {top} is not available while grading; "
                "a graded answer must compute its result itself", name=name)
        return


def load_plain(path: str):
    spec = importlib.util.spec_from_file_location("_cnnlab_plain", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def short(text: str, limit: int = ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error(exc: BaseException, labels=None, current=None) -> dict:
    """ename, evalue and a short traceback of the student's frames only.

    ``labels`` maps IPython execution counts to notebook cell indices, so a frame reads
    "this cell" or "notebook cell #N" instead of IPython's "In [k]".
    """
    labels = labels or {}
    ename = type(exc).__name__
    try:
        evalue = short(str(exc))
    except BaseException:
        evalue = "(the error message could not be printed)"
    lines = []
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if "IPython" not in f.filename and not f.filename.endswith("runner.py")]
        for frame in frames[-8:]:
            where = frame.filename
            if where.startswith("<ipython-input-"):
                count = where.split("-")[2]
                index = labels.get(int(count)) if count.isdigit() else None
                where = ("this cell" if index is not None and index == current
                         else f"notebook cell #{index + 1}" if index is not None
                         else f"In [{count}]")
            lines.append(f'  File "{where}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append("    " + frame.line.strip())
    except BaseException:
        pass
    lines.append(f"{ename}: {evalue}")
    return {"ename": ename, "evalue": evalue, "traceback": lines}


class SoftTimer:
    """SIGALRM-based time limit for one cell; re-fires every second until it ends."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = False
        self.fired = False

    def _handler(self, signum, frame):
        if self.active:
            self.fired = True
            raise CellTimeout(f"the cell ran longer than {self.seconds:g} s")

    def __enter__(self):
        if hasattr(signal, "setitimer"):
            signal.signal(signal.SIGALRM, self._handler)
            self.active = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 1.0)
        return self

    def __exit__(self, *exc):
        self.active = False
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        return False


def make_shell():
    """An IPython shell for %magics, or None (plain ``exec``) when IPython is missing."""
    try:
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
    except ImportError:
        return None
    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    shell.showtraceback = lambda *a, **k: None
    shell.showsyntaxerror = lambda *a, **k: None
    return shell


class Cells:
    def __init__(self, shell, limit: int) -> None:
        self.shell = shell
        self.limit = limit
        self.namespace = shell.user_ns if shell is not None else {"__name__": "__main__"}
        self.last_result = None
        self.labels: dict[int, int] = {}
        if shell is not None:
            hook = shell.displayhook
            hook.write_output_prompt = lambda: None
            hook.write_format_data = self._keep_result

    def _keep_result(self, format_dict, md_dict=None):
        self.last_result = format_dict.get("text/plain")

    def run(self, index: int, source: str, seconds: float) -> dict:
        out, err = Capture(self.limit), Capture(self.limit)
        saved = sys.stdout, sys.stderr
        message = {"t": "cell", "i": index, "error": None, "result": None, "timeout": False}
        self.last_result = None
        start = time.monotonic()
        if self.shell is not None:
            self.labels[self.shell.execution_count] = index
        timer = SoftTimer(seconds)
        error = None
        try:
            sys.stdout, sys.stderr = out, err
            with timer:
                try:
                    error = self._execute(source)
                except CellTimeout as exc:
                    error = exc
                if error is not None:
                    message["error"] = describe_error(error, self.labels, index)
                if self.last_result is not None:
                    message["result"] = short(str(self.last_result), self.limit)
        except CellTimeout as exc:
            message["error"] = describe_error(exc, self.labels, index)
        finally:
            sys.stdout, sys.stderr = saved
        message["timeout"] = timer.fired or isinstance(error, CellTimeout)
        message["seconds"] = round(time.monotonic() - start, 3)
        message["stdout"] = out.value()
        message["stderr"] = err.value()
        return message

    def _execute(self, source: str):
        if self.shell is not None:
            result = self.shell.run_cell(source, store_history=True)
            return result.error_before_exec or result.error_in_exec
        try:
            exec(compile(source, "<cell>", "exec"), self.namespace)
        except BaseException as exc:
            return exc
        return None


# ----------------------------------------------------------------------------- probes


def convert(plain, value) -> dict:
    try:
        data = plain.to_plain(value)
    except Exception as exc:
        name = getattr(exc, "type_name", None) or type(value).__name__
        return {"unsupported": short(str(name), 200)}
    return {"value": plain.encode(data)}


def child_main(write_fd: int, target, kind: str, cases: list, plain, limits: dict,
               protocol_fd: int = PROTOCOL_FD) -> None:
    """In the forked child: answer each case, one JSON line per case. Never returns."""
    try:
        os.close(protocol_fd)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        for sig in (signal.SIGALRM, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        try:
            import resource
            cpu = int(limits["case_seconds"] * len(cases)) + 2
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        except (ImportError, OSError, ValueError):
            pass
        for case in cases:
            start = time.monotonic()
            try:
                if kind == "value":
                    value = target
                else:
                    call = plain.decode(case["call"])
                    value = target(*call["args"], **call["kwargs"])
                outcome = convert(plain, value)
            except BaseException as exc:
                outcome = {"error": short(f"{type(exc).__name__}: {_safe_str(exc)}")}
            line = json.dumps({"t": "case", "id": case["id"], "outcome": outcome,
                               "seconds": round(time.monotonic() - start, 4)},
                              separators=(",", ":"))
            data = (line + "\n").encode()
            while data:
                data = data[os.write(write_fd, data):]
    finally:
        os._exit(0)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "(the error message could not be printed)"


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


def _exit_description(pid: int) -> str:
    try:
        _, status = os.waitpid(pid, 0)
    except OSError:
        return "ProcessEnded: the process running your function disappeared"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        what = {signal.SIGKILL: "killed (memory or CPU limit?)",
                signal.SIGSEGV: "crashed (segmentation fault)"}.get(sig, f"killed by signal {sig}")
        if hasattr(signal, "SIGXCPU") and sig == signal.SIGXCPU:
            what = "stopped: CPU time limit"
        return f"ProcessEnded: the process running your function was {what}"
    return (f"ProcessEnded: the process running your function exited (code "
            f"{os.WEXITSTATUS(status)}) before answering")


def probe_forked(out: Channel, target, kind: str, cases: list, plain, limits: dict) -> None:
    """Ask every case in a forked child; restart after a crash or a timeout.

    Each call has ``case_seconds``; the whole question has ``question_seconds``. After
    a call times out, or once the budget is spent, the question's remaining cases count
    as timeouts without being run (DESIGN.md): a function that loops costs one limit,
    not one per case.
    """
    pending = list(cases)
    budget_end = time.monotonic() + limits.get("question_seconds", float("inf"))
    timed_out = False
    while pending:
        if timed_out or time.monotonic() >= budget_end:
            for case in pending:
                out.send({"t": "case", "id": case["id"],
                          "outcome": {"timeout": limits["case_seconds"]}})
            return
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            for case in pending:
                out.send({"t": "case", "id": case["id"],
                          "outcome": {"error": "SandboxError: could not start a process for "
                                               f"this check ({exc})"}})
            return
        if pid == 0:
            os.close(read_fd)
            child_main(write_fd, target, kind, pending, plain, limits, out.fd)
        os.close(write_fd)
        before = len(pending)
        pending, timed_out = _collect(out, read_fd, pid, pending, limits["case_seconds"],
                                      budget_end)
        timed_out = timed_out and len(pending) < before
        os.close(read_fd)


def _collect(out: Channel, read_fd: int, pid: int, pending: list, seconds: float,
             budget_end: float = float("inf")) -> tuple[list, bool]:
    """Forward the child's answers; return the cases still to ask a fresh child, and
    whether the child was stopped for taking too long."""
    buffer = b""
    deadline = min(time.monotonic() + seconds, budget_end)
    while pending:
        left = deadline - time.monotonic()
        ready = select.select([read_fd], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            _kill(pid)
            out.send({"t": "case", "id": pending[0]["id"], "outcome": {"timeout": seconds}})
            return pending[1:], True
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            out.send({"t": "case", "id": pending[0]["id"],
                      "outcome": {"error": _exit_description(pid)}})
            return pending[1:], False
        buffer += chunk
        if len(buffer) > MAX_LINE and b"\n" not in buffer:
            _kill(pid)
            out.send({"t": "case", "id": pending[0]["id"],
                      "outcome": {"error": "AnswerTooLarge: the answer is too large to "
                                           "send back"}})
            return pending[1:], False
        while b"\n" in buffer and pending:
            line, buffer = buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict) or message.get("id") != pending[0]["id"]:
                continue
            out.send({"t": "case", "id": pending[0]["id"], "outcome": message.get("outcome"),
                      "seconds": message.get("seconds")})
            pending = pending[1:]
            deadline = min(time.monotonic() + seconds, budget_end)
    _kill(pid)
    return pending, False


def probe_inline(out: Channel, target, kind: str, cases: list, plain) -> None:
    """No fork (Windows): ask in this process; the whole run's time limit still holds."""
    for case in cases:
        try:
            if kind == "value":
                value = target
            else:
                call = plain.decode(case["call"])
                value = target(*call["args"], **call["kwargs"])
            outcome = convert(plain, value)
        except BaseException as exc:
            outcome = {"error": short(f"{type(exc).__name__}: {_safe_str(exc)}")}
        out.send({"t": "case", "id": case["id"], "outcome": outcome})


def main(argv: list[str]) -> None:
    started = time.monotonic()
    with open(argv[1]) as fh:
        job = json.load(fh)
    if job.get("protocol_path"):  # no descriptor passing (Windows): a file instead
        out = Channel(os.open(job["protocol_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    else:
        out = Channel(PROTOCOL_FD)
    for path in job["extra_sys_path"]:
        if path not in sys.path:
            sys.path.append(path)
    sys.meta_path.insert(0, _Blocked(job["blocked_modules"]))
    plain = load_plain(job["plain_path"])
    import numpy  # noqa: F401 - loaded before any student file can shadow it

    shell = make_shell()
    cells = Cells(shell, job["limits"]["output_chars"])
    sys.path.append(os.getcwd())  # the submission's own modules, last
    out.send({"t": "start", "seconds": round(time.monotonic() - started, 3),
              "ipython": shell is not None})
    for cell in job["cells"]:
        out.send(cells.run(cell["index"], cell["source"], job["limits"]["cell_seconds"]))
    namespace = shell.user_ns if shell is not None else cells.namespace
    can_fork = hasattr(os, "fork")
    for question in job["questions"]:
        name = question["target"]
        try:
            found = isinstance(namespace, dict) and name in namespace
            target = namespace[name] if found else None
        except BaseException:
            found, target = False, None
        out.send({"t": "target", "key": question["key"], "found": bool(found),
                  "type": type(target).__name__ if found else None})
        if not found:
            continue
        if can_fork:
            probe_forked(out, target, question["kind"], question["cases"], plain, job["limits"])
        else:
            probe_inline(out, target, question["kind"], question["cases"], plain)
    out.send({"t": "done", "seconds": round(time.monotonic() - started, 3)})
    sys.stdout.flush()
    os._exit(0)  # skip whatever atexit handlers the student registered


if __name__ == "__main__":
    main(sys.argv)
