"""One Graph call over HTTP: retried (tenacity), within a deadline, its failure as a typed `GraphError`.

Resilience, following docs/graph-facts.md §4:
- 429 and 503 wait what `Retry-After` says (seconds, maybe fractional); retrying early keeps the
  throttle on. Other 5xx, connection failures and timed-out *reads* back off exponentially with full
  jitter.
- 401: `GraphAuth` drops the refused token (only that one) and sends again at once with a fresh token,
  inside the same HTTP exchange, once per call; a second 401 is final.
- 400, 403 and 404 are never retried: the same request would get the same answer.
- A deadline: a wait that would not leave time for another try is not slept on (the call fails at once
  with the typed error, `GraphThrottled` for a long `Retry-After`), and each send's timeout shrinks to
  what is left.
- A write is never sent twice when it may have landed: a write whose answer timed out (our timeout,
  Graph's 504, a connection lost after sending) is not retried.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from bot.graph.auth import LIMITS_EXTENSION, TENANT_EXTENSION
from bot.graph.errors import (
    GraphConnectionError,
    GraphError,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
    error_from_response,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # HTTP exchanges per call at most, the first included (a 401's re-send is in one)
    backoff_base: float = 0.25  # seconds; doubled each try, with full jitter
    backoff_max: float = 4.0
    budget: float = 11.0  # seconds one `apply`/`get_presence` may take in all (the handler allows 12)
    request_timeout: float = 8.0  # one send, at most
    min_attempt: float = 0.5  # a retry is not worth starting with less time than this left

    def leaves_time(self, now: float, wait: float, deadline: float) -> bool:
        """Whether waiting `wait` seconds from `now` still leaves time for one more try by `deadline`."""
        return now + wait + self.min_attempt <= deadline


@dataclass
class _CallLimits:
    """`SendLimits` for one call: each send gets what is left before `deadline`, at most the policy's
    `request_timeout`; after a 401 the request is sent again once per call, if time is left to."""

    policy: RetryPolicy
    deadline: float
    monotonic: Callable[[], float]
    resent: bool = False

    def timeout(self) -> float:
        left = self.deadline - self.monotonic()
        if left <= 0:
            raise GraphTimeout("The time for this call ran out before it was sent.", code="BudgetSpent")
        return min(self.policy.request_timeout, left)

    def may_resend(self) -> bool:
        if self.resent or not self.policy.leaves_time(self.monotonic(), 0.0, self.deadline):
            return False
        self.resent = True
        return True


class GraphTransport:
    """Sends Graph requests through the app's pooled `http` client, with `auth` (None: no token)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        auth: httpx.Auth | None,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]],
        monotonic: Callable[[], float],
    ) -> None:
        self._http = http
        self._auth = auth
        self._policy = policy
        self._sleep = sleep
        self._monotonic = monotonic

    async def send(
        self,
        method: str,
        url: str,
        payload: Any,
        *,
        path: str,
        tenant_id: str | None,
        deadline: float,
        final_statuses: frozenset[int] = frozenset(),
        idempotent: bool,
    ) -> httpx.Response:
        """A 2xx answer to `method url`, retried as the module docstring says, by `deadline` (on the
        `monotonic` clock). `path` names the call in the logs; `final_statuses` are never retried.
        `idempotent` says the request may be sent again after its answer was lost: a read (a GET, or
        getPresencesByUserId sent as a POST; `Endpoint.read`), never a $batch, which carries writes."""
        policy = self._policy
        limits = _CallLimits(policy, deadline, self._monotonic)

        async def attempt() -> httpx.Response:
            try:
                response = await self._http.request(
                    method,
                    url,
                    json=payload,
                    headers={"client-request-id": str(uuid.uuid4())},
                    auth=self._auth,
                    timeout=limits.timeout(),
                    extensions={TENANT_EXTENSION: tenant_id, LIMITS_EXTENSION: limits},
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached Graph: safe to try again, write or not.
                raise GraphConnectionError(
                    "Could not reach Microsoft Graph.", code="ConnectionFailed"
                ) from exc
            except httpx.TimeoutException as exc:
                raise GraphTimeout("Microsoft Graph did not answer in time.", code="Timeout") from exc
            except httpx.TransportError as exc:
                # The request went out and the connection broke: a write may have been applied.
                if idempotent:
                    raise GraphConnectionError(
                        "The connection to Microsoft Graph broke.", code="ConnectionLost"
                    ) from exc
                raise GraphTimeout(
                    "The connection to Microsoft Graph broke before it answered.", code="ConnectionLost"
                ) from exc
            if response.is_success:
                return response
            raise error_from_response(response.status_code, response.content, response.headers)

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, GraphError) and exc.status in final_statuses:
                return False
            if isinstance(exc, GraphThrottled | GraphUnavailable | GraphConnectionError):
                return True
            # A write whose answer timed out may have landed: do not send it again.
            return isinstance(exc, GraphTimeout) and idempotent

        backoff = wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, GraphError) and exc.retry_after is not None:
                return exc.retry_after
            return float(backoff(state))

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= policy.attempts:
                return True
            # Not worth waiting for if no time would be left to try: fail now with the last error.
            return not policy.leaves_time(self._monotonic(), state.upcoming_sleep or 0.0, deadline)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "Graph %s %s failed (%r); try %d in %.2f s",
                method,
                path,
                exc,
                state.attempt_number + 1,
                state.upcoming_sleep,
            )

        async for try_ in AsyncRetrying(
            retry=retry_if_exception(retryable),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        ):
            with try_:
                return await attempt()
        raise AssertionError("unreachable")  # pragma: no cover
