"""Per-user locks: one command or hold step per user at a time, in this process and across replicas.

In one process an `asyncio.Lock` per user is enough. Replicas sharing a PostgreSQL store also take a
short lease on the user in the store (`user_leases`) for the same span, so a hold refresh on one replica
cannot land between a newer command's Graph write and its bookkeeping on another. The lease expires by
itself (30 s), so a replica that dies holding one delays that user's next command at most that long.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Protocol

from bot.core.users import UserRef

log = logging.getLogger(__name__)


class LeasePort(Protocol):
    """Where cross-replica user leases live (the store)."""

    async def try_lease_user(self, user: UserRef, owner: str, lease: timedelta) -> bool: ...

    async def release_user_lease(self, user: UserRef, owner: str) -> None: ...


def lease_owner() -> str:
    """This process's name on the leases it takes: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def dead_local_owner(owner: str) -> bool:
    """A lease taken by a process of this host that is no longer running (killed, crashed): its leases
    can go at once instead of blocking those users until they expire. Other hosts' leases expire."""
    host, _, pid_text = owner.rpartition("-")[0].rpartition("-")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class UserBusy(Exception):
    """Another replica kept the user's lease for longer than we would wait."""


class UserLocks:
    """One lock per user: a command and a hold refresh for the same user never interleave, so a
    refresh already in flight cannot overwrite a newer command's state."""

    def __init__(
        self,
        leases: LeasePort | None = None,
        *,
        owner: str = "",
        lease: timedelta = timedelta(seconds=30),
        wait: timedelta = timedelta(seconds=20),
    ) -> None:
        if leases is not None and not owner:
            raise ValueError("cross-replica leases need an owner unique to this process")
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._leases = leases
        self._owner = owner
        self._lease = lease
        self._wait = wait

    @asynccontextmanager
    async def hold(self, user: UserRef) -> AsyncIterator[None]:
        key = user.key
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                if self._leases is None:
                    yield
                    return
                await self._take(self._leases, user)
                try:
                    yield
                finally:
                    try:
                        await self._leases.release_user_lease(user, self._owner)
                    except Exception:  # it expires by itself; never hide the caller's own outcome
                        log.warning("could not release a user lease; it expires in %s", self._lease)
        finally:
            if not lock.locked() and not lock._waiters:
                self._locks.pop(key, None)

    async def _take(self, leases: LeasePort, user: UserRef) -> None:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._wait.total_seconds()
        delay = 0.02
        while not await leases.try_lease_user(user, self._owner, self._lease):
            if loop.time() >= give_up_at:
                raise UserBusy(f"another replica held the user's lease for over {self._wait}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
