"""End the whole run abruptly with ``os._exit(0)`` in a top-level cell.

Costs only this submission's own points: the run ends, the answers it never gave count
as errors, and the batch goes on with the next submission.
"""

CATEGORY = "process escape"

APPEND = [
    '''import os

os._exit(0)
''',
]
