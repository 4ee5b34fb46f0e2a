"""The conda environment and the pip metadata list the same runtime dependencies."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")
CONDA_ONLY = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    match = REQUIREMENT.match(requirement.split(";")[0])
    assert match, f"cannot parse requirement {requirement!r}"
    name, spec = match.groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_dependencies(text: str) -> dict[str, str]:
    project = tomllib.loads(text)["project"]
    return dict(_split(req) for req in project["dependencies"])


def conda_dependencies(text: str) -> dict[str, str]:
    """Read the ``dependencies:`` list of an environment.yml (plain strings only)."""
    deps: dict[str, str] = {}
    in_deps = False
    for line in text.splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and line and not line.startswith(" "):
            break
        item = line.strip()
        if in_deps and item.startswith("- ") and not item.endswith(":"):
            name, spec = _split(item[2:])
            deps[name] = spec
    return deps


def drift(pyproject_text: str, environment_text: str) -> dict[str, tuple[str, str]]:
    """Dependencies whose name or bound differs: ``{name: (pip_spec, conda_spec)}``."""
    pip_deps = pyproject_dependencies(pyproject_text)
    conda = {k: v for k, v in conda_dependencies(environment_text).items() if k not in CONDA_ONLY}
    names = set(pip_deps) | set(conda)
    return {
        name: (pip_deps.get(name, "missing"), conda.get(name, "missing"))
        for name in sorted(names)
        if pip_deps.get(name) != conda.get(name)
    }


def test_conda_lists_every_runtime_dependency_with_the_same_bound():
    pyproject = (ROOT / "pyproject.toml").read_text()
    environment = (ROOT / "environment.yml").read_text()
    assert drift(pyproject, environment) == {}


def test_conda_python_matches_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = conda_dependencies((ROOT / "environment.yml").read_text())
    assert conda["python"] == project["requires-python"]


def test_a_changed_bound_and_a_missing_package_are_reported():
    pyproject = (ROOT / "pyproject.toml").read_text()
    environment = (ROOT / "environment.yml").read_text()
    changed = environment.replace("  - numba>=", "  - numba>=9").replace("  - tqdm", "  # tqdm")
    assert set(drift(pyproject, changed)) == {"numba", "tqdm"}
    assert drift(pyproject, changed)["tqdm"][1] == "missing"
