"""The Graph client's rules for surviving real Graph (docs/graph-facts.md §4), faked at the transport with
`httpx.MockTransport`: what it retries, how long it waits, what it never sends twice, how it reads Graph's
errors, and how it batches. Time is a fake clock, so a 30 s `Retry-After` costs nothing."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.graph.auth import LIMITS_EXTENSION, TENANT_EXTENSION, GraphAuth
from bot.graph.client import (
    GraphClient,
    GraphWrite,
    clear_preferred_write,
    clear_presence_write,
    set_preferred_write,
    set_presence_write,
    status_message_write,
)
from bot.graph.errors import (
    GraphBadRequest,
    GraphConnectionError,
    GraphError,
    GraphNotFound,
    GraphPermissionDenied,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
    error_from_response,
)
from bot.graph.transport import RetryPolicy

APP = "5ad0b075-0000-4000-8000-00000000b075"
TENANT = "7a1d2f3e-4b5c-4d6e-8f70-8192a3b4c5d6"
ALEX = "00000000-0000-0000-0000-000000000020"
BASE = "https://graph.example/v1.0"
PRESENCE = f"/v1.0/users/{ALEX}/presence"


# -- fakes -------------------------------------------------------------------------------------------
@dataclass
class FakeTime:
    """The client's clock: `sleep` only moves it, and a handler may spend time too."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Tokens:
    """A token provider that drops exactly the token Graph refused, as `MsalTokenProvider` does: a
    refused token that was already replaced leaves the replacement in place."""

    generation: int = 1
    asked: list[str | None] = field(default_factory=list)
    dropped: list[tuple[str | None, str | None]] = field(default_factory=list)

    async def token(self, tenant_id: str | None = None) -> str:
        self.asked.append(tenant_id)
        return f"token-{self.generation}"

    async def invalidate(self, tenant_id: str | None = None, *, rejected_token: str | None = None) -> None:
        self.dropped.append((tenant_id, rejected_token))
        if rejected_token in (None, f"token-{self.generation}"):
            self.generation += 1


@dataclass
class Audit:
    entries: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    async def record_write(self, **entry: Any) -> None:
        self.entries.append(entry)
        if self.fail:
            raise RuntimeError("the audit store is down")

    def outcomes(self) -> list[tuple[str, int, str]]:
        return [(e["operation"], e["status"], e["code"]) for e in self.entries]


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Graph:
    """A scripted Graph: answers in order, records every request."""

    answers: list[Answer]
    time: FakeTime
    spend: float = 0.0  # seconds each exchange takes, at most its read timeout (as a real transport)
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        # A copy: after a 401, GraphAuth sends the same request again with another token and timeout.
        self.requests.append(
            httpx.Request(
                request.method,
                request.url,
                headers=request.headers,
                content=request.content,
                extensions=dict(request.extensions),
            )
        )
        timeout = request.extensions.get("timeout", {}).get("read")
        self.time.now += self.spend if timeout is None else min(self.spend, timeout)
        assert self.answers, f"unexpected request {request.method} {request.url}"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def sent(self) -> list[str]:
        """`METHOD path` of every request, the version root included."""
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def body(self, index: int) -> Any:
        content = self.requests[index].content
        return json.loads(content) if content else None


def presence(availability: str = "Busy", activity: str = "InACall") -> dict[str, Any]:
    return {
        "id": ALEX,
        "availability": availability,
        "activity": activity,
        "statusMessage": None,
        "outOfOfficeSettings": {"isOutOfOffice": False, "message": None},
        "sequenceNumber": "000660D8F9E4B150",
    }


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json=body) if body is not None else httpx.Response(200)


def error_body(code: str, request_id: str = "req-body", message: str = "nope") -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "request-id": request_id,
                "date": "2026-11-22T11:02:13Z",
                "client-request-id": "c",
            },
        }
    }


def failure(
    status: int, code: str, *, retry_after: str | None = None, request_id: str | None = "req-header"
) -> httpx.Response:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if request_id is not None:
        headers["request-id"] = request_id
    return httpx.Response(status, json=error_body(code), headers=headers)


def entry(
    entry_id: str, status: int, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entry_id, "status": status, "headers": headers or {}}
    if body is not None:
        out["body"] = body
    return out


def entry_error(entry_id: str, status: int, code: str, retry_after: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return entry(entry_id, status, error_body(code, request_id=f"entry-{entry_id}"), headers)


def batch(*entries: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"responses": list(entries)})


