"""Import a class's submissions (``grade --submissions``): a ``submitted/`` folder or a
zip of one, treated as hostile input.

Accepted layout: ``[submitted/]<student>/<assignment>/<files>``. Each
``<student>/<assignment>`` is one submission, imported on its own: a bad member costs
only the submission it belongs to, never the batch.

* **Names.** Student ids, assignment names and file names must be non-empty, not
  ``.`` or ``..``, not hidden (``.x``) or option-like (``-x``) for ids, and hold no
  control characters, separators (``\\``, ``:``), undecodable bytes; paths must be
  relative. A member whose *student id or assignment* is unusable cannot be put
  anywhere: it is listed and skipped.
* **Zip members.** No links, no encrypted members, no two names for one file (exact,
  case-folded or Unicode-normalised duplicates, or a file that is also a folder).
  Limits on members, total uncompressed size and compression ratio, checked from the
  headers first and again while reading (a header cannot lie about what is written).
* **Folders.** Copied with :func:`autograder.grader.intake.copy_as_data` after the same
  check the grader makes (:func:`autograder.grader.intake.scan`).

A refused submission is written as the release notebook with a notice saying what was
wrong (:func:`autograder.grader.intake.write_refusal`), so it is graded as blank, its
feedback explains, and ``grade`` prints a ``SUBMISSION REFUSED`` line for it.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field

from autograder.grader import intake


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on one ``--submissions`` archive (per submission: ``IntakeLimits``)."""

    members: int = 20_000
    total_bytes: int = 2 * 2**30     # uncompressed, all members
    ratio: float = 200.0             # uncompressed / compressed, per member over 1 MiB
    submission: intake.IntakeLimits = field(default_factory=intake.IntakeLimits)


@dataclass
class ImportReport:
    """What an import did: submissions imported and lines about what was refused."""

    imported: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.imported)


class ArchiveError(ValueError):
    """The archive as a whole cannot be imported (not a zip, too many members...)."""


def id_problem(name: str) -> str | None:
    """Why a student id or assignment name is unusable as a folder name, or ``None``."""
    problem = intake.name_problem(name, intake.IntakeLimits(name_chars=100))
    if problem:
        return problem
    if name.startswith((".", "-")):
        return f"a name starting with {name[0]!r}: {intake.shown(name)}"
    if ":" in name:
        return f"a name with ':': {intake.shown(name)}"
    return None


def _member_parts(name: str) -> list[str] | str:
    """A member's path as parts, or why it is refused."""
    if "\\" in name:
        return f"a path with a backslash: {intake.shown(name)}"
    if name.startswith("/"):
        return f"an absolute path: {intake.shown(name)}"
    parts = name.rstrip("/").split("/")
    for part in parts:
        problem = intake.name_problem(part, intake.IntakeLimits())
        if problem:
            return problem
        if ":" in part:
            return f"a name with ':': {intake.shown(part)}"
    return parts


def _collision_key(parts: list[str]) -> tuple[str, ...]:
    return tuple(unicodedata.normalize("NFC", p).casefold() for p in parts)


