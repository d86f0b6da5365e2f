"""The sender's presence: the states, `/lunch`, `/extend`, `/clear`, `/reset`, the status message, the
status picker and `/presence`.

Each command is one declaration on its handler; the states share one handler (`set_state`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import Field

import cards
from bot.commands.model import Command, When
from bot.commands.parser import Reading, Role
from bot.commands.presence import (
    ClearSession,
    Extend,
    Reset,
    SetState,
    ShowPresence,
    read_clear,
    read_extend,
    read_reset,
    read_show,
    read_state,
    state_command,
)
from bot.commands.status import (
    ApplyPicker,
    ClearStatusMessage,
    OpenPicker,
    SetStatusMessage,
    read_clear_status,
    read_picker,
    read_status,
)
from bot.core.states import STATUS_MESSAGE_MAX, State
from bot.core.users import UserRef
from bot.core.views import PresenceView
from bot.store.effects import TurnUnit
from bot.turns.commands.base import Context, Declarations, Services
from bot.turns.model import Card, Turn
from bot.turns.picker import WITH_STATE, read_picker_form

declare = Declarations()


class PresenceMethod(Protocol):
    """A `PresenceService` method: one command for the turn's user, in the turn's unit of work."""

    def __call__(
        self, user: UserRef, command: Any, *, now: datetime, time_zone: str, unit: TurnUnit | None
    ) -> Awaitable[PresenceView]: ...


async def shown(context: Context, method: PresenceMethod, command: Command) -> Card:
    """`command` run by the service `method` for the turn's user, answered with the presence card."""
    turn = context.turn
    view = await method(turn.user, command, now=turn.now, time_zone=turn.time_zone, unit=turn.unit)
    return presence_card(context, view)


def presence_card(context: Context, view: PresenceView) -> Card:
    """The presence card: per-user refresh in 1:1 chats; in shared chats its buttons carry the owner
    (see `bot.turns.steps.KeepCardOwner`)."""
    inbound = context.turn.inbound
    # Teams identifies refresh users by their channel id (29:…), not the AAD object id.
    refresh = [inbound.viewer_id] if inbound.viewer_id and inbound.personal else None
    owner = None if inbound.personal else context.user.user_id
    return cards.presence_card(view, refresh_user_ids=refresh, owner=owner)


@declare(
    "available",
    SetState,
    read=read_state(State.AVAILABLE),
    words={"en": ("available", "online", "free")},
    role=Role.STATE,
    usage="/available [when]",
    description="Show as Available (set on the bot's session).",
    examples=("/available 30m", "/available until 5pm"),
    menu=3,
    shortlist=3,
)
@declare(
    "busy",
    SetState,
    read=read_state(State.BUSY),
    words={"en": ("busy", "call", "in a call", "on a call", "in call")},
    role=Role.STATE,
    usage="/busy [when]",
    description="Show as Busy, in a call (also /call); /busy picked sets Teams' own Busy instead.",
    examples=("/busy 30m", "/busy until 17:30", "/busy 2h Focus time"),
    menu=1,
    shortlist=1,
    welcome=1,
)
@declare(
    "busy picked",
    SetState,
    read=read_state(State.BUSY_PICKED),
    words={"en": ("busy picked", "picked busy", "appear busy")},
    role=Role.STATE,
)
@declare(
    "conference",
    SetState,
    read=read_state(State.CONFERENCE),
    words={"en": ("conference", "conference call", "in a conference", "in a conference call")},
    role=Role.STATE,
    usage="/conference [when]",
    description="Show as Busy, in a conference call.",
    examples=("/conference 1h",),
)
@declare(
    "away",
    SetState,
    # Teams' "Appear away" (a preferred presence: it shows even while Teams is open)
    read=read_state(State.AWAY),
    words={"en": ("away", "appear away", "afk")},
    role=Role.STATE,
    usage="/away [when]",
    description="Appear away, as if picked in Teams (it shows even while Teams is open).",
    examples=("/away 15 minutes",),
    menu=4,
)
@declare(
    "presenting",
    SetState,
    read=read_state(State.PRESENTING),
    words={"en": ("presenting",)},
    role=Role.STATE,
    usage="/presenting [when]",
    description="Show as Presenting (do not disturb).",
    examples=("/presenting 45m",),
)
@declare(
    "dnd",
    SetState,
    # Teams shows Focusing as DoNotDisturb too (docs/graph-facts.md §1)
    read=read_state(State.DND),
    words={"en": ("dnd", "do not disturb", "donotdisturb", "do-not-disturb", "focus", "focusing")},
    role=Role.STATE,
    usage="/dnd [when]",
    description="Do not disturb, as if picked in Teams.",
    examples=("/dnd 1h", "/dnd until tomorrow 9am"),
    menu=2,
    shortlist=2,
    welcome=2,
)
@declare(
    "brb",
    SetState,
    read=read_state(State.BRB),
    words={"en": ("brb", "be right back", "berightback", "be-right-back")},
    role=Role.STATE,
    usage="/brb [when]",
    description="Be right back, as if picked in Teams.",
    examples=("/brb 10m",),
)
@declare(
    "offline",
    SetState,
    read=read_state(State.OFFLINE),
    words={"en": ("offline", "appear offline", "appearoffline", "invisible")},
    role=Role.STATE,
    usage="/offline [when]",
    description="Appear offline, as if picked in Teams.",
    examples=("/offline until 6pm",),
)
async def set_state(context: Context, command: SetState) -> Card:
    return await shown(context, context.services.presence.set_state, command)


