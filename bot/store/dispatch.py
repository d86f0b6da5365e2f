"""One timer service, several kinds of timers: `TimerDispatcher` hands each firing to the one handler
registered for its kind (a hold's refresh and end to the hold keeper, maintenance to its own)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.store.records import Timer
from bot.store.timers import GiveUpHandler, TimerHandler, TimerService

log = logging.getLogger(__name__)


class UnknownTimerKind(LookupError):
    """No handler for a timer's kind (e.g. a newer replica's timer during a rolling upgrade)."""


class TimerDispatcher:
    """`fire` and `give_up` for `TimerService`, routed by `Timer.kind`."""

    def __init__(self) -> None:
        self._handlers: dict[str, TimerHandler] = {}
        self._give_ups: dict[str, GiveUpHandler] = {}

    def route(
        self, kinds: Iterable[str], handler: TimerHandler, on_give_up: GiveUpHandler | None = None
    ) -> None:
        """Send firings of `kinds` to `handler` (and, when retries run out, to `on_give_up`)."""
        for kind in kinds:
            if kind in self._handlers:
                raise ValueError(f"timer kind {kind!r} already has a handler")
            self._handlers[kind] = handler
            if on_give_up is not None:
                self._give_ups[kind] = on_give_up

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def fire(self, timer: Timer) -> None:
        handler = self._handlers.get(timer.kind)
        if handler is None:
            # Fail rather than complete: the timer is retried (a replica that knows the kind may claim
            # it meanwhile) and given up, with a log line, only after the service's last attempt.
            raise UnknownTimerKind(f"no handler for timer kind {timer.kind!r}")
        await handler(timer)

    async def give_up(self, timer: Timer, error: BaseException) -> None:
        handler = self._give_ups.get(timer.kind)
        if handler is not None:
            await handler(timer, error)


class UsesTimers:
    """A timer handler that schedules timers too: it is built before the `TimerService` that fires it
    (the service needs its handler), so the service is attached afterwards (`attach`)."""

    _timers: TimerService | None = None

    def attach(self, timers: TimerService) -> None:
        self._timers = timers

    @property
    def timers(self) -> TimerService:
        if self._timers is None:
            raise RuntimeError(f"{type(self).__name__}.attach(timers) was not called")
        return self._timers
