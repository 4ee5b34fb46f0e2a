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