@dataclass
class Setup:
    client: GraphClient
    graph: Graph
    time: FakeTime
    tokens: Tokens
    audit: Audit


def make(
    *answers: Answer,
    use_batch: bool = True,
    retry: RetryPolicy | None = None,
    tokens: Any = None,
    spend: float = 0.0,
    authenticated: bool = True,
) -> Setup:
    time = FakeTime()
    graph = Graph(list(answers), time, spend=spend)
    token_source = tokens if tokens is not None else Tokens()
    audit = Audit()
    http = httpx.AsyncClient(transport=httpx.MockTransport(graph.handle))
    client = GraphClient(
        http,
        base_url=BASE,
        tokens=token_source if authenticated else None,
        session_id=APP,
        retry=retry,
        use_batch=use_batch,
        audit=audit,
        sleep=time.sleep,
        monotonic=time.monotonic,
    )
    return Setup(client, graph, time, token_source, audit)


def busy() -> GraphWrite:
    return set_presence_write(APP, "Busy", "InACall", timedelta(minutes=30))


# -- Retry-After and backoff ------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured_on_429_and_503(status: int) -> None:
    code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
    s = make(failure(status, code, retry_after="2.5"), ok(presence()))
    result = await s.client.get_presence(ALEX, tenant_id=TENANT)
    assert result.availability == "Busy"
    assert s.time.sleeps == [2.5], "waited exactly what Graph asked, fractional seconds included"
    assert len(s.graph.requests) == 2


async def test_5xx_backs_off_exponentially_with_full_jitter() -> None:
    random.seed(7)
    s = make(
        failure(500, "InternalServerError"),
        failure(502, "BadGateway"),
        failure(503, "ServiceUnavailable"),  # no Retry-After: backoff
        failure(500, "InternalServerError"),
        ok(presence()),
    )
    await s.client.get_presence(ALEX)
    caps = [0.25, 0.5, 1.0, 2.0]  # backoff_base doubled per try, at most backoff_max
    assert len(s.time.sleeps) == 4
    for slept, cap in zip(s.time.sleeps, caps, strict=True):
        assert 0 <= slept <= cap
    assert len(set(s.time.sleeps)) == 4, "jittered, not a fixed schedule"


async def test_an_outage_gives_up_after_the_attempts_with_the_typed_error() -> None:
    s = make(*(failure(503, "ServiceUnavailable") for _ in range(6)))
    with pytest.raises(GraphUnavailable) as caught:
        await s.client.get_presence(ALEX)
    assert caught.value.code == "ServiceUnavailable"
    assert len(s.graph.requests) == RetryPolicy().attempts
    assert sum(s.time.sleeps) <= RetryPolicy().budget


async def test_a_timed_out_read_is_sent_again() -> None:
    s = make(httpx.ReadTimeout("slow"), ok(presence()))
    assert (await s.client.get_presence(ALEX)).activity == "InACall"
    assert len(s.graph.requests) == 2


@pytest.mark.parametrize("use_batch", [True, False])
async def test_a_write_whose_answer_timed_out_is_never_sent_twice(use_batch: bool) -> None:
    s = make(httpx.ReadTimeout("slow"), use_batch=use_batch)
    with pytest.raises(GraphTimeout) as caught:
        await s.client.apply(ALEX, [busy()])
    assert caught.value.code == "Timeout"
    assert len(s.graph.requests) == 1
    assert s.audit.outcomes() == [("set_presence", 504, "Timeout")], "audited as an unknown outcome"


@pytest.mark.parametrize(
    "lost", [httpx.RemoteProtocolError("server disconnected"), httpx.ReadError("reset by peer")]
)
async def test_a_connection_lost_after_a_write_was_sent_is_not_retried(lost: Exception) -> None:
    s = make(lost, use_batch=False)
    with pytest.raises(GraphTimeout) as caught:
        await s.client.apply(ALEX, [busy()])
    assert caught.value.code == "ConnectionLost"
    assert len(s.graph.requests) == 1


async def test_a_connection_lost_on_a_read_is_retried() -> None:
    s = make(httpx.RemoteProtocolError("server disconnected"), ok(presence()))
    await s.client.get_presence(ALEX)
    assert len(s.graph.requests) == 2


@pytest.mark.parametrize("refused", [httpx.ConnectError("refused"), httpx.ConnectTimeout("no route")])
async def test_a_write_that_never_left_is_retried(refused: Exception) -> None:
    s = make(refused, batch(entry("1", 200), entry("2", 200, presence())))
    outcome = await s.client.apply(ALEX, [busy()])
    assert outcome.presence is not None and outcome.presence.activity == "InACall"
    assert len(s.graph.requests) == 2


