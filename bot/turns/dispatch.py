"""Commands dispatched through one table: each command kind, one handler.

A new command touches one place in each layer: its parser entry (`bot.commands`), its handler (a
service method named in `Dispatcher.__init__`), its help line (`bot.core.catalog`). The table is
checked against the `Command` union when the dispatcher is built, so a command without a handler
fails at start, not in a chat.
"""

from __future__ import annotations

import asyncio
import logging
import typing
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import cards
from bot.colleagues.service import ColleaguesService
from bot.commands import (
    ApplyPicker,
    ClearSession,
    ClearStatusMessage,
    Command,
    CommandError,
    Extend,
    Help,
    ListWatches,
    OpenPicker,
    Reset,
    SetNotices,
    SetState,
    SetStatusMessage,
    SetTimeZone,
    ShowPresence,
    Unwatch,
    Watch,
    Who,
    parse,
)
from bot.core.catalog import most_used, offered
from bot.core.users import UserRef
from bot.core.views import HelpView, MissView, Notice, PresenceView
from bot.graph.auth import TokenError
from bot.graph.errors import GraphError, GraphPermissionDenied, GraphTimeout
from bot.preferences import PreferencesService
from bot.presence.errors import (
    command_error_view,
    graph_error_view,
    lease_conflict_view,
    token_error_view,
)
from bot.presence.locks import UserBusy
from bot.presence.service import PresenceService
from bot.store.effects import TurnUnit
from bot.turns.model import Card, Reply, Turn
from bot.turns.picker import WITH_STATE, read_picker

log = logging.getLogger(__name__)

C = TypeVar("C", contravariant=True)
Handler = Callable[[Turn, Any], Awaitable[Card]]


class PresenceMethod(Protocol[C]):
    """A `PresenceService` method: one presence command for one user, in the turn's unit of work."""

    def __call__(
        self, user: UserRef, command: C, *, now: datetime, time_zone: str, unit: TurnUnit | None
    ) -> Awaitable[PresenceView]: ...


