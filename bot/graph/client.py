"""A small Graph client: one method per presence action, endpoints in one table, typed errors.

The same code talks to real Graph and to the simulated tenant; only the base URL and the token
provider differ. Each call goes through `GraphTransport` (bot.graph.transport: retries, `Retry-After`,
timeouts, never a write sent twice when it may have landed) with `GraphAuth` (bot.graph.auth: the
bearer token, and one fresh token on a 401).

- A total time budget: one `apply` or `get_presence`, retries, `Retry-After` waits, its `$batch`
  fallbacks and its follow-up read included, ends within `RetryPolicy.budget` (a chat command has to
  be answered within Teams' ~15 s). A wait that would not leave time for another try is not slept
  on: the call fails at once with the typed error (`GraphThrottled` for a long `Retry-After`), and
  each HTTP exchange's timeout shrinks to what is left.
- A `$batch` entry is only sent again when its answer says it did not run (429, 5xx other than 504,
  424); 400, 403 and 404 are never retried.
- Colleagues' presence is read in bulk (`get_presences`: getPresencesByUserId, 650 ids a call; what it
  sends and how it reads the answers is bot.graph.reads'), under the same retries and budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

import httpx

from bot.core.colleagues import PRESENCES_PER_CALL
from bot.graph.auth import GraphAuth, TokenSource
from bot.graph.errors import (
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
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
from bot.graph.reads import chunked, distinct_ids, in_request_order, presences_in
from bot.graph.transport import GraphTransport, RetryPolicy

log = logging.getLogger(__name__)

MAX_BATCH_REQUESTS = 20  # docs/graph-facts.md §4
# How Graph (or a proxy in front of it) says "no $batch here": send the calls one by one from then on.
BATCH_REFUSED_STATUSES = frozenset({400, 404, 405, 501})


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
    read: bool = False  # changes nothing: may be sent again after its answer was lost, even as a POST


# Every Graph call the bot makes, in one table.
ENDPOINTS: dict[str, Endpoint] = {
    "get_presence": Endpoint("GET", "/users/{user_id}/presence", read=True),
    "get_presences": Endpoint("POST", "/communications/getPresencesByUserId", read=True),
    "set_presence": Endpoint("POST", "/users/{user_id}/presence/setPresence"),
    "clear_presence": Endpoint("POST", "/users/{user_id}/presence/clearPresence"),
    "set_preferred_presence": Endpoint("POST", "/users/{user_id}/presence/setUserPreferredPresence"),
    "clear_preferred_presence": Endpoint("POST", "/users/{user_id}/presence/clearUserPreferredPresence"),
    "set_status_message": Endpoint("POST", "/users/{user_id}/presence/setStatusMessage"),
    "batch": Endpoint("POST", "/$batch"),
}


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
    round_trips: int = 0  # Graph calls made (a `$batch` is one; retries of a call not counted)


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
    """clearUserPreferredPresence: an action without parameters, sent without a body."""
    return GraphWrite("clear_preferred_presence", None)


def status_message_write(text: str, expires: datetime | None) -> GraphWrite:
    """setStatusMessage; an empty text clears (Graph has no clear action)."""
    message = StatusMessage(
        message=ItemBody(content=text, content_type="text"),
        expiry_date_time=DateTimeTimeZone.from_datetime(expires) if expires else None,
    )
    return GraphWrite("set_status_message", SetStatusMessageRequest(status_message=message))


def _quote(user_id: str) -> str:
    return quote(user_id, safe="")


class GraphClient:
    """Presence calls against `base_url` (real Graph or the simulated tenant).

    `sleep` and `monotonic` are the client's sense of time for retries and budgets (tests pass fakes).
    """

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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = base_url
        self.session_id = session_id
        self.retry = retry or RetryPolicy()
        self._use_batch = use_batch
        self._audit_sink = audit
        self._sleep = sleep
        self._monotonic = monotonic
        # One pooled AsyncClient for the whole app: the token goes on each request (no auth without tokens).
        self._transport = GraphTransport(
            http,
            auth=GraphAuth(tokens) if tokens is not None else None,
            policy=self.retry,
            sleep=sleep,
            monotonic=monotonic,
        )
        self._deadline: ContextVar[float | None] = ContextVar(f"graph_deadline_{id(self)}", default=None)

    @property
    def base_url(self) -> str:
        url = self._base_url() if callable(self._base_url) else self._base_url
        return url.rstrip("/")

    @contextlib.contextmanager
    def budget(self, seconds: float | None = None) -> Iterator[float]:
        """Bound every Graph call in the block to `seconds` in all (default: the policy's budget).

        An enclosing budget that ends sooner wins, so a caller can hand the client what is left of its
        own deadline. Yields the deadline, on the client's monotonic clock.
        """
        deadline = self._monotonic() + (self.retry.budget if seconds is None else seconds)
        outer = self._deadline.get()
        if outer is not None:
            deadline = min(deadline, outer)
        token = self._deadline.set(deadline)
        try:
            yield deadline
        finally:
            self._deadline.reset(token)

    # -- calls -------------------------------------------------------------------------------
    async def get_presence(self, user_id: str, *, tenant_id: str | None = None) -> Presence:
        with self.budget():
            response = await self._call("get_presence", user_id, None, tenant_id=tenant_id)
        return Presence.model_validate(_json(response))

    async def get_presences(self, user_ids: Sequence[str], *, tenant_id: str | None = None) -> list[Presence]:
        """Many users' presence: one getPresencesByUserId call per 650 distinct ids, all within one budget.

        In the order the ids were asked in (a user Graph leaves out is missing); no ids, no call. A
        `Retry-After` that does not fit the budget raises `GraphThrottled` with its `retry_after`.
        """
        ids = distinct_ids(user_ids)
        found: list[Presence] = []
        with self.budget():
            for chunk in chunked(ids, PRESENCES_PER_CALL):
                response = await self._call("get_presences", "", {"ids": chunk}, tenant_id=tenant_id)
                found.extend(presences_in(_json(response), status=response.status_code))
        return in_request_order(found, ids)

    async def apply(
        self,
        user_id: str,
        writes: Sequence[GraphWrite],
        *,
        tenant_id: str | None = None,
        read: bool = True,
        audit: AuditSink | None = None,
    ) -> WriteOutcome:
        """Run `writes` in order, then read presence. One `$batch` round trip when possible.

        Every write sent to Graph is audited once, with its outcome: done, tolerated or failed, in
        `audit` (a command's unit of work) or else the client's own sink (written at once).
        """
        sink = audit if audit is not None else self._audit_sink
        with self.budget():
            if self._use_batch and read and writes and len(writes) < MAX_BATCH_REQUESTS:
                try:
                    return await self._apply_batched(user_id, writes, tenant_id=tenant_id, sink=sink)
                except _BatchRefused as refused:
                    log.warning("$batch refused (%s): Graph calls go one by one from now on", refused.status)
                    self._use_batch = False
            outcome = WriteOutcome()
            for index, write in enumerate(writes):
                await self._write_alone(user_id, index, write, outcome, tenant_id=tenant_id, sink=sink)
            if read:
                outcome.presence = await self.get_presence(user_id, tenant_id=tenant_id)
                outcome.round_trips += 1
            return outcome

    async def _write_alone(
        self,
        user_id: str,
        index: int,
        write: GraphWrite,
        outcome: WriteOutcome,
        *,
        tenant_id: str | None,
        sink: AuditSink | None,
    ) -> None:
        outcome.round_trips += 1
        try:
            await self._call(write.op, user_id, write.body, tenant_id=tenant_id)
        except GraphError as error:
            await self._audit(sink, user_id, tenant_id, write, error)
            if not isinstance(error, write.tolerated):
                raise
            outcome.errors[index] = error
            return
        await self._audit(sink, user_id, tenant_id, write, None)

    async def _audit(
        self,
        sink: AuditSink | None,
        user_id: str,
        tenant_id: str | None,
        write: GraphWrite,
        error: GraphError | None,
    ) -> None:
        if sink is None:
            return
        try:
            await sink.record_write(
                user_id=user_id,
                tenant_id=tenant_id,
                operation=write.op,
                request=write.body.wire() if write.body is not None else {},
                status=error.status if error else 200,
                code=error.code if error else "ok",
            )
        except Exception:  # the audit must never turn a done write into a failed command
            log.exception("could not record the audit entry for %s", write.op)

    # -- $batch --------------------------------------------------------------------------------
    async def _apply_batched(
        self, user_id: str, writes: Sequence[GraphWrite], *, tenant_id: str | None, sink: AuditSink | None
    ) -> WriteOutcome:
        """The writes and the read in one `$batch` (docs/graph-facts.md §4), chained with `dependsOn` so
        Graph runs them in order. Entries that did not run are sent again alone; answers are matched by id."""
        requests: list[dict[str, Any]] = []
        for index, write in enumerate(writes):
            endpoint = ENDPOINTS[write.op]
            entry: dict[str, Any] = {
                "id": str(index + 1),
                "method": endpoint.method,
                "url": endpoint.path.format(user_id=_quote(user_id)),
            }
            if write.body is not None:  # a body needs its Content-Type (docs/graph-facts.md §4)
                entry["headers"] = {"Content-Type": "application/json"}
                entry["body"] = write.body.wire()
            # Each write depends on the one before, so Graph runs them in order; a write whose
            # failure we tolerate is not depended on (its dependents would get 424).
            if index and not writes[index - 1].tolerated:
                entry["dependsOn"] = [str(index)]
            requests.append(entry)
        read_id = str(len(writes) + 1)
        requests.append(
            {
                "id": read_id,
                "method": "GET",
                "url": ENDPOINTS["get_presence"].path.format(user_id=_quote(user_id)),
                # The read waits for every write (after a tolerated failure, Graph answers it 424 and
                # it costs one more GET).
                "dependsOn": [str(i + 1) for i in range(len(writes))],
            }
        )

        try:
            response = await self._call("batch", user_id, {"requests": requests}, tenant_id=tenant_id)
        except GraphError as envelope_error:
            if envelope_error.status in BATCH_REFUSED_STATUSES:
                raise _BatchRefused(envelope_error.status) from envelope_error
            for write in writes:  # every write was sent, none is known to have run
                await self._audit(sink, user_id, tenant_id, write, envelope_error)
            raise
        outcome = WriteOutcome(round_trips=1)
        answers = _batch_answers(response)

        resend: dict[int, GraphError] = {}  # writes that did not run: sent again alone
        failed: dict[int, GraphError] = {}  # writes that failed for good (or may have run)
        for index, write in enumerate(writes):
            answer = answers.get(str(index + 1))
            if answer is None:
                # No answer for an entry Graph may have run: never send it twice.
                failed[index] = GraphTimeout(
                    "Graph's $batch answer left out a request.", code="MissingBatchResponse"
                )
                continue
            status, entry_error = _entry_outcome(answer)
            if entry_error is None:
                await self._audit(sink, user_id, tenant_id, write, None)
            elif isinstance(entry_error, write.tolerated):
                await self._audit(sink, user_id, tenant_id, write, entry_error)
                outcome.errors[index] = entry_error
            elif status == 424 or isinstance(entry_error, GraphThrottled | GraphUnavailable):
                resend[index] = entry_error  # each entry is throttled on its own (docs/graph-facts.md §4)
            else:
                failed[index] = entry_error
        if failed:
            for index in sorted(failed | resend):
                await self._audit(sink, user_id, tenant_id, writes[index], (failed | resend)[index])
            raise failed[min(failed)]

        read_answer = answers.get(read_id)
        read_status, read_error = _entry_outcome(read_answer) if read_answer is not None else (0, None)
        if resend:
            # Wait as long as the longest Retry-After among what is sent again (the read included).
            waiting = [*resend.values()]
            if isinstance(read_error, GraphThrottled | GraphUnavailable):
                waiting.append(read_error)
            longest = max(waiting, key=lambda e: e.retry_after or 0.0)
            try:
                await self._pause(longest.retry_after or 0.0, longest)
            except GraphError:
                for index, pending in sorted(resend.items()):
                    await self._audit(sink, user_id, tenant_id, writes[index], pending)
                raise
            order = sorted(resend)
            for position, index in enumerate(order):
                try:
                    await self._write_alone(
                        user_id, index, writes[index], outcome, tenant_id=tenant_id, sink=sink
                    )
                except GraphError:
                    for later in order[position + 1 :]:  # sent once in the batch, never run
                        await self._audit(sink, user_id, tenant_id, writes[later], resend[later])
                    raise
        if not resend and read_answer is not None and 200 <= read_status < 300:
            outcome.presence = Presence.model_validate(read_answer.get("body") or {})
        else:
            if isinstance(read_error, GraphThrottled) and not resend:
                await self._pause(read_error.retry_after or 0.0, read_error)
            outcome.presence = await self.get_presence(user_id, tenant_id=tenant_id)
            outcome.round_trips += 1
        return outcome

    async def _pause(self, seconds: float, error: GraphError) -> None:
        """Wait `seconds` before sending again, or raise `error` if that would not leave time to."""
        if seconds <= 0:
            return
        if not self.retry.leaves_time(self._monotonic(), seconds, self._current_deadline()):
            raise error
        log.info("Graph asked to wait %.1f s before sending again (%r)", seconds, error)
        await self._sleep(seconds)

    def _current_deadline(self) -> float:
        deadline = self._deadline.get()
        return deadline if deadline is not None else self._monotonic() + self.retry.budget

    # -- transport -----------------------------------------------------------------------------
    async def _call(
        self, op: str, user_id: str, body: GraphModel | dict[str, Any] | None, *, tenant_id: str | None
    ) -> httpx.Response:
        """One Graph call, retried as bot.graph.transport says, within the current budget."""
        endpoint = ENDPOINTS[op]
        return await self._transport.send(
            endpoint.method,
            self.base_url + endpoint.path.format(user_id=_quote(user_id)),
            body.wire() if isinstance(body, GraphModel) else body,
            path=endpoint.path,
            tenant_id=tenant_id,
            deadline=self._current_deadline(),
            # A refused $batch (501 included) is not retried: the caller sends the calls one by one.
            final_statuses=BATCH_REFUSED_STATUSES if op == "batch" else frozenset(),
            idempotent=endpoint.read,
        )


class _BatchRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise GraphError(
            "Microsoft Graph answered with something that is not JSON.",
            status=response.status_code,
            code="InvalidResponse",
            request_id=response.headers.get("request-id"),
        ) from exc


def _batch_answers(response: httpx.Response) -> dict[str, Mapping[str, Any]]:
    """The `$batch` answers by id (Graph promises no order). An unreadable answer has none."""
    try:
        data = response.json()
    except ValueError:
        return {}
    entries = data.get("responses") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return {}
    return {str(e.get("id")): e for e in entries if isinstance(e, dict)}


def _entry_outcome(answer: Mapping[str, Any]) -> tuple[int, GraphError | None]:
    """A `$batch` entry's status, and its typed error when it is not a 2xx."""
    raw_status = answer.get("status")
    status = raw_status if isinstance(raw_status, int) and not isinstance(raw_status, bool) else 0
    if 200 <= status < 300:
        return status, None
    body = answer.get("body")
    raw = json.dumps(body).encode() if body is not None else b""
    headers = answer.get("headers")
    header_map = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
    return status, error_from_response(status, raw, header_map)
