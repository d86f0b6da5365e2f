"""Proactive notices: a message to the user, in the conversation they last used with the bot.

Uses the conversation reference stored on every turn and botbuilder's `continue_conversation`, so a
notice survives restarts and can be sent by whichever replica fires the timer. Every notice goes
through the one `ProactiveSender` (`bot.teams.sender`): paced within Teams' limits, retried as Teams
asks, and never sent to a conversation that answered 403 or where the app was uninstalled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ConversationReference
from msrest.exceptions import ClientRequestError, HttpOperationError

import cards
from bot.clock import Clock
from bot.colleagues.service import colleague_view
from bot.core.colleagues import Watch, WatchKind
from bot.core.users import UserRef
from bot.core.views import PresenceView
from bot.graph.errors import parse_retry_after
from bot.graph.models import Presence
from bot.presence.service import snapshot
from bot.store.records import ConversationReferenceRecord, UserSettings
from bot.teams import replies
from bot.teams.sender import DeliveryError, Outbound, ProactiveSender, SendPolicy
from bot.turns.model import Reply

log = logging.getLogger(__name__)

# One send to the connector, at most (msrest's default is 100 s); the sender retries a timeout.
SEND_TIMEOUT_SECONDS = 20


class NoticeStore(Protocol):
    """What a notice needs to know about the user (`bot.store.store.Store`)."""

    async def get_user(self, user: UserRef) -> UserSettings | None: ...

    async def latest_conversation_reference(
        self, user: UserRef, *, conversation_type: str | None = None
    ) -> ConversationReferenceRecord | None: ...

    async def conversation_reference(
        self, user: UserRef, conversation_id: str
    ) -> ConversationReferenceRecord | None: ...

    async def forget_conversation(
        self, user: UserRef, conversation_id: str | None, *, personal: bool = False, everyone: bool = False
    ) -> int: ...


class TeamsNotifier:
    """Builds notices and hands them to the sender; forgets conversations the bot may not post in."""

    def __init__(
        self,
        adapter: Callable[[], CloudAdapter | None],
        store: NoticeStore,
        clock: Clock,
        *,
        app_id: str,
        default_time_zone: str,
        policy: SendPolicy | None = None,
        simulated: bool = False,
    ) -> None:
        self._adapter = adapter
        self._store = store
        self._clock = clock
        self._app_id = app_id or None
        self._default_time_zone = default_time_zone
        self.sender = ProactiveSender(self._deliver, on_gone=self._on_gone, policy=policy)
        self._simulated = simulated  # Graph is simulated while Teams is real: the notice says so

    async def notify(
        self,
        user: UserRef,
        title: str,
        message: str,
        presence: Presence | None,
        *,
        conversation_id: str | None = None,
    ) -> bool:
        """Queue a notice card (it goes out at the pace Teams allows) in `conversation_id`, where the hold
        was set, else the user's 1:1 chat, else their latest; False (and a log line) when the user
        turned notices off or is unreachable."""
        prefs = await self._store.get_user(user)
        if prefs is not None and not prefs.notices_enabled:
            log.info("notice not sent: the user turned notices off")
            return False
        zone = self._zone(prefs)
        view = (
            PresenceView(
                user_name=user.name, presence=snapshot(presence), time_zone=zone, now=self._clock.now()
            )
            if presence is not None
            else None
        )
        return await self.send(user, cards.notice_card(title, message, view), conversation_id=conversation_id)

    async def send(self, user: UserRef, card: cards.Card, *, conversation_id: str | None = None) -> bool:
        """Queue `card` for `user` (at the pace Teams allows) in `conversation_id`, else their 1:1 chat,
        else their latest; False (and a log line) when the user is unreachable."""
        epoch = self.sender.epoch  # before the read: a conversation forgotten after it is not sent to
        saved = await self._where(user, conversation_id)
        if saved is None or self._adapter() is None:
            log.warning("notice not sent: no conversation to reach the user in")
            return False
        activity = replies.message(Reply.of(card), simulated=self._simulated)
        reference = ConversationReference().deserialize(saved.reference)
        self.sender.submit(
            Outbound(
                tenant_id=user.tenant_id or "",
                conversation_id=saved.conversation_id,
                user=user,
                personal=saved.conversation_type == "personal",
                content=(reference, activity),
                epoch=epoch,
            )
        )
        return True

    # -- watches (bot.colleagues.watcher.WatchNotifier): asked for, so sent even with /notify off --------
    async def watch_met(self, watch: Watch, presence: Presence) -> bool:
        card = cards.watch_notice_card(
            colleague_view(watch.target, presence), back=watch.kind is WatchKind.BACK
        )
        return await self.send(watch.watcher, card, conversation_id=watch.conversation_id)

    async def watch_expired(self, watch: Watch) -> bool:
        prefs = await self._store.get_user(watch.watcher)
        zone = self._zone(prefs)
        by = f"by {cards.UserTimes(self._clock.now(), zone).when(watch.ends_at)}"
        card = cards.watch_ended_card(watch.target.name, back=watch.kind is WatchKind.BACK, ended=by)
        return await self.send(watch.watcher, card, conversation_id=watch.conversation_id)

    def _zone(self, prefs: UserSettings | None) -> str:
        """The zone a notice's times are in: the user's, else the deployment's default."""
        return (prefs.time_zone if prefs else None) or self._default_time_zone

    async def _where(self, user: UserRef, conversation_id: str | None) -> ConversationReferenceRecord | None:
        if conversation_id is not None:
            there = await self._store.conversation_reference(user, conversation_id)
            if there is not None:
                return there
        personal = await self._store.latest_conversation_reference(user, conversation_type="personal")
        return personal or await self._store.latest_conversation_reference(user)

    async def forget(self, user: UserRef, conversation_id: str | None, *, personal: bool) -> None:
        """The app was removed from a conversation (`installationUpdate`): forget how to reach anyone
        there (in a personal scope, every personal chat of the user's) and drop the notices queued."""
        tenant = user.tenant_id or ""
        removed = await self._store.forget_conversation(
            user, conversation_id, personal=personal, everyone=not personal
        )
        self.sender.forget(tenant, conversation_id, personal_of=user.user_id if personal else None)
        log.info("app removed from a conversation: %d conversation reference(s) forgotten", removed)

    async def close(self) -> None:
        await self.sender.close()

    # -- the sender's side ---------------------------------------------------------------------------
    async def _on_gone(self, outbound: Outbound) -> None:
        await self._store.forget_conversation(
            outbound.user, outbound.conversation_id, everyone=not outbound.personal
        )

    async def _deliver(self, content: Any) -> None:
        """Send one notice; a refusal as `DeliveryError` (status, Teams' error code, `Retry-After`)."""
        reference, activity = content
        assert isinstance(reference, ConversationReference) and isinstance(activity, Activity)
        adapter = self._adapter()
        if adapter is None:
            raise DeliveryError(None)  # shutting down: retried, then given up
        answers: list[tuple[int, str | None]] = []
        outcome: list[BaseException | None] = []

        async def send(turn_context: TurnContext) -> None:
            _own_the_retries(turn_context, answers)
            try:
                await turn_context.send_activity(activity)
            except Exception as exc:  # judged below, outside botbuilder's turn-error handler
                outcome.append(exc)
            else:
                outcome.append(None)

        await adapter.continue_conversation(reference, send, self._app_id)
        if not outcome:
            raise DeliveryError(None)  # the turn failed before sending (credentials, connector)
        error = outcome[0]
        if error is None:
            return
        status, retry_after = answers[-1] if answers else (None, None)
        if status is None and not isinstance(error, ClientRequestError):
            raise error  # not an HTTP answer nor a connection failure: not retried
        raise DeliveryError(status, _error_code(error), parse_retry_after(retry_after)) from error


def _own_the_retries(turn_context: TurnContext, answers: list[tuple[int, str | None]]) -> None:
    """The sender owns retries and timeouts: msrest's own (urllib3: 3 more connects) are turned off,
    and every HTTP answer's status and `Retry-After` is kept (msrest loses them when an error's body
    is not JSON, e.g. a gateway's 502 page)."""
    client = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    config = getattr(client, "config", None)
    if config is None:
        return
    config.retry_policy.retries = 0
    config.connection.timeout = SEND_TIMEOUT_SECONDS

    def keep(response: Any, *args: Any, **kwargs: Any) -> None:
        answers.append((int(response.status_code), response.headers.get("Retry-After")))

    config.hooks.append(keep)


def _error_code(error: BaseException) -> str | None:
    """Teams' error code (`ConversationBlockedByUser`…) from botbuilder's `ErrorResponseException`."""
    if not isinstance(error, HttpOperationError):
        return None
    body = getattr(error.error, "error", None)
    code = getattr(body, "code", None)
    return code if isinstance(code, str) and code else None