async def test_connection_errors_end_as_graph_connection_error() -> None:
    s = make(*(httpx.ConnectError("refused") for _ in range(6)))
    with pytest.raises(GraphConnectionError):
        await s.client.get_presence(ALEX)


async def test_504_is_a_timeout_retried_for_reads_only() -> None:
    read = make(failure(504, "GatewayTimeout"), ok(presence()))
    await read.client.get_presence(ALEX)
    assert len(read.graph.requests) == 2
    write = make(failure(504, "GatewayTimeout"), use_batch=False)
    with pytest.raises(GraphTimeout):
        await write.client.apply(ALEX, [busy()])
    assert len(write.graph.requests) == 1


# -- 401: one token refresh ------------------------------------------------------------------------------
async def test_401_drops_the_refused_token_once_and_tries_again() -> None:
    s = make(failure(401, "InvalidAuthenticationToken"), ok(presence()))
    await s.client.get_presence(ALEX, tenant_id=TENANT)
    assert s.tokens.dropped == [(TENANT, "token-1")], "only the token Graph refused is dropped"
    assert [r.headers["Authorization"] for r in s.graph.requests] == ["Bearer token-1", "Bearer token-2"]
    assert sum(s.time.sleeps) == 0, "a refreshed token is tried at once"


async def test_a_second_401_is_final() -> None:
    s = make(failure(401, "InvalidAuthenticationToken"), failure(401, "InvalidAuthenticationToken"))
    with pytest.raises(GraphUnauthorized) as caught:
        await s.client.get_presence(ALEX, tenant_id=TENANT)
    assert caught.value.code == "InvalidAuthenticationToken"
    assert len(s.graph.requests) == 2
    assert len(s.tokens.dropped) == 1


async def test_one_token_refresh_per_call_even_across_retries() -> None:
    """A 401 again after the refresh (the retry of a 503 in between) is final; its token is dropped."""
    s = make(
        failure(401, "InvalidAuthenticationToken"),
        failure(503, "ServiceUnavailable", retry_after="1"),
        failure(401, "InvalidAuthenticationToken"),
    )
    with pytest.raises(GraphUnauthorized):
        await s.client.get_presence(ALEX, tenant_id=TENANT)
    assert [r.headers["Authorization"] for r in s.graph.requests] == [
        "Bearer token-1",
        "Bearer token-2",
        "Bearer token-2",
    ]
    assert s.tokens.dropped == [(TENANT, "token-1"), (TENANT, "token-2")]


async def test_the_send_after_a_401_gets_what_is_left_of_the_budget() -> None:
    s = make(failure(401, "InvalidAuthenticationToken"), ok(presence()), spend=4.0)
    await s.client.get_presence(ALEX)
    first, second = (r.extensions["timeout"]["read"] for r in s.graph.requests)
    assert (first, second) == (8.0, pytest.approx(11.0 - 4.0))


async def test_a_401_with_too_little_time_left_is_final() -> None:
    s = make(failure(401, "InvalidAuthenticationToken"), retry=RetryPolicy(budget=8.3), spend=8.0)
    with pytest.raises(GraphUnauthorized):
        await s.client.get_presence(ALEX, tenant_id=TENANT)
    assert len(s.graph.requests) == 1
    assert s.tokens.dropped == [(TENANT, "token-1")], "the refused token is dropped all the same"


async def test_without_tokens_no_authorization_is_sent_and_a_401_is_final() -> None:
    s = make(failure(401, "InvalidAuthenticationToken"), authenticated=False)
    with pytest.raises(GraphUnauthorized):
        await s.client.get_presence(ALEX)
    assert len(s.graph.requests) == 1
    assert "Authorization" not in s.graph.requests[0].headers
    assert s.tokens.asked == []


async def test_every_call_asks_the_token_for_the_conversations_tenant() -> None:
    s = make(batch(entry("1", 200), entry("2", 200, presence())))
    await s.client.apply(ALEX, [busy()], tenant_id=TENANT)
    assert s.tokens.asked == [TENANT]
    assert s.graph.requests[0].headers["client-request-id"]


# -- GraphAuth on its own -------------------------------------------------------------------------------
@dataclass
class Limits:
    """`SendLimits` with scripted answers."""

    timeouts: list[float]
    resend: bool = True

    def timeout(self) -> float:
        return self.timeouts.pop(0)

    def may_resend(self) -> bool:
        return self.resend


