"""One transaction for what a command changes: `collect` gathers it, `Store.commit` writes it.

A command's Graph writes are audited by the Graph client as they happen (`StoreAudit`), and the hold it
starts or ends is decided by the presence service. Both are gathered in one `Effects` while the command
runs, in a context variable, and written together when it finishes, even when it fails (the audit of
the writes that were sent is kept). Timer firings, which open no unit, write their audit row at once.

The same transaction marks the activity processed (`activity_scope`), so an activity counts as handled
only once its outcome is stored: one cut short by a crash is redone when the channel delivers it again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from bot.core.users import UserRef
from bot.store.records import AuditRow, Effects, Hold
from bot.store.store import Store

log = logging.getLogger(__name__)

_CURRENT: ContextVar[Effects | None] = ContextVar("presence_bot_effects", default=None)


@dataclass
class TurnMark:
    """The activity being handled: its key is marked processed with the first unit it commits (`done`),
    or at the end of the turn when no unit did (`bot.turns.steps.MarkDone`)."""

    key: str | None  # None: an activity without an id (nothing to mark)
    conversation_id: str | None = None  # where the activity came from: a hold set now notifies there
    done: bool = False


_TURN: ContextVar[TurnMark | None] = ContextVar("presence_bot_turn", default=None)


@contextmanager
def activity_scope(activity_key: str | None, conversation_id: str | None = None) -> Iterator[TurnMark]:
    """While the block runs, the first unit committed (`collect`) also marks `activity_key` processed,
    and a hold started records `conversation_id` as where its notices go."""
    mark = TurnMark(activity_key, conversation_id)
    token = _TURN.set(mark)
    try:
        yield mark
    finally:
        _TURN.reset(token)


@asynccontextmanager
async def collect(
    store: Store, user: UserRef, *, on_commit: Callable[[Effects, Hold | None], None] | None = None
) -> AsyncIterator[Effects]:
    """Gather what the block changes for `user` and commit it in one transaction on exit.

    Inside an open unit for the same user this joins it (the outer unit commits).
    """
    current = _CURRENT.get()
    if current is not None and current.user.key == user.key:
        yield current
        return
    turn = _TURN.get()
    effects = Effects(user, activity_key=turn.key if turn is not None and not turn.done else None)
    token = _CURRENT.set(effects)
    try:
        yield effects
    except BaseException:
        _CURRENT.reset(token)
        try:  # what did happen (the audit of writes sent) is kept, whatever ended the command
            await store.commit(effects)
        except Exception:
            log.exception("could not record a failed command's effects")
        else:
            _done(turn, effects)
        raise
    _CURRENT.reset(token)
    hold = await store.commit(effects)
    _done(turn, effects)
    if on_commit is not None:
        on_commit(effects, hold)


def current_conversation() -> str | None:
    """The conversation of the activity being handled (None outside one: a timer firing)."""
    turn = _TURN.get()
    return turn.conversation_id if turn is not None else None


def _done(turn: TurnMark | None, effects: Effects) -> None:
    if turn is not None and effects.activity_key is not None:
        turn.done = True


class StoreAudit:
    """The Graph client's audit sink: every write with its outcome, in the store's audit log; inside a
    command's unit (`collect`) it joins that unit's transaction."""

    def __init__(self, store: Store) -> None:
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
        row = AuditRow(operation=operation, outcome=code, request=dict(request), status_code=status)
        current = _CURRENT.get()
        if current is not None and current.user.key == (tenant_id or "", user_id):
            current.audit.append(row)
            return
        await self._store.record_audit(
            UserRef(user_id=user_id, tenant_id=tenant_id),
            operation=row.operation,
            outcome=row.outcome,
            request=row.request,
            status_code=row.status_code,
        )
