"""A command is declared in one place: its model is named in at most three product files (where it is
defined with its reader, where it is declared with its handler, and the service that runs it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.turns.commands import COMMANDS

REPO = Path(__file__).resolve().parents[2]
PRODUCT = [path for folder in ("bot", "cards") for path in sorted((REPO / folder).rglob("*.py"))]
MAX_FILES = 3


def _identifiers(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.rsplit(".", 1)[-1])
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
    return names


IDENTIFIERS = {path: _identifiers(path) for path in PRODUCT}
MODELS = sorted({declaration.model.__name__ for declaration in COMMANDS.declarations})
# `Help` is also the parser's own answer to a message it does not understand: the parser builds it and
# the registry insists that some command handles it. Those two files do not count for it.
ENGINE = {"Help": {"bot/commands/parser.py", "bot/commands/registry.py"}}


@pytest.mark.parametrize("model", MODELS)
def test_a_command_model_is_named_in_at_most_three_product_files(model: str) -> None:
    files = [str(path.relative_to(REPO)) for path, names in IDENTIFIERS.items() if model in names]
    counted = [name for name in files if name not in ENGINE.get(model, set())]
    assert 1 <= len(counted) <= MAX_FILES, files


def test_the_dispatcher_and_the_parser_name_no_command() -> None:
    for path in ("bot/turns/dispatch.py", "bot/commands/parser.py", "bot/commands/registry.py"):
        named = IDENTIFIERS[REPO / path] & set(MODELS) - {"Help"}
        assert not named, (path, named)
