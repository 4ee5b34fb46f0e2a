"""Read the gradebook, the master notebook with hidden tests, the release master,
another student's submission and the reference implementation, by absolute and by
relative path, and search the filesystem for notebooks; print whatever is found (it
would reach this student's feedback).

Gets nothing: in the sandbox those paths do not exist (a private root holding only
the system, Python and this submission's own files).
"""

CATEGORY = "gradebook and file access"
REQUIRES = ("filesystem",)

APPEND = [
    '''import os

loot = {}
paths = [ATTACK["gradebook"], ATTACK["source_notebook"], ATTACK["other_submission"],
         ATTACK["release_notebook"], *ATTACK["reference_files"],
         "../../../gradebook.db", "../../../source", "../../correct"]
for path in paths:
    try:
        with open(path, "rb") as fh:
            loot[path] = fh.read(4000).decode(errors="replace")
    except Exception as exc:
        loot[path] = type(exc).__name__

found = []
roots = ("/", "/root", "/home", "/tmp", "/work", "/srv", "/var",
         os.path.dirname(ATTACK["course_root"]))
for root in roots:
    for dirpath, dirnames, filenames in os.walk(root):
        skip = dirpath.startswith(("/usr", "/proc", "/sys", "/etc", "/dev"))
        if dirpath.count(os.sep) > 6 or skip:
            dirnames[:] = []
            continue
        found += [os.path.join(dirpath, f) for f in filenames if f.endswith((".ipynb", ".db"))]
for path in found[:20]:
    try:
        with open(path, errors="replace") as fh:
            loot[path] = fh.read(4000)
    except Exception as exc:
        loot[path] = type(exc).__name__
print(loot)
print(found)
''',
]
