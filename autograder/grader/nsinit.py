"""Start one sandboxed grading run: namespaces, a minimal root, limits, then the runner.

Run by the grading process as ``python -I -S nsinit.py <config.json>`` with the
protocol pipe on the descriptor named in the config. Standard library only: this
file never imports cnnlab, NumPy or anything from ``autograder``.

Linux with namespaces (``mode == "namespaces"``)::

    nsinit (new user?/mount/net/ipc/uts namespaces, outside the new PID namespace)
      └─ init: PID 1 of a new PID namespace. Builds a fresh root on a tmpfs that holds
         only the system directories, the Python installation and its site-packages
         (read-only), an empty /tmp, a size-limited /submission with this submission's
         own files, and /sandbox/grader (runner, plain-data module, job; read-only).
         pivot_root into it and detaches the old root, so the course directory, the
         gradebook, the repository (and the editable cnnlab source), home directories
         and other submissions do not exist in the sandbox at all.
           └─ runner: unprivileged (uid 65534, no capabilities, no_new_privs), rlimits,
              a fresh session keyring, a seccomp filter (:func:`seccomp_filter`),
              ``python -I -S runner.py``. When it ends, init ends, and the kernel kills
              every process left in the PID namespace.

Elsewhere (``mode == "none"``) it only applies the resource limits it can (and, on
Linux, the keyring and seccomp steps) and starts the runner in its own session.
``autograder.grader.platform`` decides which mode works. In both modes nsinit first
joins the submission's memory cgroup when the grading process made one
(``cgroup_procs``), so every process of the run shares one limit.

Before starting the runner, init writes one line ``{"t": "sandbox", ...}`` on the
protocol pipe reporting each protection; the grading process trusts only that first
line (student code runs later and could only append forgeries).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import shutil
import signal
import sys

PROTOCOL_FD = 3
NOBODY = 65534

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
KEYCTL_JOIN_SESSION_KEYRING = 1

# statvfs f_flag bits (ST_*) that a read-only remount of a bind mount must keep,
# or the kernel refuses it inside a user namespace ("locked" mount flags).
_ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC,
             1024: MS_NOATIME, 2048: MS_NODIRATIME, 4096: MS_RELATIME}

_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203,
               "ppc64": 203, "s390x": 217, "i686": 217, "i386": 217, "armv7l": 218}

# Exit codes nsinit uses for its own failures (the runner's own codes pass through).
EXIT_SETUP_FAILED = 97

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                ctypes.c_ulong, ctypes.c_char_p]
        _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        _libc.unshare.argtypes = [ctypes.c_int]
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                                ctypes.c_ulong, ctypes.c_ulong]
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(path: str | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def mount(source, target, fstype, flags, data=None) -> None:
    _check(_lib().mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           f"mount {source} -> {target}")


def prctl(option: int, arg: int, arg3: int = 0) -> None:
    _check(_lib().prctl(option, arg, arg3, 0, 0), f"prctl({option})")


def _locked_flags(path: str) -> int:
    flags = 0
    st = os.statvfs(path).f_flag
    for st_bit, ms_bit in _ST_TO_MS.items():
        if st & st_bit:
            flags |= ms_bit
    return flags


def bind_readonly(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    flags = _locked_flags(target) | MS_RDONLY | MS_NOSUID | MS_NODEV
    mount(None, target, None, MS_REMOUNT | MS_BIND | flags)


def _make_mount_point(source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            with open(target, "w"):
                pass


class Report:
    """Which protections are on, sent to the grading process as the first message."""

    def __init__(self, mode: str) -> None:
        self.steps: dict[str, str] = {}
        self.mode = mode

    def on(self, step: str) -> None:
        self.steps[step] = "on"

    def off(self, step: str, why: str) -> None:
        self.steps[step] = "off: " + why

    def send(self) -> None:
        line = json.dumps({"t": "sandbox", "mode": self.mode, "steps": self.steps,
                           "pid": os.getpid()}) + "\n"
        _write_all(PROTOCOL_FD, line.encode())


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _fail(step: str, exc: BaseException) -> None:
    line = json.dumps({"t": "sandbox-error", "step": step, "error": str(exc)}) + "\n"
    try:
        _write_all(PROTOCOL_FD, line.encode())
    finally:
        os._exit(EXIT_SETUP_FAILED)


# ---------------------------------------------------------------------------- seccomp

# System calls the runner never needs and that reach shared kernel state: the keyrings
# (not namespaced: a key would outlive the run and be read by the next submission),
# new namespaces and mounts, tracing other processes, modules, BPF, io_uring.
BLOCKED_SYSCALLS = (
    "add_key", "request_key", "keyctl", "ptrace", "process_vm_readv", "process_vm_writev",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "userfaultfd", "unshare", "setns", "mount", "umount2", "pivot_root",
    "chroot", "swapon", "swapoff", "reboot", "acct", "open_by_handle_at",
    "name_to_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "fsopen", "fsmount", "move_mount", "open_tree", "fspick", "mount_setattr",
)
#: (AUDIT_ARCH value, {syscall name: number}) per machine: BLOCKED_SYSCALLS in order,
#: then clone and clone3.
_SYSCALLS = {
    machine: (arch, dict(zip((*BLOCKED_SYSCALLS, "clone", "clone3"), numbers, strict=True)))
    for machine, arch, numbers in (
        ("x86_64", 0xC000003E,
         (248, 249, 250, 101, 310, 311, 246, 320, 175, 313, 176, 321, 298, 323, 272, 308, 165,
          166, 155, 161, 167, 168, 169, 163, 304, 303, 425, 426, 427, 430, 432, 429, 428, 433,
          442, 56, 435)),
        ("aarch64", 0xC00000B7,
         (217, 218, 219, 117, 270, 271, 104, 294, 105, 273, 106, 280, 241, 282, 97, 268, 40,
          39, 41, 51, 224, 225, 142, 89, 265, 264, 425, 426, 427, 430, 432, 429, 428, 433,
          442, 220, 435)),
    )
}
#: clone() flags that make a namespace: refused like unshare().
CLONE_NAMESPACES = (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
                    | CLONE_NEWNET | 0x02000000)  # CLONE_NEWCGROUP
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38


def seccomp_filter(machine: str) -> bytes | None:
    """The classic-BPF program of the runner's seccomp filter, or ``None`` for an
    unknown machine. Blocked calls fail with EPERM; ``clone3`` with ENOSYS (so libc
    falls back to ``clone``, whose flags a BPF program can see); other architectures'
    calling conventions (i386 on x86_64, x32) fail with EPERM."""
    import struct

    if machine not in _SYSCALLS:
        return None
    arch, numbers = _SYSCALLS[machine]

    def op(code, k, jt=0, jf=0):
        return [code, jt, jf, k]

    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    prog = [op(ld_abs, 4), op(jeq, arch, 1, 0), ["deny"], op(ld_abs, 0)]
    if machine == "x86_64":
        prog.append(op(jge, 0x40000000, "deny", 0))  # the x32 ABI
    prog += [op(jeq, numbers[name], "deny", 0) for name in BLOCKED_SYSCALLS]
    prog += [op(jeq, numbers["clone3"], "nosys", 0), op(jeq, numbers["clone"], 0, "allow"),
             op(ld_abs, 16), op(jset, CLONE_NAMESPACES, "deny", "allow")]
    labels = {"allow": len(prog), "deny": len(prog) + 1, "nosys": len(prog) + 2}
    prog += [op(ret, _RET_ALLOW), op(ret, _RET_ERRNO | _EPERM), op(ret, _RET_ERRNO | _ENOSYS)]
    out = b""
    for i, ins in enumerate(prog):
        if ins == ["deny"]:
            ins = op(ret, _RET_ERRNO | _EPERM)
        code, jt, jf, k = ins
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("HBBI", code, jt, jf, k)
    return out


def install_seccomp(report: Report) -> None:
    program = seccomp_filter(platform.machine())
    if program is None:
        report.off("seccomp", f"no system-call table for {platform.machine()}")
        return

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    fprog = SockFprog(len(program) // 8, program)
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
    except OSError as exc:
        report.off("seccomp", str(exc))
        return
    report.on("seccomp")


def fresh_keyring(report: Report) -> None:
    """Join a new, empty session keyring: no key of the grading user's session is
    reachable (the seccomp filter then blocks the keyring calls altogether)."""
    lib = _lib()
    lib.syscall.restype = ctypes.c_long
    number = _SYSCALLS.get(platform.machine(), (0, {}))[1].get("keyctl")
    if number is None:
        report.off("keyring", f"no system-call table for {platform.machine()}")
        return
    if lib.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None, 0, 0, 0) < 0:
        err = ctypes.get_errno()
        report.off("keyring", f"keyctl: {os.strerror(err)}")
        return
    report.on("keyring")


def join_cgroup(cfg: dict, report: Report) -> None:
    """Move this process (and so everything it starts) into the run's memory cgroup."""
    procs = cfg.get("cgroup_procs")
    if not procs:
        report.off("memory_total", cfg.get("cgroup_reason") or "no memory cgroup")
        return
    try:
        _write_file(procs, f"{os.getpid()}\n")
    except OSError as exc:
        report.off("memory_total", f"could not join the memory cgroup ({exc.strerror})")
        return
    report.on("memory_total")


