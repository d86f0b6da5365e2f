"""A hand-written fake of the presence service's hold port: remembers the one active hold per user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.states import StateSpec
from bot.core.users import UserRef
from bot.graph.models import Presence
from bot.presence.service import HeldState


@dataclass
class FakeHolds:
    held: dict[tuple[str, str], HeldState] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)  # the reasons given, in order
    units: int = 0  # how many command units were opened (one store transaction each in production)

    @asynccontextmanager
    async def changes(self, user: UserRef) -> AsyncIterator[object]:
        self.units += 1
        yield self

    async def begin(
        self,
        user: UserRef,
        spec: StateSpec,
        *,
        requested_end: datetime,
        graph_expires_at: datetime | None,
        observed: Presence,
    ) -> None:
        self.held[user.key] = HeldState(spec.state, spec.layer, requested_end)

    async def cancel(self, user: UserRef, reason: str) -> None:
        if self.held.pop(user.key, None) is not None:
            self.cancelled.append(reason)

    async def active(self, user: UserRef) -> HeldState | None:
        return self.held.get(user.key)
