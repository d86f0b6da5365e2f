"""Colleagues' presence: `/who`, `/watch`, `/unwatch` and `/watches`, and how people say them ("is
@Megan free?", "tell me when @Megan is back", "stop watching @Megan")."""

from __future__ import annotations

from itertools import product

import cards
from bot.commands.colleagues import (
    AddWatch,
    ListWatches,
    Unwatch,
    Who,
    read_asking,
    read_check,
    read_unwatch,
    read_watch,
    read_watches,
    read_who,
)
from bot.core.users import UserRef
from bot.turns.commands.base import Context, Declarations, Services, owner
from bot.turns.model import Card, Turn

declare = Declarations()


def _phrases(*parts: str) -> tuple[str, ...]:
    """Every phrase the parts make, each part a `|`-separated choice ("" for none):
    `_phrases("tell|let", "me", "|know", "when|if")` → "tell me when", "tell me know if"…"""
    return tuple(
        " ".join(word for word in choice if word) for choice in product(*(part.split("|") for part in parts))
    )


@declare(
    "who",
    Who,
    read=read_who,
    words={"en": ("who", "whos", "who's", "who’s", "who is", "who are", "whois", "where is")},
    usage="/who @person…",
    description="Colleagues' presence, status and out-of-office messages; alone in a group chat: "
    "everyone there (“who is free?”: the free).",
    examples=("/who @Megan @Adele", "/who"),
    menu=8,
    colleagues=True,
)
@declare("is @person free", Who, read=read_asking, words={"en": ("is", "are")}, colleagues=True)
@declare("check @person", Who, read=read_check, words={"en": ("check",)}, colleagues=True)
async def who(context: Context, command: Who) -> Card:
    turn, inbound = context.turn, context.turn.inbound
    view = await context.services.colleagues.who(
        turn.user, command, inbound.mentions, inbound.directory, personal=inbound.personal
    )
    return cards.who_card(view)


@declare(
    "watch",
    AddWatch,
    read=read_watch,
    words={"en": ("watch", *_phrases("tell|let|notify|ping|alert|message", "me", "|know", "when|once|if"))},
    usage="/watch @person [back] [until T]",
    description="I message you once when they are free (or back, with “back”); until the end of "
    "your working day unless you say.",
    examples=("/watch @Megan", "/watch @Megan back until 5pm"),
    menu=9,
    colleagues=True,
)
async def watch(context: Context, command: AddWatch) -> Card:
    turn, inbound = context.turn, context.turn.inbound
    views = await context.services.colleagues.watch(
        turn.user,
        command,
        inbound.mentions,
        inbound.directory,
        now=turn.now,
        time_zone=turn.time_zone,
        unit=turn.unit,
    )
    return cards.watch_card(views, owner=context.shared_owner)


@declare(
    "unwatch",
    Unwatch,
    read=read_unwatch,
    words={
        "en": (
            "unwatch",
            "stop watching",
            "dont watch",
            "don't watch",
            *_phrases("cancel|stop|end", "|all", "|my", "watch|watches|watching"),
        )
    },
    usage="/unwatch @person | all",
    description="Stop watching someone, or everyone; /watches lists whom you watch.",
    examples=("/unwatch @Megan", "/unwatch all", "/watches"),
    colleagues=True,
)
async def unwatch(context: Context, command: Unwatch) -> Card:
    turn, inbound = context.turn, context.turn.inbound
    view = await context.services.colleagues.unwatch(
        turn.user, command, inbound.mentions, inbound.directory, now=turn.now, time_zone=turn.time_zone
    )
    return cards.watches_card(view, owner=context.shared_owner)


@declare(
    "watches",
    ListWatches,
    read=read_watches,
    words={"en": _phrases("|my|list|show", "watches|watching|watch list|watchlist", "|list")},
    colleagues=True,
)
async def watches(context: Context, command: ListWatches) -> Card:
    turn = context.turn
    view = await context.services.colleagues.watches(
        turn.user, command, now=turn.now, time_zone=turn.time_zone
    )
    return cards.watches_card(view, owner=context.shared_owner)


async def watches_of(services: Services, watcher: UserRef, turn: Turn) -> Card:
    """`watcher`'s watches card as the others in a shared chat see it (a read, never a write)."""
    view = await services.colleagues.watches(watcher, ListWatches(), now=turn.now, time_zone=turn.time_zone)
    return cards.watches_card(view, owner=owner(watcher))
