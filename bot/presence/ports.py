"""The presence service's ports: what it and the hold keeper need from the layers below, as protocols.

    PresenceService ──► PresenceGraph (GraphClient; FakeGraph)      tests/graph/test_port_contract.py
          └───────────► HoldPort      (HoldKeeper; FakeHolds)       tests/presence/test_holds_contract.py
    HoldKeeper ───────► HoldStore     (Store)

A command's changes go into its unit of work (`bot.store.effects`): the service opens it with
`HoldPort.changes` under the user's lock, and every other call of the port takes that open unit, so the
active hold is only read, started or ended inside it (under the lock) and written with the command's
other changes, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import NamedTuple, Protocol

from bot.core.states import Layer, State, StateSpec
from bot.core.users import UserRef
from bot.graph.client import AuditSink, GraphWrite, WriteOutcome
from bot.graph.models import Presence
from bot.store.effects import TurnUnit
from bot.store.holds import TimerGap
from bot.store.records import Effects, Hold, HoldStatus


class PresenceGraph(Protocol):
    """The Graph port the service needs (implemented by `GraphClient`, faked in tests).

    `apply` records each write it sends, with its outcome, in `audit` (a command's unit) when given,
    else where the implementation keeps it (the store's audit log, at once: timer firings)."""

    async def apply(
        self,
        user_id: str,
        writes: Sequence[GraphWrite],
        *,
        tenant_id: str | None = None,
        read: bool = True,
        audit: AuditSink | None = None,
    ) -> WriteOutcome: ...

    async def get_presence(self, user_id: str, *, tenant_id: str | None = None) -> Presence: ...


class HeldState(NamedTuple):
    """The state the bot holds for a user: which, on which layer, until when."""

    state: State
    layer: Layer
    requested_end: datetime | None


class HoldPort(Protocol):
    """Keeps states true past one Graph call (`bot.presence.holds.HoldKeeper`)."""

    def changes(self, user: UserRef, unit: TurnUnit | None) -> AbstractAsyncContextManager[Effects]:
        """Open `user`'s unit of work for one command of the turn `unit` (None: outside a turn): what
        is recorded in it is written in one transaction on exit, even when the command fails, with the
        turn's processed mark. Opened under the user's lock."""
        ...

    async def active(self, changes: Effects) -> HeldState | None:
        """The state the bot holds for the unit's user now, if any (read inside the open unit, so under
        the user's lock: no other command or hold step of theirs runs meanwhile)."""
        ...

    def begin(
        self,
        changes: Effects,
        spec: StateSpec,
        *,
        requested_end: datetime,
        graph_expires_at: datetime | None,
        observed: Presence,
    ) -> None:
        """Hold `spec` until `requested_end` from when the unit commits, replacing the user's active hold
        (it ends as cancelled); its notices go to the unit's conversation."""
        ...

    def cancel(self, changes: Effects, reason: str) -> None:
        """Stop holding when the unit commits, without a notice (the hold ends as cancelled, `reason`)."""
        ...


class HoldStore(Protocol):
    """The store's holds, as the hold keeper uses them (`bot.store.store.Store`)."""

    async def commit(self, effects: Effects) -> Hold | None: ...

    async def get_active_hold(self, user: UserRef) -> Hold | None: ...

    async def get_hold(self, hold_id: int) -> Hold | None: ...

    async def active_holds_missing_timers(self, *, after: int = 0, limit: int = 1000) -> list[TimerGap]: ...

    async def end_hold(self, hold_id: int, status: HoldStatus, reason: str) -> Hold | None: ...

    async def update_hold_refresh(
        self, hold_id: int, at: datetime, graph_expires_at: datetime
    ) -> Hold | None: ...
