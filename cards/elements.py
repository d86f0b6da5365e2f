"""The few Adaptive Card building blocks every card uses, so each card reads as layout, not JSON.

Only elements and properties Teams renders from Adaptive Cards 1.5 (TextBlock, Container,
Action.Execute with an Action.Submit fallback) and that the 1.5 JSON schema accepts: the schema forbids
unknown top-level keys, so there is no `msteams` block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

Card = dict[str, Any]
Element = dict[str, Any]

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
COMMAND_VERB = "command"
MAX_REFRESH_USERS = 60  # Teams ignores `refresh.userIds` lists longer than this

Color = Literal["default", "good", "warning", "attention", "accent"]
Size = Literal["small", "default", "medium", "large", "extraLarge"]
Spacing = Literal["none", "small", "default", "medium", "large"]


def card(
    body: Sequence[Element],
    *,
    fallback_text: str,
    actions: Sequence[Element] = (),
    refresh: Element | None = None,
) -> Card:
    """The card envelope: schema, version, fallback text, then body and actions."""
    result: Card = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA_URL,
        "version": VERSION,
        "fallbackText": fallback_text,
    }
    if refresh is not None:
        result["refresh"] = refresh
    result["body"] = list(body)
    if actions:
        result["actions"] = list(actions)
    return result


def text(
    value: str,
    *,
    color: Color | None = None,
    size: Size | None = None,
    bold: bool = False,
    subtle: bool = False,
    monospace: bool = False,
    spacing: Spacing | None = None,
    separator: bool = False,
) -> Element:
    """A wrapping TextBlock; only the properties that differ from Teams' defaults are written."""
    block: Element = {"type": "TextBlock", "text": value, "wrap": True}
    if color is not None and color != "default":
        block["color"] = color
    if size is not None and size != "default":
        block["size"] = size
    if bold:
        block["weight"] = "bolder"
    if subtle:
        block["isSubtle"] = True
    if monospace:
        block["fontType"] = "monospace"
    if spacing is not None:
        block["spacing"] = spacing
    if separator:
        block["separator"] = True
    return block


def container(
    items: Iterable[Element],
    *,
    style: Literal["emphasis", "good", "warning", "attention", "accent"] | None = None,
    spacing: Spacing | None = None,
    separator: bool = False,
) -> Element:
    block: Element = {"type": "Container", "items": list(items)}
    if style is not None:
        block["style"] = style
    if spacing is not None:
        block["spacing"] = spacing
    if separator:
        block["separator"] = True
    return block


def execute(command: str) -> Element:
    """The Universal Action that runs a chat command: the handler reads `verb` and `data.command`."""
    return {"type": "Action.Execute", "verb": COMMAND_VERB, "data": {"command": command}}


def command_action(title: str, command: str, extra: Mapping[str, str] | None = None) -> Element:
    """A button that runs `command`: Action.Execute, falling back to Action.Submit with the same data
    for clients without Universal Actions (they post `{"command": …}` as the message's value). `extra`
    rides along in the data (a shared card's owner)."""
    data = {"command": command, **(extra or {})}
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": COMMAND_VERB,
        "data": data,
        "fallback": {"type": "Action.Submit", "title": title, "data": dict(data)},
    }


def owner_data(owner: str | None, name: str | None = None, card: str | None = None) -> dict[str, str] | None:
    """What a shared card's buttons carry so a press by someone else leaves the card its owner's: the
    owner's id, their name, and which kind of card it is (none: a presence card); None without an owner."""
    if not owner:
        return None
    return {"owner": owner, **({"owner_name": name} if name else {}), **({"card": card} if card else {})}


def refresh(command: str, user_ids: Sequence[str]) -> Element | None:
    """Card-level auto-refresh for these Teams user ids (deduplicated, at most 60); None if none."""
    unique = list(dict.fromkeys(uid for uid in user_ids if uid))[:MAX_REFRESH_USERS]
    if not unique:
        return None
    return {"action": execute(command), "userIds": unique}


def sentence(value: str) -> str:
    """`value` ending in a full stop (unless it already ends in . ! ? : or …), for fallback text."""
    value = value.strip()
    return value if value.endswith((".", "!", "?", ":", "…")) else f"{value}."
