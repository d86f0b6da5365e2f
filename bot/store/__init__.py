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
)
from bot.store.store import DEDUP_WINDOW, Store, open_store
from bot.store.timers import GiveUpHandler, TimerAbandoned, TimerHandler, TimerService, hold_timer_key

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
