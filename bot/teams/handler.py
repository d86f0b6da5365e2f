"""The Teams activity handler: the only place that knows botbuilder's turn model.

text ──► commands.parse ──► PresenceService ──► view ──► cards ──► reply (card + text fallback)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    Attachment,
)

import cards
from bot.clock import Clock
from bot.commands import CommandError, Help, SetNotices, SetTimeZone, parse
from bot.commands.catalog import COMMANDS
from bot.config import Settings
from bot.core.users import UserRef
from bot.core.views import HelpView, WelcomeView
from bot.graph.auth import TokenError
from bot.graph.errors import GraphError, GraphTimeout
from bot.presence.errors import (
    command_error_view,
    graph_error_view,
    internal_error_view,
    tenant_refused_view,
    token_error_view,
)
from bot.presence.locks import UserBusy
from bot.presence.service import PresenceService
from bot.store.store import Store
from bot.teams.context import bot_names, command_text, sender, tenant_of, time_zone_of

log = logging.getLogger(__name__)

Card = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    card: Card
    text: str


_REDELIVERED = "presence_bot.redelivered"


class PresenceBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(
        self, settings: Settings, service: PresenceService, clock: Clock, *, store: Store | None = None
    ) -> None:
        super().__init__()
        self._settings = settings
        self._service = service
        self._clock = clock
        self._store = store

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Skip redelivered activities, remember how to reach the sender, then dispatch."""
        activity = turn_context.activity
        if self._store is not None and activity.type in {ActivityTypes.message, ActivityTypes.invoke}:
            if activity.id and not await self._store.mark_activity_processed(str(activity.id)):
                log.info("activity delivered again within 10 minutes: not acted on twice")
                if activity.type == ActivityTypes.message:
                    return
                turn_context.turn_state[_REDELIVERED] = True  # an invoke still needs its answer
            await self._remember(activity)
        await super().on_turn(turn_context)

    async def _remember(self, activity: Activity) -> None:
        user = sender(activity)
        if self._store is None or user is None or not self._settings.tenant_allowed(user.tenant_id):
            return
        conversation = activity.conversation
        if conversation is not None and conversation.id and activity.service_url:
            reference = TurnContext.get_conversation_reference(activity)
            await self._store.save_conversation_reference(
                user,
                conversation_id=str(conversation.id),
                conversation_type=getattr(conversation, "conversation_type", None),
                reference=reference.serialize(),
            )
        zone = time_zone_of(activity, "")
        if zone:
            await self._store.remember_time_zone(user, zone)

    async def _zone(self, user: UserRef, activity: Activity) -> str:
        """A zone chosen with /timezone, else the one Teams sent, else the last remembered, else default."""
        prefs = await self._store.get_user(user) if self._store is not None else None
        if prefs is not None and prefs.time_zone_explicit and prefs.time_zone:
            return prefs.time_zone
        fallback = (prefs.time_zone if prefs else None) or self._settings.default_time_zone
        return time_zone_of(activity, fallback)

    # -- messages ---------------------------------------------------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        reply = await self.answer(turn_context.activity, command_text(turn_context.activity) or "")
        await turn_context.send_activity(_message(reply))

    # -- Universal Actions (Action.Execute) ---------------------------------------------------
    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        # botbuilder 4.17.1 + CloudAdapter serializes on_adaptive_card_invoke's answer twice (HTTP 500),
        # so answer here with the msrest model. `value.action` arrives as a plain dict.
        value: dict[str, Any] = activity.value if isinstance(activity.value, dict) else {}
        action: dict[str, Any] = value["action"] if isinstance(value.get("action"), dict) else {}
        data: dict[str, Any] = action["data"] if isinstance(action.get("data"), dict) else {}
        text = data.get("command") if action.get("verb") == "command" else None
        if turn_context.turn_state.get(_REDELIVERED):
            text = "/presence"  # answered already once: show the card, change nothing
        reply = await self.answer(activity, text if isinstance(text, str) else "/help")
        body = AdaptiveCardInvokeResponse(status_code=200, type=cards.CONTENT_TYPE, value=reply.card)
        return InvokeResponse(status=200, body=body)

    # -- install / welcome -----------------------------------------------------------------------
    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """Welcome when the bot itself is added. Handled here, not in TeamsActivityHandler's members-added
        dispatch, which first fetches each member from the roster API: a failing roster call must not
        cost the user their welcome."""
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not any(member.id == bot_id for member in activity.members_added or []):
            return  # someone else joined a chat the bot is in, or left it: stay quiet
        who = sender(activity)
        view = WelcomeView(user_name=who.name if who else None, commands=COMMANDS)
        card = cards.welcome_card(view)
        await turn_context.send_activity(_message(Reply(card, cards.text_fallback(card))))

    # -- the one path every command takes ------------------------------------------------------
    async def answer(self, activity: Activity, text: str) -> Reply:
        """Run `text` as a command for the activity's sender and build the reply."""
        user = sender(activity)
        if not self._settings.tenant_allowed(tenant_of(activity)):
            log.warning("refused tenant %s", tenant_of(activity))
            return _reply(cards.error_card(tenant_refused_view()))
        if user is None:
            return _reply(cards.error_card(internal_error_view()))
        now = self._clock.now()
        zone = await self._zone(user, activity)
        try:
            command = parse(text, now=now, tz=zone, bot_names=bot_names(activity))
        except CommandError as error:
            return _reply(cards.error_card(command_error_view(error)))
        if isinstance(command, Help):
            intro = f"I didn't understand “{command.unknown}”." if command.unknown else None
            return _reply(cards.help_card(HelpView(intro=intro, commands=COMMANDS)))
        if isinstance(command, SetTimeZone | SetNotices):
            return await self._preference(user, command, activity)
        return await self._run(user, command, now, zone, activity)

    async def _preference(
        self, user: UserRef, command: SetTimeZone | SetNotices, activity: Activity
    ) -> Reply:
        if self._store is None:
            return _reply(cards.error_card(internal_error_view()))
        if isinstance(command, SetNotices):
            await self._store.set_notices_enabled(user, command.enabled)
            if command.enabled:
                return _reply(
                    cards.notice_card(
                        "Notices are on",
                        "I'll message you here when a status I hold for you ends, is overridden or fails.",
                    )
                )
            return _reply(
                cards.notice_card("Notices are off", "I won't message you unless you write to me first.")
            )
        await self._store.set_time_zone(user, command.zone)
        if command.zone is None:
            zone = time_zone_of(activity, self._settings.default_time_zone)
            return _reply(
                cards.notice_card(
                    "Following Teams' time zone",
                    f"I'll use the time zone your Teams client reports (now {zone}).",
                )
            )
        return _reply(
            cards.notice_card(
                f"Time zone set to {command.zone}",
                f"“until 5pm” and every time on my cards now use {command.zone}.",
            )
        )

    async def _run(self, user: UserRef, command: Any, now: Any, zone: str, activity: Activity) -> Reply:
        try:
            async with asyncio.timeout(self._settings.command_budget_seconds):
                view = await self._service.run(user, command, now=now, time_zone=zone)
        except (TimeoutError, UserBusy):  # out of time (UserBusy: another replica kept the user busy)
            return _reply(cards.error_card(graph_error_view(GraphTimeout("budget exceeded", code="Timeout"))))
        except CommandError as error:  # refused by Graph's rules or the bot's limits, before any write
            return _reply(cards.error_card(command_error_view(error)))
        except GraphError as error:
            log.warning("Graph refused %s for a user: %r", command.kind, error)
            return _reply(cards.error_card(graph_error_view(error)))
        except TokenError as error:
            log.warning("no Graph token for tenant %s: %r", user.tenant_id, error)
            return _reply(cards.error_card(token_error_view(error)))
        # Teams identifies refresh users by their channel id (29:…), not the AAD object id.
        viewer = activity.from_property.id if activity.from_property else None
        refresh = [viewer] if viewer and _is_personal(activity) else None
        return _reply(cards.presence_card(view, refresh_user_ids=refresh))


def _is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    return conversation is not None and getattr(conversation, "conversation_type", None) == "personal"


def _reply(card: Card) -> Reply:
    return Reply(card, cards.text_fallback(card))


def _message(reply: Reply) -> Activity:
    # The text fallback goes in `summary` (shown where cards can't render, and in notifications), not
    # in `text`: Teams would show `text` above the card, and a button press updates only the card.
    return Activity(
        type=ActivityTypes.message,
        summary=reply.text,
        attachments=[Attachment(content_type=cards.CONTENT_TYPE, content=reply.card)],
    )
