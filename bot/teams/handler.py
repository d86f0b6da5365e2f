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
from bot.commands import CommandError, Help, parse
from bot.commands.catalog import COMMANDS
from bot.config import Settings
from bot.graph.auth import TokenError
from bot.graph.errors import GraphError, GraphTimeout
from bot.presence.errors import (
    command_error_view,
    graph_error_view,
    internal_error_view,
    tenant_refused_view,
    token_error_view,
)
from bot.presence.service import PresenceService, UserRef
from bot.presence.view import HelpView, WelcomeView
from bot.teams.context import bot_names, command_text, sender, tenant_of, time_zone_of

log = logging.getLogger(__name__)

Card = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    card: Card
    text: str


class PresenceBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, settings: Settings, service: PresenceService, clock: Clock) -> None:
        super().__init__()
        self._settings = settings
        self._service = service
        self._clock = clock

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
        zone = time_zone_of(activity, self._settings.default_time_zone)
        try:
            command = parse(text, now=now, tz=zone, bot_names=bot_names(activity))
        except CommandError as error:
            return _reply(cards.error_card(command_error_view(error)))
        if isinstance(command, Help):
            intro = f"I didn't understand “{command.unknown}”." if command.unknown else None
            return _reply(cards.help_card(HelpView(intro=intro, commands=COMMANDS)))
        return await self._run(user, command, now, zone, activity)

    async def _run(self, user: UserRef, command: Any, now: Any, zone: str, activity: Activity) -> Reply:
        try:
            async with asyncio.timeout(self._settings.command_budget_seconds):
                view = await self._service.run(user, command, now=now, time_zone=zone)
        except TimeoutError:
            return _reply(cards.error_card(graph_error_view(GraphTimeout("budget exceeded", code="Timeout"))))
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
    return Activity(
        type=ActivityTypes.message,
        text=reply.text,
        attachments=[Attachment(content_type=cards.CONTENT_TYPE, content=reply.card)],
    )
