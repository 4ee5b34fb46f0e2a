"""autograder/tools/archives.py: ``grade --submissions`` imports each submission on its
own; a bad member, name or size costs only the submission it belongs to."""

from __future__ import annotations

import json
import os
import stat
import sys
import zipfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder.tools import archives

NB = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                 "cells": [{"cell_type": "code", "source": "x = 1", "metadata": {},
                            "outputs": [], "execution_count": None}]})


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    (root / "release" / "ps").mkdir(parents=True)
    (root / "release" / "ps" / "ps.ipynb").write_text(NB)
    return root


def _notice(course, student):
    nb = json.loads((course / "submitted" / student / "ps" / "ps.ipynb").read_text())
    first = nb["cells"][0]
    return first["source"] if first["cell_type"] == "markdown" else ""


def test_good_archive_is_imported(course, tmp_path):
    path = _zip(tmp_path / "a.zip", {"submitted/alice/ps/ps.ipynb": NB,
                                     "submitted/bob/ps/ps.ipynb": NB,
                                     "submitted/bob/ps/data/x.csv": "1,2",
                                     "submitted/README.txt": "top-level, ignored"})
    report = archives.import_submissions(str(course), path)
    assert report.imported == [("alice", "ps"), ("bob", "ps")]
    assert report.refused == []
    assert (course / "submitted" / "bob" / "ps" / "data" / "x.csv").read_text() == "1,2"


def test_a_bad_member_costs_only_its_own_submission(course, tmp_path):
    link = zipfile.ZipInfo("mallory/ps/notes.txt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = _zip(tmp_path / "a.zip", {"alice/ps/ps.ipynb": NB, "mallory/ps/ps.ipynb": NB,
                                     link: "/etc/passwd"})
    report = archives.import_submissions(str(course), path)
    assert report.imported == [("alice", "ps"), ("mallory", "ps")]
    assert report.refused == ["SUBMISSION REFUSED: mallory/ps: your submission contains "
                              "a link: notes.txt"]
    assert _notice(course, "alice") == ""
    assert "a link: notes\\.txt" in _notice(course, "mallory")
    assert sorted(os.listdir(course / "submitted" / "mallory" / "ps")) == ["ps.ipynb"]


def test_colliding_names_refuse_that_submission_only(course, tmp_path):
    path = _zip(tmp_path / "a.zip", {"alice/ps/ps.ipynb": NB, "bob/ps/ps.ipynb": NB,
                                     "bob/ps/X.txt": "1", "bob/ps/x.txt": "2",
                                     "carol/ps/ps.ipynb": NB, "carol/ps/d": "file",
                                     "carol/ps/d/e": "under a file",
                                     "dan/ps/ps.ipynb": NB, "dan/ps/caf\u00e9": "nfc"})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("dan/ps/cafe\u0301", "nfd")  # the same name, decomposed
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("dan/ps/ps.ipynb", NB)  # the very same name again
    report = archives.import_submissions(str(course), path)
    assert [r.split(": ", 2)[1] for r in report.refused] == ["bob/ps", "carol/ps", "dan/ps"]
    assert "two files with the same name: x.txt" in report.refused[0]
    assert "a name used for a file and a folder: d" in report.refused[1]
    assert "two files with the same name: cafe\u0301 (and 1 more)" in report.refused[2]
    assert _notice(course, "alice") == ""


@pytest.mark.parametrize(("member", "why"), [
    ("./ps/ps.ipynb", "an empty or special name '.'"),
    ("../ps/ps.ipynb", "an empty or special name '..'"),
    ("a\nb/ps/ps.ipynb", "a name with control characters: a\\nb"),
    (".hidden/ps/ps.ipynb", "a name starting with '.'"),
    ("-rf/ps/ps.ipynb", "a name starting with '-'"),
    ("c:/ps/ps.ipynb", "a name with ':'"),
])
def test_unusable_ids_are_skipped_and_the_rest_imported(course, tmp_path, member, why):
    path = _zip(tmp_path / "a.zip", {"alice/ps/ps.ipynb": NB, member: NB})
    report = archives.import_submissions(str(course), path)
    assert report.imported == [("alice", "ps")]
    assert len(report.refused) == 1
    assert report.refused[0].startswith("SUBMISSION REFUSED: archive member ")
    assert why in report.refused[0]
    assert sorted(os.listdir(course / "submitted")) == ["alice"]


