"""A submission's files are input too: check a submission folder before anything reads it.

A submission folder (``submitted/<student>/<assignment>/``) is written by the student,
so everything in it is hostile until checked. :func:`scan` walks it with ``lstat``
only (nothing is opened, no link is followed) and lists what is not plain data:

* symbolic links and hard links (a regular file with more than one name): a link to the
  master notebook, the course secret or ``/proc/<pid>/environ`` would otherwise be
  copied as the file it points to;
* FIFOs, devices and sockets: reading one can hang the grader (``/dev/stdin``, a FIFO);
* sizes: each file's apparent size and its blocks on disk, the number of files, their
  total size and the folder depth (a sparse file of 4 GiB takes no disk but is
  copied as 4 GiB);
* names: control characters, undecodable bytes, overlong names;
* the notebooks themselves: each must be a regular JSON file of bounded size and
  structure (cells, nesting), so nbgrader's reader never meets a pathological one.

:func:`refuse_unsafe` is nbgrader's ``Autograde.pre_convert_hook``: it runs after
nbgrader has listed the submission's notebooks and *before* it copies or reads any
file. A refused submission's folder is moved aside (a rename: links move as links) to
``<course>/.cnnlab/refused/`` and replaced by the release notebook with a notice at the
top, so nbgrader grades a blank notebook (no student code runs) and the feedback says
what was wrong. :func:`copy_as_data` is how the sandbox copies the files it gets.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

#: Marker of the grade command's output lines about refused submissions.
REFUSED = "SUBMISSION REFUSED"
NOTICE_KEY = "cnnlab_refused"
BLOCK = 512  # st_blocks unit


@dataclass(frozen=True)
class IntakeLimits:
    """What one submission folder may hold. Sizes in bytes."""

    file_bytes: int = 64 * 2**20      # one file, apparent size and on disk
    notebook_bytes: int = 16 * 2**20  # one notebook
    total_bytes: int = 128 * 2**20    # all files together
    files: int = 500                  # files and folders
    depth: int = 8                    # folders below the submission folder
    name_chars: int = 200             # one file name
    cells: int = 2000                 # cells per notebook
    json_depth: int = 64              # nesting of a notebook's JSON
    line_chars: int = 2_000_000       # one string in a notebook (a cell's source, say)


@dataclass
class Scan:
    """The result of :func:`scan`: regular files found, and what is refused."""

    files: list[tuple[str, int]] = field(default_factory=list)  # (relative path, bytes)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def shown(name: str) -> str:
    """A file name as a student can read it: control characters and undecodable bytes
    escaped, so a name cannot forge a line of the grader's output."""
    if name.isprintable() and name.strip() == name and name:
        return name
    return repr(name)[1:-1] if name else "''"


def name_problem(name: str, limits: IntakeLimits) -> str | None:
    """Why a file name is refused, or ``None``."""
    if not name or name in (".", ".."):
        return f"an empty or special name {shown(name)!r}"
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        return f"a name that is not valid UTF-8: {shown(name)}"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return f"a name with control characters: {shown(name)}"
    if "/" in name or "\\" in name:
        return f"a name with a path separator: {shown(name)}"
    if len(name) > limits.name_chars:
        return f"a name longer than {limits.name_chars} characters: {shown(name[:40])}..."
    return None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _link_target(path: str) -> str:
    try:
        return shown(os.readlink(path))
    except OSError:
        return "?"


