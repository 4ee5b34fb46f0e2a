"""autograder/grader/intake.py: a submission folder is checked with lstat before
anything reads it; refused submissions are moved aside and replaced by a notice."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder.grader import intake

SMALL = intake.IntakeLimits(file_bytes=1000, notebook_bytes=5000, total_bytes=3000, files=20,
                            depth=3, cells=5, json_depth=10, line_chars=100)


def _notebook(cells: int = 1, source: str = "x = 1") -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "source": source, "metadata": {},
                                  "outputs": [], "execution_count": None}] * cells})


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "submitted" / "alice" / "ps"
    path.mkdir(parents=True)
    (path / "ps.ipynb").write_text(_notebook())
    (path / "notes.txt").write_text("fine")
    return path


def test_plain_folder_passes(folder):
    found = intake.scan(str(folder), SMALL)
    assert found.ok
    assert sorted(found.files) == [("notes.txt", 4), ("ps.ipynb", len(_notebook()))]


def test_notebooks_contents_are_checked_unless_told_not_to(folder):
    (folder / "ps.ipynb").write_text("{not json")
    assert [p for p in intake.scan(str(folder), SMALL).problems if p.startswith("ps.ipynb")]
    found = intake.scan(str(folder), SMALL, notebooks=False)
    assert found.ok
    assert sorted(rel for rel, _ in found.files) == ["notes.txt", "ps.ipynb"]
    os.symlink("/etc/passwd", folder / "secret.txt")  # what lstat sees is still refused
    assert intake.scan(str(folder), SMALL, notebooks=False).problems == [
        "a link: secret.txt -> /etc/passwd"]


def test_symlink_is_refused_with_its_target(folder):
    os.symlink("/etc/passwd", folder / "secret.txt")
    assert intake.scan(str(folder), SMALL).problems == ["a link: secret.txt -> /etc/passwd"]


def test_notebook_that_is_a_link_is_refused(folder, tmp_path):
    os.remove(folder / "ps.ipynb")
    master = tmp_path / "master.ipynb"
    master.write_text(_notebook())
    os.symlink(master, folder / "ps.ipynb")
    assert intake.scan(str(folder), SMALL).problems == [f"a link: ps.ipynb -> {master}"]


def test_hard_link_fifo_socket_and_device_are_refused(folder, tmp_path):
    other = tmp_path / "course_secret"
    other.write_text("s3cret")
    os.link(other, folder / "copy.txt")
    os.mkfifo(folder / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock"))
    problems = intake.scan(str(folder), SMALL).problems
    sock.close()
    assert problems == ["a hard link: copy.txt (a file with 2 names; submit a copy)",
                        "a FIFO (named pipe): pipe", "a socket: sock"]
    if os.geteuid() == 0:
        os.mknod(folder / "dev", 0o600 | 0o020000, os.makedev(1, 3))
        assert "a device: dev" in intake.scan(str(folder), SMALL).problems


def test_sparse_file_counts_its_apparent_size(folder):
    with open(folder / "sparse.bin", "wb") as fh:
        fh.truncate(4 * 2**30)
    assert intake.scan(str(folder), SMALL).problems == [
        "a file larger than 0.000953674 MiB: sparse.bin (4096.0 MiB)"]


def test_total_size_file_count_and_depth(folder):
    for i in range(4):
        (folder / f"f{i}.txt").write_text("x" * 900)
    assert intake.scan(str(folder), SMALL).problems == [
        "more than 0.00286102 MiB of files in all"]
    many = folder.parent / "many"
    many.mkdir()
    for i in range(25):
        (many / f"{i}").write_text("")
    assert intake.scan(str(many), SMALL).problems == ["more than 20 files and folders"]
    deep = folder.parent / "deep"
    (deep / "a" / "b" / "c" / "d").mkdir(parents=True)
    assert intake.scan(str(deep), SMALL).problems == [
        "folders nested deeper than 3: a/b/c/d"]


@pytest.mark.parametrize(("name", "problem"), [
    ("a\nb", "a name with control characters: a\\nb"),
    ("x\u202etxt.exe", "a name with control characters: x\\u202etxt.exe"),
    (os.fsdecode(b"\xff.txt"), "a name that is not valid UTF-8: \\udcff.txt"),
    ("n" * 250, "a name longer than 200 characters: " + "n" * 40 + "..."),
])
def test_bad_names_are_refused(folder, name, problem):
    (folder / name).write_text("")
    assert intake.scan(str(folder), SMALL).problems == [problem]


def test_odd_but_harmless_names_pass(folder):
    for name in ("-rf", "é.txt", ".hidden", "x y.txt"):
        (folder / name).write_text("")
    assert intake.scan(str(folder), SMALL).ok


def test_folder_named_like_a_notebook(folder):
    (folder / "other.ipynb").mkdir()
    assert intake.scan(str(folder), SMALL).problems == [
        "a folder named like a notebook: other.ipynb"]


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "not valid JSON (open it in JupyterLab and save it again)"),
    ("[" * 50 + "]" * 50, "JSON nested deeper than 10 levels"),
    ('{"cells": 3, "nbformat": 4}', "not a Jupyter notebook (no list of cells)"),
    ('{"cells": [], "nbformat": 3}', "not a version 4 notebook"),
    (_notebook(cells=6), "more than 5 cells"),
    (_notebook(source="y" * 200), "a text of more than 100 characters"),
    ('{"cells": [], "nbformat": 4, "nbformat_minor": 5,'
     ' "metadata": {"k": "\\"[[[[[[[[[[[[[[\\""}}', None),
])
def test_notebook_structure(folder, text, problem):
    (folder / "ps.ipynb").write_text(text)
    got = intake.scan(str(folder), SMALL).problems
    assert got == ([f"ps.ipynb: {problem}"] if problem else [])


def test_notebook_schema_is_checked_as_nbgrader_would_read_it(folder):
    nb = json.loads(_notebook())
    nb["cells"][0]["id"] = 'a"><script>'
    (folder / "ps.ipynb").write_text(json.dumps(nb))
    (problem,) = intake.scan(str(folder)).problems
    assert problem.startswith("ps.ipynb: not a valid notebook (")
    assert "at cells/0/id); open it in JupyterLab and save it again" in problem
    nb["cells"][0]["id"] = "fine-id"
    nb["cells"][0]["metadata"]["tags"] = ["a,b"]
    (folder / "ps.ipynb").write_text(json.dumps(nb))
    assert "at cells/0/metadata/tags" in intake.scan(str(folder)).problems[0]


def test_copy_as_data_copies_only_regular_files(folder, tmp_path):
    os.symlink("/etc/passwd", folder / "secret.txt")
    os.mkfifo(folder / "pipe")
    (folder / "sub").mkdir()
    (folder / "sub" / "data.csv").write_text("1,2")
    dest = tmp_path / "dest"
    left_out = intake.copy_as_data(str(folder), str(dest), limits=SMALL)
    assert sorted(left_out) == ["a FIFO (named pipe): pipe", "a link: secret.txt -> /etc/passwd"]
    copied = sorted(os.path.relpath(os.path.join(d, f), dest)
                    for d, _, fs in os.walk(dest) for f in fs)
    assert copied == ["notes.txt", os.path.join("sub", "data.csv")]


def test_open_data_does_not_follow_or_block(folder):
    os.mkfifo(folder / "pipe")  # opening it for reading would block without O_NONBLOCK
    os.symlink("notes.txt", folder / "link")
    assert intake.open_data(str(folder / "pipe"), 100) is None
    assert intake.open_data(str(folder / "link"), 100) is None
    assert intake.open_data(str(folder / "notes.txt"), 100) == b"fine"
    assert intake.open_data(str(folder / "notes.txt"), 3) is None


def _release(tmp_path):
    release = tmp_path / "release" / "ps"
    release.mkdir(parents=True)
    (release / "ps.ipynb").write_text(_notebook(source="raise NotImplementedError"))


def test_hook_refuses_moves_aside_and_leaves_a_notice(folder, tmp_path, capsys):
    _release(tmp_path)
    os.symlink("/etc/passwd", folder / "notes<script>.txt")
    (folder / "timestamp.txt").write_text("2026-01-01 10:00:00 UTC")
    notebooks = [str(folder / "ps.ipynb")]
    intake.refuse_unsafe(assignment="*", student="*", notebooks=notebooks)
    assert notebooks == [str(folder / "ps.ipynb")]
    assert sorted(os.listdir(folder)) == ["ps.ipynb", "timestamp.txt"]
    nb = json.loads((folder / "ps.ipynb").read_text())
    notice = nb["cells"][0]["source"]
    assert notice.startswith("**This submission was not graded.**")
    assert "notes&#60;script&#62;\\.txt \\-&#62; /etc/passwd" in notice
    assert nb["cells"][1]["source"] == "raise NotImplementedError"  # the release, not theirs
    moved = os.listdir(tmp_path / ".cnnlab" / "refused" / "alice")
    assert len(moved) == 1
    assert moved[0].startswith("ps-")
    kept = tmp_path / ".cnnlab" / "refused" / "alice" / moved[0]
    assert os.path.islink(kept / "notes<script>.txt")  # moved as a link, never read
    assert capsys.readouterr().err == (
        "SUBMISSION REFUSED: alice/ps: your submission contains a link: "
        "notes<script>.txt -> /etc/passwd\n")


def test_hook_leaves_a_plain_submission_alone(folder, tmp_path, capsys):
    _release(tmp_path)
    before = (folder / "ps.ipynb").read_text()
    notebooks = [str(folder / "ps.ipynb")]
    intake.refuse_unsafe(notebooks=notebooks)
    assert (folder / "ps.ipynb").read_text() == before
    assert capsys.readouterr().err == ""


def test_hook_refuses_a_linked_student_folder(tmp_path, capsys):
    _release(tmp_path)
    other = tmp_path / "submitted" / "bob" / "ps"
    other.mkdir(parents=True)
    (other / "ps.ipynb").write_text(_notebook(source="bob's answer"))
    os.symlink(tmp_path / "submitted" / "bob", tmp_path / "submitted" / "mallory")
    notebooks = [str(tmp_path / "submitted" / "mallory" / "ps" / "ps.ipynb")]
    intake.refuse_unsafe(notebooks=notebooks)
    mallory = tmp_path / "submitted" / "mallory"
    assert not os.path.islink(mallory)
    nb = json.loads((mallory / "ps" / "ps.ipynb").read_text())
    assert "bob's answer" not in json.dumps(nb)
    assert (other / "ps.ipynb").exists()  # bob's own submission untouched
    assert "SUBMISSION REFUSED: mallory/ps: your submission contains a link: mallory ->" in (
        capsys.readouterr().err)