# ----------------------------------------------------------------------------- limits


def apply_rlimits(cfg: dict, report: Report) -> None:
    try:
        import resource
    except ImportError:
        report.off("rlimits", "no resource module on this platform")
        return
    lim = cfg["limits"]
    wanted = [
        ("RLIMIT_AS", lim["memory_bytes"]),
        ("RLIMIT_CPU", lim["cpu_seconds"]),
        ("RLIMIT_FSIZE", lim["file_bytes"]),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NOFILE", lim["open_files"]),
        ("RLIMIT_NPROC", lim["processes"]),
    ]
    missing = []
    for name, value in wanted:
        rid = getattr(resource, name, None)
        if value is None or value < 0:
            continue  # not limited here (see sandbox._nproc_limit)
        if rid is None:
            missing.append(name)
            continue
        try:
            _soft, hard = resource.getrlimit(rid)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(rid, (value, value))
        except (OSError, ValueError) as exc:
            missing.append(f"{name} ({exc})")
    if missing:
        report.off("rlimits", "could not set " + ", ".join(missing))
    else:
        report.on("rlimits")


def _close_other_fds(keep: int = PROTOCOL_FD) -> None:
    try:
        max_fd = os.sysconf("SC_OPEN_MAX")
    except (AttributeError, ValueError, OSError):
        max_fd = 4096
    os.closerange(keep + 1, max_fd)


