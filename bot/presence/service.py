"""The presence service: which Graph action, pair and duration a command means.

It enforces Graph's rules (docs/graph-facts.md §2) before any call — a plan that breaks them never reaches
Graph — runs the writes through the `PresenceGraph` port, reads the presence back, and returns the
view model the card shows, including truthful notes on when the state will lapse and why the shown
presence may differ from what was asked.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import NamedTuple

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from bot.commands.model import CommandError, When
from bot.commands.presence import ClearSession, Extend, Reset, SetState, ShowPresence
from bot.commands.status import ClearStatusMessage, SetStatusMessage
from bot.core.states import (
    PREFERRED_MAX,
    PREFERRED_MIN,
    PREFERRED_PAIRS,
    SESSION_MAX,
    SESSION_MIN,
    SESSION_PAIRS,
    SESSION_RANK,
    STATES,
    STATUS_MESSAGE_MAX,
    Layer,
    Pair,
    State,
    StateSpec,
    preferred_default_expiry,
    teams_label,
    tone,
)
from bot.core.users import UserRef
from bot.core.views import Outcome, PresenceSnapshot, PresenceView
from bot.graph.client import (
    GraphWrite,
    WriteOutcome,
    clear_preferred_write,
    clear_presence_write,
    set_preferred_write,
    set_presence_write,
    status_message_write,
)
from bot.graph.models import Presence
from bot.presence.locks import UserLocks
from bot.presence.ports import HoldPort, PresenceGraph
from bot.store.effects import TurnUnit
from bot.store.records import Effects

log = logging.getLogger(__name__)


# -- validated plans: what will be sent, checked against Graph's rules first ----------------------
class SessionPlan(BaseModel):
    availability: str
    activity: str
    duration: timedelta

    @model_validator(mode="after")
    def _graph_rules(self) -> SessionPlan:
        if Pair(self.availability, self.activity) not in SESSION_PAIRS:
            raise ValueError(f"{self.availability}/{self.activity} is not a pair Graph accepts on a session")
        if not SESSION_MIN <= self.duration <= SESSION_MAX:
            raise ValueError("session duration outside PT5M..PT4H")
        return self


class PreferredPlan(BaseModel):
    availability: str
    activity: str
    duration: timedelta | None

    @model_validator(mode="after")
    def _graph_rules(self) -> PreferredPlan:
        if Pair(self.availability, self.activity) not in PREFERRED_PAIRS:
            raise ValueError(f"{self.availability}/{self.activity} is not a preferred pair")
        if self.duration is not None and not PREFERRED_MIN <= self.duration <= PREFERRED_MAX:
            raise ValueError("preferred duration outside the allowed range")
        return self


class StatusPlan(BaseModel):
    text: str = Field(max_length=STATUS_MESSAGE_MAX)
    expires: AwareDatetime | None = None


class _HoldPlan(NamedTuple):
    spec: StateSpec
    requested_end: datetime
    graph_expires_at: datetime | None


class _StatePlan(NamedTuple):
    """What a state command will send and hold, checked against Graph's rules and the bot's limits."""

    asked: StateSpec
    writes: list[GraphWrite]
    outcome: Outcome
    hold: _HoldPlan


class PresenceService:
    """One public method per presence command (the dispatch table in `bot.turns.dispatch` names them).

    Every method has the shape `method(user, command, *, now, time_zone, unit)`: `unit` is the turn's
    unit of work (`Turn.unit`; None outside a turn, e.g. another user's card refreshed in a shared chat).
    Each runs with the user's lock held (one command or hold step per user at a time) inside one unit
    of work (`HoldPort.changes`): the active hold is read there, and what the command changed (the audit
    of its Graph writes, the hold it starts or ends, the turn's processed mark) is written in one
    transaction.
    """

    def __init__(
        self,
        graph: PresenceGraph,
        holds: HoldPort,
        *,
        session_id: str,
        default_duration: timedelta,
        max_hold: timedelta = timedelta(hours=12),
        locks: UserLocks | None = None,
    ) -> None:
        self._graph = graph
        self._holds = holds
        self._session_id = session_id
        self._default_duration = default_duration
        self._max_hold = max_hold
        self._locks = locks or UserLocks()

    @asynccontextmanager
    async def _command(self, user: UserRef, unit: TurnUnit | None) -> AsyncIterator[Effects]:
        async with self._locks.hold(user), self._holds.changes(user, unit) as changes:
            yield changes

    async def set_state(
        self, user: UserRef, command: SetState, *, now: datetime, time_zone: str, unit: TurnUnit | None
    ) -> PresenceView:
        """`/busy 30m`, `/dnd until 5pm`…: set the state on its layer and hold it until the end asked."""
        plan = self._plan_state(command, now)  # refused here, before any write
        async with self._command(user, unit) as changes:
            observed = await self._hold(changes, plan)
        return self._view(user, observed, plan.outcome, plan.asked, now, time_zone)

    async def clear_session(
        self, user: UserRef, command: ClearSession, *, now: datetime, time_zone: str, unit: TurnUnit | None
    ) -> PresenceView:
        """`/clear`: end the bot's own presence session."""
        async with self._command(user, unit) as changes:
            result = await self._apply(changes, [clear_presence_write(self._session_id)])
            self._holds.cancel(changes, "cleared with /clear")
            presence = await self._presence(user, result)
        if result.errors:
            summary = "The bot had no presence session for you, so there was nothing to clear."
        else:
            summary = "Ended the bot's presence session; your other sessions decide again."
        return self._view(user, presence, Outcome(summary=summary), None, now, time_zone)

    async def reset(
        self, user: UserRef, command: Reset, *, now: datetime, time_zone: str, unit: TurnUnit | None
    ) -> PresenceView:
        """`/reset`: end the bot's session and the preferred presence: back to automatic."""
        async with self._command(user, unit) as changes:
            result = await self._apply(
                changes, [clear_presence_write(self._session_id), clear_preferred_write()]
            )
            self._holds.cancel(changes, "reset with /reset")
            presence = await self._presence(user, result)
        outcome = Outcome(
            summary="Back to automatic: ended the bot's session and cleared your picked status."
        )
        return self._view(user, presence, outcome, None, now, time_zone)

    async def set_status_message(
        self,
        user: UserRef,
        command: SetStatusMessage,
        *,
        now: datetime,
        time_zone: str,
        unit: TurnUnit | None,
    ) -> PresenceView:
        """`/status Out for lunch for 1h`."""
        plan = StatusPlan(text=command.text, expires=command.when.end if command.when else None)
        async with self._command(user, unit) as changes:
            result = await self._apply(changes, [status_message_write(plan.text, plan.expires)])
            presence = await self._presence(user, result)
        outcome = Outcome(summary="Status message set.", requested_end=plan.expires)
        return self._view(user, presence, outcome, None, now, time_zone)

    async def clear_status_message(
        self,
        user: UserRef,
        command: ClearStatusMessage,
        *,
        now: datetime,
        time_zone: str,
        unit: TurnUnit | None,
    ) -> PresenceView:
        """`/status clear`."""
        async with self._command(user, unit) as changes:
            result = await self._apply(changes, [status_message_write("", None)])
            presence = await self._presence(user, result)
        return self._view(user, presence, Outcome(summary="Status message cleared."), None, now, time_zone)

    async def extend(
        self, user: UserRef, command: Extend, *, now: datetime, time_zone: str, unit: TurnUnit | None
    ) -> PresenceView:
        """`/extend 30m`: the held state again, ending that much later (from its end, or from now if it
        has passed), under Graph's and the bot's limits as any state command. The held state is read
        under the user's lock, in the same unit that sets it again: a command of theirs that lands
        meanwhile is extended, never undone."""
        async with self._command(user, unit) as changes:
            held = await self._holds.active(changes)
            if held is None or held.requested_end is None:
                raise CommandError(
                    "I'm not holding a status for you, so there's nothing to extend. Set one first.",
                    "/busy 30m",
                )
            end = max(held.requested_end, now) + command.by
            when = When(end=end, duration=None, text=f"extended by {_human(command.by)}")
            plan = self._plan_state(SetState(state=held.state, when=when), now)
            observed = await self._hold(changes, plan)
        summary = f"Extended by {_human(command.by)}: {STATES[held.state].label}."
        outcome = plan.outcome.model_copy(update={"summary": summary})
        return self._view(user, observed, outcome, plan.asked, now, time_zone)

    async def show(
        self, user: UserRef, command: ShowPresence, *, now: datetime, time_zone: str, unit: TurnUnit | None
    ) -> PresenceView:
        """`/presence`: what Graph reports, and the state the bot is holding, if any."""
        async with self._command(user, unit) as changes:
            presence = await self._graph.get_presence(user.user_id, tenant_id=user.tenant_id)
            held = await self._holds.active(changes)
        if held is None:
            return self._view(user, presence, None, None, now, time_zone)
        asked = STATES[held.state]
        outcome = Outcome(
            summary=f"The bot is keeping you {asked.label}.",
            label=asked.label,
            layer=held.layer,
            requested_end=held.requested_end,
        )
        return self._view(user, presence, outcome, asked, now, time_zone)

    async def _hold(self, changes: Effects, plan: _StatePlan) -> Presence:
        """Send a state command's writes (after clearing the bot's state on the other layer) and hold
        the state: inside the command's unit, under the user's lock."""
        writes = await self._replacing(changes, plan.hold.spec.layer) + plan.writes
        result = await self._apply(changes, writes)
        observed = await self._presence(changes.user, result)
        self._holds.begin(
            changes,
            plan.hold.spec,
            requested_end=plan.hold.requested_end,
            graph_expires_at=plan.hold.graph_expires_at,
            observed=observed,
        )
        return observed

    async def _apply(self, changes: Effects, writes: list[GraphWrite]) -> WriteOutcome:
        """Send `writes` for the unit's user; their audit goes into the unit."""
        user = changes.user
        return await self._graph.apply(user.user_id, writes, tenant_id=user.tenant_id, audit=changes)

    async def _presence(self, user: UserRef, result: WriteOutcome) -> Presence:
        return result.presence or await self._graph.get_presence(user.user_id, tenant_id=user.tenant_id)

    @staticmethod
    def _view(
        user: UserRef,
        presence: Presence,
        outcome: Outcome | None,
        asked: StateSpec | None,
        now: datetime,
        time_zone: str,
    ) -> PresenceView:
        return PresenceView(
            user_name=user.name,
            presence=snapshot(presence),
            outcome=outcome,
            explanation=explain(asked, presence) if asked else None,
            time_zone=time_zone,
            now=now,
        )

    async def _replacing(self, changes: Effects, layer: Layer) -> list[GraphWrite]:
        """A newer state replaces the one the bot set before, even on the other layer: `/dnd` then
        `/busy` shows Busy (the bot's Do not disturb is cleared), and `/busy 3h` then `/dnd 30m` does
        not resurface Busy when Do not disturb ends. A status the user picked in Teams is left alone."""
        previous = await self._holds.active(changes)
        if previous is None or previous.layer is layer:
            return []
        if previous.layer is Layer.PREFERRED:
            return [clear_preferred_write()]
        return [clear_presence_write(self._session_id)]

    def _plan_state(self, command: SetState, now: datetime) -> _StatePlan:
        writes, outcome, hold = self._plan_layer(command, now)
        if command.message is not None:  # the status message ends when the state does
            status = StatusPlan(text=command.message, expires=hold.requested_end)
            writes = [*writes, status_message_write(status.text, status.expires)]
            outcome = outcome.model_copy(update={"summary": f"{outcome.summary} Status message set."})
        return _StatePlan(STATES[command.state], writes, outcome, hold)

    def _plan_layer(self, command: SetState, now: datetime) -> tuple[list[GraphWrite], Outcome, _HoldPlan]:
        spec = STATES[command.state]
        if spec.layer is not Layer.SESSION:
            writes, outcome = self._plan_preferred(command, spec, now)
            end = outcome.requested_end or now + preferred_default_expiry(spec.pair.availability)
            return writes, outcome, _HoldPlan(spec, end, None)
        notes: list[str] = []
        requested_end = command.when.end if command.when else now + self._default_duration
        asked = requested_end - now
        if asked > self._max_hold:
            raise CommandError(
                f"I can hold a presence for at most {_human(self._max_hold)}; you asked for {_human(asked)}.",
                f"/{spec.state.value} {_example_hours(self._max_hold)}",
            )
        duration = min(max(asked, SESSION_MIN), SESSION_MAX)
        if asked < SESSION_MIN:
            notes.append(
                f"Graph's shortest app presence is 5 minutes, so this lasts 5 minutes "
                f"(you asked for {_human(asked)})."
            )
            requested_end = now + SESSION_MIN
        if asked > SESSION_MAX:
            notes.append(
                "Graph lets an app hold a presence for at most 4 hours at a time; the bot renews it "
                "until then."
            )
        if command.state is State.AVAILABLE:
            notes.append(
                "Teams fades an app's Available after 5 minutes; the bot refreshes it every few minutes "
                "until then."
            )
        session_plan = SessionPlan(
            availability=spec.pair.availability, activity=spec.pair.activity, duration=duration
        )
        writes = [
            set_presence_write(
                self._session_id, session_plan.availability, session_plan.activity, session_plan.duration
            )
        ]
        outcome = Outcome(
            summary=f"Set to {spec.label}.",
            label=spec.label,
            layer=spec.layer,
            requested_end=requested_end,
            notes=tuple(notes),
        )
        return writes, outcome, _HoldPlan(spec, requested_end, now + duration)

    def _plan_preferred(
        self, command: SetState, spec: StateSpec, now: datetime
    ) -> tuple[list[GraphWrite], Outcome]:
        notes: list[str] = []
        duration: timedelta | None = None
        requested_end: datetime | None
        if command.when:
            asked = command.when.end - now
            duration = min(max(asked, PREFERRED_MIN), PREFERRED_MAX)
            if asked < PREFERRED_MIN:
                notes.append(f"The shortest picked status is 5 minutes (you asked for {_human(asked)}).")
            requested_end = now + duration
        else:
            requested_end = now + preferred_default_expiry(spec.pair.availability)
            notes.append(
                f"Without a time, Teams keeps a picked {spec.label} for "
                f"{_human(preferred_default_expiry(spec.pair.availability))}."
            )
        notes.append("A picked status shows over anything apps set, while you're signed in to Teams.")
        preferred_plan = PreferredPlan(
            availability=spec.pair.availability, activity=spec.pair.activity, duration=duration
        )
        writes = [set_preferred_write(preferred_plan.availability, preferred_plan.activity, duration)]
        return writes, Outcome(
            summary=f"Set to {spec.label}.",
            label=spec.label,
            layer=spec.layer,
            requested_end=requested_end,
            notes=tuple(notes),
        )


def snapshot(presence: Presence) -> PresenceSnapshot:
    """The card's view of a Graph presence (status message and its expiry included)."""
    text: str | None = None
    expires: datetime | None = None
    status = presence.status_message
    if status and status.message and status.message.content:
        text = status.message.content
        if status.expiry_date_time:
            expires = status.expiry_date_time.to_datetime()
    return PresenceSnapshot(
        availability=presence.availability,
        activity=presence.activity,
        label=teams_label(presence.availability, presence.activity),
        tone=tone(presence.availability, presence.activity),
        status_message=text,
        status_expires=expires,
    )


def explain(asked: StateSpec, shown: Presence) -> str | None:
    """One sentence on why Teams shows something other than what was asked (docs/graph-facts.md §3, §5)."""
    a, b = shown.availability.lower(), shown.activity.lower()
    want = asked.pair
    if (a, b) == (want.availability.lower(), want.activity.lower()):
        return None
    shown_label = teams_label(shown.availability, shown.activity)
    if (a, b) == ("offline", "offwork"):
        return (
            "You appear offline: a picked Appear offline overrides everything apps set. "
            "Send /reset to go back to automatic."
        )
    if asked.layer is Layer.PREFERRED:
        if a == "offline":
            return (
                f"A picked status only shows while you're signed in to Teams somewhere; with no active "
                f"Teams session you show as {shown_label}."
            )
        return f"Graph still reports {shown_label}; changes can take a few minutes to reach Teams."
    if Pair(shown.availability, shown.activity) in PREFERRED_PAIRS - SESSION_PAIRS:
        return (
            f"Teams shows {shown_label}: a status picked in Teams (or with /dnd, /brb, /offline) wins over "
            "what apps set. Send /reset to let this one show."
        )
    if SESSION_RANK.get(a, 0) > SESSION_RANK.get(want.availability.lower(), 0):
        return (
            f"Another of your sessions reports {shown_label}, which outranks {asked.label}: Teams shows the "
            "highest of Do not disturb > Busy > Available > Away."
        )
    return f"Graph still reports {shown_label}; changes can take a few minutes to reach Teams."


def _human(delta: timedelta) -> str:
    seconds = max(0, round(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} hour" + ("s" if hours != 1 else ""))
    if minutes:
        parts.append(f"{minutes} minute" + ("s" if minutes != 1 else ""))
    if secs and not (days or hours):
        parts.append(f"{secs} second" + ("s" if secs != 1 else ""))
    return " ".join(parts) or "0 minutes"


def _example_hours(limit: timedelta) -> str:
    hours = max(1, int(limit.total_seconds() // 3600))
    return f"{hours}h"
