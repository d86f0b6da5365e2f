"""The shape of the code, checked: layers import only downward, third-party packages stay in the layers
that own them, and files keep to one job.

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
    5  bot.teams                                  the HTTP edge and botbuilder: activities in, messages out
    6  bot.app, bot.package, bot.admin            wiring the app; the Teams app package; privacy commands
    7  bot.server                                 serving the app
    8  bot.cli                                    the command line

Third-party packages (`THIRD_PARTY`): the Bot Framework SDK (botbuilder, botframework, msrest and what
they raise) only at the edge (bot.teams) and in the wiring (bot.app), so that a move to the Microsoft 365
Agents SDK touches those alone; aiohttp at the edge, the wiring, the server and the simulated tenant;
httpx and msal in the Graph client (httpx also for the edge's signing keys and the wiring's one client);
SQLAlchemy and Alembic in the store. A package missing from the table is refused until it is placed.
"""

from __future__ import annotations

import ast
import sys
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
ANYWHERE = frozenset({"pydantic"})  # the models' language, in every layer
# Third-party package -> the layer entries (above) that may import it.
THIRD_PARTY: dict[str, frozenset[str]] = {
    # The Bot Framework SDK, frozen since December 2025: the edge and the wiring only.
    "botbuilder": frozenset({"bot.teams", "bot.app"}),
    "botframework": frozenset({"bot.teams", "bot.app"}),
    "msrest": frozenset({"bot.teams"}),  # botbuilder's serializer and the errors its clients raise
    "azure": frozenset({"bot.teams"}),  # azure.core's DeserializationError, raised by msrest
    "urllib3": frozenset({"bot.teams"}),  # what botbuilder's connector raises when a channel is unreachable
    # HTTP: aiohttp serves; httpx calls out.
    "aiohttp": frozenset({"bot.teams", "bot.app", "bot.server", "bot.sim", "bot.health"}),
    "httpx": frozenset({"bot.graph", "bot.teams", "bot.app"}),
    "msal": frozenset({"bot.graph"}),
    # httpx's transport, below it: only `bot/graph/speedups.py`, which mends two of its per-request costs
    "httpcore": frozenset({"bot.graph"}),
    "anyio": frozenset({"bot.graph"}),
    "tenacity": frozenset({"bot.graph", "bot.teams"}),  # Graph's retries; the proactive sender's
    "jwt": frozenset({"bot.teams", "bot.sim"}),  # inbound tokens checked; the simulator's issued
    "cryptography": frozenset({"bot.core", "bot.sim"}),  # certificate credentials; the simulator's CA
    # The store. Outside it: its error type where start-up and the admin commands report a database
    # failure, the readiness probe's query, and the URL parser that finds a password to redact.
    "sqlalchemy": frozenset({"bot.store", "bot.health", "bot.logs", "bot.admin", "bot.cli"}),
    "alembic": frozenset({"bot.store"}),
    "pydantic_settings": frozenset({"bot.config"}),
    "annotated_types": frozenset({"bot.config"}),  # the ranges of the settings, for their error lines
    "dateutil": frozenset({"bot.commands"}),
    "pytimeparse2": frozenset({"bot.commands"}),
    "PIL": frozenset({"bot.package", "cards"}),  # the app package's icons
}


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


def _third_party(path: Path) -> set[str]:
    """The top-level names of the third-party packages `path` imports (at any depth in the file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names} - {"bot", "cards", "__future__"}


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


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_third_party_packages_stay_in_their_layers(module: str, path: Path) -> None:
    own = _package(module)
    if own is None:
        return
    unplaced = sorted(name for name in _third_party(path) if name not in THIRD_PARTY and name not in ANYWHERE)
    assert unplaced == [], f"{module} imports {unplaced}: add them to THIRD_PARTY (and docs/architecture.md)"
    wrong = sorted(
        name for name in _third_party(path) if name in THIRD_PARTY and own not in THIRD_PARTY[name]
    )
    assert wrong == [], f"{module} ({own}) imports {wrong}, which belong to {[THIRD_PARTY[n] for n in wrong]}"


def test_the_migrations_import_only_alembic_sqlalchemy_and_the_schema() -> None:
    for path in sorted((ROOT / "bot" / "store" / "migrations").rglob("*.py")):
        assert _third_party(path) <= {"alembic", "sqlalchemy"}, path


def test_the_third_party_table_names_only_layers() -> None:
    assert {entry for entries in THIRD_PARTY.values() for entry in entries} <= set(LAYERS)


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
