"""The unit of work travels in plain sight: the activity key, the conversation and a command's effects are
arguments (`Turn.unit`, `unit=`, the `Effects` a unit yields), never context variables, in the packages
that carry them (docs/architecture.md, "Two transactions per command")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot/store", "bot/presence", "bot/turns", "bot/colleagues")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_context_variables(package: str) -> None:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            if "contextvars" in modules:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], f"context variables where the unit of work should be an argument: {found}"
