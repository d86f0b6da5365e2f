"""Card rendering proofs: the bot's cards through Microsoft's Adaptive Cards JS renderer in Chromium.

    from tests.render import render_cards
    from tests.render.gallery import gallery

    run = render_cards(gallery(), out_dir)    # one PNG per card in out_dir, and what the renderer said
    run.cards["presence-busy"].parse_events   # [] when the renderer understood every bit of the card

`index.html` + `render.js` are a static page that loads `adaptivecards` (v3) from tests/js/node_modules
and renders with a Teams-like host config; `render-cards.mjs` opens it in headless Debian Chromium with
playwright-core and takes an element screenshot per card. Regenerate docs/cards with
`.venv/bin/python -m tests.render`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.browser import ensure_chromium
from tests.support.nodejs import run_node

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DOCS_CARDS = REPO / "docs" / "cards"
SCRIPT = HERE / "render-cards.mjs"
TIMEOUT = 180  # seconds for the whole run: Chromium's start plus a few dozen cards


class RenderError(RuntimeError):
    """The renderer script did not run to the end."""


@dataclass(frozen=True)
class CardReport:
    """What the renderer made of one card."""

    name: str
    parse_events: list[dict[str, Any]]  # SerializationContext events while parsing (target 1.5)
    validation_events: list[dict[str, Any]]  # card.validateProperties()
    error: str | None  # an exception while parsing or rendering
    version: str | None
    text: str  # the rendered card's innerText
    width: int
    height: int
    actions: list[dict[str, Any]]  # type, title, verb, data of each card-level action as parsed
    buttons: list[dict[str, Any]]  # title, truncated, width of each rendered button
    refresh: dict[str, Any] | None
    png: Path

    @property
    def warnings(self) -> list[str]:
        """Every parse or validation event and any error, one line each."""
        lines = [f"parse {e['event']}: {e['message']}" for e in self.parse_events]
        lines += [f"validate {e['event']}: {e['message']}" for e in self.validation_events]
        if self.error:
            lines.append(f"error: {self.error}")
        return lines


@dataclass(frozen=True)
class RenderRun:
    renderer: str  # "adaptivecards 3.0.6"
    user_agent: str
    blocked: list[str]  # URLs the page tried to fetch off the machine (aborted)
    page_errors: list[str]
    cards: dict[str, CardReport] = field(default_factory=dict)


def _report(raw: dict[str, Any]) -> CardReport:
    return CardReport(
        name=raw["name"],
        parse_events=raw["parseEvents"],
        validation_events=raw["validationEvents"],
        error=raw["error"],
        version=raw["version"],
        text=raw["text"],
        width=raw["width"],
        height=raw["height"],
        actions=raw["actions"],
        buttons=raw["buttons"],
        refresh=raw["refresh"],
        png=Path(raw["png"]),
    )


def render_cards(
    cards: Mapping[str, dict[str, Any]], out_dir: Path, *, scale: float = 1, timeout: float = TIMEOUT
) -> RenderRun:
    """Render `cards` (name → Adaptive Card JSON), writing `out_dir/<name>.png` for each, at `scale`
    device pixels per CSS pixel (1 keeps docs/cards small; 2 is sharper).

    Node, the npm packages and Chromium are ensured first (the test is skipped, or fails under CI,
    when they cannot be had). Raises `RenderError` when the script itself fails.
    """
    ensure_chromium()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="presence-bot-cards-") as tmp:
        cards_file = Path(tmp) / "cards.json"
        cards_file.write_text(
            json.dumps([{"name": name, "card": card} for name, card in cards.items()]), encoding="utf-8"
        )
        result = run_node(str(SCRIPT), str(cards_file), str(out_dir), str(scale), timeout=timeout)
    if result.returncode != 0:
        raise RenderError(f"{SCRIPT.name} exited with {result.returncode}:\n{result.stderr.strip()[-4000:]}")
    try:
        raw = json.loads(result.stdout)
    except ValueError as error:
        raise RenderError(f"{SCRIPT.name} printed no JSON: {result.stdout[-2000:]!r}") from error
    return RenderRun(
        renderer=raw["renderer"],
        user_agent=raw["userAgent"],
        blocked=raw["blocked"],
        page_errors=raw["pageErrors"],
        cards={report["name"]: _report(report) for report in raw["cards"]},
    )
