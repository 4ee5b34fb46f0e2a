"""Run one submission's code in a sandbox and bring back its answers as plain data.

The grading process calls :func:`run_submission` with the student's code cells and
the questions to ask (target name + encoded arguments per case). It writes a job
directory (runner, plain-data module, job description, the submission's own files),
starts ``nsinit.py`` (namespaces, private root, limits, unprivileged user, then
``runner.py``) and reads JSON lines from the protocol pipe until the run ends or its
hard wall-clock limit is reached; then it kills the whole process group (and, with
namespaces, the PID namespace dies with its init).

Everything read from the pipe is untrusted: each line is size-capped, parsed as
JSON, type-checked, and values are decoded with the plain-data module's ``decode``
(JSON + raw array bytes; never pickle). Anything malformed counts as no answer.
The first ``sandbox`` line (written by init before any student code runs) says which
protections were on; later forgeries are ignored.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import selectors
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import cgroups, intake
from .platform import Protections, detect

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")
NSINIT = os.path.join(HERE, "nsinit.py")
NOBODY = 65534

#: Packages a graded answer may not call. cnnlab holds the reference answers;
#: PyTorch would answer the layer questions for the student.
DEFAULT_BLOCKED = ("cnnlab", "autograder", "torch", "torchvision", "functorch")

#: Host paths bound read-only into the sandbox's root (when they exist).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")

#: Windows has no descriptor passing and no fork: the runner is started directly and
#: writes its protocol to a file in the job folder (tests set this on Linux too).
DIRECT = os.name == "nt"
TIME_LIMIT = "was stopped at its time limit"

SANDBOX_WORK = "/submission"
SANDBOX_GRADER = "/sandbox/grader"


class SandboxSetupError(RuntimeError):
    """The sandbox could not be set up (an environment problem, not the student's)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one grading run. Times in seconds, sizes in bytes."""

    cell_seconds: float = 60.0      # soft limit per student code cell
    case_seconds: float = 10.0      # per probe call (function question, one case)
    question_seconds: float = 30.0  # all the calls of one question together
    total_seconds: float = 600.0    # hard wall-clock limit for the whole run
    memory_bytes: int = 3 * 2**30   # address space per process
    total_memory_bytes: int = 4 * 2**30  # all its processes and tmpfs files together
    cpu_seconds: int = 900          # CPU time per process
    processes: int = 48             # processes the submission may have at once
    file_bytes: int = 64 * 2**20    # largest file it may write
    work_bytes: int = 256 * 2**20   # its working directory (tmpfs, namespaces only)
    tmp_bytes: int = 256 * 2**20    # its /tmp (tmpfs, namespaces only)
    shm_bytes: int = 64 * 2**20
    open_files: int = 1024
    output_chars: int = 20_000      # kept per stream per cell, for the feedback
    protocol_bytes: int = 256 * 2**20
    log_bytes: int = 64 * 1024
    total_output_chars: int = 400_000  # kept for all cells together
    answer_bytes: int = 256 * 2**20    # decoded answers held for one submission


@dataclass(frozen=True)
class QuestionJob:
    """One question to ask: ``calls`` holds one wire-encoded ``{"args", "kwargs"}`` per case."""

    key: str
    target: str
    kind: str  # "function" or "value"
    calls: Sequence[str]


@dataclass
class CellRecord:
    index: int
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: dict | None = None
    seconds: float = 0.0
    timeout: bool = False


@dataclass
class RunResult:
    cells: dict[int, CellRecord]
    found: dict[str, bool]
    outcomes: dict[str, list[dict]]
    protections: Protections
    status: str  # "completed", "was stopped at its time limit", "ended early (...)", ...
    seconds: float
    startup_seconds: float | None = None
    log: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.status == "completed"


# ----------------------------------------------------------------------------- helpers


def load_plain(path: str):
    """Load the plain-data module by file path (the same file the sandbox gets)."""
    spec = importlib.util.spec_from_file_location("_cnnlab_plain_host", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the plain-data module from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_executable() -> str:
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe)


def site_dirs() -> list[str]:
    dirs = []
    candidates = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    paths = sysconfig.get_paths()
    candidates += [paths.get("purelib", ""), paths.get("platlib", "")]
    for path in candidates:
        if path and os.path.isdir(path):
            real = os.path.realpath(path)
            if real not in dirs:
                dirs.append(real)
    return dirs


def _inside(path: str, parent: str) -> bool:
    path, parent = os.path.realpath(path), os.path.realpath(parent)
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)


