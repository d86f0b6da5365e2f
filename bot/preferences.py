"""The user's own settings, `/timezone` and `/notify`: a small service like the presence service.

What it stores is the store's (`PreferenceStore` is the port); what it answers is a `Notice` the
dispatcher renders. No Graph call is involved.
"""

from __future__ import annotations

from typing import Protocol

from bot.commands.preferences import SetNotices, SetTimeZone
from bot.core.users import UserRef
from bot.core.views import Notice


class PreferenceStore(Protocol):
    """Where preferences live (`bot.store.store.Store`)."""

    async def set_time_zone(self, user: UserRef, time_zone: str | None) -> object: ...

    async def set_notices_enabled(self, user: UserRef, enabled: bool) -> object: ...


class PreferencesService:
    def __init__(self, store: PreferenceStore) -> None:
        self._store = store

    async def set_time_zone(self, user: UserRef, command: SetTimeZone, *, teams_zone: str) -> Notice:
        """`/timezone Europe/Berlin` keeps that zone; `/timezone auto` follows Teams (`teams_zone` now)."""
        await self._store.set_time_zone(user, command.zone)
        if command.zone is None:
            return Notice(
                title="Following Teams' time zone",
                message=f"I'll use the time zone your Teams client reports (now {teams_zone}).",
            )
        return Notice(
            title=f"Time zone set to {command.zone}",
            message=f"“until 5pm” and every time on my cards now use {command.zone}.",
        )

    async def set_notices(self, user: UserRef, command: SetNotices) -> Notice:
        """`/notify on|off`: whether the bot may message the user when a hold ends, is overridden or fails."""
        await self._store.set_notices_enabled(user, command.enabled)
        if command.enabled:
            return Notice(
                title="Notices are on",
                message="I'll message you here when a status I hold for you ends, is overridden or fails.",
            )
        return Notice(title="Notices are off", message="I won't message you unless you write to me first.")
