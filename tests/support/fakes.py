"""A hand-written fake of the Graph client's ports: the presence service's (`PresenceGraph`: `apply`,
`get_presence`) and colleagues' bulk read (`get_presences`).

It is held to the same contract as the real `GraphClient` talking to the simulated tenant
(tests/graph/test_port_contract.py), so it cannot drift from it. Like Graph (FACTS §2–§3) it keeps, per
user, the app's presence sessions, a preferred presence and a status message, and answers a read with:

- the preferred presence, if set; else the best of the user's sessions (a Teams client reporting
  Available/Available, and each app session), ranked as Graph ranks them, the newest winning a tie;
- the status message last set (an empty one clears it);
- for `get_presences`, one such presence per distinct id (compared without case), in the order asked,
  like getPresencesByUserId; a user in `unknown_users` is left out of the answer (what real Graph does
  for an id it does not know is unverified, so callers must cope with a missing entry). Each call
  getPresencesByUserId would get (650 ids at most) is recorded in `bulk_reads`.

Writes fail as Graph's do: `clearPresence` without a session is `GraphNotFound` (tolerated when the write
says so), and every call about a user in `unknown_users` is `GraphNotFound`. Time is not modelled (no
expiry, no fade of an idle Available).

A test that needs Graph to show something the writes do not explain (a status picked in Teams, a client
in a call) scripts it: `FakeGraph(Presence(...))` answers every read with that presence, whatever was
written; `scripted[user_id] = Presence(...)` does it for one user (a colleague in a meeting, out of
office), bulk reads included. Every write is recorded in `writes` (and, as the client does, in the call's
`audit` sink with its outcome), every read counted in `reads`;
`fail_with` makes every call raise that error.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import AdjustableClock, Clock
from bot.core.colleagues import PRESENCES_PER_CALL, Colleague, Watch, WatchCapReached, WatchEnd, WatchKind
from bot.core.states import SESSION_RANK
from bot.core.users import UserRef
from bot.graph.client import AuditSink, GraphWrite, WriteOutcome
from bot.graph.errors import GraphError, GraphNotFound
from bot.graph.models import (
    ClearPresenceRequest,
    Presence,
    SetPreferredPresenceRequest,
    SetPresenceRequest,
    SetStatusMessageRequest,
    StatusMessage,
)
from bot.store.records import ConversationReferenceRecord, SavedConversation, TurnRecord, UserSettings

# What a user's Teams client reports when nothing else is going on (the simulated tenant's new user).
CLIENT_PAIR = ("Available", "Available")


@dataclass
class _Session:
    availability: str
    activity: str
    order: int  # when it was last set: the newest wins a tie in rank


@dataclass
class _User:
    sessions: dict[str, _Session] = field(default_factory=dict)  # by session id (the app's id)
    preferred: tuple[str, str] | None = None
    status: StatusMessage | None = None


@dataclass
class FakeGraph:
    presence: Presence | None = None  # scripted: every read answers this, whatever was written
    writes: list[tuple[str, GraphWrite]] = field(default_factory=list)
    reads: int = 0
    fail_with: GraphError | None = None
    unknown_users: set[str] = field(default_factory=set)
    scripted: dict[str, Presence] = field(default_factory=dict)  # by user id: what reads of them answer
    bulk_reads: list[list[str]] = field(default_factory=list)  # the ids of each getPresencesByUserId call
    _users: dict[str, _User] = field(default_factory=dict, repr=False)
    _order: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    async def apply(
        self,
        user_id: str,
        writes: Sequence[GraphWrite],
        *,
        tenant_id: str | None = None,
        read: bool = True,
        audit: AuditSink | None = None,
    ) -> WriteOutcome:
        if self.fail_with is not None:
            raise self.fail_with
        outcome = WriteOutcome()
        for index, write in enumerate(writes):
            self.writes.append((user_id, write))
            try:
                self._write(user_id, write)
            except GraphError as error:
                await _audit(audit, user_id, tenant_id, write, error)
                if not isinstance(error, write.tolerated):
                    raise
                outcome.errors[index] = error
            else:
                await _audit(audit, user_id, tenant_id, write, None)
        if read:
            outcome.presence = self._read(user_id)
        return outcome

    async def get_presence(self, user_id: str, *, tenant_id: str | None = None) -> Presence:
        if self.fail_with is not None:
            raise self.fail_with
        return self._read(user_id)

    async def get_presences(self, user_ids: Sequence[str], *, tenant_id: str | None = None) -> list[Presence]:
        if self.fail_with is not None:
            raise self.fail_with
        ids: list[str] = []
        seen: set[str] = set()
        for user_id in user_ids:
            if user_id.lower() not in seen:
                seen.add(user_id.lower())
                ids.append(user_id)
        for start in range(0, len(ids), PRESENCES_PER_CALL):
            self.bulk_reads.append(ids[start : start + PRESENCES_PER_CALL])
        found = []
        for user_id in ids:
            if user_id in self.unknown_users:
                continue
            answer = self._answer(user_id, self._user(user_id))
            found.append(answer if answer.id else answer.model_copy(update={"id": user_id}))
        return found

    def bodies(self) -> list[dict[str, object]]:
        return [w.body.wire() if w.body is not None else {} for _, w in self.writes]

    # -- Graph's rules, as far as the contract goes ------------------------------------------------
    def _user(self, user_id: str) -> _User:
        if user_id in self.unknown_users:
            raise GraphNotFound(f"No user {user_id!r} in this tenant.", code="NotFound")
        return self._users.setdefault(user_id, _User())

    def _write(self, user_id: str, write: GraphWrite) -> None:
        user = self._user(user_id)
        body = write.body
        if write.op == "set_presence" and isinstance(body, SetPresenceRequest):
            user.sessions[body.session_id] = _Session(body.availability, body.activity, next(self._order))
        elif write.op == "clear_presence" and isinstance(body, ClearPresenceRequest):
            if user.sessions.pop(body.session_id, None) is None:
                raise GraphNotFound("The application has no presence session for this user.", code="NotFound")
        elif write.op == "set_preferred_presence" and isinstance(body, SetPreferredPresenceRequest):
            user.preferred = (body.availability, body.activity)
        elif write.op == "clear_preferred_presence":
            user.preferred = None
        elif write.op == "set_status_message" and isinstance(body, SetStatusMessageRequest):
            message = body.status_message.message
            user.status = body.status_message if message is not None and message.content.strip() else None
        else:
            raise AssertionError(f"the fake does not know the write {write.op!r} with {body!r}")

    def _read(self, user_id: str) -> Presence:
        user = self._user(user_id)
        self.reads += 1
        return self._answer(user_id, user)

    def _answer(self, user_id: str, user: _User) -> Presence:
        if user_id in self.scripted:
            return self.scripted[user_id]
        if self.presence is not None:
            return self.presence
        if user.preferred is not None:
            availability, activity = user.preferred
        else:
            candidates = [(*CLIENT_PAIR, 0)] + [
                (s.availability, s.activity, s.order) for s in user.sessions.values()
            ]
            availability, activity, _ = max(
                candidates, key=lambda c: (SESSION_RANK.get(c[0].lower(), 1), c[2])
            )
        return Presence(id=user_id, availability=availability, activity=activity, status_message=user.status)


async def _audit(
    sink: AuditSink | None, user_id: str, tenant_id: str | None, write: GraphWrite, error: GraphError | None
) -> None:
    """What `GraphClient` records of each write it sent, in the call's audit sink."""
    if sink is not None:
        await sink.record_write(
            user_id=user_id,
            tenant_id=tenant_id,
            operation=write.op,
            request=write.body.wire() if write.body is not None else {},
            status=error.status if error else 200,
            code=error.code if error else "ok",
        )