def sensitive_paths(extra: Iterable[str] = ()) -> list[str]:
    """Paths that must not be visible in the sandbox even if under a bound directory."""
    out = [os.path.dirname(HERE)]  # autograder/
    out.append(os.path.dirname(os.path.dirname(HERE)))  # the repository
    spec = importlib.util.find_spec("cnnlab")
    if spec is not None and spec.submodule_search_locations:
        out += list(spec.submodule_search_locations)
    out += [p for p in extra if p]
    return [os.path.realpath(p) for p in out]


def _ro_binds() -> list[str]:
    binds = [d for d in SYSTEM_DIRS if os.path.lexists(d)]
    prefix = os.path.realpath(sys.base_prefix)
    exe_dir = os.path.dirname(python_executable())
    for path in [prefix, exe_dir, *site_dirs()]:
        if not any(_inside(path, b) for b in binds if not os.path.islink(b)):
            binds.append(path)
    return binds


def _masks(binds: Sequence[str], blocked: Sequence[str], sensitive: Sequence[str]) -> list[str]:
    masks = []
    for sdir in site_dirs():
        for name in blocked:
            for candidate in (os.path.join(sdir, name), os.path.join(sdir, name + ".py")):
                if os.path.lexists(candidate):
                    masks.append(candidate)
    for path in sensitive:
        if any(_inside(path, b) and path != os.path.realpath(b) for b in binds):
            masks.append(path)
    return sorted(set(masks))


def _count_processes(uid: int) -> int | None:
    """Processes whose real uid is ``uid`` (Linux), for a RLIMIT_NPROC that fits."""
    if not os.path.isdir("/proc"):
        return None
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        count += int(line.split()[1]) == uid
                        break
        except OSError:
            continue
    return count


def _nproc_limit(prot: Protections, extra: int) -> int:
    if prot.mode == "namespaces" and prot.userns:
        release = tuple(int(x) for x in os.uname().release.split(".")[:2] if x.isdigit())
        if release >= (5, 14):  # RLIMIT_NPROC counts per user namespace
            return extra + 4
        uid = os.getuid()
    elif prot.drop_uid:
        uid = NOBODY
    elif hasattr(os, "getuid"):
        uid = os.getuid()
    else:
        return -1
    current = _count_processes(uid)
    return -1 if current is None else current + extra + 4


def _sandbox_env(work: str, tmp: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": work,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(tmp, "matplotlib"),
        "IPYTHONDIR": os.path.join(tmp, "ipython"),
        "NUMBA_CACHE_DIR": os.path.join(tmp, "numba_cache"),
        "NUMBA_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _rmtree(path: str) -> None:
    def onerror(func, p, exc_info):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=onerror)
    else:
        shutil.rmtree(path, onerror=onerror)


# ------------------------------------------------------------------------------ launch


def _make_job_dir(work_root: str | None) -> str:
    job = tempfile.mkdtemp(prefix="cnnlab-sandbox-", dir=work_root)
    os.chmod(job, 0o711)
    return job


def _nsinit_config(prot: Protections, job: str, limits: Limits, *, blocked: Sequence[str],
                   sensitive: Sequence[str], fd: int, probe: bool = False) -> dict:
    grader = os.path.join(job, "grader")
    host_work = os.path.join(job, "work")
    host_tmp = os.path.join(job, "tmp")
    ns = prot.mode == "namespaces"
    binds = _ro_binds() if ns else []
    return {
        "mode": prot.mode,
        "userns": prot.userns,
        "drop_uid": prot.drop_uid,
        "probe": probe,
        "protocol_fd": fd,
        "python": python_executable(),
        "must_read": [os.path.dirname(os.__file__), *site_dirs()],
        "staging": os.path.join(job, "root"),
        "ro_binds": binds,
        "masks": _masks(binds, blocked, sensitive) if ns else [],
        "host_grader": grader,
        "host_files": os.path.join(job, "files"),
        "host_work": host_work,
        "sandbox_grader": SANDBOX_GRADER,
        "sandbox_work": SANDBOX_WORK,
        "env": _sandbox_env(SANDBOX_WORK, "/tmp") if ns else _sandbox_env(host_work, host_tmp),
        "host_env": {},
        "limits": {
            "memory_bytes": int(limits.memory_bytes),
            "cpu_seconds": int(limits.cpu_seconds),
            "file_bytes": int(limits.file_bytes),
            "open_files": int(limits.open_files),
            "processes": _nproc_limit(prot, limits.processes),
            "work_bytes": int(limits.work_bytes),
            "tmp_bytes": int(limits.tmp_bytes),
            "shm_bytes": int(limits.shm_bytes),
        },
    }


