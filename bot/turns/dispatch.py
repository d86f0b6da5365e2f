"""Commands dispatched through the registry: the turn's text parsed with every declared command's words,
then the handler its declaration names, within the command budget.

Every failure a user can meet becomes an error card (never a traceback, never silence). The commands
themselves are declared in `bot.turns.commands`; nothing here names one.
"""

from __future__ import annotations

import asyncio
import logging

import cards
from bot.commands import CommandError
from bot.commands.registry import Registry
from bot.core.users import UserRef
from bot.graph.auth import TokenError
from bot.graph.errors import GraphError, GraphPermissionDenied, GraphTimeout
from bot.presence.errors import (
    command_error_view,
    graph_error_view,
    lease_conflict_view,
    token_error_view,
)
from bot.presence.locks import UserBusy
from bot.turns.commands import COMMANDS, Context, Handler, Services, colleagues, presence
from bot.turns.model import Reply, Turn

log = logging.getLogger(__name__)


class Dispatcher:
    """Parses the turn's text and runs the command's handler within the command budget."""

    def __init__(
        self, services: Services, *, budget_seconds: float, registry: Registry[Handler] = COMMANDS
    ) -> None:
        self._budget = budget_seconds
        self._services = services
        self._registry = registry

    async def __call__(self, turn: Turn) -> Reply:
        try:
            command = self._registry.parse(
                turn.text, now=turn.now, tz=turn.time_zone, bot_names=turn.inbound.bot_names
            )
        except CommandError as error:
            return Reply.of(cards.error_card(command_error_view(error)))
        handler = self._registry.handler_for(command)
        try:
            async with asyncio.timeout(self._budget):
                card = await handler(Context(turn, self._services, self._registry), command)
        except TimeoutError:
            return Reply.of(
                cards.error_card(graph_error_view(GraphTimeout("budget exceeded", code="Timeout")))
            )
        except UserBusy:
            return Reply.of(cards.error_card(lease_conflict_view()))
        except CommandError as error:  # refused by Graph's rules or the bot's limits, before any write
            return Reply.of(cards.error_card(command_error_view(error)))
        except GraphError as error:
            admin = (
                " (the app needs the Presence.ReadWrite.All application permission, with admin consent in "
                "this tenant)"
                if isinstance(error, GraphPermissionDenied)
                else ""
            )
            log.warning("Graph refused %s for a user: %r%s", type(command).__name__, error, admin)
            return Reply.of(cards.error_card(graph_error_view(error)))
        except TokenError as error:
            log.warning("no Graph token for tenant %r: %r", turn.user.tenant_id, error)
            return Reply.of(cards.error_card(token_error_view(error)))
        return Reply.of(card)

    async def card_of(self, turn: Turn, owner: UserRef, kind: str | None = None) -> Reply:
        """`owner`'s card as the others in a shared chat see it (a read, never a write): their presence,
        or their watches when the press was on a watch card."""
        if kind == cards.OWNER_CARD:
            return Reply.of(await colleagues.watches_of(self._services, owner, turn))
        return Reply.of(await presence.presence_of(self._services, owner, turn))