def authed(graph: Graph, tokens: Tokens) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(graph.handle), auth=GraphAuth(tokens))


async def test_graph_auth_adds_the_bearer_token_of_the_requests_tenant() -> None:
    tokens = Tokens()
    graph = Graph([ok(presence())], FakeTime())
    async with authed(graph, tokens) as http:
        response = await http.get(f"{BASE}/users/{ALEX}/presence", extensions={TENANT_EXTENSION: TENANT})
    assert response.status_code == 200
    assert graph.requests[0].headers["Authorization"] == "Bearer token-1"
    assert tokens.asked == [TENANT]
    assert tokens.dropped == []


async def test_graph_auth_without_a_tenant_asks_for_the_default_one() -> None:
    tokens = Tokens()
    graph = Graph([ok()], FakeTime())
    async with authed(graph, tokens) as http:
        await http.get(f"{BASE}/users/{ALEX}/presence")
    assert tokens.asked == [None]


async def test_graph_auth_on_a_401_revokes_the_refused_token_and_sends_once_more() -> None:
    tokens = Tokens()
    graph = Graph([failure(401, "InvalidAuthenticationToken"), ok(presence())], FakeTime())
    async with authed(graph, tokens) as http:
        response = await http.get(f"{BASE}/users/{ALEX}/presence", extensions={TENANT_EXTENSION: TENANT})
    assert response.status_code == 200
    assert [r.headers["Authorization"] for r in graph.requests] == ["Bearer token-1", "Bearer token-2"]
    assert tokens.dropped == [(TENANT, "token-1")], "exactly the refused token, for the request's tenant"
    assert tokens.asked == [TENANT, TENANT]
    assert [r.status_code for r in response.history] == [401]


async def test_graph_auth_hands_a_second_401_back() -> None:
    tokens = Tokens()
    graph = Graph([failure(401, "InvalidAuthenticationToken"), failure(401, "ExpiredToken")], FakeTime())
    async with authed(graph, tokens) as http:
        response = await http.get(f"{BASE}/users/{ALEX}/presence", extensions={TENANT_EXTENSION: TENANT})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "ExpiredToken", "the second answer, not the first"
    assert len(graph.requests) == 2
    assert tokens.dropped == [(TENANT, "token-1")], "the fresh token is not dropped"


async def test_graph_auth_a_burst_of_401s_keeps_the_replacement() -> None:
    """Two requests refused with the same old token: the second revocation names the old token, so the
    new one fetched after the first stays, and both are sent again with it."""
    tokens = Tokens()
    both_sent = asyncio.Event()
    seen: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] != "Bearer token-1":
            return ok(presence())
        if seen.count("Bearer token-1") == 2:
            both_sent.set()
        await both_sent.wait()
        return failure(401, "InvalidAuthenticationToken")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle), auth=GraphAuth(tokens)) as http:
        answers = await asyncio.gather(
            *(
                http.get(f"{BASE}/users/{ALEX}/presence", extensions={TENANT_EXTENSION: TENANT})
                for _ in range(2)
            )
        )
    assert [a.status_code for a in answers] == [200, 200]
    assert tokens.dropped == [(TENANT, "token-1"), (TENANT, "token-1")]
    assert tokens.generation == 2, "the replacement was not dropped"
    assert sorted(seen) == ["Bearer token-1", "Bearer token-1", "Bearer token-2", "Bearer token-2"]


async def test_graph_auth_times_each_send_and_asks_before_sending_again() -> None:
    tokens = Tokens()
    graph = Graph([failure(401, "InvalidAuthenticationToken"), ok(presence())], FakeTime())
    limits = Limits(timeouts=[3.0, 1.5])
    async with authed(graph, tokens) as http:
        await http.get(f"{BASE}/users/{ALEX}/presence", extensions={LIMITS_EXTENSION: limits})
    assert [r.extensions["timeout"]["read"] for r in graph.requests] == [3.0, 1.5]

    refused = Graph([failure(401, "InvalidAuthenticationToken")], FakeTime())
    async with authed(refused, tokens) as http:
        response = await http.get(
            f"{BASE}/users/{ALEX}/presence", extensions={LIMITS_EXTENSION: Limits([3.0], resend=False)}
        )
    assert response.status_code == 401
    assert len(refused.requests) == 1
    assert tokens.dropped[-1] == (None, "token-2"), "dropped even when not sent again"


