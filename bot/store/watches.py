"""The store's watch queries (`/watch`, `/unwatch`, `/watches`, and the per-tenant watcher's polls): a
user waiting to hear when a colleague is free or back, until it fires, expires or is cancelled.

Each start, extension and end of a watch writes an audit row for the watcher in the same transaction
(operation "watch"; outcome "started", "extended", "cancelled", "fired" or "expired"; the request says
whom, which kind and until when), so the audit log says who watched whom and when it fired. Ending is
conditional (`ended_at IS NULL`): of two firings of one watch only the first ends it, so a duplicated
poll never notifies twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from bot.core.colleagues import Colleague, Watch, WatchCapReached, WatchEnd, WatchKind
from bot.core.users import UserRef
from bot.store.engine import Database
from bot.store.records import AuditRow
from bot.store.rows import active_watches_of, audit_values, clip, tenant_key, watch_record
from bot.store.schema import audit_log, watches

# Every audit row of a watch has this operation; its request names the colleague ("target").
WATCH_OPERATION = "watch"
# Ids ended per statement: well inside both backends' limits on bound parameters.
_END_CHUNK = 1000


class WatchTarget(NamedTuple):
    """What a poll needs of a running watch: which, whom, and what for (`tenant_watch_targets`)."""

    id: int
    target_id: str
    kind: WatchKind


def watch_request(target: Colleague, kind: WatchKind | str, ends_at: datetime) -> dict[str, Any]:
    """What a watch's audit rows record: whom, which kind, until when."""
    return {
        "target": {"id": target.aad_id, "name": target.name},
        "kind": str(kind),
        "ends_at": ends_at.isoformat(),
    }


def _audit(watch: Watch, outcome: str, at: datetime) -> dict[str, Any]:
    request = watch_request(watch.target, watch.kind, watch.ends_at)
    return audit_values(watch.watcher, AuditRow(WATCH_OPERATION, outcome, request, None), at)


