"""One transaction for what a command changes: `collect` gathers it, `Store.commit` writes it.

The unit of work travels in plain sight. The pipeline gives each turn a `TurnUnit` (`Turn.unit`: which
activity, from which conversation); the dispatcher hands it to the service (`unit=turn.unit`); the
service opens `collect(store, user, unit)` under the user's lock and passes the `Effects` it yields to
whatever records into it: the Graph client as that call's audit sink (`apply(..., audit=effects)`) and
the hold keeper (`begin(effects, ...)`, `cancel(effects, ...)`). On exit everything is written in one
transaction, even when the command fails (the audit of the writes that were sent is kept).

The same transaction marks the turn's activity processed (the unit's `activity_key`), so an activity
counts as handled only once its outcome is stored: one cut short by a crash is redone when the channel
delivers it again. Timer firings open no unit: their Graph writes are audited at once (`StoreAudit`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.users import UserRef
from bot.store.records import Effects, Hold

log = logging.getLogger(__name__)


@dataclass
class TurnUnit:
    """One turn's unit of work, handed from the pipeline to the services (`Turn.unit`): the conversation
    the activity came from (a hold started now notifies there) and the activity key to mark processed with
    the first outcome committed (`bot.turns.steps.MarkDone` sets it; None: nothing to mark)."""

    conversation_id: str | None = None
    activity_key: str | None = None
    marked: bool = False  # the key went into a committed unit: the turn needs no mark of its own

    @property
    def pending_mark(self) -> str | None:
        """The activity key still to be marked processed, if any."""
        return None if self.marked else self.activity_key


class Committer(Protocol):
    """Writes one command's effects in one transaction (`bot.store.store.Store.commit`)."""

    async def commit(self, effects: Effects) -> Hold | None: ...


@asynccontextmanager
async def collect(
    store: Committer,
    user: UserRef,
    unit: TurnUnit | None,
    *,
    on_commit: Callable[[Effects, Hold | None], None] | None = None,
) -> AsyncIterator[Effects]:
    """Gather what the block changes for `user` (in the turn `unit`; None outside a turn) and commit it
    in one transaction on exit, with the turn's processed mark if no unit of the turn carried it yet."""
    effects = Effects(
        user,
        activity_key=unit.pending_mark if unit is not None else None,
        conversation_id=unit.conversation_id if unit is not None else None,
    )
    try:
        yield effects
    except BaseException:
        try:  # what did happen (the audit of writes sent) is kept, whatever ended the command
            await store.commit(effects)
        except Exception:
            log.exception("could not record a failed command's effects")
        else:
            _marked(unit, effects)
        raise
    hold = await store.commit(effects)
    _marked(unit, effects)
    if on_commit is not None:
        on_commit(effects, hold)


def _marked(unit: TurnUnit | None, effects: Effects) -> None:
    if unit is not None and effects.activity_key is not None:
        unit.marked = True


class AuditStore(Protocol):
    async def record_audit(
        self,
        user: UserRef,
        *,
        operation: str,
        outcome: str,
        request: Mapping[str, Any] | None = None,
        status_code: int | None = None,
    ) -> object: ...


class StoreAudit:
    """The Graph client's default audit sink: each write with its outcome, in the store's audit log at
    once. A command passes its unit's `Effects` as the call's sink instead (`GraphClient.apply(audit=)`),
    so only timer firings, which open no unit, write here."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store

    async def record_write(
        self,
        *,
        user_id: str,
        tenant_id: str | None,
        operation: str,
        request: Mapping[str, Any],
        status: int,
        code: str,
    ) -> None:
        await self._store.record_audit(
            UserRef(user_id=user_id, tenant_id=tenant_id),
            operation=operation,
            outcome=code,
            request=dict(request),
            status_code=status,
        )
