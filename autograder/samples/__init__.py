"""Sample submissions of the demo class; see ``_common`` and ``expected_scores.csv``."""
