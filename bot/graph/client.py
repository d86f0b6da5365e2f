"""A small Graph client: one method per presence action, endpoints in one table, typed errors.

The same code talks to real Graph and to the simulated tenant; only the base URL and the token
provider differ. Resilience (tenacity): `Retry-After` honoured on 429/503, exponential backoff with
jitter on 5xx and connection failures, one token refresh on 401, never a retry on 400/403/404, and a
total time budget per call. A write whose answer timed out is not retried: it may have been applied,
and a duplicate write is worse than a clear "timed out" reply.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from bot.graph.errors import (
    GraphConnectionError,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
    error_from_response,
)
from bot.graph.models import (
    ClearPresenceRequest,
    DateTimeTimeZone,
    GraphModel,
    ItemBody,
    Presence,
    SetPreferredPresenceRequest,
    SetPresenceRequest,
    SetStatusMessageRequest,
    StatusMessage,
    iso_duration,
)

log = logging.getLogger(__name__)

GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"


class TokenSource(Protocol):
    """What the client needs from a token provider (see `bot.graph.auth`)."""

    async def token(self, tenant_id: str | None = None) -> str: ...

    async def invalidate(self, tenant_id: str | None = None) -> None: ...


class AuditSink(Protocol):
    """Where every Graph write is recorded (the store's audit log)."""

    async def record_write(
        self,
        *,
        user_id: str,
        tenant_id: str | None,
        operation: str,
        request: dict[str, Any],
        status: int,
        code: str,
    ) -> None: ...


class Endpoint(NamedTuple):
    method: str
    path: str  # relative to the version root, with {user_id}


# Every Graph call the bot makes, in one table.
ENDPOINTS: dict[str, Endpoint] = {
    "get_presence": Endpoint("GET", "/users/{user_id}/presence"),
    "set_presence": Endpoint("POST", "/users/{user_id}/presence/setPresence"),
    "clear_presence": Endpoint("POST", "/users/{user_id}/presence/clearPresence"),
    "set_preferred_presence": Endpoint("POST", "/users/{user_id}/presence/setUserPreferredPresence"),
    "clear_preferred_presence": Endpoint("POST", "/users/{user_id}/presence/clearUserPreferredPresence"),
    "set_status_message": Endpoint("POST", "/users/{user_id}/presence/setStatusMessage"),
    "batch": Endpoint("POST", "/$batch"),
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    backoff_base: float = 0.25  # seconds; doubled each try, with full jitter
    backoff_max: float = 4.0
    budget: float = 11.0  # total seconds one call may take, retries included
    request_timeout: float = 8.0  # one HTTP exchange


class GraphWrite(NamedTuple):
    """One presence write, ready to send: which endpoint and what body."""

    op: str
    body: GraphModel | None
    # Errors that mean "already in the wanted state" for this write (clearPresence's 404).
    tolerated: tuple[type[GraphError], ...] = ()


@dataclass
class WriteOutcome:
    """What happened to each write, and the presence read after them (when asked)."""

    errors: dict[int, GraphError] = field(default_factory=dict)  # index in writes → tolerated error
    presence: Presence | None = None
    round_trips: int = 0


# -- writes, as values: the presence service decides, the client sends -------------------------
def set_presence_write(
    session_id: str, availability: str, activity: str, duration: timedelta | None
) -> GraphWrite:
    """setPresence on the app's own session (`sessionId` is always the app id)."""
    body = SetPresenceRequest(
        session_id=session_id,
        availability=availability,
        activity=activity,
        expiration_duration=iso_duration(duration.total_seconds()) if duration else None,
    )
    return GraphWrite("set_presence", body)


def clear_presence_write(session_id: str, *, tolerate_missing: bool = True) -> GraphWrite:
    """clearPresence; Graph answers 404 when the app has no session, which usually means "done"."""
    return GraphWrite(
        "clear_presence",
        ClearPresenceRequest(session_id=session_id),
        (GraphNotFound,) if tolerate_missing else (),
    )


def set_preferred_write(availability: str, activity: str, duration: timedelta | None) -> GraphWrite:
    body = SetPreferredPresenceRequest(
        availability=availability,
        activity=activity,
        expiration_duration=iso_duration(duration.total_seconds()) if duration else None,
    )
    return GraphWrite("set_preferred_presence", body)


def clear_preferred_write() -> GraphWrite:
    return GraphWrite("clear_preferred_presence", None)


def status_message_write(text: str, expires: datetime | None) -> GraphWrite:
    """setStatusMessage; an empty text clears (Graph has no clear action)."""
    message = StatusMessage(
        message=ItemBody(content=text, content_type="text"),
        expiry_date_time=DateTimeTimeZone.from_datetime(expires) if expires else None,
    )
    return GraphWrite("set_status_message", SetStatusMessageRequest(status_message=message))


def _quote(user_id: str) -> str:
    from urllib.parse import quote

    return quote(user_id, safe="")


class GraphClient:
    """Presence calls against `base_url` (real Graph or the simulated tenant)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | Callable[[], str],
        tokens: TokenSource | None,
        session_id: str,
        retry: RetryPolicy | None = None,
        use_batch: bool = True,
        audit: AuditSink | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url
        self._tokens = tokens
        self.session_id = session_id
        self.retry = retry or RetryPolicy()
        self._use_batch = use_batch
        self._audit_sink = audit

    @property
    def base_url(self) -> str:
        url = self._base_url() if callable(self._base_url) else self._base_url
        return url.rstrip("/")

    # -- calls -------------------------------------------------------------------------------
    async def get_presence(self, user_id: str, *, tenant_id: str | None = None) -> Presence:
        response = await self._call("get_presence", user_id, None, tenant_id=tenant_id)
        return Presence.model_validate(response.json())

    async def apply(
        self, user_id: str, writes: Sequence[GraphWrite], *, tenant_id: str | None = None, read: bool = True
    ) -> WriteOutcome:
        """Run `writes` in order, then read presence. One `$batch` round trip when possible.

        Every write is audited with its outcome, whether it succeeded, was tolerated or failed.
        """
        if self._use_batch and read and writes:
            try:
                return await self._apply_batched(user_id, writes, tenant_id=tenant_id)
            except _BatchRefused as refused:
                log.info("$batch refused (%s); sending the calls one by one", refused.status)
                self._use_batch = False
        outcome = WriteOutcome()
        for index, write in enumerate(writes):
            await self._write_alone(user_id, index, write, outcome, tenant_id=tenant_id)
        if read:
            outcome.presence = await self.get_presence(user_id, tenant_id=tenant_id)
            outcome.round_trips += 1
        return outcome

    async def _write_alone(
        self, user_id: str, index: int, write: GraphWrite, outcome: WriteOutcome, *, tenant_id: str | None
    ) -> None:
        outcome.round_trips += 1
        try:
            await self._call(write.op, user_id, write.body, tenant_id=tenant_id)
        except GraphError as error:
            await self._audit(user_id, tenant_id, write, error)
            if not isinstance(error, write.tolerated):
                raise
            outcome.errors[index] = error
            return
        await self._audit(user_id, tenant_id, write, None)

    async def _audit(
        self, user_id: str, tenant_id: str | None, write: GraphWrite, error: GraphError | None
    ) -> None:
        if self._audit_sink is None:
            return
        try:
            await self._audit_sink.record_write(
                user_id=user_id,
                tenant_id=tenant_id,
                operation=write.op,
                request=write.body.wire() if write.body is not None else {},
                status=error.status if error else 200,
                code=error.code if error else "ok",
            )
        except Exception:  # the audit must never turn a done write into a failed command
            log.exception("could not record the audit entry for %s", write.op)

    async def _apply_batched(
        self, user_id: str, writes: Sequence[GraphWrite], *, tenant_id: str | None
    ) -> WriteOutcome:
        requests: list[dict[str, Any]] = []
        for index, write in enumerate(writes):
            method, path = ENDPOINTS[write.op]
            entry: dict[str, Any] = {
                "id": str(index + 1),
                "method": method,
                "url": path.format(user_id=_quote(user_id)),
                "headers": {"Content-Type": "application/json"},
                "body": write.body.wire() if write.body is not None else {},
            }
            # Each write depends on the one before, so Graph runs them in order; a write whose
            # failure we tolerate is not depended on (its dependents would get 424).
            if index and not writes[index - 1].tolerated:
                entry["dependsOn"] = [str(index)]
            requests.append(entry)
        read_id = str(len(writes) + 1)
        read_entry: dict[str, Any] = {
            "id": read_id,
            "method": "GET",
            "url": ENDPOINTS["get_presence"].path.format(user_id=_quote(user_id)),
        }
        # The read waits for every write (a tolerated failure then costs one extra GET: Graph answers 424).
        read_entry["dependsOn"] = [str(i + 1) for i in range(len(writes))]
        requests.append(read_entry)

        try:
            response = await self._call("batch", user_id, {"requests": requests}, tenant_id=tenant_id)
        except GraphError as error:
            if error.status in (400, 404, 405, 501):
                raise _BatchRefused(error.status) from error
            raise
        outcome = WriteOutcome(round_trips=1)
        answers = {str(r.get("id")): r for r in response.json().get("responses", [])}
        redo: list[int] = []
        for index, write in enumerate(writes):
            answer = answers.get(str(index + 1))
            status = int(answer.get("status", 0)) if answer else 0
            if 200 <= status < 300:
                await self._audit(user_id, tenant_id, write, None)
                continue
            failure = _entry_error(status, answer or {})
            if isinstance(failure, write.tolerated):
                await self._audit(user_id, tenant_id, write, failure)
                outcome.errors[index] = failure
            elif answer is None or status == 424 or isinstance(failure, GraphThrottled | GraphUnavailable):
                redo.append(index)  # each entry is throttled on its own: send it again alone
            else:
                await self._audit(user_id, tenant_id, write, failure)
                raise failure
        for index in redo:
            await self._write_alone(user_id, index, writes[index], outcome, tenant_id=tenant_id)
        read_answer = answers.get(read_id)
        if not redo and read_answer is not None and 200 <= int(read_answer.get("status", 0)) < 300:
            outcome.presence = Presence.model_validate(read_answer.get("body") or {})
        else:
            outcome.presence = await self.get_presence(user_id, tenant_id=tenant_id)
            outcome.round_trips += 1
        return outcome

    # -- transport -----------------------------------------------------------------------------
    async def _call(
        self, op: str, user_id: str, body: GraphModel | dict[str, Any] | None, *, tenant_id: str | None
    ) -> httpx.Response:
        method, path = ENDPOINTS[op]
        url = self.base_url + path.format(user_id=_quote(user_id))
        payload = body.wire() if isinstance(body, GraphModel) else body
        if method == "POST" and payload is None:
            payload = {}
        is_write = method != "GET"  # a $batch carries writes too
        policy = self.retry
        refreshed_token = False

        async def attempt() -> httpx.Response:
            nonlocal refreshed_token
            headers = {"client-request-id": str(uuid.uuid4())}
            if self._tokens is not None:
                headers["Authorization"] = f"Bearer {await self._tokens.token(tenant_id)}"
            try:
                response = await self._http.request(
                    method, url, json=payload, headers=headers, timeout=policy.request_timeout
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise GraphConnectionError(
                    "Could not reach Microsoft Graph.", code="ConnectionFailed"
                ) from exc
            except httpx.TimeoutException as exc:
                raise GraphTimeout(
                    "Microsoft Graph did not answer in time.", code="Timeout", status=504
                ) from exc
            except httpx.TransportError as exc:
                raise GraphConnectionError(
                    "The connection to Microsoft Graph failed.", code="Transport"
                ) from exc
            if response.is_success:
                return response
            error = error_from_response(response.status_code, response.content, dict(response.headers))
            if isinstance(error, GraphUnauthorized) and self._tokens is not None and not refreshed_token:
                refreshed_token = True
                await self._tokens.invalidate(tenant_id)
                error.retry_after = 0.0
                raise _RetryNow(error)
            raise error

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _RetryNow | GraphThrottled | GraphUnavailable | GraphConnectionError):
                return True
            # A write whose answer timed out may have landed: do not send it again.
            return isinstance(exc, GraphTimeout) and not is_write

        backoff = wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _RetryNow):
                return 0.0
            if isinstance(exc, GraphError) and exc.retry_after is not None:
                return exc.retry_after
            return float(backoff(state))

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info("Graph %s %s failed (%r); retry %d", method, path, exc, state.attempt_number)

        try:
            async for try_ in AsyncRetrying(
                retry=retry_if_exception(retryable),
                wait=wait,
                stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.budget),
                before_sleep=before_sleep,
                reraise=True,
            ):
                with try_:
                    return await attempt()
        except _RetryNow as again:
            raise again.error from None
        raise AssertionError("unreachable")  # pragma: no cover


class _RetryNow(Exception):
    """Retry at once (after a token refresh)."""

    def __init__(self, error: GraphError) -> None:
        super().__init__(error.message)
        self.error = error


class _BatchRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _entry_error(status: int, answer: dict[str, Any]) -> GraphError:
    import json

    body = answer.get("body")
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
    return error_from_response(status, raw, headers)
