"""The mark a card gets when the bot runs against a simulated Graph (`PRESENCE_BOT_GRAPH=simulator`):
the person reading it in a real Teams client must not think their presence changed."""

from __future__ import annotations

import copy

from cards.elements import Card, text

SIMULATED_NOTE = "Simulated Graph: this bot is not connected to Microsoft Graph, so nothing changed in Teams."
SIMULATED_PREFIX = "[Simulated] "


def mark_simulated(card: Card) -> Card:
    """A copy of `card` ending with a small note that Graph is simulated, its fallback text prefixed."""
    marked = copy.deepcopy(card)
    marked["body"] = [
        *marked.get("body", []),
        text(SIMULATED_NOTE, size="small", color="warning", spacing="medium", separator=True),
    ]
    fallback = marked.get("fallbackText")
    if isinstance(fallback, str) and not fallback.startswith(SIMULATED_PREFIX):
        marked["fallbackText"] = SIMULATED_PREFIX + fallback
    return marked
