"""The one proactive sender: every message the bot sends on its own (a hold ended, was overridden, or
failed) goes out here, paced as Teams rate-limits bots, retried as Teams asks, and dropped where the
bot is no longer welcome.

**Limits** (Microsoft Teams, "Optimize your bot with rate limiting"): per bot per conversation
("thread"), 7 operations in 1 s, 8 in 2 s, 60 in 30 s and 1,800 in an hour; per app per tenant, 50
requests a second (`notices_per_second`). Teams counts what *arrives*; the bot only knows that a
request arrived somewhere between its start and its answer. So a request holds its place in a
window from its start until its answer plus the window's length: a new one starts only while fewer
than N requests are in flight or were answered within the last W seconds. Then no W seconds at the
connector see more than N arrivals, whatever the latency and its jitter (`Windows`).

**Per process.** The windows live in this process: two replicas each pace themselves, so a tenant
may see up to twice the rate while both send at once, and Teams answers the excess with 429s, which
are retried (below). Sharing the tenant's window through the store would cost a write per message;
a notice burst is one deployment's timers firing, and the timers are spread over the replicas.

**Queue and order.** `submit` never blocks the caller (a hold's timer, under the user's lock): the
message joins its conversation's queue. One worker per conversation sends that queue one message at
a time, in order, waiting out a message's retries before the next; across conversations the tenant's
slots go first come, first served. Queued messages are in memory: a process that dies loses them
(the hold itself has already ended in the store and on Graph).

**Retries** (tenacity): 429 (waiting what `Retry-After` says), 412, 502 and 504, and a connection
that failed, with full-jitter exponential backoff, at most `attempts` tries within `budget` seconds;
then one log line and the message is dropped. Every try is an operation and is paced like the first.

**Gone.** A 403 (`ConversationBlockedByUser`, `BotNotInConversationRoster`, `BotDisabledByAdmin`…)
means the bot may not post there any more: `on_gone` forgets the conversation reference, and
messages for that conversation still queued are dropped, never sent. `forget` does the same when the
app is uninstalled (`installationUpdate`). A later message from the user saves a new reference.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from bot.core.users import UserRef

log = logging.getLogger(__name__)

# Teams' per bot per conversation limits: (operations, seconds).
TEAMS_CONVERSATION_LIMITS: tuple[tuple[int, float], ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
TEAMS_TENANT_PER_SECOND = 50
RETRIED_STATUSES = frozenset({412, 429, 502, 504})
_EDGE = 0.001  # seconds added to every window: float time, and a boundary arrival counted twice
_FORGOTTEN_FOR = 600.0  # seconds a forgotten conversation is remembered here (a notice reads in ms)
_SWEEP_EVERY = 60.0


class DeliveryError(Exception):
    """A proactive message was refused (`status`, Teams' error `code`, `Retry-After` in seconds) or
    could not be sent at all (`status` None: the connection failed)."""

    def __init__(self, status: int | None, code: str | None = None, retry_after: float | None = None):
        super().__init__(f"HTTP {status}" if status is not None else "connection failed")
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status is None or self.status in RETRIED_STATUSES

    @property
    def gone(self) -> bool:
        """The bot may no longer post in this conversation (blocked, removed, disabled)."""
        return self.status == 403

    def describe(self) -> str:
        if self.status is None:
            return "connection failed"
        return f"HTTP {self.status}" + (f" {self.code}" if self.code else "")


@dataclass(frozen=True)
class Outbound:
    """One proactive message: where it goes, and what `deliver` sends (opaque here).

    `epoch` is `ProactiveSender.epoch` read before the conversation reference was: a conversation
    forgotten after that is not sent to, even if the reference was read before it was deleted."""

    tenant_id: str
    conversation_id: str
    user: UserRef
    personal: bool
    content: Any
    epoch: int


@dataclass(frozen=True)
class SendPolicy:
    per_tenant: int = TEAMS_TENANT_PER_SECOND  # operations per second per tenant
    conversation_limits: tuple[tuple[int, float], ...] = TEAMS_CONVERSATION_LIMITS
    attempts: int = 5  # tries per message, the first included
    budget: float = 120.0  # seconds from a message's first try to its last
    backoff_base: float = 1.0  # seconds; doubled each try, with full jitter
    backoff_max: float = 30.0


class Windows:
    """At most n operations in any w seconds, for each (n, w), counted where they arrive (see the
    module docstring): an operation counts from its start until `w` after its answer."""

    def __init__(self, limits: tuple[tuple[int, float], ...]) -> None:
        if not limits or any(n < 1 or w <= 0 for n, w in limits):
            raise ValueError("each limit needs at least one operation in a positive window")
        self._limits = limits
        self._answered: deque[float] = deque(maxlen=max(n for n, _ in limits))
        self.in_flight = 0

    def wait(self, now: float) -> float | None:
        """Seconds until an operation may start (0.0: now); None: not before one in flight is answered."""
        longest = 0.0
        for n, w in self._limits:
            room = n - self.in_flight
            if room <= 0:
                return None
            if len(self._answered) >= room:
                longest = max(longest, self._answered[-room] + w + _EDGE - now)
        return longest

    def start(self) -> None:
        self.in_flight += 1

    def answered(self, now: float) -> None:
        self.in_flight -= 1
        self._answered.append(now)

    def abort(self) -> None:
        """An operation that was allowed to start and never did."""
        self.in_flight -= 1

    def quiet_since(self, now: float) -> bool:
        """Nothing in flight and nothing answered within the longest window: the state can go."""
        longest = max(w for _, w in self._limits)
        return self.in_flight == 0 and (not self._answered or self._answered[-1] + longest < now)


class _Gate:
    """A tenant's windows, handed out first come, first served to the conversations' workers."""

    def __init__(
        self, windows: Windows, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ):
        self.windows = windows
        self._clock = clock
        self._sleep = sleep
        self._queue: deque[asyncio.Future[None]] = deque()
        self._answered = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return bool(self._queue) or (self._pump is not None and not self._pump.done())

    async def acquire(self) -> None:
        if not self._queue and self.windows.wait(self._clock()) == 0.0:
            self.windows.start()
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(granted)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="notice-gate")
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.windows.abort()  # granted, and the waiter went away before using it
            raise

    def answered(self, now: float) -> None:
        self.windows.answered(now)
        self._answered.set()

    async def _run(self) -> None:
        while self._queue:
            head = self._queue[0]
            if head.done():  # its worker was cancelled
                self._queue.popleft()
                continue
            wait = self.windows.wait(self._clock())
            if wait is None:
                self._answered.clear()
                await self._answered.wait()
            elif wait > 0:
                await self._sleep(wait)
            else:
                self._queue.popleft()
                self.windows.start()
                head.set_result(None)

    def cancel(self) -> None:
        if self._pump is not None:
            self._pump.cancel()


@dataclass
class _Lane:
    """One conversation: its windows, its queue, and the worker sending it."""

    windows: Windows
    queue: deque[Outbound] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None


class _Forgotten(Exception):
    """The conversation was forgotten while the message waited: it is dropped."""


class ProactiveSender:
    """Paces, orders, retries and delivers proactive messages (see the module docstring).

    `deliver(content)` sends one message and raises `DeliveryError` when Teams refuses it;
    `on_gone(outbound)` forgets the conversation after a 403. `clock` and `sleep` are the real ones
    (`time.monotonic`, `asyncio.sleep`) except in tests.
    """

    def __init__(
        self,
        deliver: Callable[[Any], Awaitable[None]],
        *,
        on_gone: Callable[[Outbound], Awaitable[None]],
        policy: SendPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._deliver = deliver
        self._on_gone = on_gone
        self._policy = policy or SendPolicy()
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._gates: dict[str, _Gate] = {}
        self._epochs = itertools.count(1)
        self.epoch = 0
        # (tenant, conversation) and (tenant, user)'s personal chats → (epoch, when) they were forgotten
        self._forgotten: dict[tuple[str, str], tuple[int, float]] = {}
        self._forgotten_personal: dict[tuple[str, str], tuple[int, float]] = {}
        self._last_sweep = clock()
        self._counts = {"sent": 0, "tries": 0, "retried": 0, "gaveUp": 0, "gone": 0, "dropped": 0}

    # -- the callers' side -----------------------------------------------------------------------
    def submit(self, outbound: Outbound) -> None:
        """Queue a message for its conversation; it goes out as soon as the limits allow."""
        self._sweep()
        key = (outbound.tenant_id, outbound.conversation_id)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(Windows(self._policy.conversation_limits))
        lane.queue.append(outbound)
        if lane.worker is None:
            lane.worker = asyncio.create_task(self._work(lane), name="notice-lane")

    def forget(self, tenant_id: str, conversation_id: str | None, *, personal_of: str | None = None) -> None:
        """Send nothing more to `conversation_id` (and, with `personal_of`, to that user's personal
        chats) that was queued, or read from the store, before now. Call after the store forgot it."""
        self.epoch = next(self._epochs)
        mark = (self.epoch, self._clock())
        if conversation_id is not None:
            self._forgotten[(tenant_id, conversation_id)] = mark
        if personal_of is not None:
            self._forgotten_personal[(tenant_id, personal_of)] = mark

    @property
    def pending(self) -> int:
        """Messages queued or being sent."""
        return sum(len(lane.queue) for lane in self._lanes.values())

    def stats(self) -> dict[str, int]:
        return {"pending": self.pending, **self._counts}

    async def close(self, grace: float = 2.0) -> None:
        """Let queued messages go for up to `grace` seconds, then stop (what is left is logged)."""
        deadline = self._clock() + grace
        while self.pending and self._clock() < deadline:
            await self._sleep(0.05)
        left = self.pending
        tasks = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        for task in tasks:
            task.cancel()
        for gate in self._gates.values():
            gate.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if left:
            log.warning("shutting down with %d notice(s) not sent", left)

    # -- the workers' side --------------------------------------------------------------------------
    def _is_forgotten(self, outbound: Outbound) -> bool:
        mark = self._forgotten.get((outbound.tenant_id, outbound.conversation_id))
        if mark is not None and mark[0] > outbound.epoch:
            return True
        if outbound.personal:
            mark = self._forgotten_personal.get((outbound.tenant_id, outbound.user.user_id))
            return mark is not None and mark[0] > outbound.epoch
        return False

    async def _work(self, lane: _Lane) -> None:
        try:
            while lane.queue:
                outbound = lane.queue[0]
                try:
                    await self._send(outbound, lane)
                finally:
                    lane.queue.popleft()
        finally:
            lane.worker = None

    async def _send(self, outbound: Outbound, lane: _Lane) -> None:
        policy = self._policy
        first = self._clock()
        backoff = wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, DeliveryError) and exc.retry_after is not None:
                return exc.retry_after
            return float(backoff(state))

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= policy.attempts:
                return True
            return self._clock() + (state.upcoming_sleep or 0.0) - first > policy.budget

        def before_sleep(state: RetryCallState) -> None:
            self._counts["retried"] += 1

        tries = 0
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(lambda exc: isinstance(exc, DeliveryError) and exc.transient),
                wait=wait,
                stop=stop,
                before_sleep=before_sleep,
                sleep=self._sleep,
                reraise=True,
            ):
                with attempt:
                    tries += 1
                    await self._attempt(outbound, lane)
            self._counts["sent"] += 1
        except _Forgotten:
            self._counts["dropped"] += 1
        except DeliveryError as exc:
            if exc.gone:
                await self._gone(outbound, exc)
            else:
                self._counts["gaveUp"] += 1
                log.warning("notice not delivered, given up after %d tries: %s", tries, exc.describe())
        except Exception as exc:  # deliver's own failure: one line, the worker goes on
            self._counts["gaveUp"] += 1
            log.error("notice not delivered: %s", type(exc).__name__, exc_info=exc)

    async def _attempt(self, outbound: Outbound, lane: _Lane) -> None:
        if self._is_forgotten(outbound):
            raise _Forgotten
        # The conversation's own windows: only this worker sends there, one message at a time.
        while (wait := lane.windows.wait(self._clock())) != 0.0:
            await self._sleep(wait if wait is not None else 0.05)
        gate = self._gates.get(outbound.tenant_id)
        if gate is None:
            limits = ((self._policy.per_tenant, 1.0),)
            gate = self._gates[outbound.tenant_id] = _Gate(Windows(limits), self._clock, self._sleep)
        await gate.acquire()
        if self._is_forgotten(outbound):  # forgotten while waiting for the tenant's turn
            gate.windows.abort()
            raise _Forgotten
        lane.windows.start()
        self._counts["tries"] += 1
        try:
            await self._deliver(outbound.content)
        finally:
            now = self._clock()
            lane.windows.answered(now)
            gate.answered(now)

    async def _gone(self, outbound: Outbound, exc: DeliveryError) -> None:
        self._counts["gone"] += 1
        log.warning(
            "Teams refused a notice (%s): forgetting that conversation, no more notices there",
            exc.describe(),
        )
        try:
            await self._on_gone(outbound)
        except Exception as error:  # the store is down: still stop sending there from this process
            log.error("could not forget the conversation: %s", type(error).__name__, exc_info=error)
        self.forget(outbound.tenant_id, outbound.conversation_id)

    def _sweep(self) -> None:
        """Drop the state of conversations and tenants quiet for longer than their longest window."""
        now = self._clock()
        if now - self._last_sweep < _SWEEP_EVERY:
            return
        self._last_sweep = now
        for key, lane in list(self._lanes.items()):
            if not lane.queue and lane.worker is None and lane.windows.quiet_since(now):
                del self._lanes[key]
        for tenant, gate in list(self._gates.items()):
            if not gate.busy and gate.windows.quiet_since(now):
                del self._gates[tenant]
        for marks in (self._forgotten, self._forgotten_personal):
            for mark_key, (_, when) in list(marks.items()):
                if now - when > _FORGOTTEN_FOR:
                    del marks[mark_key]
