"""The store's queries for retention and privacy requests: pruning the audit log, ended holds and ended
watches past their retention (in bounded batches, so no transaction holds the SQLite writer long), one
user's audit entries (an export), and removing everything stored about one user (an erasure). Part of
`Store`."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.engine import Database
from bot.store.records import AuditEntry, HoldStatus, Record
from bot.store.rows import audit_record
from bot.store.schema import (
    audit_log,
    conversation_references,
    holds,
    timers,
    user_leases,
    users,
    watches,
)
from bot.store.watches import WATCH_OPERATION

log = logging.getLogger(__name__)

# Rows deleted per transaction when pruning: a few tens of milliseconds of SQLite's single writer.
PRUNE_BATCH = 5000


class PruneReport(Record):
    """What one retention pass removed."""

    audit_entries: int
    ended_holds: int
    ended_watches: int = 0


class ForgetReport(Record):
    """What `forget_user` removed, table by table."""

    users: int
    holds: int
    active_holds: int
    timers: int
    conversation_references: int
    audit_entries: int
    user_leases: int
    watches: int = 0  # theirs, and everyone's watches on them
    audit_mentions: int = 0  # other people's audit rows of a watch on them: the name and id taken out

    @property
    def total(self) -> int:
        return (
            self.users
            + self.holds
            + self.timers
            + self.conversation_references
            + self.audit_entries
            + self.user_leases
            + self.watches
            + self.audit_mentions
        )


def _whose(table: sa.Table, user_id: str, tenant_id: str | None) -> sa.ColumnElement[bool]:
    """Rows of `user_id` (in `tenant_id`, or in every tenant when it is None; "" is the Emulator's).

    Both compare without regard to case: an id typed by an admin (a GUID from the Entra admin center)
    must find every row, whatever case Teams sent it in. A privacy request is rare; the scan is fine.
    """
    return _matching(table.c.user_id, table, user_id, tenant_id)


def _matching(
    column: sa.ColumnElement[Any], table: sa.Table, user_id: str, tenant_id: str | None
) -> sa.ColumnElement[bool]:
    condition = sa.func.lower(column) == user_id.lower()
    if tenant_id is not None:
        condition = sa.and_(condition, sa.func.lower(table.c.tenant_id) == tenant_id.lower())
    return condition


# Other people's audit rows of a watch on a user name them here (`bot.store.watches.watch_request`).
_WATCHED = audit_log.c.request[("target", "id")].as_string()
_FORGOTTEN_TARGET = {"forgotten": True}


class PrivacyQueries(Database):
    """Retention and privacy requests (part of `bot.store.store.Store`)."""

    # -- retention ---------------------------------------------------------------------------------
    async def prune(self, before: datetime, *, batch: int = PRUNE_BATCH) -> PruneReport:
        """Delete audit entries recorded before `before`, and holds and watches that ended before it
        (never an active one), `batch` rows a transaction, until none are left."""
        if batch < 1:
            raise ValueError("batch must be at least 1")
        # In id order: old rows have low ids, so each batch stops early instead of reading the table.
        audit = await self._delete_in_batches(audit_log, audit_log.c.at < before, batch)
        ended = await self._delete_in_batches(
            holds, sa.and_(holds.c.status != HoldStatus.ACTIVE.value, holds.c.ended_at < before), batch
        )
        ended_watches = await self._delete_in_batches(
            watches, sa.and_(watches.c.ended_at.is_not(None), watches.c.ended_at < before), batch
        )
        return PruneReport(audit_entries=audit, ended_holds=ended, ended_watches=ended_watches)

    async def _delete_in_batches(self, table: sa.Table, condition: sa.ColumnElement[bool], batch: int) -> int:
        """Delete the rows of `table` that meet `condition`, lowest ids first, `batch` a transaction."""
        oldest = sa.select(table.c.id).where(condition).order_by(table.c.id).limit(batch)
        statement = sa.delete(table).where(table.c.id.in_(oldest.scalar_subquery()))
        total = 0
        while True:
            deleted = await self.run(lambda connection: connection.execute(statement).rowcount)
            total += deleted
            if deleted < batch:
                return total
            await asyncio.sleep(0)  # let a waiting command's transaction in between batches

    # -- privacy requests --------------------------------------------------------------------------
    async def user_audit(
        self, user_id: str, tenant_id: str | None = None, *, limit: int | None = None
    ) -> list[AuditEntry]:
        """The user's audit entries, newest first (every tenant's when `tenant_id` is None)."""
        statement = (
            sa.select(audit_log).where(_whose(audit_log, user_id, tenant_id)).order_by(audit_log.c.id.desc())
        )
        if limit is not None:
            statement = statement.limit(limit)
        async with self.read() as connection:
            rows = (await connection.execute(statement)).all()
        return [audit_record(row) for row in rows]

    async def forget_user(self, user_id: str, tenant_id: str | None = None) -> ForgetReport:
        """Remove everything stored about the user (in `tenant_id`, or in every tenant), in one
        transaction: their settings, holds and the holds' timers, conversation references, audit
        entries and leases; their watches and everyone's watches on them; and their name and id from
        the audit rows of other people's watches on them (the rows stay, saying a watch was forgotten).
        """

        def forget(connection: sa.Connection) -> ForgetReport:
            their_holds = sa.select(holds.c.id).where(_whose(holds, user_id, tenant_id))
            active = connection.scalar(
                sa.select(sa.func.count())
                .select_from(holds)
                .where(_whose(holds, user_id, tenant_id), holds.c.status == HoldStatus.ACTIVE.value)
            )
            counts: dict[str, Any] = {"active_holds": int(active or 0)}
            counts["timers"] = connection.execute(
                sa.delete(timers).where(timers.c.hold_id.in_(their_holds.scalar_subquery()))
            ).rowcount
            for name, table in (
                ("holds", holds),
                ("conversation_references", conversation_references),
                ("audit_entries", audit_log),
                ("user_leases", user_leases),
                ("users", users),
            ):
                counts[name] = connection.execute(
                    sa.delete(table).where(_whose(table, user_id, tenant_id))
                ).rowcount
            watched = _matching(watches.c.target_id, watches, user_id, tenant_id)
            counts["watches"] = connection.execute(
                sa.delete(watches).where(sa.or_(_whose(watches, user_id, tenant_id), watched))
            ).rowcount
            counts["audit_mentions"] = self._forget_mentions(connection, user_id, tenant_id)
            return ForgetReport.model_validate(counts)

        report = await self.run(forget)
        log.info("forgot a user: %d row(s) removed or redacted", report.total)
        return report

    @staticmethod
    def _forget_mentions(connection: sa.Connection, user_id: str, tenant_id: str | None) -> int:
        """Take the user out of other people's watch audit rows naming them; returns how many."""
        rows = connection.execute(
            sa.select(audit_log.c.id, audit_log.c.request).where(
                audit_log.c.operation == WATCH_OPERATION, _matching(_WATCHED, audit_log, user_id, tenant_id)
            )
        ).all()
        if rows:
            connection.execute(
                sa.update(audit_log)
                .where(audit_log.c.id == sa.bindparam("row_id"))
                .values(request=sa.bindparam("redacted")),
                [
                    {"row_id": row.id, "redacted": {**(row.request or {}), "target": _FORGOTTEN_TARGET}}
                    for row in rows
                ],
            )
        return len(rows)