def _prepare_dirs(prot: Protections, job: str) -> None:
    for name in ("grader", "files", "work", "tmp", "root"):
        os.makedirs(os.path.join(job, name), exist_ok=True)
    os.chmod(os.path.join(job, "grader"), 0o755)
    if prot.mode == "none" and prot.drop_uid:
        for name in ("work", "tmp"):
            for dirpath, _dirnames, filenames in os.walk(os.path.join(job, name)):
                os.chown(dirpath, NOBODY, NOBODY)
                for f in filenames:
                    os.chown(os.path.join(dirpath, f), NOBODY, NOBODY)


class _Reader:
    """Collects the protocol pipe and the sandbox's stdout/stderr until it ends."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.protocol = bytearray()
        self.log = bytearray()
        self.overflow = False
        self.cgroup: str | None = None  # which memory cgroup the run was in, or why none

    def run(self, proc: subprocess.Popen, protocol_fd: int, deadline: float) -> str:
        sel = selectors.DefaultSelector()
        sel.register(protocol_fd, selectors.EVENT_READ, "protocol")
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                sel.register(stream.fileno(), selectors.EVENT_READ, "log")
        open_fds = len(sel.get_map())
        exited_at = None
        status = "completed"
        try:
            while open_fds:
                now = time.monotonic()
                if now >= deadline:
                    status = TIME_LIMIT
                    break
                if exited_at is None and _exited(proc):
                    exited_at = now
                if exited_at is not None and now - exited_at > 1.0:
                    break  # left-over processes (no PID namespace) hold the pipes open
                timeout = min(deadline - now, 0.2)
                for key, _ in sel.select(timeout):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        sel.unregister(key.fd)
                        open_fds -= 1
                        continue
                    if key.data == "protocol":
                        if len(self.protocol) + len(data) > self.limits.protocol_bytes:
                            self.overflow = True
                            status = "was stopped: it sent too much data"
                            open_fds = 0
                            break
                        self.protocol += data
                    elif len(self.log) < self.limits.log_bytes:
                        self.log += data[: self.limits.log_bytes - len(self.log)]
        finally:
            sel.close()
        return status


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the sandbox's first process ended, without reaping it (its pid, and so
    its process group id, stay reserved until :func:`_kill_group`)."""
    if proc.returncode is not None:
        return True
    if hasattr(os, "waitid"):
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None
    return proc.poll() is not None


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill everything left in the sandbox's process group, then reap its leader."""
    if proc.returncode is None:
        try:
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except OSError:
            pass
    with contextlib.suppress(subprocess.TimeoutExpired):  # a process in D state
        proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _launch(prot: Protections, job: str, limits: Limits, *, blocked: Sequence[str],
            sensitive: Sequence[str], probe: bool = False, deadline_seconds: float):
    read_fd, write_fd = os.pipe()
    group = None
    try:
        config = _nsinit_config(prot, job, limits, blocked=blocked, sensitive=sensitive,
                                fd=write_fd, probe=probe)
        if sys.platform.startswith("linux") and limits.total_memory_bytes > 0:
            group, kind = cgroups.create("cnnlab-" + os.path.basename(job),
                                         limits.total_memory_bytes)
            config["cgroup_procs"] = group.procs if group else None
            config["cgroup_reason"] = kind
        config_path = os.path.join(job, "nsinit.json")
        with open(config_path, "w") as fh:
            json.dump(config, fh)
        argv = [python_executable(), "-I", "-S", NSINIT, config_path]
        start = time.monotonic()
        proc = subprocess.Popen(argv, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=job, env={"LANG": "C.UTF-8"})
        os.close(write_fd)
        write_fd = -1
        reader = _Reader(limits)
        reader.cgroup = config.get("cgroup_reason")
        try:
            status = reader.run(proc, read_fd, start + deadline_seconds)
        finally:
            _kill_group(proc)
        if status == "completed" and proc.returncode not in (0, None):
            status = f"ended early (exit code {proc.returncode})"
        if group is not None and status.startswith("ended early") and group.oom_kills():
            status = ("was stopped: its processes together used more memory than a "
                      "submission may")
        return reader, status, time.monotonic() - start, proc.returncode
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
        if group is not None:
            group.remove()



