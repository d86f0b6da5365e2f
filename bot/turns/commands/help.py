"""`/help`, and the answer to a message that is not a command."""

from __future__ import annotations

import cards
from bot.commands.model import Help
from bot.commands.parser import Reading
from bot.core.views import HelpView, MissView
from bot.turns.commands.base import Context, Declarations
from bot.turns.model import Card

declare = Declarations()


def read_help(reading: Reading) -> Help:
    return Help()


@declare(
    "help",
    Help,
    read=read_help,
    words={"en": ("help", "commands", "?")},
    usage="/help",
    description="List the commands.",
    examples=("/help",),
    menu=10,
)
async def show_help(context: Context, command: Help) -> Card:
    """`/help`: every command (without /who and /watch when an admin turned them off). Anything else
    that is not a command: a likely correction, else the most used commands (a short card, in group
    chats too)."""
    if command.unknown or command.suggestion:
        view = MissView(
            unknown=command.unknown, suggestion=command.suggestion, commands=context.registry.shortlist()
        )
        return cards.miss_card(view)
    docs = context.registry.docs(colleagues=context.services.colleagues.enabled)
    return cards.help_card(HelpView(commands=docs))
