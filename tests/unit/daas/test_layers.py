"""The layers: plumbing (``daas``, ``schemas``, ``reference``) imports no stage, and no stage
imports the application layer (``console``), at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
STAGES = {"producers", "stream_processors", "sinks", "warehouse", "dags", "benchmarks"}
PLUMBING = {"daas", "schemas", "reference"}


def imports_of(package: str) -> dict[str, set[str]]:
    """Module path -> the top-level packages it imports, anywhere in its code."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO))] = names
    return found


def crossings(packages: set[str], forbidden: set[str]) -> list[str]:
    return [f"{module} imports {sorted(names & forbidden)}" for package in sorted(packages)
            for module, names in imports_of(package).items() if names & forbidden]


def test_plumbing_imports_no_stage_and_no_console() -> None:
    assert crossings(PLUMBING, STAGES | {"console"}) == []


def test_no_stage_imports_the_console() -> None:
    assert crossings(STAGES - {"benchmarks"}, {"console"}) == []


def test_the_check_sees_imports_inside_functions() -> None:
    # What it catches: the console imports every stage, most of them inside its commands.
    found = imports_of("console")
    assert {"stream_processors", "sinks", "warehouse", "producers"} <= set().union(*found.values())
    assert "stream_processors" in found["console/commands/stages.py"]
