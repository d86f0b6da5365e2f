"""Proactive notices: a message to the user, in the conversation they last used with the bot.

Uses the conversation reference stored on every turn and botbuilder's `continue_conversation`, so a
notice survives restarts and can be sent by whichever replica fires the timer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference

import cards
from bot.clock import Clock
from bot.core.users import UserRef
from bot.core.views import PresenceView
from bot.graph.models import Presence
from bot.presence.service import snapshot
from bot.store.records import ConversationReferenceRecord, UserSettings
from bot.teams import replies
from bot.turns.model import Reply

log = logging.getLogger(__name__)


class NoticeStore(Protocol):
    """What a notice needs to know about the user (`bot.store.store.Store`)."""

    async def get_user(self, user: UserRef) -> UserSettings | None: ...

    async def latest_conversation_reference(self, user: UserRef) -> ConversationReferenceRecord | None: ...


class TeamsNotifier:
    def __init__(
        self,
        adapter: Callable[[], CloudAdapter | None],
        store: NoticeStore,
        clock: Clock,
        *,
        app_id: str,
        default_time_zone: str,
        simulated: bool = False,
    ) -> None:
        self._adapter = adapter
        self._store = store
        self._clock = clock
        self._app_id = app_id or None
        self._default_time_zone = default_time_zone
        self._simulated = simulated  # Graph is simulated while Teams is real: the notice says so

    async def notify(self, user: UserRef, title: str, message: str, presence: Presence | None) -> bool:
        """Send a notice card; False (and a log line) when the user turned notices off or is unreachable."""
        prefs = await self._store.get_user(user)
        if prefs is not None and not prefs.notices_enabled:
            log.info("notice not sent: the user turned notices off")
            return False
        saved = await self._store.latest_conversation_reference(user)
        adapter = self._adapter()
        if saved is None or adapter is None:
            log.warning("notice not sent: no conversation to reach the user in")
            return False
        zone = (prefs.time_zone if prefs else None) or self._default_time_zone
        view = (
            PresenceView(
                user_name=user.name, presence=snapshot(presence), time_zone=zone, now=self._clock.now()
            )
            if presence is not None
            else None
        )
        activity = replies.message(
            Reply.of(cards.notice_card(title, message, view)), simulated=self._simulated
        )

        async def send(turn_context: TurnContext) -> None:
            await turn_context.send_activity(activity)

        reference = ConversationReference().deserialize(saved.reference)
        await adapter.continue_conversation(reference, send, self._app_id)
        return True
