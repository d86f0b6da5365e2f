"""What the simulated Graph does to traffic besides answering it: injected faults, throttling
(docs/graph-facts.md §4), and per-route request counts that tests read to count Graph round trips.
No HTTP here."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.sim.errors import SimGraphError, bad_request

# Graph's error code for each status a fault may answer with.
FAULT_CODES: dict[int, str] = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
MAX_FAULT_DELAY_MS = 120_000


@dataclass(frozen=True)
class SimLimits:
    """Graph's limits as the simulator applies them (docs/graph-facts.md §2, §4); tests shrink them."""

    requests_per_window: int = 10_000  # presence: per app per tenant
    bulk_requests_per_window: int = 1_500  # getPresencesByUserId: per app per tenant
    window_seconds: float = 30.0
    max_batch_requests: int = 20
    max_bulk_ids: int = 650


@dataclass
class Fault:
    """The next `remaining` Graph calls whose path contains `match` stall `delay_ms`, then fail with
    `status` (or, with no status, are answered normally)."""

    match: str
    status: int | None
    remaining: int
    retry_after: float | None = None
    delay_ms: int = 0
    method: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Read a fault from the control route's body, refusing anything unclear (400)."""
        if not isinstance(data, dict):
            raise bad_request(
                'A fault is a JSON object: {"match", "status", "count", "retry_after", "delay_ms"}.'
            )
        match = data.get("match", "")
        if not isinstance(match, str):
            raise bad_request("match must be a string (a substring of the Graph path, e.g. 'setPresence').")
        status = data.get("status")
        if status is not None and (
            not isinstance(status, int) or isinstance(status, bool) or status not in FAULT_CODES
        ):
            raise bad_request(f"status must be one of {sorted(FAULT_CODES)}.")
        count = data.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise bad_request("count must be a whole number of calls, at least 1.")
        retry_after = data.get("retry_after")
        if retry_after is not None and (
            not isinstance(retry_after, int | float) or isinstance(retry_after, bool) or retry_after < 0
        ):
            raise bad_request("retry_after must be a number of seconds, 0 or more.")
        delay_ms = data.get("delay_ms", 0)
        if (
            not isinstance(delay_ms, int)
            or isinstance(delay_ms, bool)
            or not 0 <= delay_ms <= MAX_FAULT_DELAY_MS
        ):
            raise bad_request(f"delay_ms must be a whole number of milliseconds, 0 to {MAX_FAULT_DELAY_MS}.")
        if status is None and delay_ms == 0:
            raise bad_request("Give a status to fail with, a delay_ms to stall by, or both.")
        method = data.get("method")
        if method is not None and not isinstance(method, str):
            raise bad_request("method must be an HTTP method name.")
        return cls(
            match=match,
            status=status,
            remaining=count,
            retry_after=float(retry_after) if retry_after is not None else None,
            delay_ms=delay_ms,
            method=method.upper() if method else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "method": self.method,
            "status": self.status,
            "remaining": self.remaining,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
        }

    def error(self) -> SimGraphError | None:
        """The error this fault answers with, if it has a status."""
        if self.status is None:
            return None
        code = FAULT_CODES[self.status]
        return SimGraphError(
            self.status, code, f"Simulated fault: {code} ({self.status}).", retry_after=self.retry_after
        )


class FaultPlan:
    """Faults waiting to hit Graph calls, first added first used."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._released = asyncio.Event()

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        """Drop every fault, and release the calls stalled by one (they are answered normally)."""
        self._faults.clear()
        self._released.set()
        self._released = asyncio.Event()

    async def stall(self, seconds: float) -> bool:
        """Stall a call; False when `clear()` released it early."""
        released = self._released
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), timeout=seconds)
        return not released.is_set()

    def to_json(self) -> list[dict[str, Any]]:
        return [fault.to_json() for fault in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this call, if any (one use of it is spent). Matching ignores case."""
        lowered = path.lower()
        for fault in self._faults:
            if fault.method is not None and fault.method != method.upper():
                continue
            if fault.match.lower() in lowered:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None


class Throttle:
    """Sliding-window request limits per (tenant, app), read from the simulator's clock.

    Every Graph call counts in the presence window; getPresencesByUserId also in its own, smaller one.
    A refused call is not counted, so the throttle lifts once the window has room again.
    """

    def __init__(self, clock: Clock, limits: SimLimits) -> None:
        self._clock = clock
        self._limits = limits
        self._window = timedelta(seconds=limits.window_seconds)
        self._seen: dict[tuple[str, str, str], deque[datetime]] = {}

    def admit(self, tenant_id: str, app_id: str, *, bulk: bool = False) -> None:
        """Count one call, or raise 429 TooManyRequests with the seconds until the window has room."""
        now = self._clock.now()
        buckets = [("presence", self._limits.requests_per_window)]
        if bulk:
            buckets.append(("getPresencesByUserId", self._limits.bulk_requests_per_window))
        windows: list[deque[datetime]] = []
        for name, limit in buckets:
            seen = self._seen.setdefault((tenant_id.lower(), app_id.lower(), name), deque())
            while seen and seen[0] <= now - self._window:
                seen.popleft()
            if len(seen) >= limit:
                wait = (seen[0] + self._window - now).total_seconds() if seen else self._limits.window_seconds
                raise SimGraphError(
                    429,
                    "TooManyRequests",
                    f"Too many requests: at most {limit} per {self._limits.window_seconds:g} s per app "
                    "per tenant. Retry after the number of seconds in Retry-After.",
                    retry_after=max(1, math.ceil(wait)),
                )
            windows.append(seen)
        for seen in windows:
            seen.append(now)

    def reset(self) -> None:
        self._seen.clear()


class RequestStats:
    """How many Graph requests reached the simulator, per `METHOD path-template`.

    `requests` counts HTTP round trips (a `$batch` is one); `batched` counts the entries inside batches;
    `applied` counts the writes that changed the tenant (answered 2xx), top level or batched, so a
    write refused by a fault, the throttle or a rule is not in it.
    """

    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._batched: Counter[str] = Counter()
        self._applied: Counter[str] = Counter()

    def count(self, key: str) -> None:
        self._requests[key] += 1

    def count_batched(self, key: str) -> None:
        self._batched[key] += 1

    def count_applied(self, key: str) -> None:
        self._applied[key] += 1

    def reset(self) -> None:
        self._requests.clear()
        self._batched.clear()
        self._applied.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(self._requests),
            "batched": dict(self._batched),
            "applied": dict(self._applied),
            "total": sum(self._requests.values()),
        }
