"""The shape of the code, checked: layers import only downward, and files keep to one job.

Layers, bottom to top (a module may import its own package and any lower layer, never a sibling of
its own layer or anything above):

    0  bot.core, bot.clock                        the shared vocabulary
    1  bot.config                                 settings
    2  bot.commands, bot.graph, bot.store, cards  parser, Graph client, store, card builders;
       bot.logs, bot.modes                        log format and redaction; the start-up mode
    3  bot.presence, bot.preferences, bot.sim     services; the simulated tenant
       bot.colleagues                             /who and /watch: reading and watching colleagues
       bot.health                                 readiness checks
    4  bot.turns                                  the per-activity pipeline and the dispatch table
    5  bot.teams                                  botbuilder: activities in, messages out
    6  bot.app, bot.package, bot.admin            wiring the app; the Teams app package; privacy commands
    7  bot.server                                 serving the app
    8  bot.cli                                    the command line
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS: dict[str, int] = {
    "bot.core": 0,
    "bot.clock": 0,
    "bot.config": 1,
    "bot.modes": 2,
    "bot.commands": 2,
    "bot.graph": 2,
    "bot.store": 2,
    "cards": 2,
    "bot.logs": 2,
    "bot.presence": 3,
    "bot.preferences": 3,
    "bot.colleagues": 3,
    "bot.sim": 3,
    "bot.health": 3,
    "bot.turns": 4,
    "bot.teams": 5,
    "bot.app": 6,
    "bot.package": 6,
    "bot.admin": 6,
    "bot.server": 7,
    "bot.cli": 8,
}
LONG_FILE = 500


def _package(module: str) -> str | None:
    """The layer entry `module` belongs to (longest matching prefix)."""
    for name in sorted(LAYERS, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def _modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("bot", "cards"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's scripts: run by Alembic, importing the schema by design
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((module, path))
    return found


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in {"bot", "cards"}}


def test_every_module_has_a_layer() -> None:
    missing = [module for module, _ in _modules() if module not in {"bot"} and _package(module) is None]
    assert missing == []


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_only_run_downward(module: str, path: Path) -> None:
    own = _package(module)
    if own is None:
        return
    wrong = []
    for name in _imports(path):
        target = _package(name)
        if target is None or target == own:
            continue
        if LAYERS[target] >= LAYERS[own]:
            wrong.append(f"{name} (layer {LAYERS[target]})")
    assert wrong == [], f"{module} (layer {LAYERS[own]}) imports upward or sideways: {wrong}"


def test_the_teams_layer_touches_no_store_but_its_records() -> None:
    for module, path in _modules():
        if _package(module) != "bot.teams":
            continue
        stores = {name for name in _imports(path) if name.startswith("bot.store")}
        assert all(name.startswith("bot.store.records") for name in stores), (module, stores)
        if module == "bot.teams.handler":
            assert stores == set(), "the activity handler imports no store at all"


def test_long_files_say_why_at_their_top() -> None:
    unexplained = []
    for module, path in _modules():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONG_FILE and "Over 500 lines:" not in text[:3000]:
            unexplained.append(f"{module} ({text.count(chr(10))} lines)")
    assert unexplained == [], "split these, or say at the top why one file serves best"
