"""Virtual time for code that takes its clock and its sleep as arguments (e.g. `ProactiveSender`):
sleeping costs nothing, and time moves to the next sleeper's wake-up once everything else waits."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), woken))
        await woken

    async def run_until(self, done: Callable[[], bool], *, limit: float) -> None:
        """Let the tasks run, moving time forward whenever they all sleep, until `done()`; fail if
        that takes more than `limit` virtual seconds or nothing is left to wake."""
        while True:
            for _ in range(20):  # let every task that can run get to its next wait
                await asyncio.sleep(0)
            if done():
                return
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # a sleeper that was cancelled
            if not self._sleepers:
                raise AssertionError(f"nothing left to wake at t={self.now:.3f} and not done")
            wake_at = self._sleepers[0][0]
            if wake_at > limit:
                raise AssertionError(f"not done by t={limit} s (virtual)")
            self.now = max(self.now, wake_at)
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, woken = heapq.heappop(self._sleepers)
                if not woken.done():
                    woken.set_result(None)