class WatchQueries(Database):
    """Watches (part of `bot.store.store.Store`)."""

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
        """Start `watcher`'s watch on `target` until `ends_at`, in one transaction with its audit row.

        Asking again for the same colleague and kind while a watch is active extends that watch (its
        end, its conversation; audit "extended"). A new watch is refused with `WatchCapReached` when
        the watcher already has `cap` active ones. One that is past its end but not yet expired by
        the watcher's poll ends as expired first, so the new one starts afresh.
        """
        if ends_at <= now:
            raise ValueError("a watch ends after it starts")
        if cap < 1:
            raise ValueError("the cap is at least one watch")

        def add(connection: sa.Connection) -> Watch:
            # One watcher's adds queue here: the cap is counted and kept under concurrency.
            self.queue_for(connection, "watch", f"{tenant_key(watcher)}/{watcher.user_id}")
            mine = active_watches_of(watcher)
            same = connection.execute(
                sa.select(watches).where(mine, watches.c.target_id == target.aad_id, watches.c.kind == kind)
            ).first()
            if same is not None and same.ends_at > now:
                return self._extend(connection, same.id, watcher, target, ends_at, conversation_id, now)
            if same is not None:
                self._end(connection, [same.id], WatchEnd.EXPIRED, now)
            live = connection.scalar(
                sa.select(sa.func.count()).select_from(watches).where(mine, watches.c.ends_at > now)
            )
            if int(live or 0) >= cap:
                raise WatchCapReached(cap)
            row = connection.execute(
                sa.insert(watches)
                .values(
                    tenant_id=tenant_key(watcher),
                    user_id=watcher.user_id,
                    user_name=clip(watcher.name, 256),
                    kind=str(kind),
                    conversation_id=clip(conversation_id, 512),
                    created_at=now,
                    ends_at=ends_at,
                    **_target_values(target),
                )
                .returning(*watches.c)
            ).one()
            watch = watch_record(row)
            connection.execute(sa.insert(audit_log).values(_audit(watch, "started", now)))
            return watch

        return await self.run(add)

    def _extend(
        self,
        connection: sa.Connection,
        watch_id: int,
        watcher: UserRef,
        target: Colleague,
        ends_at: datetime,
        conversation_id: str | None,
        now: datetime,
    ) -> Watch:
        change: dict[str, Any] = {"ends_at": ends_at, **_target_values(target)}
        if watcher.name:
            change["user_name"] = clip(watcher.name, 256)
        if conversation_id is not None:
            change["conversation_id"] = clip(conversation_id, 512)
        row = connection.execute(
            sa.update(watches).where(watches.c.id == watch_id).values(**change).returning(*watches.c)
        ).one()
        watch = watch_record(row)
        connection.execute(sa.insert(audit_log).values(_audit(watch, "extended", now)))
        return watch

    async def active_watches(self, watcher: UserRef, *, now: datetime | None = None) -> list[Watch]:
        """The watcher's watches still running (not ended, not past their end), oldest first."""
        moment = self._clock.now() if now is None else now
        statement = (
            sa.select(watches)
            .where(active_watches_of(watcher), watches.c.ends_at > moment)
            .order_by(watches.c.created_at, watches.c.id)
        )
        rows = await self.run(lambda connection: connection.execute(statement).all(), write=False)
        return [watch_record(row) for row in rows]

    async def cancel_watches(
        self, watcher: UserRef, target_aad_id: str | None, *, now: datetime
    ) -> list[Watch]:
        """End the watcher's watches on `target_aad_id` (None: all of them) as cancelled, each with an
        audit row; returns the ones ended, oldest first."""
        which = active_watches_of(watcher)
        if target_aad_id is not None:
            which = sa.and_(which, watches.c.target_id == target_aad_id)

        def cancel(connection: sa.Connection) -> list[Watch]:
            ids = connection.execute(sa.select(watches.c.id).where(which)).scalars().all()
            return self._end(connection, ids, WatchEnd.CANCELLED, now)

        ended = await self.run(cancel)
        return sorted(ended, key=lambda watch: (watch.created_at, watch.id))

    async def watch_tenants(self) -> list[str]:
        """The tenants with at least one watch not ended yet ("" is the Emulator's, which has none)."""
        statement = sa.select(watches.c.tenant_id).where(watches.c.ended_at.is_(None)).distinct()
        rows = await self.run(lambda connection: connection.execute(statement).scalars().all(), write=False)
        return sorted(rows)

    async def tenant_watch_targets(self, tenant_id: str | None, *, now: datetime) -> list[WatchTarget]:
        """The tenant's running watches (not ended, not past their end), only what a poll needs: three
        columns, no records (a poll of 20,000 watches reads them every interval)."""
        statement = sa.select(watches.c.id, watches.c.target_id, watches.c.kind).where(
            watches.c.tenant_id == (tenant_id or ""), watches.c.ended_at.is_(None), watches.c.ends_at > now
        )

        def read(connection: sa.Connection) -> list[WatchTarget]:
            return [
                WatchTarget(id, target, WatchKind(kind)) for id, target, kind in connection.execute(statement)
            ]

        return await self.run(read, write=False)

    async def expire_watches(self, tenant_id: str | None, *, now: datetime) -> list[Watch]:
        """End the tenant's watches past their end as expired, each with its audit row; returns those
        this call ended."""
        over = sa.and_(
            watches.c.tenant_id == (tenant_id or ""), watches.c.ended_at.is_(None), watches.c.ends_at <= now
        )

        def expire(connection: sa.Connection) -> list[Watch]:
            ids = connection.execute(sa.select(watches.c.id).where(over)).scalars().all()
            return self._end(connection, ids, WatchEnd.EXPIRED, now)

        return await self.run(expire)

    async def tenant_has_watches(self, tenant_id: str | None) -> bool:
        """Whether the tenant has a watch not ended yet (its poll timer keeps going while it does)."""
        statement = (
            sa.select(watches.c.id)
            .where(watches.c.tenant_id == (tenant_id or ""), watches.c.ended_at.is_(None))
            .limit(1)
        )
        found = await self.run(lambda connection: connection.execute(statement).first(), write=False)
        return found is not None

    async def finish_watches(
        self, watch_ids: Iterable[int], reason: WatchEnd, *, now: datetime
    ) -> list[Watch]:
        """End the watches among `watch_ids` that are still active, in one transaction with their audit
        rows; returns the watches this call ended, as they are now (for their notices; the others had
        ended already)."""
        ids = sorted(set(watch_ids))
        if not ids:
            return []
        return await self.run(lambda connection: self._end(connection, ids, reason, now))

    def _end(
        self, connection: sa.Connection, ids: Sequence[int], reason: WatchEnd, now: datetime
    ) -> list[Watch]:
        ended: list[Watch] = []
        for start in range(0, len(ids), _END_CHUNK):
            rows = connection.execute(
                sa.update(watches)
                .where(watches.c.id.in_(ids[start : start + _END_CHUNK]), watches.c.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason.value)
                .returning(*watches.c)
            ).all()
            ended.extend(watch_record(row) for row in rows)
        if ended:
            connection.execute(sa.insert(audit_log), [_audit(watch, reason.value, now) for watch in ended])
        return ended


def _target_values(target: Colleague) -> dict[str, Any]:
    return {
        "target_id": target.aad_id[:256],
        "target_name": target.name[:256],
        "target_upn": clip(target.upn, 256),
        "target_channel_id": clip(target.channel_id, 256),
    }
