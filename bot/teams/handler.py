"""The Teams activity handler: botbuilder's turn model in, the pipeline (`bot.turns`) in between.

activity ──► context.inbound ──► Pipeline (tenant, bookkeeping, redelivery, time zone, dispatch) ──► Reply
         ──► replies.message / replies.invoke_answer
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from azure.core.exceptions import DeserializationError  # what msrest raises (msrest.exceptions re-exports it)
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity
from msrest.exceptions import ClientRequestError, HttpOperationError

import cards
from bot.clock import Clock
from bot.core.users import UserRef
from bot.core.views import CommandDoc, WelcomeView
from bot.teams import replies
from bot.teams.context import inbound, invoked_action, sender
from bot.teams.roster import TeamsDirectory
from bot.turns import Pipeline, Reply, Turn, TurnKind
from bot.turns.commands import COMMANDS

log = logging.getLogger(__name__)

# What a reply to the channel raises when the activity's serviceUrl is malformed, unreachable, or
# answers something else than the connector's JSON (404, an HTML page).
CHANNEL_ERRORS = (ClientRequestError, HttpOperationError, DeserializationError)
MAX_MEMBERS = 1000  # members of a conversationUpdate looked at for the bot itself


class ConversationForgetter(Protocol):
    """Forgets how to reach people in a conversation the app was removed from, and drops the notices
    queued there (`bot.teams.notices.TeamsNotifier`, which asks the store)."""

    async def forget(self, user: UserRef, conversation_id: str | None, *, personal: bool) -> None: ...


class PresenceBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        pipeline: Pipeline,
        clock: Clock,
        forgetter: ConversationForgetter,
        *,
        simulated: bool = False,
        commands: Sequence[CommandDoc] = COMMANDS.docs(),
    ) -> None:
        super().__init__()
        self._commands = tuple(commands)  # what the welcome card offers (without /who when turned off)
        self._pipeline = pipeline
        self._clock = clock
        self._forgetter = forgetter
        self._simulated = simulated  # Graph is simulated while Teams is real: every card says so

    async def _run(self, turn_context: TurnContext, kind: TurnKind, text: str) -> Reply | None:
        # Only Teams has a roster to ask (the Emulator and other channels do not).
        teams = turn_context.activity.channel_id == "msteams"
        facts = inbound(turn_context.activity, kind, text, TeamsDirectory(turn_context) if teams else None)
        return await self._pipeline.run(Turn(inbound=facts, now=self._clock.now(), text=text))

    # -- messages ---------------------------------------------------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        value = activity.value
        # An Action.Submit fallback carries the command as `{"command": …}`.
        if isinstance(value, dict) and isinstance(value.get("command"), str):
            text = str(value["command"])
        else:
            text = str(activity.text) if activity.text is not None else ""
        reply = await self._run(turn_context, TurnKind.MESSAGE, text)
        if reply is not None:
            await self._send(turn_context, replies.message(reply, simulated=self._simulated))

    async def _send(self, turn_context: TurnContext, activity: Activity) -> None:
        """Send to the channel; a channel that cannot be reached costs one warning, not the turn."""
        try:
            await turn_context.send_activity(activity)
        except (*CHANNEL_ERRORS, ValueError) as error:  # ValueError: a serviceUrl urljoin cannot read
            log_unsent(turn_context, error)

    # -- Universal Actions (Action.Execute) ---------------------------------------------------
    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            # botbuilder answers 501 to an invoke its handler does not implement, and fails on a value
            # of the wrong shape for the ones it does (message extensions, task modules, file consent…):
            # this bot declares none of them, so Teams sends none. A 200 with no body tells the channel
            # the invoke was received and there is nothing to show.
            log.info("invoke %s is not handled by this bot", _short(activity.name))
            return InvokeResponse(status=200)
        action, data = invoked_action(activity)
        command = data.get("command") if action.get("verb") == "command" else None
        reply = await self._run(
            turn_context, TurnKind.ACTION, command if isinstance(command, str) else "/help"
        )
        assert reply is not None  # an action always gets its answer
        for own in reply.also:  # a press on someone else's card: the presser's result, as a message
            await self._send(turn_context, replies.message(own, simulated=self._simulated))
        return replies.invoke_answer(reply, simulated=self._simulated)

    # -- install / welcome -----------------------------------------------------------------------
    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """Welcome when the bot itself is added. Handled here, not in TeamsActivityHandler's members-added
        dispatch, which first fetches each member from the roster API: a failing roster call must not
        cost the user their welcome."""
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        members = activity.members_added if isinstance(activity.members_added, list) else []
        if not bot_id or not any(
            getattr(member, "id", None) == bot_id for member in members[:MAX_MEMBERS] if member is not None
        ):
            return  # someone else joined a chat the bot is in, or left it: stay quiet
        who = sender(activity)
        view = WelcomeView(
            user_name=who.name if who else None, commands=self._commands, tries=COMMANDS.welcome()
        )
        card = cards.welcome_card(view)
        await self._send(turn_context, replies.message(Reply.of(card), simulated=self._simulated))

    # -- uninstall -----------------------------------------------------------------------------------
    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        """The app was uninstalled (`remove`) or removed for an upgrade (`remove-upgrade`): no notice
        goes there any more. Holds keep running and still end on Graph; only their message is skipped.
        A later message from the user saves a new conversation reference, as any message does."""
        activity = turn_context.activity
        who = sender(activity)
        conversation = activity.conversation
        if who is None:
            log.info("installationUpdate %s without a sender: nothing to forget", activity.action)
            return
        conversation_type = getattr(conversation, "conversation_type", None) if conversation else None
        conversation_id = str(conversation.id) if conversation is not None and conversation.id else None
        await self._forgetter.forget(who, conversation_id, personal=conversation_type in (None, "personal"))


def describe(error: BaseException) -> str:
    """An exception from the channel in one short line (its type and first line, no traceback)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first[:300]}" if first else type(error).__name__


def log_unsent(turn_context: object, error: BaseException) -> None:
    """One warning line for a reply the channel (the activity's serviceUrl) did not take."""
    activity = getattr(turn_context, "activity", None)
    where = str(getattr(activity, "service_url", None) or "the channel")[:200]
    log.warning("could not send the reply to %s: %s", where, describe(error))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