class FakeWatches:
    """The store's watches and the watcher's `watching`, in memory (`bot.colleagues.ports`: `WatchStore`,
    `Watching`). Held to the same contract as the real `Store` (tests/colleagues/test_watches_contract.py):
    asking again for the same colleague and kind extends the running watch (its end; its conversation when
    one is given), a new watch beyond the cap is refused, a cancel returns the watches it ended."""

    def __init__(self) -> None:
        self.watches: list[Watch] = []
        self.polled_tenants: list[str] = []

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
        if ends_at <= now:
            raise ValueError("a watch ends after it starts")
        mine = await self.active_watches(watcher, now=now)
        same = [w for w in mine if w.target.aad_id == target.aad_id and w.kind is kind]
        if same:
            extended = dataclasses.replace(
                same[0], ends_at=ends_at, conversation_id=conversation_id or same[0].conversation_id
            )
            self.watches[self.watches.index(same[0])] = extended
            return extended
        if len(mine) >= cap:
            raise WatchCapReached(cap)
        watch = Watch(
            id=len(self.watches) + 1,
            watcher=watcher,
            target=target,
            kind=kind,
            conversation_id=conversation_id,
            created_at=now,
            ends_at=ends_at,
        )
        self.watches.append(watch)
        return watch

    async def active_watches(self, watcher: UserRef, *, now: datetime) -> list[Watch]:
        mine = [w for w in self.watches if w.watcher.key == watcher.key and w.ended_at is None]
        return [w for w in mine if w.ends_at > now]

    async def cancel_watches(
        self, watcher: UserRef, target_aad_id: str | None, *, now: datetime
    ) -> list[Watch]:
        stopped: list[Watch] = []
        for watch in await self.active_watches(watcher, now=now):
            if target_aad_id in (None, watch.target.aad_id):
                ended = dataclasses.replace(watch, ended_at=now, end_reason=WatchEnd.CANCELLED)
                self.watches[self.watches.index(watch)] = ended
                stopped.append(ended)
        return stopped

    async def watching(self, tenant_id: str) -> None:
        self.polled_tenants.append(tenant_id)


