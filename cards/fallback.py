"""Plain text for every message: what a notification, a screen reader or a client without Adaptive Cards
shows. Each builder writes it into its card's `fallbackText`; `text_fallback` reads it back (or makes it
from a view directly) so the reply builder (`bot.teams.replies`) puts the same words in the activity's
`summary` (not `text`, which Teams would show above the card)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.views import ErrorView, HelpView, PresenceView, WelcomeView
from cards.messages import error_fallback, help_fallback, welcome_fallback
from cards.presence import presence_fallback


def text_fallback(source: Mapping[str, Any] | PresenceView | ErrorView | HelpView | WelcomeView) -> str:
    """One or two short lines summarising a card (its `fallbackText`) or the view it would render.

    A card without `fallbackText` (built elsewhere) falls back to its first two text blocks.
    """
    if isinstance(source, PresenceView):
        return presence_fallback(source)
    if isinstance(source, ErrorView):
        return error_fallback(source)
    if isinstance(source, HelpView):
        return help_fallback(source)
    if isinstance(source, WelcomeView):
        return welcome_fallback(source)
    fallback = source.get("fallbackText")
    if isinstance(fallback, str) and fallback:
        return fallback
    return "\n".join(_texts(source.get("body", []))[:2])


def _texts(elements: Any) -> list[str]:
    """TextBlock texts in reading order, through containers and columns."""
    found: list[str] = []
    if not isinstance(elements, list):
        return found
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        if element.get("type") == "TextBlock" and isinstance(element.get("text"), str):
            found.append(element["text"])
        found += _texts(element.get("items"))
        for column in element.get("columns", []) if isinstance(element.get("columns"), list) else []:
            if isinstance(column, Mapping):
                found += _texts(column.get("items"))
    return found