def test_graph_auth_is_async_only() -> None:
    graph = Graph([], FakeTime())
    with (
        httpx.Client(transport=httpx.MockTransport(graph.handle), auth=GraphAuth(Tokens())) as http,
        pytest.raises(RuntimeError, match="AsyncClient"),
    ):
        http.get(f"{BASE}/users/{ALEX}/presence")
    assert graph.requests == []


# -- never retried, and typed errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "InvalidArgument", GraphBadRequest),
        (403, "Forbidden", GraphPermissionDenied),
        (404, "NotFound", GraphNotFound),
    ],
)
async def test_400_403_404_are_never_retried(status: int, code: str, kind: type[GraphError]) -> None:
    s = make(failure(status, code, request_id="7c7b2a7e-request"), use_batch=False)
    with pytest.raises(kind) as caught:
        await s.client.apply(ALEX, [busy()])
    assert len(s.graph.requests) == 1
    assert s.time.sleeps == []
    error = caught.value
    assert (error.status, error.code, error.request_id) == (status, code, "7c7b2a7e-request")
    assert error.message == "nope"
    assert "7c7b2a7e-request" in repr(error)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, GraphBadRequest),
        (401, GraphUnauthorized),
        (403, GraphPermissionDenied),
        (404, GraphNotFound),
        (409, GraphError),
        (429, GraphThrottled),
        (500, GraphUnavailable),
        (502, GraphUnavailable),
        (503, GraphUnavailable),
        (504, GraphTimeout),
    ],
)
def test_each_status_has_its_typed_error_with_graphs_body_parsed(status: int, kind: type[GraphError]) -> None:
    body = json.dumps(error_body("SomeCode", request_id="from-body")).encode()
    error = error_from_response(status, body, {"Retry-After": "3"})
    assert type(error) is kind
    assert (error.status, error.code, error.request_id, error.client_request_id) == (
        status,
        "SomeCode",
        "from-body",  # no request-id header (a $batch entry): read from innerError
        "c",
    )
    assert error.retry_after == 3.0


def test_an_error_that_is_not_json_keeps_its_status() -> None:
    error = error_from_response(502, b"<html>Bad gateway</html>", {"Retry-After": "soon"})
    assert isinstance(error, GraphUnavailable)
    assert (error.status, error.code, error.retry_after) == (502, "UnknownError", None)


# -- the time budget -----------------------------------------------------------------------------------
async def test_a_retry_after_longer_than_the_budget_fails_fast_with_graph_throttled() -> None:
    s = make(failure(429, "TooManyRequests", retry_after="30"))
    with pytest.raises(GraphThrottled) as caught:
        await s.client.get_presence(ALEX)
    assert caught.value.retry_after == 30.0
    assert s.time.sleeps == [], "not slept on"
    assert len(s.graph.requests) == 1


async def test_a_retry_after_longer_than_what_is_left_fails_fast() -> None:
    s = make(
        failure(429, "TooManyRequests", retry_after="6"), failure(429, "TooManyRequests", retry_after="6")
    )
    with pytest.raises(GraphThrottled):
        await s.client.get_presence(ALEX)
    assert s.time.sleeps == [6.0], "the first wait fits the 11 s budget; the second would not"
    assert len(s.graph.requests) == 2


async def test_a_caller_can_shrink_the_budget() -> None:
    s = make(failure(429, "TooManyRequests", retry_after="2"))
    with s.client.budget(2.0), pytest.raises(GraphThrottled):
        await s.client.get_presence(ALEX)
    assert s.time.sleeps == []


async def test_backoff_never_runs_past_the_budget() -> None:
    policy = RetryPolicy(attempts=50, backoff_base=1.0, backoff_max=4.0, budget=11.0)
    s = make(*(failure(500, "InternalServerError") for _ in range(50)), retry=policy, spend=1.0)
    start = s.time.now
    with pytest.raises(GraphUnavailable):
        await s.client.get_presence(ALEX)
    assert s.time.now - start <= policy.budget
    assert len(s.graph.requests) < 50


async def test_each_exchange_gets_at_most_what_is_left_of_the_budget() -> None:
    s = make(failure(503, "ServiceUnavailable", retry_after="1"), ok(presence()), spend=4.0)
    await s.client.get_presence(ALEX)
    first, second = (r.extensions["timeout"]["read"] for r in s.graph.requests)
    assert first == 8.0, "one exchange: request_timeout"
    assert second == pytest.approx(11.0 - 4.0 - 1.0), "the rest of the budget, less than request_timeout"


