"""Per-user locks: one command or hold step per user at a time in this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class _User(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def tenant_id(self) -> str | None: ...


class UserLocks:
    """One lock per user in this process: a command and a hold refresh for the same user never
    interleave, so a refresh already in flight cannot overwrite a newer command's state."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str | None, str], asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, user: _User) -> AsyncIterator[None]:
        key = (user.tenant_id, user.user_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not lock._waiters:
                self._locks.pop(key, None)
