"""The store's queries about people: their settings, how to reach them, the activities of theirs
already handled (`record_turn`, one transaction per activity), and cross-replica user leases."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.core.users import UserRef
from bot.store.engine import Database
from bot.store.records import (
    ConversationReferenceRecord,
    SavedConversation,
    TurnRecord,
    UserSettings,
)
from bot.store.rows import (
    reference_record,
    tenant_key,
    user_record,
)
from bot.store.schema import (
    conversation_references,
    processed_activities,
    user_leases,
    users,
)

log = logging.getLogger(__name__)

# Teams redelivers an activity when the bot is slow to answer; a redelivery inside this window is skipped.
DEDUP_WINDOW = timedelta(minutes=10)
_PRUNE_EVERY = timedelta(minutes=1)


class PeopleQueries(Database):
    """Users, conversation references, processed activities, leases (part of `Store`)."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        super().__init__(engine, clock)
        self._last_prune: datetime | None = None
        self._set_time_zone = self.upsert(
            users,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {
                "time_zone": excluded.time_zone,
                "time_zone_explicit": excluded.time_zone_explicit,
                "updated_at": excluded.updated_at,
            },
        ).returning(*users.c)
        # A zone Teams reported replaces only a zone Teams reported, never one the user chose.
        self._remember_time_zone = self.upsert(
            users,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {"time_zone": excluded.time_zone, "updated_at": excluded.updated_at},
            where=sa.and_(
                users.c.time_zone_explicit == sa.false(),
                users.c.time_zone.is_distinct_from(sa.literal_column("excluded.time_zone")),
            ),
        ).returning(*users.c)
        self._set_notices = self._user_upsert("notices_enabled")
        self._save_reference = self.upsert(
            conversation_references,
            conflict=["tenant_id", "user_id", "conversation_id"],
            update=lambda excluded: {
                "conversation_type": excluded.conversation_type,
                "reference": excluded.reference,
                "updated_at": excluded.updated_at,
            },
        ).returning(*conversation_references.c)

        self._turn_read = _turn_read()

        self._take_lease = self.upsert(
            user_leases,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {"owner": excluded.owner, "lease_until": excluded.lease_until},
            where=sa.or_(
                user_leases.c.lease_until < sa.bindparam("now"), user_leases.c.owner == sa.bindparam("me")
            ),
        ).returning(user_leases.c.owner)

    def _user_upsert(self, column: str) -> sa.Insert:
        return self.upsert(
            users,
            conflict=["tenant_id", "user_id"],
            update=lambda excluded: {column: excluded[column], "updated_at": excluded.updated_at},
        ).returning(*users.c)

    # -- users ---------------------------------------------------------------------------------------
    async def get_user(self, user: UserRef) -> UserSettings | None:
        async with self.read() as connection:
            row = (
                await connection.execute(
                    sa.select(users).where(
                        users.c.tenant_id == tenant_key(user), users.c.user_id == user.user_id
                    )
                )
            ).first()
        return user_record(row) if row else None

    async def set_time_zone(self, user: UserRef, time_zone: str | None) -> UserSettings:
        """The zone the user chose with /timezone (None: follow what Teams reports again)."""
        return await self._upsert_user(
            self._set_time_zone, user, {"time_zone": time_zone, "time_zone_explicit": time_zone is not None}
        )

    async def set_notices_enabled(self, user: UserRef, enabled: bool) -> UserSettings:
        """Whether the bot may message the user proactively (e.g. when a hold ends or fails)."""
        return await self._upsert_user(self._set_notices, user, {"notices_enabled": enabled})

    async def _upsert_user(self, statement: sa.Insert, user: UserRef, change: dict[str, Any]) -> UserSettings:
        values = {
            "tenant_id": tenant_key(user),
            "user_id": user.user_id,
            "updated_at": self._clock.now(),
            **change,
        }
        async with self.write() as connection:
            row = (await connection.execute(statement, values)).one()
        return user_record(row)

    # -- user leases ------------------------------------------------------------------------------------
    async def try_lease_user(self, user: UserRef, owner: str, lease: timedelta) -> bool:
        """Take (or renew) `owner`'s lease on the user unless another owner holds an unexpired one."""
        now = self._clock.now()
        values = {
            "tenant_id": tenant_key(user),
            "user_id": user.user_id,
            "owner": owner,
            "lease_until": now + lease,
            "now": now,
            "me": owner,
        }
        async with self.write() as connection:
            return (await connection.execute(self._take_lease, values)).first() is not None

    async def release_user_lease(self, user: UserRef, owner: str) -> None:
        async with self.write() as connection:
            await connection.execute(
                sa.delete(user_leases).where(
                    user_leases.c.tenant_id == tenant_key(user),
                    user_leases.c.user_id == user.user_id,
                    user_leases.c.owner == owner,
                )
            )

    async def release_leases_of(self, owners: Callable[[str], bool]) -> int:
        """Drop every user lease whose owner `owners` picks (replicas known dead); returns how many."""
        async with self.read() as connection:
            held = list((await connection.execute(sa.select(user_leases.c.owner).distinct())).scalars())
        dead = [owner for owner in held if owners(owner)]
        if not dead:
            return 0
        async with self.write() as connection:
            result = await connection.execute(sa.delete(user_leases).where(user_leases.c.owner.in_(dead)))
        return int(result.rowcount or 0)

    # -- conversation references --------------------------------------------------------------------
    async def latest_conversation_reference(
        self, user: UserRef, *, conversation_type: str | None = None
    ) -> ConversationReferenceRecord | None:
        """The conversation the user last wrote to the bot in (optionally only of one type, e.g. personal)."""
        statement = sa.select(conversation_references).where(
            conversation_references.c.tenant_id == tenant_key(user),
            conversation_references.c.user_id == user.user_id,
        )
        if conversation_type is not None:
            statement = statement.where(conversation_references.c.conversation_type == conversation_type)
        statement = statement.order_by(conversation_references.c.updated_at.desc()).limit(1)
        async with self.read() as connection:
            row = (await connection.execute(statement)).first()
        return reference_record(row) if row else None

    async def conversation_reference(
        self, user: UserRef, conversation_id: str
    ) -> ConversationReferenceRecord | None:
        """How to reach `user` in one conversation, if the bot still may (None once it was forgotten)."""
        statement = sa.select(conversation_references).where(
            conversation_references.c.tenant_id == tenant_key(user),
            conversation_references.c.user_id == user.user_id,
            conversation_references.c.conversation_id == conversation_id,
        )
        async with self.read() as connection:
            row = (await connection.execute(statement)).first()
        return reference_record(row) if row else None

    async def forget_conversation(
        self, user: UserRef, conversation_id: str | None, *, personal: bool = False, everyone: bool = False
    ) -> int:
        """Forget how to reach people where the bot may no longer post; returns the rows deleted.

        Deletes `user`'s reference to `conversation_id`; with `everyone`, every user's reference to it
        in the tenant (the bot was removed from a group chat or team); with `personal`, every
        personal-chat reference of `user`'s (they uninstalled the app). A later message from them saves
        a new one, as usual.
        """
        table = conversation_references
        where = [table.c.tenant_id == tenant_key(user)]
        mine = table.c.user_id == user.user_id
        matches: list[sa.ColumnElement[bool]] = []
        if conversation_id is not None:
            same = table.c.conversation_id == conversation_id
            matches.append(same if everyone else sa.and_(mine, same))
        if personal:
            matches.append(sa.and_(mine, table.c.conversation_type == "personal"))
        if not matches:
            return 0
        async with self.write() as connection:
            result = await connection.execute(sa.delete(table).where(*where, sa.or_(*matches)))
        return int(result.rowcount or 0)

    # -- the bookkeeping of one activity ----------------------------------------------------------
    async def record_turn(
        self,
        user: UserRef,
        *,
        activity_key: str | None,
        conversation: SavedConversation | None,
        reported_zone: str | None,
    ) -> TurnRecord:
        """Everything an incoming activity needs from the store, in one transaction.

        Looks `activity_key` up (processed within the dedup window: `fresh=False`, nothing else is done;
        the key is marked processed only with the activity's outcome, `Effects.activity_key`, so an
        activity cut short by a crash is redone when the channel delivers it again); reads the sender's
        settings; saves how to reach them in this conversation unless it
        is already their latest one, unchanged; keeps the zone Teams reported unless they chose one or
        it is the same. Only what changed is written.
        """
        now = self._clock.now()
        key = {"tenant_id": tenant_key(user), "user_id": user.user_id}
        read = {
            **key,
            "activity_id": activity_key[:256] if activity_key else None,
            "cutoff": now - DEDUP_WINDOW,
        }

        def record(connection: sa.Connection) -> TurnRecord:
            if activity_key is not None and (
                self._last_prune is None or now - self._last_prune >= _PRUNE_EVERY
            ):
                self._last_prune = now
                connection.execute(
                    sa.delete(processed_activities).where(processed_activities.c.seen_at < now - DEDUP_WINDOW)
                )
            # One statement: is the activity done, the sender's settings, their latest conversation.
            found = connection.execute(self._turn_read, read).first()
            assert found is not None  # one row, whatever exists
            if found.done:
                return TurnRecord(fresh=False, settings=None)
            settings = user_record(found) if found.user_id is not None else None
            if conversation is not None:
                latest = (
                    found.latest_conversation_id,
                    found.latest_conversation_type,
                    found.latest_reference,
                )
                if found.latest_conversation_id is None or latest != tuple(conversation):
                    connection.execute(
                        self._save_reference, {**key, **conversation._asdict(), "updated_at": now}
                    )
            if reported_zone and (
                settings is None or (not settings.time_zone_explicit and settings.time_zone != reported_zone)
            ):
                values = {**key, "updated_at": now, "time_zone": reported_zone, "time_zone_explicit": False}
                changed = (connection.execute(self._remember_time_zone, values)).first()
                if changed is not None:
                    settings = user_record(changed)
            return TurnRecord(fresh=True, settings=settings)

        return await self.run(record)