def exec_runner(cfg: dict, report: Report, *, in_namespace: bool) -> None:
    """Become the runner: limits, unprivileged user, clean fds, then exec Python."""
    work = cfg["sandbox_work"] if in_namespace else cfg["host_work"]
    os.chdir(work)
    apply_rlimits(cfg, report)
    if cfg["drop_uid"]:  # running as root: become nobody (this also drops capabilities)
        try:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            report.on("unprivileged")
        except OSError as exc:
            _fail("unprivileged", exc)
    elif in_namespace and cfg["userns"]:
        # Mapped to uid 65534 inside the user namespace: exec drops every capability.
        report.on("unprivileged")
    else:
        report.off("unprivileged", "runs as the grading user")
    runner_dir = cfg["sandbox_grader"] if in_namespace else cfg["host_grader"]
    for path in (cfg["python"], runner_dir, *cfg.get("must_read", ())):
        if not os.access(path, os.R_OK | os.X_OK):
            _fail("unprivileged", OSError(f"the sandbox user cannot use {path}"))
    if sys.platform.startswith("linux"):
        fresh_keyring(report)
        install_seccomp(report)  # last: sets no_new_privs, then the filter
    report.send()
    if cfg.get("probe"):  # platform detection: set up, report, run nothing
        os._exit(0)
    _close_other_fds()
    argv = [cfg["python"], "-I", "-S", os.path.join(runner_dir, "runner.py"),
            os.path.join(runner_dir, "job.json")]
    env = dict(cfg["env"])
    if not in_namespace:
        env.update(cfg["host_env"])
    os.execve(cfg["python"], argv, env)