async def test_one_budget_covers_a_whole_apply() -> None:
    """The batch, the entry sent again and the read after it share one budget."""
    s = make(
        batch(
            entry_error("1", 429, "TooManyRequests", retry_after="5"),
            entry_error("2", 424, "FailedDependency"),
        ),
        failure(429, "TooManyRequests", retry_after="5"),
        spend=1.0,
    )
    with pytest.raises(GraphThrottled):
        await s.client.apply(ALEX, [busy()])
    assert s.time.sleeps == [5.0], "1 s + 5 s + 1 s spent: another 5 s would end past the 11 s budget"
    assert s.graph.sent() == ["POST /v1.0/$batch", f"POST {PRESENCE}/setPresence"]
    assert s.audit.outcomes() == [("set_presence", 429, "TooManyRequests")]


# -- $batch ------------------------------------------------------------------------------------------------
async def test_writes_and_the_read_go_in_one_batch_chained_by_depends_on() -> None:
    s = make(batch(entry("2", 200, presence("DoNotDisturb", "DoNotDisturb")), entry("1", 200)))
    outcome = await s.client.apply(ALEX, [set_preferred_write("DoNotDisturb", "DoNotDisturb", None)])
    assert s.graph.sent() == ["POST /v1.0/$batch"]
    assert outcome.round_trips == 1
    assert outcome.presence is not None and outcome.presence.availability == "DoNotDisturb"
    assert s.graph.body(0) == {
        "requests": [
            {
                "id": "1",
                "method": "POST",
                "url": f"/users/{ALEX}/presence/setUserPreferredPresence",
                "headers": {"Content-Type": "application/json"},
                "body": {"availability": "DoNotDisturb", "activity": "DoNotDisturb"},
            },
            {"id": "2", "method": "GET", "url": f"/users/{ALEX}/presence", "dependsOn": ["1"]},
        ]
    }


async def test_a_tolerated_write_is_not_depended_on_and_a_body_less_write_has_no_body() -> None:
    s = make(
        batch(
            entry_error("1", 404, "NotFound"),
            entry("2", 200),
            entry_error("3", 424, "FailedDependency"),
        ),
        ok(presence("Available", "Available")),
    )
    outcome = await s.client.apply(ALEX, [clear_presence_write(APP), clear_preferred_write()])
    requests = s.graph.body(0)["requests"]
    assert "dependsOn" not in requests[1], "clearPresence's 404 is tolerated: nothing waits on it"
    assert "body" not in requests[1] and "headers" not in requests[1], (
        "clearUserPreferredPresence has no body"
    )
    assert requests[2]["dependsOn"] == ["1", "2"]
    assert isinstance(outcome.errors[0], GraphNotFound)
    assert s.graph.sent() == ["POST /v1.0/$batch", f"GET {PRESENCE}"], "the read Graph answered 424 is redone"
    assert outcome.round_trips == 2
    assert s.audit.outcomes() == [
        ("clear_presence", 404, "NotFound"),
        ("clear_preferred_presence", 200, "ok"),
    ]


@pytest.mark.parametrize("status", [400, 404, 405, 501])
async def test_a_refused_batch_falls_back_to_single_calls_for_good(status: int) -> None:
    s = make(
        failure(status, "BadRequest" if status == 400 else "NotSupported"),
        ok(),
        ok(presence()),
        ok(),
        ok(presence()),
    )
    await s.client.apply(ALEX, [busy()])
    await s.client.apply(ALEX, [busy()])
    assert s.graph.sent() == [
        "POST /v1.0/$batch",
        f"POST {PRESENCE}/setPresence",
        f"GET {PRESENCE}",
        f"POST {PRESENCE}/setPresence",
        f"GET {PRESENCE}",
    ], "batch is not tried again"
    assert s.audit.outcomes() == [("set_presence", 200, "ok")] * 2, "the refused batch is not audited"


async def test_entries_that_did_not_run_are_sent_alone_in_order_after_a_424() -> None:
    s = make(
        batch(
            entry_error("3", 424, "FailedDependency"),
            entry_error("1", 503, "ServiceUnavailable"),
            entry_error("2", 424, "FailedDependency"),
        ),
        ok(),
        ok(),
        ok(presence("Available", "Available")),
    )
    outcome = await s.client.apply(ALEX, [clear_presence_write(APP, tolerate_missing=False), busy()])
    assert s.graph.sent() == [
        "POST /v1.0/$batch",
        f"POST {PRESENCE}/clearPresence",
        f"POST {PRESENCE}/setPresence",
        f"GET {PRESENCE}",
    ]
    assert outcome.round_trips == 4
    assert s.audit.outcomes() == [("clear_presence", 200, "ok"), ("set_presence", 200, "ok")]