@dataclass
class _Group:
    members: list[tuple[zipfile.ZipInfo, list[str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR)


def _group_zip(zf: zipfile.ZipFile, limits: ArchiveLimits, report: ImportReport
               ) -> dict[tuple[str, str], _Group]:
    infos = zf.infolist()
    if len(infos) > limits.members:
        raise ArchiveError(f"the archive has {len(infos)} members; the limit is "
                           f"{limits.members}")
    total = sum(i.file_size for i in infos)
    if total > limits.total_bytes:
        raise ArchiveError(f"the archive would unpack to {total / 2**30:.1f} GiB; the limit "
                           f"is {limits.total_bytes / 2**30:g} GiB")
    parsed = [(info, _member_parts(info.filename)) for info in infos]
    good = [p for _i, p in parsed if isinstance(p, list)]
    strip = 1 if good and all(p[0] == "submitted" for p in good) else 0
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    seen: dict[tuple[str, str], dict[tuple[str, ...], str]] = defaultdict(dict)
    for info, parts in parsed:
        shown = intake.shown(info.filename)
        if isinstance(parts, str):
            raw = info.filename.replace("\\", "/").lstrip("/").split("/")[strip:]
            ident = raw[:2] if len(raw) >= 3 else None
            if ident and not any(id_problem(x) for x in ident):
                groups[tuple(ident)].problems.append(parts)
            else:
                report.refused.append(f"{intake.REFUSED}: archive member {shown}: {parts}")
            continue
        parts = parts[strip:]
        if len(parts) < 3 or (info.is_dir() and len(parts) < 3):
            continue  # a top-level file or folder (a README, say): not a submission
        student, assignment, rest = parts[0], parts[1], parts[2:]
        bad_id = id_problem(student) or id_problem(assignment)
        if bad_id:
            report.refused.append(f"{intake.REFUSED}: archive member {shown}: unusable "
                                  f"student id or assignment: {bad_id}")
            continue
        group = groups[(student, assignment)]
        if _is_link(info):
            group.problems.append(f"a link: {intake.shown('/'.join(rest))}")
            continue
        if info.flag_bits & 0x1:
            group.problems.append(f"an encrypted file: {intake.shown('/'.join(rest))}")
            continue
        if (info.file_size > 2**20 and info.compress_size
                and info.file_size / info.compress_size > limits.ratio):
            group.problems.append(f"a file compressed more than {limits.ratio:g} times: "
                                  f"{intake.shown('/'.join(rest))}")
            continue
        key = _collision_key(rest)
        names = seen[(student, assignment)]
        kind = "dir" if info.is_dir() else "file"
        for depth in range(1, len(key)):
            if names.get(key[:depth]) == "file":
                group.problems.append(f"a name used for a file and a folder: "
                                      f"{intake.shown('/'.join(rest[:depth]))}")
        if key in names and not (kind == "dir" and names[key] == "dir"):
            group.problems.append(f"two files with the same name: "
                                  f"{intake.shown('/'.join(rest))}")
            continue
        names[key] = kind
        for depth in range(1, len(key)):
            names.setdefault(key[:depth], "dir")
        if not info.is_dir():
            group.members.append((info, rest))
    return groups


def _extract_group(zf: zipfile.ZipFile, group: _Group, stage: str,
                   limits: intake.IntakeLimits) -> list[str]:
    """Write a group's members under ``stage``; return problems found while reading."""
    problems, total = [], 0
    if len(group.members) > limits.files:
        return [f"more than {limits.files} files"]
    for info, rest in group.members:
        if len(rest) - 1 > limits.depth:
            return [f"folders nested deeper than {limits.depth}: {intake.shown('/'.join(rest))}"]
        cap = limits.notebook_bytes if rest[-1].endswith(".ipynb") else limits.file_bytes
        target = os.path.join(stage, *rest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        written = 0
        with zf.open(info) as src, open(target, "xb") as out:
            while True:  # read in pieces: never trust the header's size
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                written += len(chunk)
                total += len(chunk)
                if written > cap:
                    problems.append(f"a file larger than {cap / 2**20:g} MiB: "
                                    f"{intake.shown('/'.join(rest))}")
                    break
                if total > limits.total_bytes:
                    return [f"more than {limits.total_bytes / 2**20:g} MiB of files in all"]
                out.write(chunk)
        if problems:
            return problems
    return problems


def _place(course: str, student: str, assignment: str, stage: str,
           problems: list[str]) -> None:
    """Make ``submitted/<student>/<assignment>`` the staged folder, or a refusal."""
    submitted = os.path.join(course, "submitted")
    student_dir = os.path.join(submitted, student)
    if os.path.islink(student_dir) or (os.path.lexists(student_dir)
                                       and not os.path.isdir(student_dir)):
        os.unlink(student_dir)
    os.makedirs(student_dir, exist_ok=True)
    target = os.path.join(student_dir, assignment)
    if os.path.islink(target) or os.path.isfile(target):
        os.unlink(target)
    elif os.path.isdir(target):
        shutil.rmtree(target)
    if problems:
        intake.write_refusal(course, target, assignment, problems)
    else:
        os.rename(stage, target)


def import_zip(course: str, source: str, limits: ArchiveLimits | None = None) -> ImportReport:
    """Import the submissions in zip ``source``; see the module docstring."""
    limits = limits or ArchiveLimits()
    report = ImportReport()
    try:
        zf = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"{source} is not a readable zip file ({exc})") from exc
    os.makedirs(os.path.join(course, ".cnnlab"), exist_ok=True)
    with zf, tempfile.TemporaryDirectory(dir=os.path.join(course, ".cnnlab"),
                                         prefix="import-") as work:
        groups = _group_zip(zf, limits, report)
        for n, ((student, assignment), group) in enumerate(sorted(groups.items())):
            stage = os.path.join(work, str(n))
            os.makedirs(stage)
            problems = list(group.problems)
            if not problems:
                try:
                    problems = _extract_group(zf, group, stage, limits.submission)
                except (OSError, zipfile.BadZipFile, EOFError, RuntimeError,
                        NotImplementedError) as exc:  # corrupt, unsupported method...
                    problems = [f"a file that could not be unpacked ({type(exc).__name__})"]
            if not problems:
                problems = intake.scan(stage, limits.submission).problems
            _place(course, student, assignment, stage, problems)
            _record(report, student, assignment, problems)
    return report


def _record(report: ImportReport, student: str, assignment: str, problems: list[str]) -> None:
    report.imported.append((student, assignment))
    if problems:
        report.refused.append(intake.report_line(student, assignment, problems))


def import_folder(course: str, source: str, limits: ArchiveLimits | None = None
                  ) -> ImportReport:
    """Import the submissions in folder ``source`` (links refused, files copied as data)."""
    limits = limits or ArchiveLimits()
    report = ImportReport()
    dest = os.path.join(course, "submitted")
    root = os.path.join(source, "submitted") if os.path.isdir(
        os.path.join(source, "submitted")) else source
    same = os.path.realpath(root) == os.path.realpath(dest)
    for student in sorted(os.listdir(root)):
        sdir = os.path.join(root, student)
        bad = id_problem(student)
        if not os.path.isdir(sdir) and not os.path.islink(sdir):
            continue
        if bad:
            report.refused.append(f"{intake.REFUSED}: folder {intake.shown(student)}: unusable "
                                  f"student id: {bad}")
            continue
        if os.path.islink(sdir):
            target = intake.shown(os.readlink(sdir))
            report.refused.append(f"{intake.REFUSED}: folder {intake.shown(student)}: a link "
                                  f"-> {target}; not imported")
            continue
        for assignment in sorted(os.listdir(sdir)):
            adir = os.path.join(sdir, assignment)
            if not os.path.isdir(adir) and not os.path.islink(adir):
                continue
            if id_problem(assignment):
                report.refused.append(f"{intake.REFUSED}: folder {intake.shown(student)}/"
                                      f"{intake.shown(assignment)}: {id_problem(assignment)}")
                continue
            if same:  # already in place: the grader's own check runs at autograde
                report.imported.append((student, assignment))
                continue
            problems = intake.check_submission(adir, limits.submission)
            with tempfile.TemporaryDirectory(dir=course, prefix=".import-") as work:
                stage = os.path.join(work, "s")
                if not problems:
                    problems = intake.copy_as_data(adir, stage, skip_notebooks=False,
                                                   limits=limits.submission)
                _place(course, student, assignment, stage, problems)
            _record(report, student, assignment, problems)
    return report


def import_submissions(course: str, source: str) -> ImportReport:
    """Import ``source`` (a folder or a .zip) into ``<course>/submitted/``."""
    if os.path.isfile(source) and zipfile.is_zipfile(source):
        return import_zip(course, source)
    if os.path.isdir(source):
        return import_folder(course, source)
    raise ArchiveError(f"{source} is neither a folder nor a zip file")
