"""cnnlab's grading machinery (instructor side; never released to students).

``autograder/nbgrader_config.py`` configures nbgrader for the course in this folder;
``autograder.grader`` holds the sandbox and the nbgrader preprocessors;
``python -m autograder.tools`` runs the demo class, grades a real class and manages
per-student variants. See ``autograder/DESIGN.md`` and ``autograder/SECURITY.md``.
"""