class Dispatcher:
    """Parses the turn's text and runs the command's handler within the command budget; every failure
    a user can meet becomes an error card (never a traceback, never silence)."""

    def __init__(
        self,
        presence: PresenceService,
        preferences: PreferencesService,
        colleagues: ColleaguesService,
        *,
        budget_seconds: float,
    ) -> None:
        self._budget = budget_seconds
        self._preferences = preferences
        self._presence = presence
        self._colleagues = colleagues
        self._table: dict[type, Handler] = {
            SetState: _presence_card(presence.set_state),
            ClearSession: _presence_card(presence.clear_session),
            Reset: _presence_card(presence.reset),
            SetStatusMessage: _presence_card(presence.set_status_message),
            ClearStatusMessage: _presence_card(presence.clear_status_message),
            ShowPresence: _presence_card(presence.show),
            Extend: _presence_card(presence.extend),
            SetTimeZone: self._set_time_zone,
            SetNotices: self._set_notices,
            OpenPicker: self._picker,
            ApplyPicker: self._apply_picker,
            Who: self._who,
            Watch: self._watch,
            Unwatch: self._unwatch,
            ListWatches: self._watches,
            Help: self._help,
        }
        missing = set(_command_types()) - set(self._table)
        if missing:
            raise TypeError(f"commands without a handler: {sorted(kind.__name__ for kind in missing)}")

    async def __call__(self, turn: Turn) -> Reply:
        try:
            command = parse(turn.text, now=turn.now, tz=turn.time_zone, bot_names=turn.inbound.bot_names)
        except CommandError as error:
            return Reply.of(cards.error_card(command_error_view(error)))
        handler = self._table[type(command)]
        try:
            async with asyncio.timeout(self._budget):
                card = await handler(turn, command)
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
            watches = await self._colleagues.watches(
                owner, ListWatches(), now=turn.now, time_zone=turn.time_zone
            )
            return Reply.of(cards.watches_card(watches, owner=_owner(owner)))
        view = await self._presence.show(
            owner,
            ShowPresence(),
            now=turn.now,
            time_zone=turn.time_zone,
            unit=None,  # not the turn's user
        )
        return Reply.of(cards.presence_card(view, owner=owner.user_id))

    async def _apply_picker(self, turn: Turn, command: ApplyPicker) -> Card:
        """The picker's Apply: the state for the length picked, and the status message with it, or with
        its own "clear after"; the answer is the presence card."""
        picked = read_picker(turn.inbound.form, now=turn.now, time_zone=turn.time_zone)
        if picked.message is not None and picked.message_when is not WITH_STATE:
            await self._presence.set_status_message(
                turn.user,
                SetStatusMessage(text=picked.message, when=picked.message_when),
                now=turn.now,
                time_zone=turn.time_zone,
                unit=turn.unit,
            )
        message = picked.message if picked.message_when is WITH_STATE else None
        state = SetState(state=picked.state, when=picked.when, message=message)
        view = await self._presence.set_state(
            turn.user, state, now=turn.now, time_zone=turn.time_zone, unit=turn.unit
        )
        owner = None if turn.inbound.personal else turn.user.user_id
        return cards.presence_card(view, owner=owner)

    async def _picker(self, turn: Turn, command: OpenPicker) -> Card:
        return cards.picker_card(colleagues=self._colleagues.enabled)

    async def _who(self, turn: Turn, command: Who) -> Card:
        inbound = turn.inbound
        view = await self._colleagues.who(
            turn.user, command, inbound.mentions, inbound.directory, personal=inbound.personal
        )
        return cards.who_card(view)

    async def _watch(self, turn: Turn, command: Watch) -> Card:
        inbound = turn.inbound
        views = await self._colleagues.watch(
            turn.user,
            command,
            inbound.mentions,
            inbound.directory,
            now=turn.now,
            time_zone=turn.time_zone,
            unit=turn.unit,
        )
        return cards.watch_card(views, owner=_shared_owner(turn))

    async def _unwatch(self, turn: Turn, command: Unwatch) -> Card:
        inbound = turn.inbound
        view = await self._colleagues.unwatch(
            turn.user, command, inbound.mentions, inbound.directory, now=turn.now, time_zone=turn.time_zone
        )
        return cards.watches_card(view, owner=_shared_owner(turn))

    async def _watches(self, turn: Turn, command: ListWatches) -> Card:
        view = await self._colleagues.watches(turn.user, command, now=turn.now, time_zone=turn.time_zone)
        return cards.watches_card(view, owner=_shared_owner(turn))

    async def _help(self, turn: Turn, command: Help) -> Card:
        """`/help`: every command (without /who and /watch when an admin turned them off). Anything else
        that is not a command: a likely correction, else the most used commands (a short card, in group
        chats too)."""
        if command.unknown or command.suggestion:
            view = MissView(unknown=command.unknown, suggestion=command.suggestion, commands=most_used())
            return cards.miss_card(view)
        return cards.help_card(HelpView(commands=offered(colleagues=self._colleagues.enabled)))

    async def _set_time_zone(self, turn: Turn, command: SetTimeZone) -> Card:
        teams_zone = turn.inbound.teams_zone or turn.time_zone
        return _notice(await self._preferences.set_time_zone(turn.user, command, teams_zone=teams_zone))

    async def _set_notices(self, turn: Turn, command: SetNotices) -> Card:
        return _notice(await self._preferences.set_notices(turn.user, command))


def _presence_card(method: PresenceMethod[Any]) -> Handler:
    """A presence command: the service's view as the presence card (per-user refresh in 1:1 chats; in
    shared chats its buttons carry the owner, see `bot.turns.steps.KeepCardOwner`)."""

    async def handle(turn: Turn, command: Any) -> Card:
        view = await method(turn.user, command, now=turn.now, time_zone=turn.time_zone, unit=turn.unit)
        # Teams identifies refresh users by their channel id (29:…), not the AAD object id.
        viewer = turn.inbound.viewer_id
        refresh = [viewer] if viewer and turn.inbound.personal else None
        owner = None if turn.inbound.personal else turn.user.user_id
        return cards.presence_card(view, refresh_user_ids=refresh, owner=owner)

    return handle


def _owner(user: UserRef) -> cards.Owner:
    return cards.Owner(user.user_id, user.name or "Someone")


def _shared_owner(turn: Turn) -> cards.Owner | None:
    """In a group chat or channel, whose card this is (its buttons carry them); None in a 1:1 chat."""
    return None if turn.inbound.personal else _owner(turn.user)


def _notice(notice: Notice) -> Card:
    return cards.notice_card(notice.title, notice.message)


def _command_types() -> tuple[type, ...]:
    union = typing.get_args(Command)[0]  # Annotated[Union[...], Field(discriminator=...)]
    return typing.get_args(union)
