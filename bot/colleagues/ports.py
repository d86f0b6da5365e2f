"""The colleagues' ports: what `/who`, `/watch` and the per-tenant watcher need from the layers below.

    ColleaguesService ──► PresenceReader (GraphClient; FakeGraph)   tests/graph/test_port_contract.py
           │          ──► WatchStore     (Store; FakeWatches)       tests/colleagues/test_watches_contract.py
           └──────────► Watching         (Watcher; FakeWatches)
    Watcher ──────────► PresenceReader, PollStore (Store), WatchNotifier (TeamsNotifier)

`WatchStore.add_watch` refuses a watch past the cap with `WatchCapReached` (declared in `bot.core.colleagues`,
below the store that raises it, and part of this port).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from bot.core.colleagues import Colleague, Watch, WatchCapReached, WatchEnd, WatchKind
from bot.core.users import UserRef
from bot.graph.models import Presence
from bot.store.watches import WatchTarget

__all__ = [
    "PollStore",
    "PresenceReader",
    "WatchCapReached",
    "WatchNotifier",
    "WatchStore",
    "Watching",
]


class PresenceReader(Protocol):
    """Reads many people's presence at once (getPresencesByUserId, `GraphClient.get_presences`): one
    answer per distinct id Graph knows, in the order asked; raises `GraphThrottled` on a 429 that could not
    be waited out."""

    async def get_presences(
        self, user_ids: Sequence[str], *, tenant_id: str | None = None
    ) -> list[Presence]: ...


class WatchStore(Protocol):
    """A user's watches, as `/watch`, `/unwatch` and `/watches` keep them (`bot.store.Store`)."""

    async def add_watch(
        self,
        watcher: UserRef,
        target: Colleague,
        kind: WatchKind,
        *,
        ends_at: datetime,
        conversation_id: str | None,
        now: datetime,
        cap: int,
    ) -> Watch:
        """Start a watch, or extend the running one on the same colleague and kind (same id, the new end);
        a new watch beyond `cap` running ones raises `WatchCapReached`."""
        ...

    async def active_watches(self, watcher: UserRef, *, now: datetime) -> list[Watch]:
        """The watcher's running watches (not ended, not past their end), oldest first."""
        ...

    async def cancel_watches(
        self, watcher: UserRef, target_aad_id: str | None, *, now: datetime
    ) -> list[Watch]:
        """End the watcher's running watches on `target_aad_id` (None: all) as cancelled; returns them."""
        ...


class Watching(Protocol):
    """The watcher: told when a tenant has a new watch, so it polls there."""

    async def watching(self, tenant_id: str) -> None: ...


class PollStore(Protocol):
    """The store's watches, as the per-tenant poll reads and ends them (`bot.store.Store`)."""

    async def watch_tenants(self) -> list[str]: ...

    async def tenant_has_watches(self, tenant_id: str | None) -> bool: ...

    async def tenant_watch_targets(self, tenant_id: str | None, *, now: datetime) -> list[WatchTarget]: ...

    async def expire_watches(self, tenant_id: str | None, *, now: datetime) -> list[Watch]: ...

    async def finish_watches(
        self, watch_ids: Iterable[int], reason: WatchEnd, *, now: datetime
    ) -> list[Watch]:
        """End those of `watch_ids` still running; returns the ones this call ended (first ender wins)."""
        ...


class WatchNotifier(Protocol):
    """Tells a watcher how their watch ended (a card in the conversation they asked from)."""

    async def watch_met(self, watch: Watch, presence: Presence) -> bool:
        """The colleague is now what the watcher waited for; False when no notice could be sent."""
        ...

    async def watch_expired(self, watch: Watch) -> bool:
        """The watch reached its end without being met; False when no notice could be sent."""
        ...