class FakePeople:
    """The store's side of people, in memory: the pipeline's turn ledger (`TurnLedger`: `record_turn`,
    `mark_done`), what notices read (`NoticeStore`) and the preferences (`PreferenceStore`).

    Held to the same contracts as the real `Store` (tests/turns/test_ledger_contract.py,
    tests/teams/test_notices_contract.py): an activity is fresh until it is marked done; a turn saves how
    to reach the sender in its conversation, which notices then read; the zone Teams reports is kept
    unless the user chose one. The dedup window is not modelled (a mark never expires). Every call of
    `record_turn` is recorded in `turns`, every mark in `marked`, every forget in `forgotten`.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or AdjustableClock()
        self.settings: dict[tuple[str, str], UserSettings] = {}
        self.references: dict[tuple[str, str], dict[str, ConversationReferenceRecord]] = {}
        self.processed: set[str] = set()
        self.turns: list[dict[str, Any]] = []
        self.marked: list[str] = []
        self.forgotten: list[tuple[UserRef, str | None, bool, bool]] = []

    # -- the turn ledger ----------------------------------------------------------------------------------
    async def record_turn(
        self,
        user: UserRef,
        *,
        activity_key: str | None,
        conversation: SavedConversation | None,
        reported_zone: str | None,
    ) -> TurnRecord:
        self.turns.append(
            {"user": user, "key": activity_key, "conversation": conversation, "zone": reported_zone}
        )
        if activity_key is not None and activity_key[:256] in self.processed:
            return TurnRecord(fresh=False, settings=None)
        if conversation is not None:
            latest = await self.latest_conversation_reference(user)
            if latest is None or _saved(latest) != conversation:  # only what changed is written
                self.references.setdefault(user.key, {})[conversation.conversation_id] = _reference(
                    user, conversation, self.clock.now()
                )
        settings = self.settings.get(user.key)
        if reported_zone and (
            settings is None or (not settings.time_zone_explicit and settings.time_zone != reported_zone)
        ):
            settings = self._settings(user, time_zone=reported_zone)
        return TurnRecord(fresh=True, settings=settings)

    async def mark_done(self, user: UserRef, activity_key: str) -> None:
        self.marked.append(activity_key)
        self.processed.add(activity_key[:256])

    # -- preferences --------------------------------------------------------------------------------------
    async def set_time_zone(self, user: UserRef, time_zone: str | None) -> UserSettings:
        return self._settings(user, time_zone=time_zone, time_zone_explicit=time_zone is not None)

    async def set_notices_enabled(self, user: UserRef, enabled: bool) -> UserSettings:
        return self._settings(user, notices_enabled=enabled)

    def _settings(self, user: UserRef, **change: Any) -> UserSettings:
        before = self.settings.get(user.key)
        values: dict[str, Any] = (
            before.model_dump()
            if before is not None
            else {"time_zone": None, "time_zone_explicit": False, "notices_enabled": True}
        )
        values.update(
            change, tenant_id=user.tenant_id or None, user_id=user.user_id, updated_at=self.clock.now()
        )
        self.settings[user.key] = UserSettings(**values)
        return self.settings[user.key]

    # -- what notices read --------------------------------------------------------------------------------
    async def get_user(self, user: UserRef) -> UserSettings | None:
        return self.settings.get(user.key)

    async def latest_conversation_reference(
        self, user: UserRef, *, conversation_type: str | None = None
    ) -> ConversationReferenceRecord | None:
        saved = [
            reference
            for reference in self.references.get(user.key, {}).values()
            if conversation_type is None or reference.conversation_type == conversation_type
        ]
        return max(saved, key=lambda reference: reference.updated_at, default=None)

    async def conversation_reference(
        self, user: UserRef, conversation_id: str
    ) -> ConversationReferenceRecord | None:
        return self.references.get(user.key, {}).get(conversation_id)

    async def forget_conversation(
        self, user: UserRef, conversation_id: str | None, *, personal: bool = False, everyone: bool = False
    ) -> int:
        self.forgotten.append((user, conversation_id, personal, everyone))
        removed = 0
        for (tenant, user_id), saved in self.references.items():
            if tenant != (user.tenant_id or ""):
                continue
            mine = user_id == user.user_id
            for key, reference in list(saved.items()):
                there = conversation_id is not None and key == conversation_id and (everyone or mine)
                if there or (personal and mine and reference.conversation_type == "personal"):
                    del saved[key]
                    removed += 1
        return removed


def _saved(reference: ConversationReferenceRecord) -> SavedConversation:
    return SavedConversation(reference.conversation_id, reference.conversation_type, reference.reference)


def _reference(user: UserRef, saved: SavedConversation, at: datetime) -> ConversationReferenceRecord:
    return ConversationReferenceRecord(
        tenant_id=user.tenant_id or None,
        user_id=user.user_id,
        conversation_id=saved.conversation_id,
        conversation_type=saved.conversation_type,
        reference=saved.reference,
        updated_at=at,
    )
