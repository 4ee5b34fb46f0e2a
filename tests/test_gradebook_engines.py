"""nbgrader's gradebooks share one engine per database, and still read and write the
same file with their own sessions."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder.tools import gradebook_engines

pytestmark = pytest.mark.grading


def test_gradebooks_share_an_engine_and_its_compiled_queries(tmp_path):
    import nbgrader.api
    from nbgrader.api import Gradebook, MissingEntry

    gradebook_engines.share()
    url = "sqlite:///" + str(tmp_path / "gradebook.db")
    with Gradebook(url) as gb:
        engine = gb.engine
        gb.add_student("s1", first_name="Ada")
        gb.find_student("s1")
        compiled = len(engine._compiled_cache)
    with Gradebook(url) as gb:  # a new session on the same engine: the write is there
        assert gb.engine is engine
        assert gb.find_student("s1").first_name == "Ada"
        with pytest.raises(MissingEntry):
            gb.find_student("s2")
        assert len(engine._compiled_cache) == compiled  # nothing compiled again
    other = "sqlite:///" + str(tmp_path / "other.db")
    with Gradebook(other) as gb:
        assert gb.engine is not engine
        with pytest.raises(MissingEntry):
            gb.find_student("s1")
    assert nbgrader.api.create_engine is gradebook_engines.shared_engine


def test_same_url_different_options_are_different_engines(tmp_path):
    url = "sqlite:///" + str(tmp_path / "gradebook.db")
    a = gradebook_engines.shared_engine(url, echo=False)
    assert gradebook_engines.shared_engine(url, echo=False) is a
    assert gradebook_engines.shared_engine(url, echo=True) is not a


def _statements(engine) -> list[str]:
    from sqlalchemy import event

    seen: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: seen.append(statement))
    return seen


def test_a_complete_gradebook_is_not_asked_for_each_table(tmp_path):
    from nbgrader.api import Gradebook

    gradebook_engines.share()
    path = tmp_path / "gradebook.db"
    url = "sqlite:///" + str(path)
    with Gradebook(url) as gb:  # a new file: nbgrader makes its tables and stamps it
        gb.add_student("s1")
        seen = _statements(gb.engine)
    with Gradebook(url) as gb:
        assert gb.find_student("s1").id == "s1"
    assert not [s for s in seen if "PRAGMA" in s], seen  # SQLAlchemy's one per table
    assert len([s for s in seen if "sqlite_master" in s]) <= 2  # nbgrader's and ours
    path.unlink()  # the same path, a new empty file: its tables are made again
    with Gradebook(url) as gb:
        gb.add_student("s2")
        assert [s.id for s in gb.students] == ["s2"]
        version = gb.db.execute(__import__("sqlalchemy").text(
            "SELECT version_num FROM alembic_version")).scalar()
    assert version  # stamped like any new gradebook


def test_within_one_command_a_gradebook_is_not_asked_again_what_it_has_shown(tmp_path):
    from nbgrader.api import Gradebook

    gradebook_engines.share()
    path = tmp_path / "gradebook.db"
    url = "sqlite:///" + str(path)
    with gradebook_engines.remembering():
        with Gradebook(url, course_id="cnn") as gb:  # new: tables, stamp, course row
            gb.add_student("s1")
        with Gradebook(url, course_id="cnn") as gb:  # complete now: seen once more
            seen = _statements(gb.engine)
        for _ in range(3):
            with Gradebook(url, course_id="cnn") as gb:
                assert gb.find_student("s1").id == "s1"
        assert not [s for s in seen if "sqlite_master" in s], seen
        assert not [s for s in seen if "FROM course" in s], seen
        with Gradebook(url, course_id="other") as gb:  # another course: asked, and made
            assert {c.id for c in gb.db.query(__import__("nbgrader.api").api.Course)} == {
                "cnn", "other"}
        seen.clear()
    path.unlink()  # after the command: nothing is remembered, a new file is made whole
    with Gradebook(url, course_id="cnn") as gb:
        gb.add_student("s2")
        assert [s.id for s in gb.students] == ["s2"]
    assert [s for s in seen if "sqlite_master" in s]


def test_remembering_blocks_start_empty_and_nest(tmp_path):
    from nbgrader.api import Gradebook

    gradebook_engines.share()
    path = tmp_path / "gradebook.db"
    url = "sqlite:///" + str(path)
    with gradebook_engines.remembering():
        with Gradebook(url) as gb:
            gb.add_student("s1")
        path.unlink()
        # a block of its own: it asks, and makes the tables again
        with gradebook_engines.remembering(), Gradebook(url) as gb:
            gb.add_student("s2")
            assert [s.id for s in gb.students] == ["s2"]
