"""One clock for the whole process.

In embedded-simulator mode the bot and the simulated tenant read time from the same `Clock`, and the
simulator's control route can move it forward so fades, expiries and the bot's own timers see the jump.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class AdjustableClock:
    """Wall-clock time plus an offset that only moves forward (the simulator's clock).

    Listeners are told after each jump, so schedulers sleeping until a due time can wake early.
    """

    def __init__(self, start_offset: timedelta = timedelta(0)) -> None:
        self._offset = start_offset
        self._listeners: list[Callable[[], None]] = []

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        for listener in list(self._listeners):
            listener()
        return self.now()

    def set_offset(self, offset: timedelta) -> None:
        """Restore a persisted offset (used when the simulator restarts on the same data directory)."""
        self._offset = max(offset, self._offset)

    def on_advance(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Register `listener`; returns a function that unregisters it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove


async def sleep_until(clock: Clock, when: datetime, wake: asyncio.Event | None = None) -> None:
    """Sleep until `clock` reads `when`, or until `wake` is set (then return early)."""
    delay = (when - clock.now()).total_seconds()
    if delay <= 0:
        return
    if wake is None:
        await asyncio.sleep(delay)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=delay)