@pytest.mark.parametrize(("member", "student", "why"), [
    ("/abs/ps/ps.ipynb", "abs", "an absolute path: /abs/ps/ps.ipynb"),
    ("win\\ps\\ps.ipynb", "win", "a path with a backslash: win\\ps\\ps.ipynb"),
])
def test_bad_paths_refuse_the_submission_they_name(course, tmp_path, member, student, why):
    path = _zip(tmp_path / "a.zip", {"alice/ps/ps.ipynb": NB, member: NB})
    report = archives.import_submissions(str(course), path)
    assert report.refused == [f"SUBMISSION REFUSED: {student}/ps: your submission contains "
                              + why]
    assert "This submission was not graded" in _notice(course, student)


def test_bad_file_names_inside_a_submission(course, tmp_path):
    path = _zip(tmp_path / "a.zip", {"alice/ps/ps.ipynb": NB, "alice/ps/a\x1bb.txt": "x",
                                     "bob/ps/ps.ipynb": NB})
    report = archives.import_submissions(str(course), path)
    assert report.refused == ["SUBMISSION REFUSED: alice/ps: your submission contains a name "
                              "with control characters: a\\x1bb.txt"]
    assert _notice(course, "bob") == ""


def test_zip_bomb_is_refused_by_ratio_and_by_what_is_read(course, tmp_path):
    path = _zip(tmp_path / "bomb.zip", {"alice/ps/ps.ipynb": NB,
                                        "bob/ps/ps.ipynb": NB,
                                        "bob/ps/zeros.bin": b"\0" * (32 * 2**20)},
                compression=zipfile.ZIP_DEFLATED)
    report = archives.import_submissions(str(course), path)
    assert report.refused == ["SUBMISSION REFUSED: bob/ps: your submission contains a file "
                              "compressed more than 200 times: zeros.bin"]
    assert not (course / "submitted" / "bob" / "ps" / "zeros.bin").exists()
    small = archives.ArchiveLimits(ratio=1e9, submission=archives.intake.IntakeLimits(
        file_bytes=2**20))
    report = archives.import_zip(str(course), path, small)
    assert "a file larger than 1 MiB: zeros.bin" in report.refused[0]


def test_archive_wide_limits(course, tmp_path):
    path = _zip(tmp_path / "a.zip", {f"s{i}/ps/ps.ipynb": NB for i in range(5)})
    with pytest.raises(archives.ArchiveError, match="5 members; the limit is 4"):
        archives.import_zip(str(course), path, archives.ArchiveLimits(members=4))
    with pytest.raises(archives.ArchiveError, match="would unpack to"):
        archives.import_zip(str(course), path, archives.ArchiveLimits(total_bytes=100))


def test_folder_import_copies_as_data(course, tmp_path):
    src = tmp_path / "incoming"
    (src / "alice" / "ps").mkdir(parents=True)
    (src / "alice" / "ps" / "ps.ipynb").write_text(NB)
    (src / "bob" / "ps").mkdir(parents=True)
    (src / "bob" / "ps" / "ps.ipynb").write_text(NB)
    os.symlink("/etc/passwd", src / "bob" / "ps" / "notes.txt")
    os.symlink(src / "alice", src / "carol")
    (src / ".git").mkdir()
    report = archives.import_submissions(str(course), str(src))
    assert report.imported == [("alice", "ps"), ("bob", "ps")]
    assert report.refused == [
        "SUBMISSION REFUSED: folder .git: unusable student id: a name starting with '.': .git",
        "SUBMISSION REFUSED: bob/ps: your submission contains a link: notes.txt -> /etc/passwd",
        f"SUBMISSION REFUSED: folder carol: a link -> {src / 'alice'}; not imported"]
    assert not os.path.lexists(course / "submitted" / "bob" / "ps" / "notes.txt")
    assert "a link: notes\\.txt" in _notice(course, "bob")


def test_existing_link_in_submitted_is_replaced_not_followed(course, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (course / "submitted").mkdir()
    os.symlink(elsewhere, course / "submitted" / "alice")
    path = _zip(tmp_path / "a.zip", {"alice/ps/ps.ipynb": NB})
    archives.import_submissions(str(course), path)
    assert not os.path.islink(course / "submitted" / "alice")
    assert os.listdir(elsewhere) == []