def scan(folder: str, limits: IntakeLimits | None = None, *,
         notebooks: bool = True) -> Scan:
    """Check ``folder`` with ``lstat`` only; list its regular files and its problems.

    Nothing is opened except the notebooks (regular, single-named, size-checked files,
    opened with ``O_NOFOLLOW | O_NONBLOCK``), and no link is followed. With
    ``notebooks`` false, the notebooks' contents are not checked (for a caller that
    only wants the other files, whose notebooks the intake has checked already).
    """
    limits = limits or IntakeLimits()
    out = Scan()
    try:
        top = os.lstat(folder)
    except OSError as exc:
        out.problems.append(f"the submission folder cannot be read ({exc.strerror})")
        return out
    if not stat.S_ISDIR(top.st_mode):
        what = "a link" if stat.S_ISLNK(top.st_mode) else "not a folder"
        out.problems.append(f"the submission folder is {what}")
        return out
    total = count = 0
    pending = [("", 0)]
    while pending:
        rel_dir, depth = pending.pop()
        try:
            with os.scandir(os.path.join(folder, rel_dir)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            out.problems.append(f"a folder that cannot be read: {shown(rel_dir)} "
                                f"({exc.strerror})")
            continue
        for entry in entries:
            rel = os.path.join(rel_dir, entry.name)
            count += 1
            if count > limits.files:
                out.problems.append(f"more than {limits.files} files and folders")
                return out
            bad_name = name_problem(entry.name, limits)
            if bad_name:
                out.problems.append(bad_name)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                out.problems.append(f"a file that cannot be read: {shown(rel)} ({exc.strerror})")
                continue
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                out.problems.append(f"a link: {shown(rel)} -> {_link_target(entry.path)}")
            elif stat.S_ISDIR(mode) and entry.name.endswith(".ipynb"):
                out.problems.append(f"a folder named like a notebook: {shown(rel)}")
            elif stat.S_ISDIR(mode):
                if depth + 1 > limits.depth:
                    out.problems.append(f"folders nested deeper than {limits.depth}: "
                                        f"{shown(rel)}")
                else:
                    pending.append((rel, depth + 1))
            elif not stat.S_ISREG(mode):
                out.problems.append(f"{_kind(mode)}: {shown(rel)}")
            elif st.st_nlink > 1:
                out.problems.append(f"a hard link: {shown(rel)} (a file with {st.st_nlink} "
                                    "names; submit a copy)")
            else:
                problem = _size_problem(rel, st, limits)
                if problem:
                    out.problems.append(problem)
                    continue
                total += st.st_size
                if total > limits.total_bytes:
                    out.problems.append(f"more than {_mib(limits.total_bytes)} of files in all")
                    return out
                out.files.append((rel, st.st_size))
    for rel, _size in out.files:
        if notebooks and rel.endswith(".ipynb"):
            problem = notebook_problem(os.path.join(folder, rel), limits)
            if problem:
                out.problems.append(f"{shown(rel)}: {problem}")
    return out


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


def _size_problem(rel: str, st: os.stat_result, limits: IntakeLimits) -> str | None:
    cap = limits.notebook_bytes if rel.endswith(".ipynb") else limits.file_bytes
    disk = getattr(st, "st_blocks", 0) * BLOCK
    if st.st_size > cap:
        return f"a file larger than {_mib(cap)}: {shown(rel)} ({st.st_size / 2**20:.1f} MiB)"
    if disk > max(cap, st.st_size) + 2**20:
        return f"a file taking more than {_mib(cap)} on disk: {shown(rel)}"
    return None


def open_data(path: str, max_bytes: int) -> bytes | None:
    """The bytes of a regular single-named file, read without following links or
    blocking; ``None`` if it is anything else or larger than ``max_bytes``."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1 or st.st_size > max_bytes:
            return None
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return None if size > max_bytes else b"".join(chunks)
    finally:
        os.close(fd)


_JSON_SIGNIFICANT = re.compile(r'\\.|["\[\]{}]')


def _json_depth_ok(text: str, limit: int) -> bool:
    """Whether the nesting of brackets in JSON ``text`` stays within ``limit``
    (counted outside strings, before any parser recurses)."""
    depth, in_string = 0, False
    for match in _JSON_SIGNIFICANT.finditer(text):
        ch = match.group()
        if ch == '"':
            in_string = not in_string
        elif in_string or len(ch) > 1:
            continue
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        else:
            depth -= 1
    return True


def notebook_problem(path: str, limits: IntakeLimits) -> str | None:
    """Why a notebook file is refused (not JSON, too deep, too many cells...), or ``None``."""
    data = open_data(path, limits.notebook_bytes)
    if data is None:
        return "not a readable regular file within the size limit"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text (a notebook is JSON)"
    if not _json_depth_ok(text, limits.json_depth):
        return f"JSON nested deeper than {limits.json_depth} levels"
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError):
        return "not valid JSON (open it in JupyterLab and save it again)"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return "not a Jupyter notebook (no list of cells)"
    if nb.get("nbformat") != 4:
        return "not a version 4 notebook"
    if len(nb["cells"]) > limits.cells:
        return f"more than {limits.cells} cells"
    for value in _strings(nb):
        if len(value) > limits.line_chars:
            return f"a text of more than {limits.line_chars} characters"
    return _schema_problem(text)


def _schema_problem(text: str) -> str | None:
    """What nbformat's schema says is wrong, as nbgrader would read the notebook (after
    nbformat's own repairs), or ``None``."""
    try:
        import nbformat
    except ImportError:  # pragma: no cover - nbgrader needs nbformat
        return None
    try:
        with warnings.catch_warnings():  # nbformat warns about what it repairs
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in list(getattr(exc, "absolute_path", []))[:4])
        return (f"not a valid notebook ({shown(exc.message[:120])}"
                + (f" at {where}" if where else "") + "); open it in JupyterLab and save it "
                "again")
    except Exception as exc:  # nbformat could not read it at all
        return f"not a readable notebook ({type(exc).__name__})"
    return None


