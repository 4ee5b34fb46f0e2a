"""Install fake ``cnnlab``, ``cnnlab.grading`` and test-registry modules in ``sys.modules``.

A test cell that imported ``check`` from them would print full marks. Earns nothing:
test cells are never executed, and grading runs in another process whose modules the
submission cannot touch.
"""

CATEGORY = "monkeypatching"

PREPEND = [
    '''import sys
import types

fake = types.ModuleType("cnnlab")
grading = types.ModuleType("cnnlab.grading")


def check(key, obj=None, **kwargs):
    print(f"{key}: full marks")
    return 1e9


grading.check = check
fake.grading = grading
for name in ("cnnlab", "cnnlab.grading", "nbgrader", "autograder", *ATTACK["reference_modules"]):
    sys.modules[name] = grading if "." in name or name != "cnnlab" else fake
''',
]
APPEND = [
    '''for _name, _kind in ATTACK["targets"].items():
    globals()[_name] = (lambda *a, **k: "full marks") if _kind == "function" else "full marks"
''',
]
