"""Which sandbox protections this machine can give, found by trying them.

:func:`detect` starts the sandbox's setup once (without the runner) in the strongest
mode the platform may allow and keeps the first that works:

* Linux as root: new mount/PID/network/IPC/UTS namespaces, a private root
  filesystem, and the runner drops to uid 65534.
* Linux as another user: the same inside a new user namespace (the grading user is
  mapped to uid 65534 there; the runner has no capabilities).
* Otherwise (macOS, Windows, Linux without namespaces): no isolation layer; resource
  limits where the ``resource`` module exists, one process per question where
  ``os.fork`` exists. Grading still works, and the log and the feedback footer say
  which protections were off.

``isolation`` may be ``"auto"`` (the above), ``"namespaces"`` (fail unless namespaces
work; CI uses this so a regression cannot silently turn protection off) or ``"none"``.
The environment variable ``CNNLAB_SANDBOX_ISOLATION`` overrides ``"auto"``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

ISOLATION_ENV = "CNNLAB_SANDBOX_ISOLATION"

#: What each protection means, in the words the log and the feedback footer use.
DESCRIPTIONS = {
    "filesystem": "private filesystem: the course directory, gradebook, hidden tests, "
                  "other submissions and the cnnlab source do not exist in the sandbox",
    "network": "no network (empty network namespace)",
    "pid_namespace": "every process the submission starts is ended after grading",
    "unprivileged": "runs as an unprivileged user with no capabilities",
    "user_namespace": "user namespace (needed when the grader is not root)",
    "proc": "private /proc (other processes invisible)",
    "rlimits": "limits on memory, CPU time, processes, file size and open files",
    "fork_probes": "each question is answered in its own process with a time limit",
    "memory_total": "one memory limit for all the submission's processes together (cgroup)",
    "keyring": "a fresh, empty session keyring",
    "seccomp": "system-call filter: keyrings, new namespaces, mounts, tracing, BPF, "
               "modules and io_uring refused",
}
ORDER = ("filesystem", "network", "pid_namespace", "unprivileged", "rlimits", "memory_total",
         "fork_probes", "seccomp", "keyring", "proc", "user_namespace")


class IsolationUnavailable(RuntimeError):
    """``isolation="namespaces"`` was asked for and the platform cannot give it."""


@dataclass(frozen=True)
class Protections:
    """The protections of one sandbox mode (from detection or from an actual run)."""

    mode: str                      # "namespaces" or "none"
    userns: bool = False           # namespaces entered through a user namespace
    drop_uid: bool = False         # root drops to uid 65534 before running student code
    steps: Mapping[str, str] = field(default_factory=dict)  # step -> "on" / "off: why"

    def is_on(self, step: str) -> bool:
        return self.steps.get(step, "off") == "on"

    def with_steps(self, steps: Mapping[str, str]) -> Protections:
        merged = dict(self.steps)
        merged.update(steps)
        merged["fork_probes"] = self.steps.get("fork_probes", "off")
        return Protections(self.mode, self.userns, self.drop_uid, merged)

    def off(self) -> list[str]:
        return [s for s in ORDER if s in self.steps and not self.is_on(s)
                and s != "user_namespace"]

    def lines(self) -> list[str]:
        out = []
        for step in ORDER:
            if step not in self.steps or (step == "user_namespace" and not self.userns):
                continue
            state = self.steps[step]
            mark = "on " if state == "on" else "OFF"
            why = "" if state == "on" else f" ({state[5:]})" if state.startswith("off: ") else ""
            out.append(f"[{mark}] {DESCRIPTIONS.get(step, step)}{why}")
        return out

    def summary(self) -> str:
        off = self.off()
        head = f"sandbox mode {self.mode!r}"
        return head + (": all protections on" if not off else ": OFF: " + ", ".join(off))

    def markdown(self) -> str:
        lines = ["---", "", "*Graded by cnnlab's sandboxed grader: your code ran in a sandbox "
                 "that could only answer the grader's questions; the checks ran outside it.*",
                 ""]
        lines += [f"- {line}" for line in self.lines()]
        return "\n".join(lines)


_cache: dict[str, Protections] = {}


def _base_steps() -> dict[str, str]:
    steps = {}
    steps["fork_probes"] = "on" if hasattr(os, "fork") else "off: no os.fork on this platform"
    return steps


def _candidates(isolation: str) -> list[Protections]:
    base = _base_steps()
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    # as root without namespaces, still run student code as nobody when nobody can
    # run this Python (not when it lives under /root, say)
    none = [Protections("none", False, True, base)] if root else []
    none.append(Protections("none", False, False, base))
    if isolation == "none" or not sys.platform.startswith("linux"):
        return none if isolation != "namespaces" else []
    out = []
    if root:
        out.append(Protections("namespaces", False, True, base))
    out.append(Protections("namespaces", True, False, base))
    if isolation == "auto":
        out += none
    return out


def _label(candidate: Protections) -> str:
    if candidate.mode == "none":
        return "no isolation" + (" (as nobody)" if candidate.drop_uid else "")
    return "user namespace" if candidate.userns else "namespaces as root"


def resolve_isolation(isolation: str = "auto") -> str:
    if isolation == "auto":
        isolation = os.environ.get(ISOLATION_ENV, "auto") or "auto"
    if isolation not in ("auto", "namespaces", "none"):
        raise ValueError(f"isolation must be auto, namespaces or none, not {isolation!r}")
    return isolation


def detect(isolation: str = "auto", *, refresh: bool = False) -> Protections:
    """The strongest sandbox mode that works here (cached per process)."""
    from . import sandbox  # the launcher; imported here to keep this module light

    isolation = resolve_isolation(isolation)
    if not refresh and isolation in _cache:
        return _cache[isolation]
    errors = []
    for candidate in _candidates(isolation):
        try:
            steps = sandbox.probe_setup(candidate)
        except sandbox.SandboxSetupError as exc:
            errors.append(f"{_label(candidate)}: {exc}")
            continue
        found = candidate.with_steps(steps)
        if candidate.mode == "none" or (found.is_on("filesystem")
                                        and found.is_on("pid_namespace")):
            _cache[isolation] = found
            return found
        errors.append(f"incomplete setup: {found.summary()}")
    raise IsolationUnavailable(
        "namespace isolation is not available here: " + "; ".join(errors or ["not Linux"]))


def describe(isolation: str = "auto") -> str:
    """A multi-line report, as printed by ``python -m autograder.tools demo``."""
    try:
        prot = detect(isolation)
    except IsolationUnavailable as exc:
        return str(exc)
    lines = [prot.summary()] + ["  " + line for line in prot.lines()]
    if "memory_cgroup" in prot.steps:
        lines.append(f"  memory limit in force: {prot.steps['memory_cgroup']}")
    return "\n".join(lines)
