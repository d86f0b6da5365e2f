"""Every command the bot understands, each declared once beside its handler.

Where a new command goes: one declaration, on its handler, in the module of its area (`presence`,
`colleagues`, `preferences`, `help`); its model and reader beside the others of that area in
`bot.commands`. The parser, the dispatcher, the help and welcome cards and the Teams manifest's command
menu all read `COMMANDS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.model import Command
from bot.commands.registry import Registry
from bot.turns.commands import colleagues, help, preferences, presence
from bot.turns.commands.base import Context, Handler, Services

__all__ = ["COMMANDS", "Context", "Handler", "Services", "parse"]

COMMANDS: Registry[Handler] = Registry(
    [*presence.declare, *colleagues.declare, *preferences.declare, *help.declare]
)


def parse(text: str, *, now: datetime, tz: ZoneInfo | str | None, bot_names: Sequence[str] = ()) -> Command:
    """Read one chat message with every command's words (`COMMANDS.parse`)."""
    return COMMANDS.parse(text, now=now, tz=tz, bot_names=bot_names)
