"""Every card the bot sends, rendered by Microsoft's Adaptive Cards JS renderer (v3) in headless Chromium.

The JSON schema (tests/cards/test_cards.py) says a card is well-formed; this says the renderer Teams' web
client is built on understands every part of it (no parse or validation warnings, targeting 1.5),
draws it with text in it, and keeps the Universal Actions as `Action.Execute`. It also writes the
pictures in docs/cards/ (`.venv/bin/python -m tests.render` regenerates them on their own).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.render import DOCS_CARDS, RenderRun, render_cards
from tests.render.gallery import gallery

CARDS = gallery()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A card with what the renderer must complain about, rendered alongside: proof the checks can fail.
CONTROL = "control-broken-card"
BROKEN: dict[str, Any] = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "red is no Adaptive Card colour", "color": "red"},
        {"type": "Frobnicator", "text": "no such element"},
    ],
    "actions": [
        {"type": "Action.Frobnicate", "title": "no such action"},
        {"type": "Action.Execute", "title": "one", "id": "same"},
        {"type": "Action.Execute", "title": "two", "id": "same"},
    ],
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> RenderRun:
    """One renderer run over every card (and the control); the cards' pictures then go to docs/cards."""
    run = render_cards({**CARDS, CONTROL: BROKEN}, tmp_path_factory.mktemp("cards"))
    DOCS_CARDS.mkdir(parents=True, exist_ok=True)
    for name in CARDS:
        shutil.copyfile(run.cards[name].png, DOCS_CARDS / f"{name}.png")
    return run


def texts(node: Any) -> list[str]:
    """Every TextBlock's text in a card, depth first."""
    if isinstance(node, list):
        return [text for item in node for text in texts(item)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if node.get("type") == "TextBlock" else []
    for key in ("body", "items", "columns"):
        found += texts(node.get(key, []))
    return found


def squashed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_the_renderer_ran_offline_and_saw_every_card(rendered: RenderRun) -> None:
    assert rendered.renderer.startswith("adaptivecards 3.")
    assert "HeadlessChrome" in rendered.user_agent
    assert list(rendered.cards) == [*CARDS, CONTROL]
    assert rendered.page_errors == []
    assert rendered.blocked == []  # the page needs nothing beyond tests/ and node_modules


@pytest.mark.parametrize("name", CARDS)
def test_card_parses_and_validates_without_a_warning(rendered: RenderRun, name: str) -> None:
    report = rendered.cards[name]
    assert report.warnings == []
    assert report.version == "1.5"


def _visible(node: Any) -> Any:
    """`node` without what is hidden until a button shows it (`isVisible: false`, behind "Why?")."""
    if isinstance(node, list):
        return [
            _visible(item) for item in node if not (isinstance(item, dict) and item.get("isVisible") is False)
        ]
    if isinstance(node, dict):
        return {key: _visible(value) for key, value in node.items()}
    return node


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


@pytest.mark.parametrize("name", CARDS)
def test_card_renders_every_text_and_button_into_a_picture(rendered: RenderRun, name: str) -> None:
    report, card = rendered.cards[name], CARDS[name]
    assert report.width > 0 and report.height > 0
    shown = squashed(report.text)
    for text in texts(_visible(card["body"])):
        assert squashed(text) in shown
    # Every button, in order: those in the body (the welcome card's examples), then the card's own;
    # "Why?" (in the body) only unfolds the explanations.
    pressed = [button["title"] for button in report.buttons if button["title"] != "Why?"]
    in_body = [
        action["title"]
        for node in _nodes(_visible(card["body"]))
        if node.get("type") == "ActionSet"
        for action in node["actions"]
        if action["type"] != "Action.ToggleVisibility"
    ]
    assert pressed == in_body + [a["title"] for a in card.get("actions", [])]
    png = report.png.read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 2000
    assert (DOCS_CARDS / f"{name}.png").read_bytes() == png


@pytest.mark.parametrize("name", [name for name, card in CARDS.items() if card.get("actions")])
def test_buttons_stay_universal_actions_that_run_a_command(rendered: RenderRun, name: str) -> None:
    """The renderer must not fall back to Action.Submit: Teams answers Action.Execute in place."""
    for action in rendered.cards[name].actions:
        if action["type"] == "Action.OpenUrl":  # "Chat with …": only Teams' own chat deep link
            assert action["url"].startswith("https://teams.microsoft.com/l/chat/0/0?users=")
            continue
        assert action["type"] == "Action.Execute"
        assert action["verb"] == "command"
        assert action["data"]["command"].startswith("/")


def test_the_checks_catch_what_the_renderer_does_not_understand(rendered: RenderRun) -> None:
    report = rendered.cards[CONTROL]
    assert [(e["event"], e["message"]) for e in report.parse_events] == [
        ("InvalidPropertyValue", 'Invalid value "red" for property "color".'),
        ("UnknownElementType", 'Unknown element type "Frobnicator". Fallback will be used if present.'),
        ("UnknownActionType", 'Unknown action type "Action.Frobnicate". Fallback will be used if present.'),
    ]
    assert [e["event"] for e in report.validation_events] == ["DuplicateId"]


def test_the_refresh_action_is_understood(rendered: RenderRun) -> None:
    assert rendered.cards["presence-busy-refresh"].refresh == {
        "action": {
            "type": "Action.Execute",
            "title": None,
            "verb": "command",
            "data": {"command": "/presence"},
        },
        "userIds": ["29:ada"],
    }
    assert rendered.cards["presence-busy"].refresh is None


def test_every_button_title_is_shown_whole(rendered: RenderRun) -> None:
    """Buttons wrap onto a second row as in Teams rather than being cut to "Busy …"."""
    cut = {
        name: [button["title"] for button in report.buttons if button["truncated"]]
        for name, report in rendered.cards.items()
    }
    assert {name: titles for name, titles in cut.items() if titles} == {}