async def test_a_throttled_entry_waits_its_retry_after_and_is_sent_alone() -> None:
    s = make(
        batch(
            entry_error("1", 429, "TooManyRequests", retry_after="2"),
            entry_error("2", 424, "FailedDependency"),
        ),
        ok(),
        ok(presence()),
    )
    outcome = await s.client.apply(ALEX, [busy()])
    assert s.time.sleeps == [2.0]
    assert s.graph.sent() == ["POST /v1.0/$batch", f"POST {PRESENCE}/setPresence", f"GET {PRESENCE}"]
    assert s.graph.body(1) == {
        "sessionId": APP,
        "availability": "Busy",
        "activity": "InACall",
        "expirationDuration": "PT30M",
    }
    assert outcome.presence is not None and outcome.presence.activity == "InACall"
    assert s.audit.outcomes() == [("set_presence", 200, "ok")], "audited once, after it ran"


async def test_a_throttled_read_waits_before_it_is_read_again() -> None:
    s = make(
        batch(entry("1", 200), entry_error("2", 429, "TooManyRequests", retry_after="1.5")), ok(presence())
    )
    await s.client.apply(ALEX, [busy()])
    assert s.time.sleeps == [1.5]
    assert s.graph.sent() == ["POST /v1.0/$batch", f"GET {PRESENCE}"], "the write ran: not sent again"


async def test_a_refused_entry_raises_its_typed_error_and_nothing_is_sent_again() -> None:
    s = make(batch(entry_error("1", 400, "InvalidArgument"), entry_error("2", 424, "FailedDependency")))
    with pytest.raises(GraphBadRequest) as caught:
        await s.client.apply(ALEX, [busy()])
    assert (caught.value.code, caught.value.request_id) == ("InvalidArgument", "entry-1")
    assert len(s.graph.requests) == 1
    assert s.audit.outcomes() == [("set_presence", 400, "InvalidArgument")]


async def test_a_write_left_out_of_the_batch_answer_is_not_sent_again() -> None:
    s = make(batch(entry("2", 200, presence())))
    with pytest.raises(GraphTimeout) as caught:
        await s.client.apply(ALEX, [busy()])
    assert caught.value.code == "MissingBatchResponse"
    assert len(s.graph.requests) == 1


async def test_a_failed_batch_audits_every_write_once() -> None:
    s = make(failure(403, "Forbidden"))
    with pytest.raises(GraphPermissionDenied):
        await s.client.apply(ALEX, [clear_presence_write(APP), clear_preferred_write()])
    assert s.audit.outcomes() == [
        ("clear_presence", 403, "Forbidden"),
        ("clear_preferred_presence", 403, "Forbidden"),
    ]


async def test_audit_records_each_sent_write_once_with_its_request() -> None:
    s = make(ok(), failure(400, "InvalidArgument"), use_batch=False)
    with pytest.raises(GraphBadRequest):
        await s.client.apply(
            ALEX,
            [status_message_write("Lunch", None), busy(), clear_preferred_write()],
            tenant_id=TENANT,
        )
    assert s.audit.outcomes() == [("set_status_message", 200, "ok"), ("set_presence", 400, "InvalidArgument")]
    first = s.audit.entries[0]
    assert (first["user_id"], first["tenant_id"]) == (ALEX, TENANT)
    assert first["request"] == {"statusMessage": {"message": {"content": "Lunch", "contentType": "text"}}}


async def test_a_failing_audit_never_fails_a_done_write() -> None:
    s = make(batch(entry("1", 200), entry("2", 200, presence())))
    s.audit.fail = True
    outcome = await s.client.apply(ALEX, [busy()])
    assert outcome.presence is not None
    assert len(s.audit.entries) == 1


async def test_a_clear_preferred_sent_alone_has_no_body() -> None:
    s = make(ok(), ok(presence()), use_batch=False)
    await s.client.apply(ALEX, [clear_preferred_write()])
    assert s.graph.requests[0].content == b""
    assert s.graph.requests[0].headers["Content-Length"] == "0"


# -- getPresencesByUserId ------------------------------------------------------------------------------------
BULK = "POST /v1.0/communications/getPresencesByUserId"