def _direct_steps() -> dict[str, str]:
    off = "off: not available on this platform"
    return {"user_namespace": off, "network": off, "pid_namespace": off, "filesystem": off,
            "proc": off, "rlimits": "off: not applied when the runner is started directly",
            "unprivileged": "off: runs as the grading user"}


def _launch_direct(job: str, limits: Limits, *, deadline_seconds: float):
    """Start the runner itself (Windows); read its protocol file when it ends."""
    grader = os.path.join(job, "grader")
    work, tmp = os.path.join(job, "work"), os.path.join(job, "tmp")
    env = _sandbox_env(work, tmp)
    for name in ("SYSTEMROOT", "WINDIR"):  # Windows processes need these
        if name in os.environ:
            env[name] = os.environ[name]
    argv = [python_executable(), "-I", "-S", os.path.join(grader, "runner.py"),
            os.path.join(grader, "job.json")]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=work, env=env,
                            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
    status = "completed"
    try:
        out, err = proc.communicate(timeout=deadline_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        status = TIME_LIMIT
    if status == "completed" and proc.returncode != 0:
        status = f"ended early (exit code {proc.returncode})"
    reader = _Reader(limits)
    reader.log = bytearray((out + err)[: limits.log_bytes])
    line = json.dumps({"t": "sandbox", "mode": "none", "steps": _direct_steps()}) + "\n"
    reader.protocol = bytearray(line.encode())
    path = os.path.join(job, "protocol.jsonl")
    if os.path.exists(path):
        with open(path, "rb") as fh:
            data = fh.read(limits.protocol_bytes + 1)
        if len(data) > limits.protocol_bytes:
            reader.overflow = True
            data = data[: limits.protocol_bytes]
        reader.protocol += data
    return reader, status, time.monotonic() - start, proc.returncode


#: A protocol message is a small JSON object (answers travel inside it as strings):
#: anything nested deeper or holding more values than this is a forgery.
MESSAGE_DEPTH = 6
MESSAGE_ITEMS = 400


def _messages(data: bytes, max_line: int, plain=None) -> list[dict]:
    """The protocol's JSON lines, each size- and shape-checked before it is parsed
    (``plain.check_json``), one line at a time (no second copy of the whole log)."""
    out = []
    view = memoryview(data)
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        raw = bytes(view[start:end])
        start = end + 1
        if not raw or len(raw) > max_line:
            continue
        try:
            if plain is not None and hasattr(plain, "check_json"):
                plain.check_json(raw, max_depth=MESSAGE_DEPTH, max_items=MESSAGE_ITEMS)
            message = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(message, dict) and isinstance(message.get("t"), str):
            out.append(message)
    return out


def _sandbox_steps(messages: list[dict], cgroup: str | None = None) -> dict[str, str]:
    """The protections init reported: only the first sandbox line counts."""
    for message in messages:
        if message["t"] == "sandbox-error":
            raise SandboxSetupError(f"{message.get('step')}: {message.get('error')}")
        if message["t"] == "sandbox":
            steps = message.get("steps")
            if isinstance(steps, dict):
                steps = {str(k): str(v) for k, v in steps.items()}
                if cgroup and steps.get("memory_total") == "on":
                    steps["memory_cgroup"] = cgroup  # which kind, for describe()
                return steps
            break
    raise SandboxSetupError("the sandbox did not report its protections")


def probe_setup(prot: Protections) -> dict[str, str]:
    """Set up a sandbox in mode ``prot`` without running any code; return its steps."""
    if DIRECT:
        return _direct_steps()
    job = _make_job_dir(None)
    try:
        _prepare_dirs(prot, job)
        reader, status, _, code = _launch(prot, job, Limits(), blocked=DEFAULT_BLOCKED,
                                          sensitive=sensitive_paths(), probe=True,
                                          deadline_seconds=30)
        messages = _messages(reader.protocol, 1 << 20)  # init's own lines, no student code
        try:
            return _sandbox_steps(messages, reader.cgroup)
        except SandboxSetupError as exc:
            log = reader.log.decode(errors="replace").strip()
            raise SandboxSetupError(f"{exc} (status {status}, code {code}) {log[-300:]}") from None
    finally:
        _rmtree(job)


# ------------------------------------------------------------------------------- run


def readable(text: str) -> str:
    """``text`` with lone surrogates shown as escapes (``\\ud800``): a notebook is
    UTF-8, and one such character in an output used to fail the whole submission."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _valid_str(value: Any, limit: int) -> str:
    return readable(value[:limit]) if isinstance(value, str) else ""


def _cell_record(message: dict, limits: Limits) -> CellRecord | None:
    index = message.get("i")
    if type(index) is not int:
        return None
    rec = CellRecord(index)
    cap = limits.output_chars + 100
    rec.stdout = _valid_str(message.get("stdout"), cap)
    rec.stderr = _valid_str(message.get("stderr"), cap)
    result = message.get("result")
    rec.result = readable(result[:cap]) if isinstance(result, str) else None
    err = message.get("error")
    if isinstance(err, dict):
        tb = err.get("traceback")
        rec.error = {
            "ename": _valid_str(err.get("ename"), 200) or "Error",
            "evalue": _valid_str(err.get("evalue"), 2000),
            "traceback": [readable(str(x)[:500]) for x in tb[:40]]
            if isinstance(tb, list) else [],
        }
    seconds = message.get("seconds")
    rec.seconds = float(seconds) if type(seconds) in (int, float) else 0.0
    rec.timeout = message.get("timeout") is True
    return rec


def _outcome(raw: Any, plain) -> dict:
    """Validate one outcome from the sandbox; decode a value with ``plain.decode``."""
    if not isinstance(raw, dict) or len(raw) != 1:
        return {"error": "UnreadableAnswer: the answer could not be read"}
    ((kind, payload),) = raw.items()
    if kind == "value" and isinstance(payload, str):
        try:
            return {"value": plain.decode(payload)}
        except getattr(plain, "InvalidAnswer", ()) as exc:  # within the wire format, over a limit
            return {"error": f"AnswerTooUnusual: {readable(str(exc))[:500]}"}
        except Exception:  # anything malformed is no answer
            return {"error": "UnreadableAnswer: the answer could not be read"}
    if kind == "error" and isinstance(payload, str):
        return {"error": readable(payload[:500])}
    if kind == "timeout" and type(payload) in (int, float) and math.isfinite(payload):
        return {"timeout": float(payload)}
    if kind == "unsupported" and isinstance(payload, str):
        return {"unsupported": readable(payload[:200])}
    return {"error": "UnreadableAnswer: the answer could not be read"}


def run_submission(cells: Sequence[tuple[int, str]], questions: Sequence[QuestionJob], *,
                   plain_path: str, files_dir: str | None = None, limits: Limits | None = None,
                   isolation: str = "auto", blocked_modules: Sequence[str] = DEFAULT_BLOCKED,
                   sensitive: Iterable[str] = (), work_root: str | None = None,
                   plain=None) -> RunResult:
    """Run ``cells`` (index, source) in a sandbox, then ask each question.

    Returns every cell's captured output and, per question key, one outcome per case
    (``{"value": ...}`` decoded, ``{"error": ...}``, ``{"timeout": s}`` or
    ``{"unsupported": type}``). Never raises because of what the student's code did.
    """
    limits = limits or Limits()
    prot = detect(isolation)
    plain = plain or load_plain(plain_path)
    job = _make_job_dir(work_root)
    try:
        _prepare_dirs(prot, job)
        grader = os.path.join(job, "grader")
        shutil.copyfile(RUNNER, os.path.join(grader, "runner.py"))
        shutil.copyfile(plain_path, os.path.join(grader, "plain.py"))
        ns = prot.mode == "namespaces"
        left_out = intake.copy_as_data(files_dir, os.path.join(job, "files" if ns else "work"))
        ids: dict[int, tuple[str, int]] = {}
        qjobs = []
        for q in questions:
            cases = []
            for i, call in enumerate(q.calls):
                ids[len(ids)] = (q.key, i)
                cases.append({"id": len(ids) - 1, "call": call})
            qjobs.append({"key": q.key, "target": q.target, "kind": q.kind, "cases": cases})
        job_data = {
            "protocol_path": os.path.join(job, "protocol.jsonl") if DIRECT else None,
            "cells": [{"index": i, "source": src} for i, src in cells],
            "questions": qjobs,
            "extra_sys_path": site_dirs(),
            "blocked_modules": list(blocked_modules),
            "plain_path": os.path.join(SANDBOX_GRADER if ns else grader, "plain.py"),
            "limits": {"cell_seconds": limits.cell_seconds, "case_seconds": limits.case_seconds,
                       "question_seconds": limits.question_seconds,
                       "output_chars": limits.output_chars},
        }
        with open(os.path.join(grader, "job.json"), "w") as fh:
            json.dump(job_data, fh)
        for name in ("runner.py", "plain.py", "job.json"):
            os.chmod(os.path.join(grader, name), 0o644)
        if prot.mode == "none" and prot.drop_uid:
            _prepare_dirs(prot, job)  # chown the copied files to nobody
        if DIRECT:
            reader, status, seconds, _code = _launch_direct(
                job, limits, deadline_seconds=limits.total_seconds)
        else:
            reader, status, seconds, _code = _launch(
                prot, job, limits, blocked=blocked_modules,
                sensitive=sensitive_paths(sensitive), deadline_seconds=limits.total_seconds)
    finally:
        _rmtree(job)
    result = _assemble(reader, status, seconds, prot, questions, ids, limits, plain)
    result.notes += [f"not copied into the sandbox: {p}" for p in left_out]
    return result


def _cut_output(rec: CellRecord, budget: int) -> int:
    """Cut a cell's outputs to what is left of the run's output budget; return the
    characters kept."""
    kept = 0
    for name in ("stdout", "stderr"):
        text = getattr(rec, name)
        room = max(budget - kept, 0)
        if len(text) > room:
            text = text[:room] + ("\n[output cut: this notebook printed more than the "
                                  "grader keeps]\n")
            setattr(rec, name, text)
        kept += len(text)
    return kept


def _assemble(reader: _Reader, status: str, seconds: float, prot: Protections,
              questions: Sequence[QuestionJob], ids: Mapping[int, tuple[str, int]],
              limits: Limits, plain) -> RunResult:
    messages = _messages(reader.protocol, limits.protocol_bytes, plain)
    reader.protocol = bytearray()  # parsed: the raw log is no longer needed
    steps = _sandbox_steps(messages, reader.cgroup)
    result = RunResult(cells={}, found={}, outcomes={}, protections=prot.with_steps(steps),
                       status=status, seconds=seconds,
                       log=reader.log.decode("utf-8", errors="replace"))
    answered: dict[tuple[str, int], dict] = {}
    answer_bytes = output_chars = 0
    done = False
    for message in messages:
        kind = message["t"]
        if kind == "start" and result.startup_seconds is None:
            value = message.get("seconds")
            result.startup_seconds = float(value) if type(value) in (int, float) else None
        elif kind == "cell":
            rec = _cell_record(message, limits)
            if rec is not None and rec.index not in result.cells:
                output_chars += _cut_output(rec, limits.total_output_chars - output_chars)
                result.cells[rec.index] = rec
        elif kind == "target":
            key = message.get("key")
            if isinstance(key, str) and key not in result.found:
                result.found[key] = message.get("found") is True
        elif kind == "case":
            case_id = message.get("id")
            if type(case_id) is int and case_id in ids and ids[case_id] not in answered:
                outcome = _outcome(message.get("outcome"), plain)
                if "value" in outcome and hasattr(plain, "footprint"):
                    answer_bytes += plain.footprint(outcome["value"])
                    if answer_bytes > limits.answer_bytes:
                        mib = limits.answer_bytes // 2**20
                        outcome = {"error": "AnswerTooLarge: your answers together are larger "
                                            f"than the grader accepts ({mib} MiB); this one "
                                            "was not checked"}
                message.clear()  # let the encoded answer go
                answered[ids[case_id]] = outcome
        elif kind == "done":
            done = True
    if status == "completed" and not done:
        status = result.status = "ended early (the runner stopped before finishing)"
    for q in questions:
        outs = []
        for i in range(len(q.calls)):
            if (q.key, i) in answered:
                outs.append(answered[(q.key, i)])
            elif status == TIME_LIMIT:
                outs.append({"timeout": float(limits.total_seconds)})
            elif result.found.get(q.key) is False:
                outs.append({"error": f"NameError: name {q.target!r} is not defined"})
            else:
                outs.append({"error": f"RunEnded: your notebook's grading run {status} "
                                      "before this check"})
        result.outcomes[q.key] = outs
        result.found.setdefault(q.key, False)
    if reader.overflow:
        result.notes.append("the submission sent more than the protocol allows; cut off")
    return result