def _strings(value) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def copy_as_data(src: str | None, dest: str, *, skip_notebooks: bool = True,
                 limits: IntakeLimits | None = None) -> list[str]:
    """Copy the regular files of ``src`` into ``dest`` as data; return what was left out.

    Re-checks every file as it is opened (``O_NOFOLLOW``, one name, regular, within
    size), so a file swapped for a link after :func:`scan` is still not followed.
    """
    limits = limits or IntakeLimits()
    os.makedirs(dest, exist_ok=True)
    if not src or not os.path.isdir(src) or os.path.islink(src):
        return []
    found = scan(src, limits)
    left_out = list(found.problems)
    for rel, _size in found.files:
        parts = rel.split(os.sep)
        if skip_notebooks and rel.endswith(".ipynb"):
            continue
        if any(p == ".ipynb_checkpoints" or p == "__pycache__" for p in parts):
            continue
        data = open_data(os.path.join(src, rel), limits.file_bytes)
        if data is None:
            left_out.append(f"changed while it was copied: {shown(rel)}")
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags | getattr(os, "O_BINARY", 0), 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    return left_out


# ------------------------------------------------------------- nbgrader's pre-convert hook


def notice_markdown(problems: Sequence[str]) -> str:
    """The notice at the top of a refused submission's notebook (student-visible)."""
    items = "\n".join(f"- {_md_escape(p)}" for p in problems[:20])
    more = f"\n- ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    return ("**This submission was not graded.** A submission may hold only regular "
            "files and folders, within size limits; yours contains:\n\n" + items + more +
            "\n\nYour notebook was not run, so every question scores 0. Remove these "
            "files (or replace a link by a copy of the file) and submit again.")


def _md_escape(text: str) -> str:
    """Student-controlled text shown as literal text in markdown (no HTML, no markup)."""
    out = []
    for ch in text:
        if ch in "&<>\"'":
            out.append(f"&#{ord(ch)};")
        elif ch in "\\`*_{}[]()#+-.!|~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _course_paths(notebook: str) -> tuple[str, str, str, str]:
    """(course root, submitted folder, student, assignment) of a submitted notebook path
    (nbgrader's default layout ``<root>/submitted/<student>/<assignment>/<nb>.ipynb``)."""
    folder = os.path.dirname(os.path.abspath(notebook))
    student_dir, assignment = os.path.split(folder)
    submitted, student = os.path.split(student_dir)
    return os.path.dirname(submitted), folder, student, assignment


