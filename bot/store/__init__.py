"""Durable state for the bot (SQLite or PostgreSQL, migrated with Alembic) and durable timers."""

from bot.core.users import UserRef
from bot.store.records import (
    AuditEntry,
    ConversationReferenceRecord,
    Hold,
    HoldStatus,
    StoreCounts,
    Timer,
    UserSettings,
    hold_timer_key,
)
from bot.store.store import DEDUP_WINDOW, Store, open_store
from bot.store.timers import GiveUpHandler, TimerAbandoned, TimerHandler, TimerService

__all__ = [
    "DEDUP_WINDOW",
    "AuditEntry",
    "ConversationReferenceRecord",
    "GiveUpHandler",
    "Hold",
    "HoldStatus",
    "Store",
    "StoreCounts",
    "Timer",
    "TimerAbandoned",
    "TimerHandler",
    "TimerService",
    "UserRef",
    "UserSettings",
    "hold_timer_key",
    "open_store",
]
