"""A grading process makes the course-content side once, and again when its
plain-data module changes."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder.grader.course_content import Course

pytestmark = pytest.mark.grading


def test_shared_course_is_made_once_and_again_when_its_plain_module_changes(tmp_path):
    plain = str(tmp_path / "plain.py")
    shutil.copy(Course().plain_path, plain)
    first = Course.shared("cnnlab.grading", plain)
    assert Course.shared("cnnlab.grading", plain) is first
    assert Course.shared("cnnlab.grading", plain, str(tmp_path)) is not first  # another root
    with open(plain, "a", encoding="utf-8") as fh:
        fh.write("\nADDED_LATER = 1\n")
    again = Course.shared("cnnlab.grading", plain)
    assert again is not first
    assert again.plain.ADDED_LATER == 1
    assert not hasattr(first.plain, "ADDED_LATER")
    assert Course.shared("cnnlab.grading", plain) is again
