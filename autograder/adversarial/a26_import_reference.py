"""Answer by calling the course's reference implementation: ``import cnnlab`` (and the
test registry), add the repository to ``sys.path``, re-install the editable-install
finder, load the reference files by path, remove the import blocker from
``sys.meta_path``.

Gets nothing: in the sandbox the cnnlab source and the repository do not exist (the
editable finder points at nothing), so every attempt raises ImportError or
FileNotFoundError and the answers stay undefined.
"""

CATEGORY = "reference import"
REQUIRES = ("filesystem",)

APPEND = [
    '''import glob
import importlib
import importlib.util
import sys

sys.meta_path[:] = [f for f in sys.meta_path if "Blocked" not in type(f).__name__]
sys.path[:0] = [ATTACK["repo"], *ATTACK["reference_dirs"]]
finders = [f for d in sys.path if d.endswith("site-packages")
           for f in glob.glob(d + "/__editable__*finder.py")]
print("editable finders:", finders)
for finder in finders:
    try:
        spec = importlib.util.spec_from_file_location("_finder", finder)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.install()
    except Exception as exc:
        print("finder", type(exc).__name__)
reference = {}
for name in ("cnnlab", "cnnlab.layers", "cnnlab.naive", *ATTACK["reference_modules"]):
    try:
        reference[name] = importlib.import_module(name)
    except Exception as exc:
        print(name, type(exc).__name__, exc)
for path in ATTACK["reference_files"]:
    try:
        spec = importlib.util.spec_from_file_location("_ref", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        reference[path] = mod
    except Exception as exc:
        print(path, type(exc).__name__)
for _name, _kind in ATTACK["targets"].items():
    for mod in reference.values():
        for attr in (_name, "reference_" + _name):
            if hasattr(mod, attr):
                globals()[_name] = getattr(mod, attr)
print(sorted(reference))
''',
]
