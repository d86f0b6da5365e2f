"""The per-activity pipeline: small named steps, each testable alone, run in order.

    sender ─► tenant ─► clean text ─► record (one store transaction) ─► mark done ─► redelivery
           ─► time zone ─► card owner ─► dispatch

(in that order in `bot.app`; `clean_text` is in `bot.turns.inputs`, the others here).

A step gets the turn and the rest of the pipeline (`call_next`); it returns a reply without calling on
to stop there (a refused tenant), or `None` for "send nothing" (a redelivered message). HTTP-level
checks of the body come before any of this, at the edge (`bot.teams.body`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import cards
from bot.core.users import UserRef
from bot.presence.errors import internal_error_view, tenant_refused_view
from bot.store.records import SavedConversation, TurnRecord
from bot.turns.model import Reply, Turn, TurnKind

log = logging.getLogger(__name__)

Next = Callable[[Turn], Awaitable[Reply | None]]
Step = Callable[[Turn, Next], Awaitable[Reply | None]]


class Pipeline:
    """Runs `steps` in order, then `final` (the dispatcher)."""

    def __init__(self, steps: Sequence[Step], final: Callable[[Turn], Awaitable[Reply]]) -> None:
        self._steps = tuple(steps)
        self._final = final

    async def run(self, turn: Turn) -> Reply | None:
        async def call(index: int, current: Turn) -> Reply | None:
            if index == len(self._steps):
                return await self._final(current)
            return await self._steps[index](current, lambda t: call(index + 1, t))

        return await call(0, turn)


# -- steps --------------------------------------------------------------------------------------
async def require_sender(turn: Turn, call_next: Next) -> Reply | None:
    """A command is always for its sender; an activity without one is not acted on."""
    if turn.inbound.sender is None:
        return Reply.of(cards.error_card(internal_error_view()))
    return await call_next(turn)


class CheckTenant:
    """Refuse organizations this deployment does not serve, before anything is stored for them; and an
    activity whose conversation and channel data name different tenants (the allow-list applies to
    every tenant it names)."""

    def __init__(self, allowed: Callable[[str | None], bool]) -> None:
        self._allowed = allowed

    async def __call__(self, turn: Turn, call_next: Next) -> Reply | None:
        named = {tenant.lower() for tenant in turn.inbound.tenant_ids}
        if len(named) > 1:
            log.warning("refused an activity naming two tenants: %r", sorted(named))
            return Reply.of(cards.error_card(tenant_refused_view()))
        for tenant in (turn.inbound.tenant_id, *turn.inbound.tenant_ids):
            if not self._allowed(tenant):
                log.warning("refused tenant %r", tenant)
                return Reply.of(cards.error_card(tenant_refused_view()))
        return await call_next(turn)


class TurnLedger(Protocol):
    """The store's side of a turn (`bot.store.store.Store.record_turn`)."""

    async def record_turn(
        self,
        user: UserRef,
        *,
        activity_key: str | None,
        conversation: SavedConversation | None,
        reported_zone: str | None,
    ) -> TurnRecord: ...

    async def mark_done(self, user: UserRef, activity_key: str) -> None: ...


class RecordTurn:
    """The bookkeeping of an activity in one store transaction: the redelivery mark, how to reach the
    sender in this conversation, the zone Teams reported; and the sender's settings, read back."""

    def __init__(self, ledger: TurnLedger) -> None:
        self._ledger = ledger

    async def __call__(self, turn: Turn, call_next: Next) -> Reply | None:
        inbound = turn.inbound
        record = await self._ledger.record_turn(
            turn.user,
            activity_key=inbound.activity_key,
            conversation=inbound.conversation,
            reported_zone=inbound.teams_zone,
        )
        turn.settings = record.settings
        turn.redelivered = not record.fresh
        return await call_next(turn)


async def skip_redelivered(turn: Turn, call_next: Next) -> Reply | None:
    """Teams redelivers an activity it thinks went unanswered: act on it once. A redelivered message
    gets no second reply; a redelivered card action still needs its answer, so it shows the card."""
    if not turn.redelivered:
        return await call_next(turn)
    log.info("activity delivered again within the dedup window: not acted on twice")
    if turn.inbound.kind is TurnKind.MESSAGE:
        return None
    turn.text = "/presence"
    return await call_next(turn)


class MarkDone:
    """An activity counts as processed only when its work is done: the key goes on the turn's unit
    (`Turn.unit`), which the services hand to the store with the command's outcome, so it is marked in
    that same transaction; a turn that stores nothing else is marked in one of its own once the reply is
    ready. A process killed before then leaves the activity unmarked, and the channel's redelivery
    carries it out."""

    def __init__(self, ledger: TurnLedger) -> None:
        self._ledger = ledger
        self._in_flight: set[str] = set()

    async def __call__(self, turn: Turn, call_next: Next) -> Reply | None:
        key = turn.inbound.activity_key
        if key is None or turn.redelivered:
            return await call_next(turn)
        if key in self._in_flight:  # delivered again while this process still works on it
            turn.redelivered = True
            return await call_next(turn)
        self._in_flight.add(key)
        try:
            turn.unit.activity_key = key
            reply = await call_next(turn)
            if turn.unit.pending_mark is not None:
                await self._ledger.mark_done(turn.user, key)
            return reply
        finally:
            self._in_flight.discard(key)


class ResolveTimeZone:
    """The zone for "until 5pm" and card times: one chosen with /timezone, else the one Teams sent,
    else the last one remembered, else the deployment's default."""

    def __init__(self, default: str) -> None:
        self._default = default

    async def __call__(self, turn: Turn, call_next: Next) -> Reply | None:
        settings = turn.settings
        if settings is not None and settings.time_zone_explicit and settings.time_zone:
            turn.time_zone = settings.time_zone
        else:
            remembered = settings.time_zone if settings is not None else None
            turn.time_zone = turn.inbound.teams_zone or remembered or self._default
        return await call_next(turn)


class KeepCardOwner:
    """In a group chat or a channel a presence card (or a watch card) is its owner's. Anyone may press
    its buttons, and a press acts only for the presser: the presser's result goes to the chat as a message
    of their own, and the shared card is answered with its owner's presence (or watches), refreshed, so it
    never turns into someone else's."""

    def __init__(self, card_of: Callable[[Turn, UserRef, str | None], Awaitable[Reply]]) -> None:
        self._card_of = card_of

    async def __call__(self, turn: Turn, call_next: Next) -> Reply | None:
        reply = await call_next(turn)
        owner = turn.inbound.card_owner
        if (
            reply is None
            or turn.inbound.kind is not TurnKind.ACTION
            or turn.inbound.personal
            or owner is None
            or owner.key == turn.user.key
        ):
            return reply
        try:
            shared = await self._card_of(turn, owner, turn.inbound.card_kind)
        except Exception:  # the owner's presence could not be read: their card stays as it was
            log.warning("could not refresh a shared card's owner's presence", exc_info=True)
            return reply
        return Reply(shared.card, shared.text, also=(reply,))