# -- /lunch ------------------------------------------------------------------------------------------
LUNCH_MESSAGE = "Out for lunch"
LUNCH_LENGTH = timedelta(hours=1)


class Lunch(Command):
    """`/lunch [when] [message]`: Appear away with a status message, both ending together."""

    when: When | None = None  # default: an hour from now
    message: Annotated[str, Field(min_length=1, max_length=STATUS_MESSAGE_MAX)] = LUNCH_MESSAGE


def read_lunch(reading: Reading) -> Command:
    """`/lunch`, `/lunch 45m`, `/lunch until 1:30pm`, `/lunch 1h Team lunch at Luigi's`: what a state
    command reads, with “Out for lunch” when no message is given."""
    away = state_command(State.AWAY, reading.rest, reading.now, reading.zone, name="lunch")
    return Lunch(when=away.when, message=away.message or LUNCH_MESSAGE)


@declare(
    "lunch",
    Lunch,
    read=read_lunch,
    words={"en": ("lunch", "out for lunch", "at lunch", "lunch break", "going to lunch", "gone to lunch")},
    usage="/lunch [when]",
    description="Appear away with the status message “Out for lunch”, both ending together "
    "(after 1 hour unless you say).",
    examples=("/lunch", "/lunch 45m", "/lunch until 1:30pm"),
    menu=5,
    welcome=3,
)
async def lunch(context: Context, command: Lunch) -> Card:
    turn = context.turn
    when = command.when or When(end=turn.now + LUNCH_LENGTH, duration=LUNCH_LENGTH, text="1h")
    away = SetState(state=State.AWAY, when=when, message=command.message)
    view = await context.services.presence.set_state(
        turn.user, away, now=turn.now, time_zone=turn.time_zone, unit=turn.unit
    )
    if view.outcome is not None:
        summary = "Set to Appear away for lunch, with your status message: both end together."
        view = view.model_copy(update={"outcome": view.outcome.model_copy(update={"summary": summary})})
    return presence_card(context, view)


# -- the held state and the session ------------------------------------------------------------------
@declare(
    "extend",
    Extend,
    read=read_extend,
    words={"en": ("extend",)},
    usage="/extend [length]",
    description="Keep the status the bot holds for you longer (30 minutes unless you say).",
    examples=("/extend", "/extend 1h"),
)
async def extend(context: Context, command: Extend) -> Card:
    return await shown(context, context.services.presence.extend, command)


