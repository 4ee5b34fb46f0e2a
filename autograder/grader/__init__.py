"""Sandboxed grading for nbgrader.

platform        which protections this machine gives (namespaces, limits, ...)
sandbox         run one submission's cells and probes in the sandbox (host side)
nsinit          namespace and limit set-up, started by ``sandbox`` (standalone script)
runner          runs inside the sandbox: student cells, then the probes (standalone)
preprocessor    nbgrader preprocessors: SandboxedGrading, RestoreCellMetadata,
                HideTestSources
gradebook_guard compares the gradebook with the scores the grader computed
"""
