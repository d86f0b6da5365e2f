"""A hand-written fake of the presence service's hold port (`HoldPort`), in memory.

It opens a command's unit with the real `collect` and fakes only the store's `commit`, and it is held to
the same contract as the real `HoldKeeper` on the store (tests/presence/test_holds_contract.py), so it
cannot drift from it: one active hold per user; a hold started or ended in a unit shows only once the unit
commits; a new hold replaces the active one (which ends as cancelled, "replaced by a newer command"); a
cancel ends the active one with its reason (nothing, when none is active); the unit's audit rows are kept,
even when the command fails; the turn's activity is marked processed with the first unit that commits.
Timers are not modelled (a hold does not end by itself).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.states import Layer, State, StateSpec
from bot.core.users import UserRef
from bot.graph.models import Presence
from bot.presence.ports import HeldState
from bot.store.effects import TurnUnit, collect
from bot.store.records import AuditRow, Effects, Hold, HoldStatus, NewHold

UserKey = tuple[str, str]


@dataclass
class FakeHolds:
    held: dict[UserKey, HeldState] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)  # the reasons of the holds cancelled, in order
    ended: dict[UserKey, list[tuple[HoldStatus, str]]] = field(default_factory=dict)  # each user's, in order
    notify_in: dict[UserKey, str | None] = field(default_factory=dict)  # the active hold's conversation
    audit: dict[UserKey, list[AuditRow]] = field(default_factory=dict)
    processed: list[str] = field(default_factory=list)  # activity keys marked processed, in order
    units: int = 0  # how many command units were opened (one store transaction each in production)
    commits: int = 0  # how many of them had something to write

    def changes(self, user: UserRef, unit: TurnUnit | None) -> AbstractAsyncContextManager[Effects]:
        self.units += 1
        return collect(self, user, unit)

    async def active(self, changes: Effects) -> HeldState | None:
        return self.held.get(changes.user.key)

    def begin(
        self,
        changes: Effects,
        spec: StateSpec,
        *,
        requested_end: datetime,
        graph_expires_at: datetime | None,
        observed: Presence,
    ) -> None:
        changes.new_hold = NewHold(
            state=spec.state.value,
            layer=spec.layer.value,
            availability=spec.pair.availability,
            activity=spec.pair.activity,
            requested_end=requested_end,
            graph_expires_at=graph_expires_at,
            timers=(),
            conversation_id=changes.conversation_id,
        )
        changes.end_hold = None

    def cancel(self, changes: Effects, reason: str) -> None:
        changes.new_hold = None
        changes.end_hold = (HoldStatus.CANCELLED, reason)

    # -- the store's side: one command's effects, all at once ------------------------------------------
    async def commit(self, effects: Effects) -> Hold | None:
        if not effects:
            return None
        self.commits += 1
        key = effects.user.key
        if effects.new_hold is not None:
            new = effects.new_hold
            self._end(key, HoldStatus.CANCELLED, new.reason)
            self.held[key] = HeldState(State(new.state), Layer(new.layer), new.requested_end)
            self.notify_in[key] = new.conversation_id
        elif effects.end_hold is not None:
            status, reason = effects.end_hold
            if self._end(key, status, reason) and status is HoldStatus.CANCELLED:
                self.cancelled.append(reason)
        self.audit.setdefault(key, []).extend(effects.audit)
        if effects.activity_key is not None and effects.activity_key not in self.processed:
            self.processed.append(effects.activity_key)
        return None

    def _end(self, key: UserKey, status: HoldStatus, reason: str) -> bool:
        if self.held.pop(key, None) is None:
            return False
        self.notify_in.pop(key, None)
        self.ended.setdefault(key, []).append((status, reason))
        return True