def colleague(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


def bulk_answer(request: httpx.Request, *, reverse: bool = False) -> httpx.Response:
    """What Graph answers getPresencesByUserId: a presence for every id asked (in any order)."""
    ids = json.loads(request.content)["ids"]
    values = [{**presence("Available", "Available"), "id": user_id} for user_id in ids]
    return ok({"value": values[::-1] if reverse else values})


async def test_presences_are_read_in_calls_of_650_ids_in_the_order_asked() -> None:
    """docs/graph-facts.md §2: at most 650 ids a call: 1,301 colleagues are three calls, one budget, no
    waiting."""
    ids = [colleague(i) for i in range(1301)]
    s = make(bulk_answer, bulk_answer, bulk_answer)
    found = await s.client.get_presences(ids, tenant_id=TENANT)
    assert s.graph.sent() == [BULK] * 3
    assert [len(s.graph.body(i)["ids"]) for i in range(3)] == [650, 650, 1]
    assert [p.id for p in found] == ids
    assert [r.extensions[TENANT_EXTENSION] for r in s.graph.requests] == [TENANT] * 3


async def test_each_colleague_is_asked_for_once() -> None:
    """The same person mentioned twice (or their id in another case) is one id in the call."""
    alex_upper = ALEX.upper()
    megan = colleague(7)
    s = make(bulk_answer)
    found = await s.client.get_presences([ALEX, megan, alex_upper, megan])
    assert s.graph.body(0) == {"ids": [ALEX, megan]}
    assert [p.id for p in found] == [ALEX, megan]


async def test_no_colleagues_is_no_call() -> None:
    s = make()
    assert await s.client.get_presences([]) == []
    assert s.graph.requests == []


async def test_presences_come_back_in_the_order_asked_whatever_order_graph_answers_in() -> None:
    ids = [colleague(i) for i in range(5)]
    s = make(lambda request: bulk_answer(request, reverse=True))
    assert [p.id for p in await s.client.get_presences(ids)] == ids


async def test_a_colleague_graph_leaves_out_is_missing_from_the_result() -> None:
    s = make(ok({"value": [{**presence(), "id": colleague(2)}]}))
    found = await s.client.get_presences([colleague(1), colleague(2)])
    assert [(p.id, p.availability) for p in found] == [(colleague(2), "Busy")]


async def test_a_throttled_bulk_read_waits_retry_after_then_reads() -> None:
    """docs/graph-facts.md §4: getPresencesByUserId has its own window; a 429 says how long to wait."""
    s = make(failure(429, "TooManyRequests", retry_after="3"), bulk_answer)
    found = await s.client.get_presences([ALEX])
    assert [p.availability for p in found] == ["Available"]
    assert s.time.sleeps == [3.0]
    assert s.graph.sent() == [BULK, BULK]


async def test_a_bulk_read_throttled_past_the_budget_raises_with_retry_after() -> None:
    """A watcher waits what Graph asked: the error carries it, and nothing was slept on."""
    s = make(failure(429, "TooManyRequests", retry_after="20"))
    with pytest.raises(GraphThrottled) as caught:
        await s.client.get_presences([ALEX, colleague(1)])
    assert caught.value.retry_after == 20.0
    assert s.time.sleeps == []
    assert len(s.graph.requests) == 1


async def test_the_calls_of_one_bulk_read_share_one_budget() -> None:
    """Past the first 650, a second call throttled for longer than what is left fails at once."""
    ids = [colleague(i) for i in range(651)]
    s = make(bulk_answer, failure(429, "TooManyRequests", retry_after="6"), spend=5.0)
    with pytest.raises(GraphThrottled):
        await s.client.get_presences(ids)
    assert s.time.sleeps == [], "5 s + 5 s spent: a 6 s wait would end past the 11 s budget"


async def test_a_bulk_read_whose_answer_timed_out_is_asked_again() -> None:
    """getPresencesByUserId is a POST that changes nothing: a lost answer is asked for again."""
    s = make(httpx.ReadTimeout("slow"), bulk_answer)
    assert [p.id for p in await s.client.get_presences([ALEX])] == [ALEX]
    assert s.graph.sent() == [BULK, BULK]


@pytest.mark.parametrize(
    "body", [{"value": "Available"}, {"values": []}, [], {"value": [{"availability": 5}]}]
)
async def test_a_bulk_answer_without_presences_is_an_invalid_response(body: Any) -> None:
    s = make(ok(body))
    with pytest.raises(GraphError) as caught:
        await s.client.get_presences([ALEX])
    assert (caught.value.code, caught.value.status) == ("InvalidResponse", 200)
