"""Instructor commands: ``python -m autograder.tools <command>``.

demo            grade the sample class end to end with real nbgrader (``make grade-demo``)
grade           autograde a real class's submissions (``submitted/`` or a zip of it)
build-samples   turn ``autograder/samples`` into submitted notebooks
personalize     write one release notebook per student with that student's numbers
init-secret     create the course secret (``autograder/course_secret``, git-ignored)
protections     print which sandbox protections this machine gives
"""

from autograder.tools.start_up import skip_unused_format_checkers

skip_unused_format_checkers()  # before anything imports nbformat (see start_up)
