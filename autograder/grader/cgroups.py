"""One memory limit for a whole sandbox run: a memory cgroup per submission.

Per-process limits (``RLIMIT_AS``) let a submission that forks use many times its
share. A cgroup counts every process of the run together, its tmpfs files included.
:func:`create` makes one below the grading process's own cgroup:

* **cgroup v2** where the ``memory`` controller is available to the grading process's
  cgroup (``memory.max``, no swap, and ``memory.oom.group`` so an out-of-memory kill
  ends the whole run);
* **cgroup v1** where the v1 memory hierarchy is writable (``memory.limit_in_bytes``
  and, with swap accounting, ``memory.memsw.limit_in_bytes``);
* otherwise nothing, and the reason is reported (a grader that is not root usually
  cannot create cgroups; run it under ``systemd-run --scope -p MemoryMax=...``).

``nsinit`` joins the cgroup (it writes its own pid into ``cgroup.procs``) before it
starts anything, so every process of the run is inside.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

V2_MOUNTS = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")
V1_MEMORY = "/sys/fs/cgroup/memory"


@dataclass(frozen=True)
class MemoryCgroup:
    """A cgroup made for one run: ``procs`` is the file a process joins it through."""

    path: str
    version: int

    @property
    def procs(self) -> str:
        return os.path.join(self.path, "cgroup.procs")

    def peak_bytes(self) -> int | None:
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            with open(os.path.join(self.path, name)) as fh:
                return int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        key = "oom_kill"
        try:
            with open(os.path.join(self.path, name)) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == key:
                        return int(parts[1])
        except (OSError, ValueError):
            pass
        return 0

    def remove(self) -> None:
        """Kill what is left in it and remove it (retrying while the kernel reaps)."""
        for _ in range(50):
            if self.version == 2:
                with contextlib.suppress(OSError):
                    _write(os.path.join(self.path, "cgroup.kill"), "1")
            else:
                for pid in _pids(self.procs):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _pids(procs: str) -> list[int]:
    try:
        with open(procs) as fh:
            return [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        return []


def _own_cgroup(version: int) -> str | None:
    """This process's cgroup path in the v2 (``0::``) or v1 memory hierarchy."""
    try:
        with open("/proc/self/cgroup") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if version == 2 and hierarchy == "0" and controllers == "":
            return path
        if version == 1 and "memory" in controllers.split(","):
            return path
    return None


def _v2_parent() -> str | None:
    own = _own_cgroup(2)
    if own is None:
        return None
    for mount in V2_MOUNTS:
        parent = os.path.join(mount, own.lstrip("/"))
        try:
            with open(os.path.join(parent, "cgroup.controllers")) as fh:
                if "memory" not in fh.read().split():
                    continue
            with open(os.path.join(parent, "cgroup.subtree_control")) as fh:
                enabled = "memory" in fh.read().split()
            if not enabled:
                _write(os.path.join(parent, "cgroup.subtree_control"), "+memory")
        except OSError:
            continue
        return parent
    return None


def _v1_parent() -> str | None:
    own = _own_cgroup(1)
    if own is None or not os.path.isdir(V1_MEMORY):
        return None
    parent = os.path.join(V1_MEMORY, own.lstrip("/"))
    if not os.path.isdir(parent):  # the container shows its own cgroup as the root
        parent = V1_MEMORY
    return parent if os.access(parent, os.W_OK) else None


def create(name: str, memory_bytes: int) -> tuple[MemoryCgroup | None, str]:
    """Make cgroup ``name`` limited to ``memory_bytes``; return it (or ``None``) and a
    sentence saying which kind it is or why there is none."""
    errors = []
    for version, find in ((2, _v2_parent), (1, _v1_parent)):
        parent = find()
        if parent is None:
            continue
        path = os.path.join(parent, name)
        try:
            os.mkdir(path)
        except OSError as exc:
            errors.append(f"v{version}: {exc.strerror}")
            continue
        group = MemoryCgroup(path, version)
        try:
            if version == 2:
                _write(os.path.join(path, "memory.max"), str(memory_bytes))
                for option, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
                    with contextlib.suppress(OSError):
                        _write(os.path.join(path, option), value)
            else:
                _write(os.path.join(path, "memory.limit_in_bytes"), str(memory_bytes))
                memsw = os.path.join(path, "memory.memsw.limit_in_bytes")
                if os.path.exists(memsw):
                    _write(memsw, str(memory_bytes))
        except OSError as exc:
            group.remove()
            errors.append(f"v{version}: {exc.strerror}")
            continue
        return group, f"cgroup v{version} ({path.rsplit(os.sep, 1)[0]})"
    why = "; ".join(errors) or "no writable memory cgroup (the grader is not root?)"
    return None, why
