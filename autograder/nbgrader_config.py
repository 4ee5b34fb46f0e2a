"""nbgrader configuration of the cnnlab course.

The course root is this file's folder, wherever the repository is cloned: run
``nbgrader`` from ``autograder/`` (or use ``python -m autograder.tools``, which does).
nbgrader's ``Execute`` is replaced by cnnlab's sandboxed grader: test cells are never
run; the student's code runs in a sandbox that only answers the grader's questions.
See DESIGN.md and SECURITY.md in this folder.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:  # so nbgrader can import autograder.grader
    sys.path.insert(0, REPO)

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.root = HERE

_NB = "nbgrader.preprocessors."
_OURS = "autograder.grader.preprocessor."
_OURS_HTML = "autograder.grader.html_safety."
_OURS_VARIANT = "autograder.grader.variant_check."
_OURS_CHECK = "autograder.grader.cell_metadata."  # nbgrader's check, its schema checked once
_OURS_MASTER = "autograder.grader.master_cells."  # nbgrader's, the master read once
_OURS_WRITES = "autograder.grader.gradebook_writes."  # nbgrader's, one read or commit a notebook

# Before nbgrader copies or reads a submission's files: only regular files within
# limits (no links, FIFOs, devices; see grader/intake.py); otherwise it is refused.
c.Autograde.pre_convert_hook = "autograder.grader.intake.refuse_unsafe"

# Release: nbgrader's own steps, after a check that every test cell is a question the
# grader can grade (a plain `assert` cell is refused; grader/course_check.py).
c.GenerateAssignment.preprocessors = [
    "autograder.grader.course_check.RequireQuestions",
    _NB + "IncludeHeaderFooter",
    _NB + "InstantiateTests",
    _NB + "LockCells",
    _NB + "ClearSolutions",
    _NB + "ClearOutput",
    _OURS_CHECK + "CheckCellMetadata",
    _NB + "ComputeChecksums",
    _NB + "SaveCells",
    _NB + "ClearHiddenTests",
    _NB + "ClearMarkScheme",
    _NB + "ComputeChecksums",
    _OURS_CHECK + "CheckCellMetadata",
]

# Sanitize: clear outputs, keeping the record of the numbers the notebook showed
# (variant_check); restore every cell's nbgrader metadata from the gradebook; then
# nbgrader's own steps; deleted or edited test cells come back (add_missing_cells).
c.Autograde.sanitize_preprocessors = [
    _OURS_VARIANT + "ClearOutputKeepingShownVariant",
    _OURS + "RestoreCellMetadata",
    _NB + "DeduplicateIds",
    _OURS_MASTER + "OverwriteKernelspecFromMaster",
    _OURS_MASTER + "OverwriteCellsFromMaster",
    _OURS_CHECK + "CheckCellMetadata",
]
c.OverwriteCells.add_missing_cells = True  # also OverwriteCellsFromMaster's (a subclass)

# Autograde: SandboxedGrading instead of Execute. It writes every test cell's output
# (report + score); SaveAutoGrades stores exactly those scores. ReportVariant flags a
# notebook that showed numbers other than its student's (DESIGN.md, variants).
c.Autograde.autograde_preprocessors = [
    _OURS + "SandboxedGrading",
    _OURS_VARIANT + "ReportVariant",
    _NB + "IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    _NB + "LimitOutput",
    _OURS_WRITES + "SaveAutoGradesAtOnce",
    _NB + "AssignLatePenalties",
    _OURS_CHECK + "CheckCellMetadata",
    _OURS_HTML + "SanitizeStudentHTML",  # what the formgrader and feedback render is safe
]
# After each submission: the gradebook must hold what the grader computed.
c.Autograde.post_convert_hook = "autograder.grader.gradebook_guard.post_convert_hook"

# Every nbgrader step validates the notebook against nbformat's schema once, after its
# last preprocessor (nbconvert's default validates after each one: nine times a
# notebook in autograde, a tenth of the grading process's CPU). An invalid result is
# still refused; the error then names the step's last preprocessor.
c.Exporter.optimistic_validation = True

# Feedback: test cells' sources (visible and hidden tests) become a one-line header;
# written answers' rubrics are removed.
c.GenerateFeedback.preprocessors = [
    _OURS_WRITES + "GetGradesAtOnce",  # nbgrader's, one read a notebook
    _OURS + "HideTestSources",
    _NB + "ClearMarkScheme",  # the TAs' rubrics of written answers stay with the TAs
    _OURS_HTML + "SanitizeStudentHTML",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# Feedback HTML: rendered markdown sanitized too, nbconvert's sanitize_html on.
c.GenerateFeedback.exporter_class = _OURS_HTML + "SafeHTMLExporter"
