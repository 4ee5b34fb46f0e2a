"""The grading package's imports: each module on its own, no cycle, no registry side effect."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cnnlab"
GRADING = sorted(
    f"cnnlab.grading.{p.stem}" for p in (PACKAGE / "grading").glob("*.py") if p.stem != "__init__"
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _top_level_imports(path: Path) -> set[str]:
    """cnnlab modules a module imports when it is imported (function bodies excluded)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name in MODULES}


def test_no_import_cycle_in_cnnlab():
    graph = {name: _top_level_imports(path) for name, path in MODULES.items()}
    # a package's __init__ importing its own submodules is not a cycle of theirs
    state: dict[str, str] = {}
    cycles = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for dep in graph[name]:
            if dep.startswith(name + "."):
                continue
            if state.get(dep) == "open":
                cycles.append([*trail[trail.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("module", GRADING)
def test_each_grading_module_imports_on_its_own(module):
    code = (
        f"import {module}\n"
        "from cnnlab.grading import questions\n"
        "assert questions._REGISTRY == {}, sorted(questions._REGISTRY)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_registry_fills_when_asked_not_on_import():
    from cnnlab.grading import questions, questions_for

    keys = [q.key for q in questions_for("ps3_pooling")]
    assert keys[0] == "ps3_pooling-max_forward"
    assert "ps3_pooling" in questions._LOADED
    assert questions_for("ps3_pooling")[0] is questions.question(keys[0])
