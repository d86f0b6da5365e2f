"""The sender's settings: `/timezone` and `/notify`."""

from __future__ import annotations

import cards
from bot.commands.preferences import SetNotices, SetTimeZone, read_notify, read_time_zone
from bot.core.views import Notice
from bot.turns.commands.base import Context, Declarations
from bot.turns.model import Card

declare = Declarations()


def _notice(notice: Notice) -> Card:
    return cards.notice_card(notice.title, notice.message)


@declare(
    "timezone",
    SetTimeZone,
    read=read_time_zone,
    words={"en": ("timezone", "time zone", "tz")},
    usage="/timezone <IANA name>",
    description="Set the time zone for “until …” and card times; /timezone auto follows Teams.",
    examples=("/timezone Europe/Berlin", "/timezone auto"),
)
async def set_time_zone(context: Context, command: SetTimeZone) -> Card:
    turn = context.turn
    teams_zone = turn.inbound.teams_zone or turn.time_zone
    return _notice(
        await context.services.preferences.set_time_zone(turn.user, command, teams_zone=teams_zone)
    )


@declare(
    "notify",
    SetNotices,
    read=read_notify,
    words={"en": ("notify", "notifications", "notices")},
    usage="/notify on|off",
    description="Whether I message you when a held status ends, is overridden or fails.",
    examples=("/notify off",),
)
async def set_notices(context: Context, command: SetNotices) -> Card:
    return _notice(await context.services.preferences.set_notices(context.user, command))