def _quarantine(root: str, folder: str, student: str, assignment: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    base = os.path.join(root, ".cnnlab", "refused", f"{student}", f"{assignment}-{stamp}")
    target, n = base, 0
    while os.path.lexists(target):
        n += 1
        target = f"{base}-{n}"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(folder, target)  # the folder itself moves; links inside stay links
    return target


def _blank_with_notice(release_nb: str, problems: Sequence[str]) -> dict:
    """The release notebook (course-made, no answers) with the notice as its first cell."""
    try:
        with open(release_nb, encoding="utf-8") as fh:
            nb = json.load(fh)
    except (OSError, ValueError):
        nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    notice = {"cell_type": "markdown", "id": "cnnlab-refused-notice",
              "metadata": {NOTICE_KEY: True}, "source": notice_markdown(problems)}
    nb["cells"] = [notice, *nb.get("cells", [])]
    return nb


def write_refusal(root: str, folder: str, assignment: str, problems: Sequence[str],
                  notebook_names: Sequence[str] = (), timestamp: bytes | None = None) -> None:
    """Create ``folder`` holding the release notebook(s) of ``assignment`` with a notice
    of ``problems`` on top (``<assignment>.ipynb`` when there is no release yet)."""
    names = list(notebook_names) or _release_names(root, assignment) or [assignment + ".ipynb"]
    os.makedirs(folder)
    if timestamp is not None:  # lateness still counts
        with open(os.path.join(folder, "timestamp.txt"), "wb") as fh:
            fh.write(timestamp)
    release = os.path.join(root, "release", assignment)
    for name in names:
        nb = _blank_with_notice(os.path.join(release, name), problems)
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            json.dump(nb, fh, indent=1)


def refuse_folder(root: str, folder: str, student: str, assignment: str,
                  notebook_names: Sequence[str], problems: Sequence[str]) -> str:
    """Move a refused submission aside and leave the release notebook(s) with a notice.

    ``folder`` is ``submitted/<student>/<assignment>``; when ``submitted/<student>``
    is itself a link, the link is what moves.
    """
    student_dir = os.path.dirname(folder)
    linked = os.path.islink(student_dir)
    moved = _quarantine(root, student_dir if linked else folder, student, assignment)
    stamp = None if linked else open_data(os.path.join(moved, "timestamp.txt"), 1000)
    write_refusal(root, folder, assignment, problems, notebook_names, stamp)
    return moved


def report_line(student: str, assignment: str, problems: Sequence[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (f"{REFUSED}: {shown(student)}/{shown(assignment)}: your submission contains "
            f"{problems[0]}{more}")


def _release_names(root: str, assignment: str) -> list[str]:
    release = os.path.join(root, "release", assignment)
    try:
        return sorted(n for n in os.listdir(release) if n.endswith(".ipynb"))
    except OSError:
        return []


def check_submission(folder: str, limits: IntakeLimits | None = None) -> list[str]:
    """Everything refused in a submission folder, its parent folder's link included."""
    student_dir = os.path.dirname(os.path.abspath(folder))
    if os.path.islink(student_dir):
        return [f"a link: {shown(os.path.basename(student_dir))} -> "
                f"{_link_target(student_dir)}"]
    return scan(folder, limits).problems


def refuse_unsafe(assignment: str = "", student: str = "", notebooks: list | None = None,
                  **_ignored) -> None:
    """nbgrader ``Autograde.pre_convert_hook``: refuse a submission that is not plain data.

    Called once per submission, after nbgrader has globbed its notebooks and before it
    copies or reads anything (nbgrader passes ``assignment`` and ``student`` as the
    command's patterns; the submission is found from ``notebooks``). ``notebooks`` is
    nbgrader's own list: it is edited in place so that nbgrader converts exactly the
    notebooks left in the folder. This hook never raises (nbgrader would log and go on).
    """
    if not notebooks:
        return
    root, folder, student, assignment = _course_paths(notebooks[0])
    try:
        problems = check_submission(folder)
    except Exception as exc:  # fail closed: what cannot be checked is refused
        problems = [f"something the grader could not check ({type(exc).__name__})"]
    if not problems:
        return
    names = _release_names(root, assignment) or sorted(
        {os.path.basename(p) for p in notebooks})
    try:
        refuse_folder(root, folder, student, assignment, names, problems)
    except OSError as exc:
        print(f"{REFUSED}: {shown(student)}/{shown(assignment)}: could not be moved aside "
              f"({exc}); not graded", file=sys.stderr, flush=True)
        notebooks[:] = []
        return
    notebooks[:] = [os.path.join(folder, n) for n in names]
    print(report_line(student, assignment, problems), file=sys.stderr, flush=True)