def _turn_read() -> sa.Select[Any]:
    """`record_turn`'s read, one row whatever exists: `done` (the activity was processed within the
    dedup window), the sender's `users` columns (NULL when unknown), and their latest conversation
    reference as `latest_conversation_id`, `latest_conversation_type`, `latest_reference` (NULL when
    none; of references saved at the same instant, any one).

    Parameters: tenant_id, user_id, activity_id (None: not looked up), cutoff (the window's start).
    """
    tenant: sa.BindParameter[str] = sa.bindparam("tenant_id", type_=sa.String)
    user: sa.BindParameter[str] = sa.bindparam("user_id", type_=sa.String)
    refs = conversation_references
    done = (
        sa.select(processed_activities.c.activity_id)
        .where(
            processed_activities.c.activity_id == sa.bindparam("activity_id"),
            processed_activities.c.seen_at >= sa.bindparam("cutoff"),
        )
        .exists()
    )
    latest = refs.alias("latest")
    latest_at = (
        sa.select(sa.func.max(refs.c.updated_at))
        .where(refs.c.tenant_id == tenant, refs.c.user_id == user)
        .scalar_subquery()
    )
    one = sa.select(sa.literal_column("1").label("one")).subquery("one")
    joined = one.outerjoin(users, sa.and_(users.c.tenant_id == tenant, users.c.user_id == user)).outerjoin(
        latest,
        sa.and_(latest.c.tenant_id == tenant, latest.c.user_id == user, latest.c.updated_at == latest_at),
    )
    return (
        sa.select(
            done.label("done"),
            *users.c,
            latest.c.conversation_id.label("latest_conversation_id"),
            latest.c.conversation_type.label("latest_conversation_type"),
            latest.c.reference.label("latest_reference"),
        )
        .select_from(joined)
        .limit(1)
    )