@declare(
    "clear",
    ClearSession,
    read=read_clear,
    words={"en": ("clear",)},
    role=Role.CHANGE,
    usage="/clear",
    description="End the bot's presence session (your status picker choice stays).",
    examples=("/clear",),
)
async def clear(context: Context, command: ClearSession) -> Card:
    return await shown(context, context.services.presence.clear_session, command)


@declare(
    "reset",
    Reset,
    read=read_reset,
    # Back to automatic: the session and the picked status both go
    words={"en": ("reset", "auto", "automatic", "back")},
    role=Role.CHANGE,
    usage="/reset",
    description="Back to automatic: ends the bot's session and your picked status.",
    examples=("/reset",),
)
async def reset(context: Context, command: Reset) -> Card:
    return await shown(context, context.services.presence.reset, command)


# -- the status message and the picker ---------------------------------------------------------------
@declare(
    "status",
    SetStatusMessage,
    read=read_status,
    words={"en": ("status",)},
    role=Role.STATUS,
    usage="/status <text> [for D | until T]",
    description="Set your status message, optionally until a time; /status clear removes it.",
    examples=("/status Out for lunch for 1h", '/status "back in 5 minutes"', "/status clear"),
    menu=7,
    shortlist=4,
)
async def set_status_message(context: Context, command: SetStatusMessage) -> Card:
    return await shown(context, context.services.presence.set_status_message, command)


@declare(
    "status clear",
    ClearStatusMessage,
    read=read_clear_status,
    words={"en": ("clear status", "clear status message")},  # and /status clear (`read_status`)
)
async def clear_status_message(context: Context, command: ClearStatusMessage) -> Card:
    return await shown(context, context.services.presence.clear_status_message, command)


@declare(
    "set",
    OpenPicker,
    read=read_picker,
    words={"en": ("set", "set status", "picker", "status picker")},
    role=Role.PICKER,
    usage="/set",
    description="Open a status picker card, like Teams' own (also /status alone).",
    examples=("/set",),
    menu=6,
)
async def picker(context: Context, command: OpenPicker) -> Card:
    return cards.picker_card(colleagues=context.services.colleagues.enabled)


@declare("apply", ApplyPicker)  # built by /set's reader (`/set apply`) and the picker card's Apply
async def apply_picker(context: Context, command: ApplyPicker) -> Card:
    """The picker's Apply: the state for the length picked, and the status message with it, or with its
    own "clear after"; the answer is the presence card."""
    turn, presence = context.turn, context.services.presence
    picked = read_picker_form(turn.inbound.form, now=turn.now, time_zone=turn.time_zone)
    if picked.message is not None and picked.message_when is not WITH_STATE:
        await presence.set_status_message(
            turn.user,
            SetStatusMessage(text=picked.message, when=picked.message_when),
            now=turn.now,
            time_zone=turn.time_zone,
            unit=turn.unit,
        )
    message = picked.message if picked.message_when is WITH_STATE else None
    state = SetState(state=picked.state, when=picked.when, message=message)
    view = await presence.set_state(turn.user, state, now=turn.now, time_zone=turn.time_zone, unit=turn.unit)
    owner = None if turn.inbound.personal else turn.user.user_id
    return cards.presence_card(view, owner=owner)


@declare(
    "presence",
    ShowPresence,
    read=read_show,
    words={"en": ("presence", "whoami", "who am i", "show")},
    usage="/presence",
    description="Show your current presence (also /whoami, /show).",
    examples=("/presence",),
    shortlist=5,
)
async def show(context: Context, command: ShowPresence) -> Card:
    return await shown(context, context.services.presence.show, command)


async def presence_of(services: Services, owner: UserRef, turn: Turn) -> Card:
    """`owner`'s presence card as the others in a shared chat see it (a read, never a write)."""
    # not the turn's user: no unit of the turn's
    view = await services.presence.show(
        owner, ShowPresence(), now=turn.now, time_zone=turn.time_zone, unit=None
    )
    return cards.presence_card(view, owner=owner.user_id)
