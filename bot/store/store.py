"""The durable store: SQLite by default, PostgreSQL when a URL says so.

Everything the bot must remember across restarts and replicas lives here: users' time zones and notice
preference, holds (states the bot keeps re-setting until the user's requested end), watches (users
waiting to hear when a colleague is free), conversation references for proactive messages, the ids of
activities already handled, and an audit of every Graph write and every watch. Timers share the
database and are driven by `bot.store.timers.TimerService`.

Times come from the injected `Clock`, never from the database, so the simulator can move time forward.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.clock import Clock
from bot.core.users import UserRef
from bot.store.engine import open_engine
from bot.store.holds import HoldQueries, TimerGap
from bot.store.people import DEDUP_WINDOW, PeopleQueries
from bot.store.privacy import PrivacyQueries
from bot.store.records import (
    AuditEntry,
    AuditRow,
    Effects,
    HoldStatus,
    StoreCounts,
)
from bot.store.rows import (
    audit_record,
    audit_values,
)
from bot.store.schema import (
    audit_log,
    conversation_references,
    holds,
    processed_activities,
    timers,
    users,
    watches,
)
from bot.store.watches import WatchQueries

log = logging.getLogger(__name__)

__all__ = ["DEDUP_WINDOW", "Store", "TimerGap", "open_store"]


async def open_store(url: str | None, data_dir: Path, clock: Clock) -> Store:
    """Open (and migrate to head) the store: SQLite in `data_dir` by default, or the database `url` names
    (see `bot.store.engine.open_engine`)."""
    return Store(await open_engine(url, data_dir), clock)


class Store(PeopleQueries, HoldQueries, WatchQueries, PrivacyQueries):
    """Typed access to the bot's durable state. Create with `open_store`; close with `close()`.

    The queries live by topic in `bot.store.people`, `bot.store.holds`, `bot.store.watches` and
    `bot.store.privacy` (retention, privacy requests); the audit log and counts here.
    """

    async def mark_done(self, user: UserRef, activity_key: str) -> None:
        """Mark an activity processed whose turn stored nothing else (/presence, /help, a refusal)."""
        await self.commit(Effects(user, activity_key=activity_key))

    # -- audit -----------------------------------------------------------------------------------------
    async def record_audit(
        self,
        user: UserRef,
        *,
        operation: str,
        outcome: str,
        request: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        """Record one Graph write: `outcome` is "ok" or the Graph error code. Never pass secrets."""
        entry = AuditRow(
            operation, outcome, dict(request) if request is not None else None, status_code, detail
        )
        statement = (
            sa.insert(audit_log).values(audit_values(user, entry, self._clock.now())).returning(*audit_log.c)
        )
        async with self.write() as connection:
            row = (await connection.execute(statement)).one()
        return audit_record(row)

    # -- counts --------------------------------------------------------------------------------------
    async def counts(self) -> StoreCounts:
        """Row counts of every table (for tests and benchmarks)."""

        def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
            return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()

        statement = sa.select(
            count(users).label("users"),
            count(holds).label("holds"),
            count(holds, holds.c.status == HoldStatus.ACTIVE.value).label("active_holds"),
            count(timers).label("timers"),
            count(conversation_references).label("conversation_references"),
            count(processed_activities).label("processed_activities"),
            count(audit_log).label("audit_log"),
            count(watches).label("watches"),
            count(watches, watches.c.ended_at.is_(None)).label("active_watches"),
        )
        async with self.read() as connection:
            row = (await connection.execute(statement)).one()
        return StoreCounts.model_validate(row._asdict())
