"""Holds: states the bot keeps true for as long as the user asked, past what one Graph call allows.

Graph caps an app session at 4 hours and fades an Available session after 5 minutes without a
refresh (docs/graph-facts.md §2–§3). A hold remembers what the user asked for and until when; durable timers
re-issue setPresence before each expiry (in ≤ 4 h steps) and, for Available, before each fade, until
the requested end, when the bot lets its session go. Holds and timers live in the store, so a restart
or a deploy loses nothing, and with several replicas each timer fires on exactly one of them.

Timer firings are at least once, so every step is idempotent: a hold that is no longer active is
left alone, and only the firing that actually ends a hold sends the notice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.core.states import (
    AVAILABLE_FADE,
    SESSION_MAX,
    SESSION_MIN,
    STATES,
    Layer,
    State,
    StateSpec,
    teams_label,
)
from bot.core.users import UserRef
from bot.graph.client import clear_presence_write, set_presence_write
from bot.graph.models import Presence
from bot.presence.locks import UserLocks
from bot.presence.ports import HeldState, HoldStore, PresenceGraph
from bot.store.dispatch import UsesTimers
from bot.store.effects import TurnUnit, collect
from bot.store.records import Effects, Hold, HoldStatus, NewHold, Timer, TimerKind, TimerPlan, hold_timer_key

log = logging.getLogger(__name__)

# Refresh a session this long before Graph would let it expire.
REFRESH_MARGIN = timedelta(minutes=2)
# Refresh an Available session this often: before the 5-minute fade, with a minute to spare.
AVAILABLE_REFRESH = AVAILABLE_FADE - timedelta(minutes=1)


class Notifier(Protocol):
    """Sends a proactive notice to a user (in the conversation they last used with the bot)."""

    async def notify(
        self,
        user: UserRef,
        title: str,
        message: str,
        presence: Presence | None,
        *,
        conversation_id: str | None = None,
    ) -> bool:
        """Message the user, in `conversation_id` (where the hold was set) when the bot can still post
        there, else their 1:1 chat."""
        ...


def _pair_text(presence: Presence) -> str:
    return f"{presence.availability}/{presence.activity}"


class HoldKeeper(UsesTimers):
    """Starts, refreshes and ends holds (the presence service's `HoldPort`); the `TimerService` calls
    `fire` and `give_up`."""

    def __init__(
        self,
        store: HoldStore,
        graph: PresenceGraph,
        clock: Clock,
        *,
        session_id: str,
        notifier: Notifier,
        locks: UserLocks,
    ) -> None:
        self._store = store
        self._graph = graph
        self._clock = clock
        self._session_id = session_id
        self._notifier = notifier
        self._locks = locks

    # -- the presence service's port (`HoldPort`): inside a command's unit, under the user's lock -------
    def changes(self, user: UserRef, unit: TurnUnit | None) -> AbstractAsyncContextManager[Effects]:
        """One transaction for what a command changes: the audit of its Graph writes, the hold it
        starts or ends, the turn's processed mark (see `bot.store.effects`)."""
        return collect(self._store, user, unit, on_commit=self._committed)

    def begin(
        self,
        changes: Effects,
        spec: StateSpec,
        *,
        requested_end: datetime,
        graph_expires_at: datetime | None,
        observed: Presence,
    ) -> None:
        """Start holding `spec` until `requested_end` when the unit commits, replacing the user's
        previous hold; its notices go to the conversation the command came from."""
        payload = {"baseline": _pair_text(observed), "name": changes.user.name}
        plans = [TimerPlan(TimerKind.END, requested_end, payload)]
        now = self._clock.now()
        if (
            spec.layer is Layer.SESSION
            and graph_expires_at is not None
            and _lapses(spec.state, now, graph_expires_at) < requested_end
        ):
            plans.append(
                TimerPlan(TimerKind.REFRESH, self._next_refresh(spec.state, now, graph_expires_at), payload)
            )
        changes.new_hold = NewHold(
            state=spec.state.value,
            layer=spec.layer.value,
            availability=spec.pair.availability,
            activity=spec.pair.activity,
            requested_end=requested_end,
            graph_expires_at=graph_expires_at,
            timers=tuple(plans),
            conversation_id=changes.conversation_id,
        )
        changes.end_hold = None

    async def active(self, changes: Effects) -> HeldState | None:
        hold = await self._store.get_active_hold(changes.user)
        if hold is None:
            return None
        return HeldState(State(hold.state), Layer(hold.layer), hold.requested_end)

    def cancel(self, changes: Effects, reason: str) -> None:
        """The user did something newer (/clear, /reset): stop holding, without a notice."""
        changes.new_hold = None
        changes.end_hold = (HoldStatus.CANCELLED, reason)

    def _committed(self, effects: Effects, hold: Hold | None) -> None:
        if effects.new_hold is not None:
            for plan in effects.new_hold.timers:
                self.timers.scheduled(plan.due_at)

    async def _schedule(
        self, hold_id: int, kind: TimerKind, due: datetime, payload: Mapping[str, Any]
    ) -> None:
        """(Re)schedule hold `hold_id`'s timer of `kind`, tied to the hold."""
        await self.timers.schedule(hold_timer_key(hold_id, kind), kind, due, payload, hold_id=hold_id)

    # -- called on start -----------------------------------------------------------------------------------
    async def repair(self) -> int:
        """Give every active hold the timers it needs; returns how many holds were repaired.

        `begin` stores the hold, then schedules its timers: a process killed in between leaves a hold
        nothing would refresh or end. Run before the timers start; scheduling is an upsert by key, so
        running it on several replicas at once is harmless. A missing refresh is scheduled now (a
        refresh re-issues the held state: safe whenever it runs); a missing end at the requested end.
        """
        repaired, after = 0, 0
        while batch := await self._store.active_holds_missing_timers(after=after, limit=500):
            after = batch[-1].hold.id
            now = self._clock.now()
            for hold, missing_end, missing_refresh in batch:
                payload = {"baseline": f"{hold.availability}/{hold.activity}", "name": None}
                end = hold.requested_end if hold.requested_end is not None else now
                fixed = False
                if missing_end:
                    await self._schedule(hold.id, TimerKind.END, end, payload)
                    fixed = True
                if (
                    missing_refresh
                    and hold.graph_expires_at is not None
                    and _lapses(State(hold.state), hold.last_refresh_at or now, hold.graph_expires_at) < end
                ):
                    await self._schedule(hold.id, TimerKind.REFRESH, now, payload)
                    fixed = True
                repaired += fixed
        if repaired:
            log.warning("gave %d active hold(s) the timers they were missing", repaired)
        return repaired

    # -- called by the timers ---------------------------------------------------------------------------
    async def fire(self, timer: Timer) -> None:
        # A timer names its hold, not its user: this first read only finds whose lock to take. What to
        # do is decided on the hold as read again under that lock.
        hold = await self._store.get_hold(timer.hold_id) if timer.hold_id is not None else None
        if hold is None or not hold.is_active:
            return  # replaced, cleared or already ended: nothing to do (at-least-once firing)
        user = UserRef(user_id=hold.user_id, tenant_id=hold.tenant_id, name=timer.payload.get("name"))
        async with self._locks.hold(user):
            hold = await self._store.get_hold(hold.id)
            if hold is None or not hold.is_active:
                return
            now = self._clock.now()
            if timer.kind == TimerKind.END or (hold.requested_end is not None and now >= hold.requested_end):
                await self._end(hold, user)
            elif timer.kind == TimerKind.REFRESH:
                await self._refresh(hold, user, timer, now)
            else:
                log.warning("unknown hold timer kind %s", timer.kind)

    async def give_up(self, timer: Timer, error: BaseException) -> None:
        """A hold step failed for good: stop holding and tell the user."""
        if timer.hold_id is None:
            return
        ended = await self._store.end_hold(
            timer.hold_id, HoldStatus.FAILED, f"gave up: {type(error).__name__}"
        )
        if ended is None:
            return
        user = UserRef(user_id=ended.user_id, tenant_id=ended.tenant_id, name=timer.payload.get("name"))
        label = STATES[State(ended.state)].label
        lapse = ended.graph_expires_at
        when = f" Teams may keep showing it until Graph lets it lapse ({lapse:%H:%M} UTC)." if lapse else ""
        await self._notifier.notify(
            user,
            f"I couldn't keep you {label}",
            f"Microsoft Graph kept failing, so I stopped holding {label}.{when} Send the command again "
            "to retry.",
            None,
            conversation_id=ended.conversation_id,
        )

    # -- steps ---------------------------------------------------------------------------------------
    async def _refresh(self, hold: Hold, user: UserRef, timer: Timer, now: datetime) -> None:
        assert hold.requested_end is not None
        spec = STATES[State(hold.state)]
        remaining = hold.requested_end - now
        duration = min(max(remaining, SESSION_MIN), SESSION_MAX)
        outcome = await self._graph.apply(
            user.user_id,
            [set_presence_write(self._session_id, hold.availability, hold.activity, duration)],
            tenant_id=user.tenant_id,
        )
        presence = outcome.presence
        baseline = str(timer.payload.get("baseline", ""))
        if presence is not None and _overridden(presence, spec, baseline):
            await self._overridden(hold, user, spec, presence)
            return
        expires = now + duration
        await self._store.update_hold_refresh(hold.id, now, expires)
        if _lapses(spec.state, now, expires) < hold.requested_end:
            next_refresh = self._next_refresh(spec.state, now, expires)
            await self._schedule(hold.id, TimerKind.REFRESH, next_refresh, dict(timer.payload))
        log.info("refreshed hold %d until %s", hold.id, expires.isoformat())

    async def _end(self, hold: Hold, user: UserRef) -> None:
        spec = STATES[State(hold.state)]
        if spec.layer is Layer.SESSION:
            outcome = await self._graph.apply(
                user.user_id, [clear_presence_write(self._session_id)], tenant_id=user.tenant_id
            )
            presence = outcome.presence
        else:  # Graph lets a preferred presence expire on its own, at the same moment
            presence = await self._graph.get_presence(user.user_id, tenant_id=user.tenant_id)
        ended = await self._store.end_hold(hold.id, HoldStatus.ENDED, "reached the requested end")
        if ended is None:
            return  # another firing ended it first and told the user
        now_label = teams_label(presence.availability, presence.activity) if presence else "your usual status"
        await self._notifier.notify(
            user,
            f"Your {spec.label} has ended",
            f"You asked to be {spec.label} until now. Teams shows you as {now_label}.",
            presence,
            conversation_id=ended.conversation_id,
        )

    async def _overridden(self, hold: Hold, user: UserRef, spec: StateSpec, presence: Presence) -> None:
        ended = await self._store.end_hold(hold.id, HoldStatus.ENDED, "overridden elsewhere")
        if ended is None:
            return
        # The user chose something else (in Teams, another app…): let the bot's session go too.
        outcome = await self._graph.apply(
            user.user_id, [clear_presence_write(self._session_id)], tenant_id=user.tenant_id
        )
        shown = outcome.presence or presence
        label = teams_label(shown.availability, shown.activity)
        await self._notifier.notify(
            user,
            f"Your {spec.label} was overridden",
            f"Teams now shows you as {label}, set somewhere else, so I stopped holding {spec.label}.",
            shown,
            conversation_id=ended.conversation_id,
        )

    @staticmethod
    def _next_refresh(state: State, now: datetime, graph_expires_at: datetime) -> datetime:
        due = graph_expires_at - REFRESH_MARGIN
        if state is State.AVAILABLE:
            due = min(due, now + AVAILABLE_REFRESH)
        return max(due, now + timedelta(seconds=30))


def _lapses(state: State, refreshed_at: datetime, graph_expires_at: datetime) -> datetime:
    """When a session set (or refreshed) at `refreshed_at` stops showing without another refresh: at
    Graph's expiry, or for Available at the fade, whichever comes first. A hold needs another refresh
    only if this is before its requested end."""
    if state is State.AVAILABLE:
        return min(graph_expires_at, refreshed_at + AVAILABLE_FADE)
    return graph_expires_at


def _overridden(presence: Presence, spec: StateSpec, baseline: str) -> bool:
    """The effective presence changed to something that is neither what we hold nor what was shown
    when the hold began (a session of another client may legitimately outrank ours from the start)."""
    shown = _pair_text(presence)
    wanted = f"{spec.pair.availability}/{spec.pair.activity}"
    return shown.lower() not in {wanted.lower(), baseline.lower()}
