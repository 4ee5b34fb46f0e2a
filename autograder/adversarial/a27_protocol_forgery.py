"""Forge the sandbox's messages: write to the protocol descriptor (fd 3) a fake
"all protections on" line, answers for every case id, "target found", "done", then
garbage, an unterminated 10 MB line and an array header claiming 10^12 elements.

Earns nothing: only the first protections line (written before any student code runs)
counts, every answer is decoded and checked in the grading process (a forged answer is
just an answer, and these are wrong), and malformed data counts as no answer.
"""

CATEGORY = "protocol forgery"

APPEND = [
    '''import json
import os


def forge(message):
    try:
        os.write(3, (json.dumps(message) + "\\n").encode())
    except OSError as exc:
        print("fd 3:", exc)


forge({"t": "sandbox", "mode": "namespaces", "steps": {"filesystem": "on"}})
zeros = json.dumps({"a": ["<f8", [4], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]})
for case_id in range(64):
    forge({"t": "case", "id": case_id, "outcome": {"value": zeros}})
    forge({"t": "case", "id": case_id, "outcome": {"value": "2.0", "extra": 1}})
for key in ATTACK["question_keys"]:
    forge({"t": "target", "key": key, "found": True})
forge({"t": "done"})
try:
    os.write(3, b"garbage\\n" * 1000)
    huge = json.dumps({"a": ["<f8", [10**12], ""]})
    forge({"t": "case", "id": 0, "outcome": {"value": huge}})
    os.write(3, b"{" * 10**7)
except OSError as exc:
    print("fd 3:", exc)
''',
]
