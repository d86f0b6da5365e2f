"""Adaptive Cards for Presence Bot: pure functions from view models to Adaptive Card 1.5 JSON.

No Graph, no I/O, no clock: every time is formatted in `view.time_zone` relative to `view.now`, so the
same view always renders the same card. Every card carries `fallbackText`; `text_fallback(card)` returns
it for the activity's `summary`. Buttons are Universal Actions (`Action.Execute`, verb "command",
`data.command` = the chat command) with an `Action.Submit` fallback carrying the same data.
"""

from cards.colleagues import (
    OWNER_CARD,
    Owner,
    watch_card,
    watch_ended_card,
    watch_notice_card,
    watches_card,
    who_card,
)
from cards.elements import CONTENT_TYPE, Card
from cards.fallback import text_fallback
from cards.messages import error_card, help_card, miss_card, welcome_card
from cards.picker import picker_card
from cards.presence import notice_card, presence_card
from cards.simulated import SIMULATED_NOTE, SIMULATED_PREFIX, mark_simulated
from cards.times import UserTimes

__all__ = [
    "CONTENT_TYPE",
    "OWNER_CARD",
    "SIMULATED_NOTE",
    "SIMULATED_PREFIX",
    "Card",
    "Owner",
    "UserTimes",
    "error_card",
    "help_card",
    "mark_simulated",
    "miss_card",
    "notice_card",
    "picker_card",
    "presence_card",
    "text_fallback",
    "watch_card",
    "watch_ended_card",
    "watch_notice_card",
    "watches_card",
    "welcome_card",
    "who_card",
]