# ------------------------------------------------------------------------- namespaces


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def enter_namespaces(cfg: dict, report: Report) -> None:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if cfg["userns"]:
        flags |= CLONE_NEWUSER
    uid, gid = os.geteuid(), os.getegid()
    _check(_lib().unshare(flags), "unshare")
    if cfg["userns"]:
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", f"{NOBODY} {uid} 1")
        _write_file("/proc/self/gid_map", f"{NOBODY} {gid} 1")
        report.on("user_namespace")
    else:
        report.off("user_namespace", "not needed: running as root, drops to uid 65534")
    report.on("network")  # a new network namespace: no interface but a down loopback
    report.on("pid_namespace")
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def build_root(cfg: dict, report: Report) -> str:
    """Mount the sandbox's whole filesystem under the staging directory."""
    root = cfg["staging"]
    lim = cfg["limits"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    # The writable tmpfs mounts come first: a read-only bind below /tmp (a virtual
    # environment in a checkout under /tmp, say) must land on top of the empty /tmp,
    # not be hidden by it.
    owner = f",uid={NOBODY},gid={NOBODY}"
    for path, size, mode in (("/tmp", lim["tmp_bytes"], "1777"),
                             (cfg["sandbox_work"], lim["work_bytes"], "0755")):
        os.makedirs(root + path, mode=0o755, exist_ok=True)
        mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV,
              f"size={size},mode={mode}" + (owner if path != "/tmp" else ""))
    for path in cfg["ro_binds"]:
        if not os.path.lexists(path):
            continue
        target = root + path
        if os.path.islink(path) and os.path.dirname(path) == "/":
            # merged-/usr systems: /lib -> usr/lib and friends stay symlinks
            os.symlink(os.readlink(path), target)
            continue
        _make_mount_point(path, target)
        bind_readonly(path, target)
    for path in cfg["masks"]:
        target = root + path
        if not os.path.lexists(target):
            continue
        if os.path.isdir(target):
            mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
                  "size=4k,mode=0755")
        else:
            mount("/dev/null", target, None, MS_BIND)
    # /dev: the harmless character devices only
    dev = root + "/dev"
    os.makedirs(dev, mode=0o755, exist_ok=True)
    for name in ("null", "zero", "full", "random", "urandom"):
        _make_mount_point("/dev/" + name, dev + "/" + name)
        mount("/dev/" + name, dev + "/" + name, None, MS_BIND)
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, dev + "/" + name)
    os.makedirs(dev + "/shm", exist_ok=True)
    mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          f"size={lim['shm_bytes']},mode=1777")
    os.makedirs(root + cfg["sandbox_grader"], mode=0o755, exist_ok=True)
    bind_readonly(cfg["host_grader"], root + cfg["sandbox_grader"])
    # the submission's own files, copied into its size-limited tmpfs
    _copy_files(cfg["host_files"], root + cfg["sandbox_work"])
    # a fresh /proc for the new PID namespace (must happen before the old root goes)
    os.makedirs(root + "/proc", mode=0o555, exist_ok=True)
    try:
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        report.on("proc")
    except OSError as exc:
        report.off("proc", f"no /proc in the sandbox ({exc.strerror})")
    return root


def _copy_files(src: str, dest: str) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = dest if rel == "." else os.path.join(dest, rel)
        os.makedirs(target_dir, exist_ok=True)
        os.chown(target_dir, NOBODY, NOBODY)
        for name in filenames:
            source = os.path.join(dirpath, name)
            if os.path.islink(source):
                continue
            target = os.path.join(target_dir, name)
            shutil.copyfile(source, target)
            os.chown(target, NOBODY, NOBODY)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]


def enter_root(root: str, report: Report) -> None:
    old = root + "/.oldroot"
    os.makedirs(old, exist_ok=True)
    number = _PIVOT_ROOT.get(platform.machine())
    if number is not None:
        _check(_lib().syscall(number, _b(root), _b(old)), "pivot_root")
        os.chdir("/")
        _check(_lib().umount2(b"/.oldroot", MNT_DETACH), "umount old root")
        os.rmdir("/.oldroot")
    else:  # unknown architecture: chroot; escaping needs capabilities the runner lacks
        os.chroot(root)
        os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    report.on("filesystem")


def run_init(cfg: dict, report: Report) -> None:
    """PID 1 of the new PID namespace."""
    step = "filesystem"
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            import socket
            socket.sethostname("sandbox")
        except (OSError, AttributeError):
            pass
        root = build_root(cfg, report)
        enter_root(root, report)
    except OSError as exc:
        _fail(step, exc)
    pid = os.fork()
    if pid == 0:
        try:
            exec_runner(cfg, report, in_namespace=True)
        except BaseException as exc:
            _fail("exec", exc)
    # init: nothing of the grading machinery is left here; keep no privileges.
    with contextlib.suppress(OSError):
        prctl(PR_SET_DUMPABLE, 0)
    status = _wait_for(pid)
    os._exit(status)


def _wait_for(pid: int) -> int:
    while True:
        try:
            done, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if done == pid:
            if os.WIFEXITED(status):
                return os.WEXITSTATUS(status)
            return 128 + os.WTERMSIG(status)


def main(argv: list[str]) -> None:
    with open(argv[1]) as fh:
        cfg = json.load(fh)
    fd = cfg["protocol_fd"]
    if fd != PROTOCOL_FD:
        os.dup2(fd, PROTOCOL_FD)
        os.close(fd)
    os.set_inheritable(PROTOCOL_FD, True)
    report = Report(cfg["mode"])
    join_cgroup(cfg, report)
    if cfg["mode"] == "namespaces":
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            enter_namespaces(cfg, report)
        except OSError as exc:
            _fail("namespaces", exc)
        pid = os.fork()
        if pid == 0:
            run_init(cfg, report)
        os._exit(_wait_for(pid))
    else:
        for step in ("user_namespace", "network", "pid_namespace", "filesystem", "proc"):
            report.off(step, "not available on this platform")
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError):
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            exec_runner(cfg, report, in_namespace=False)
        except OSError as exc:
            _fail("exec", exc)


if __name__ == "__main__":
    main(sys.argv)
