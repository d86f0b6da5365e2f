"""The Graph contract, end to end: every chat command runs through the real app against the embedded
simulated tenant, and every Graph request the bot's client sends (method, path, body, each `$batch`
entry) and every answer the simulator returns is checked against
tests/contract/presence-openapi-subset.json (a copy of ../shared/graph/'s).

Requests are recorded with an httpx response hook on the bot's own Graph HTTP client: production code is
unchanged, and what is checked is exactly what went over the wire. The fragment has no `$batch`, so its
envelope is checked against docs/graph-facts.md §4 and each entry against the operation it names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bot.app import RUNTIME
from bot.server import RunningBot
from bot.turns.commands import COMMANDS
from tests.support.colleagues import ADELE, GROUP, MEGAN, ROSTER, ask, sign_in
from tests.support.connector import Connector
from tests.support.e2e import card_of, say, texts

OPENAPI = Path(__file__).resolve().parents[1] / "contract" / "presence-openapi-subset.json"

pytestmark = pytest.mark.skipif(
    not OPENAPI.exists(), reason=f"{OPENAPI} is absent from this checkout: no contract to check against"
)

# Every chat command that reaches Graph, as a user types it. The test fails if the catalog gains a command
# that is neither driven here nor listed as one that never calls Graph.
SCRIPT: tuple[str, ...] = (
    "/help",
    "/presence",
    "/whoami",
    "/show",
    "/available 30m",
    "/busy 30m",
    "/call 1h",
    "/conference 1h30m",
    "/away 20m",
    "/presenting 45m",
    "/dnd 1h",
    "/brb",
    "/offline 2h",
    "/clear",
    "/clear",  # no session left: clearPresence's 404, and its dependents' 424 in a batch
    "/reset",
    "/status Out for lunch for 1h",
    '/status "back in 5 minutes"',
    "/status clear",
    "/busy until 23:59",
    "/set",  # opens the picker card: no Graph call
    "/busy picked 1h",
    "/busy 2h Focus time",  # a state and a status message in one $batch
    "/extend 30m",  # the held state again, later
    "/lunch 45m",  # Appear away and "Out for lunch" in one $batch
)
NO_GRAPH = frozenset({"timezone", "notify"})  # the bot's own settings for the user: no Graph call
# Colleague commands, in a group chat whose roster the test connector answers; `{}` is a mention.
COLLEAGUE_SCRIPT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/who {} {}", (MEGAN, ADELE)),
    ("/who", ()),  # the chat's members, from the roster
    ("/watch {}", (MEGAN,)),
    ("/watches", ()),
    ("/unwatch all", ()),
)


# -- the OpenAPI fragment as JSON Schema ------------------------------------------------------------------
def _json_schema(node: Any, *, strict: bool) -> Any:
    """OpenAPI 3.0 → JSON Schema 2020-12. `nullable` admits null; the `@odata.type` the generator marks
    required is dropped (real bodies omit it); `anyOf [$ref X, {object, nullable}]` reads as "X or null".
    `strict` (for requests) also refuses properties the schema does not define."""
    if isinstance(node, list):
        return [_json_schema(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value, strict=strict) for key, value in node.items() if key != "nullable"}
    if isinstance(out.get("required"), list):
        out["required"] = [name for name in out["required"] if name != "@odata.type"]
        if not out["required"]:
            del out["required"]
    branches = node.get("anyOf")
    if (
        isinstance(branches, list)
        and len(branches) == 2
        and isinstance(branches[0], dict)
        and "$ref" in branches[0]
        and branches[1] == {"type": "object", "nullable": True}
    ):
        out["anyOf"] = [{"$ref": branches[0]["$ref"]}, {"type": "null"}]
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if strict and out.get("type") in ("object", ["object", "null"]) and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # the fragment's path, e.g. /users/{user-id}/presence/setPresence
    request: Draft202012Validator | None  # None: the operation takes no body
    body_required: bool
    success: Draft202012Validator | None  # None: success has no content (204 in the fragment)
    error: Draft202012Validator

    def matches(self, method: str, path: str) -> bool:
        if method != self.method:
            return False
        parts, segments = self.template.split("/"), path.split("/")
        return len(parts) == len(segments) and all(
            (p.startswith("{") and bool(s)) or p == s for p, s in zip(parts, segments, strict=True)
        )


def _escape(pointer_part: str) -> str:
    return pointer_part.replace("~", "~0").replace("/", "~1")


def load_operations() -> list[Operation]:
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))

    def validator_factory(strict: bool) -> Any:
        contents = _json_schema(document, strict=strict)
        registry: Registry[Any] = Registry().with_resource(
            "urn:graph", Resource.from_contents(contents, default_specification=DRAFT202012)
        )

        def validator(pointer: str) -> Draft202012Validator:
            return Draft202012Validator({"$ref": f"urn:graph#{pointer}"}, registry=registry)

        return validator

    lenient, strict = validator_factory(False), validator_factory(True)
    operations: list[Operation] = []
    for template, item in document["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            spec = item.get(method)
            if spec is None:
                continue
            base = f"/paths/{_escape(template)}/{method}"
            request = None
            body_required = False
            if "requestBody" in spec:
                request = strict(f"{base}/requestBody/content/application~1json/schema")
                body_required = bool(spec["requestBody"].get("required"))
            success = None
            responses = spec["responses"]
            for code in ("2XX", "200"):
                if "content" in responses.get(code, {}):
                    success = lenient(f"{base}/responses/{code}/content/application~1json/schema")
            operations.append(
                Operation(
                    method=method.upper(),
                    template=template,
                    request=request,
                    body_required=body_required,
                    success=success,
                    error=lenient("/components/schemas/microsoft.graph.ODataErrors.ODataError"),
                )
            )
    return operations


# docs/graph-facts.md §4: the $batch envelope the fragment does not describe.
BATCH_REQUEST = Draft202012Validator(
    {
        "type": "object",
        "required": ["requests"],
        "additionalProperties": False,
        "properties": {
            "requests": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "required": ["id", "method", "url"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                        "url": {"type": "string", "pattern": "^/"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                        "body": {},
                        "dependsOn": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    },
                },
            }
        },
    }
)
BATCH_RESPONSE = Draft202012Validator(
    {
        "type": "object",
        "required": ["responses"],
        "properties": {
            "responses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "status"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "integer"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                        "body": {},
                    },
                },
            }
        },
    }
)
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# -- recording what went over the wire --------------------------------------------------------------------
@dataclass(frozen=True)
class Exchange:
    """One Graph call: a top-level request, or an entry of a `$batch`."""

    method: str
    path: str  # from the version root, percent-decoding left to the matcher
    has_body: bool
    body: Any
    status: int
    answer: Any  # the parsed response body; None when empty
    batched: bool


@dataclass
class Recorder:
    graph_root: str = ""
    responses: list[httpx.Response] = field(default_factory=list)

    async def on_response(self, response: httpx.Response) -> None:
        if response.request.url.path.startswith(self.graph_root):
            await response.aread()
            self.responses.append(response)

    def exchanges(self) -> Iterator[Exchange]:
        for response in self.responses:
            request = response.request
            path = request.url.raw_path.decode().split("?", 1)[0].removeprefix(self.graph_root)
            body: Any = json.loads(request.content) if request.content else None
            answer: Any = json.loads(response.content) if response.content else None
            if path == "/$batch":
                if response.status_code != 200:
                    continue  # a refused batch: its error is checked with the envelope
                answers = {a["id"]: a for a in answer["responses"]}
                for entry in body["requests"]:
                    reply = answers[entry["id"]]
                    yield Exchange(
                        entry["method"],
                        entry["url"],
                        "body" in entry,
                        entry.get("body"),
                        reply["status"],
                        reply.get("body"),
                        batched=True,
                    )
            else:
                yield Exchange(
                    request.method, path, bool(request.content), body, response.status_code, answer, False
                )


def check_batch_envelope(
    request: httpx.Request, response: httpx.Response, error: Draft202012Validator
) -> None:
    body = json.loads(request.content)
    BATCH_REQUEST.validate(body)
    ids = [entry["id"] for entry in body["requests"]]
    assert len(set(ids)) == len(ids), "ids are unique"
    for entry in body["requests"]:
        assert set(entry.get("dependsOn", [])) <= set(ids) - {entry["id"]}
        if "body" in entry:  # docs/graph-facts.md §4: a body needs its Content-Type
            assert entry["headers"]["Content-Type"] == "application/json"
    answer = json.loads(response.content)
    if response.status_code == 200:
        BATCH_RESPONSE.validate(answer)
        assert sorted(a["id"] for a in answer["responses"]) == sorted(ids), "one answer per request"
    else:
        error.validate(answer)


def check(exchange: Exchange, operations: list[Operation]) -> Operation:
    """The call is an operation of the fragment, sent and answered as the fragment says."""
    operation = next((op for op in operations if op.matches(exchange.method, exchange.path)), None)
    assert operation is not None, f"{exchange.method} {exchange.path} is not in the OpenAPI fragment"
    where = f"{exchange.method} {operation.template}{' (in $batch)' if exchange.batched else ''}"
    if operation.request is None:
        assert not exchange.has_body, f"{where} takes no body, got {exchange.body!r}"
    else:
        assert exchange.has_body or not operation.body_required, f"{where} needs a body"
        operation.request.validate(exchange.body)
    if 200 <= exchange.status < 300:
        if operation.success is None:
            assert exchange.answer is None, f"{where} answers no content (any 2xx), got {exchange.answer!r}"
        else:
            operation.success.validate(exchange.answer)
    else:
        assert 400 <= exchange.status < 600, where
        operation.error.validate(exchange.answer)
    return operation


def test_the_contract_refuses_what_graph_would() -> None:
    """The checks bite: a property Graph does not define, a malformed duration, a wrong answer shape."""
    operations = load_operations()
    set_presence = next(op for op in operations if op.template.endswith("/setPresence"))
    get = next(op for op in operations if op.method == "GET")
    assert set_presence.request is not None and get.success is not None
    good = {"sessionId": "app", "availability": "Busy", "activity": "InACall", "expirationDuration": "PT30M"}
    set_presence.request.validate(good)
    for bad in ({**good, "status": "busy"}, {**good, "expirationDuration": "30 minutes"}):
        with pytest.raises(ValidationError):
            set_presence.request.validate(bad)
    with pytest.raises(ValidationError):
        get.success.validate({"id": "x", "statusMessage": {"publishedDateTime": 5}})
    with pytest.raises(ValidationError):
        get.error.validate({"error": {"message": "no code"}})
    with pytest.raises(ValidationError):
        BATCH_REQUEST.validate({"requests": [{"id": "1", "method": "GET", "url": "https://graph/users"}]})


# -- the test -----------------------------------------------------------------------------------------
async def run_script(http: httpx.AsyncClient, bot: RunningBot, connector: Connector) -> None:
    for text in SCRIPT:
        reply = await say(http, bot, connector, text)
        shown = texts(card_of(reply))
        assert "Something went wrong" not in shown and "refused the change" not in shown, (text, shown)
    connector.rosters[GROUP] = list(ROSTER)
    await sign_in(http, bot, MEGAN, "Busy", "InACall")  # not free: /watch keeps a watch
    for text, people in COLLEAGUE_SCRIPT:
        shown = " ".join(await ask(http, bot, connector, text, *people))
        assert "Something went wrong" not in shown and "couldn't" not in shown, (text, shown)


async def test_every_command_speaks_graphs_contract(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    driven = {text.split()[0].lstrip("/") for text in SCRIPT + tuple(t for t, _ in COLLEAGUE_SCRIPT)}
    missing = {command.name for command in COMMANDS.docs()} - driven - NO_GRAPH
    assert not missing, f"add these commands to SCRIPT so their Graph calls are checked: {sorted(missing)}"

    runtime = bot.app[RUNTIME]
    recorder = Recorder(graph_root=httpx.URL(runtime.services.graph.base_url).path)
    runtime.services.http.event_hooks["response"].append(recorder.on_response)
    operations = load_operations()

    # 1. Batched: writes and their read in one $batch.
    await run_script(http, bot, connector)
    # 2. Throttled entries and answers: a 429 inside a batch, then on its own.
    await http.post(
        f"{bot.url}/sim/_sim/faults",
        json={"match": "setPresence", "status": 429, "count": 2, "retry_after": 0},
    )
    await say(http, bot, connector, "/busy 30m")
    # 3. One by one: the simulator refuses the next $batch, and the client stops batching.
    await http.post(f"{bot.url}/sim/_sim/faults", json={"match": "$batch", "status": 400})
    await run_script(http, bot, connector)
    batches = [r.status_code for r in recorder.responses if r.request.url.path.endswith("/$batch")]
    assert 400 in batches and batches[batches.index(400) + 1 :] == [], "no $batch after the refused one"

    seen: dict[bool, set[str]] = {True: set(), False: set()}
    statuses: set[int] = set()
    for response in recorder.responses:
        request = response.request
        assert request.headers["Authorization"].startswith("Bearer ")
        assert GUID.match(request.headers["client-request-id"])
        if request.url.path.endswith("/$batch"):
            check_batch_envelope(request, response, operations[0].error)
            statuses.add(response.status_code)
    for exchange in recorder.exchanges():
        operation = check(exchange, operations)
        seen[exchange.batched].add(f"{operation.method} {operation.template}")
        statuses.add(exchange.status)

    used = {
        "GET /users/{user-id}/presence",
        "POST /users/{user-id}/presence/setPresence",
        "POST /users/{user-id}/presence/clearPresence",
        "POST /users/{user-id}/presence/setUserPreferredPresence",
        "POST /users/{user-id}/presence/clearUserPreferredPresence",
        "POST /users/{user-id}/presence/setStatusMessage",
    }
    assert seen[True] == used, "every operation the bot uses was checked inside a $batch"
    # Colleagues' presence is read in bulk, never inside a $batch (one call reads 650 people).
    assert seen[False] == used | {"POST /communications/getPresencesByUserId"}, "and on its own"
    assert {200, 400, 404, 424, 429} <= statuses, "successes and Graph's error answers were both checked"


async def test_after_a_warm_up_each_command_costs_one_round_trip_and_no_token(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    """A write and the read that shows its result travel in one `$batch`; the token is cached."""
    runtime = bot.app[RUNTIME]
    tokens = runtime.services.tokens
    recorder = Recorder(graph_root=httpx.URL(runtime.services.graph.base_url).path)
    runtime.services.http.event_hooks["response"].append(recorder.on_response)

    await say(http, bot, connector, "/presence")  # warm-up: OpenID discovery and the first token
    assert tokens.requests_made == 1
    for text in ("/busy 30m", "/dnd 1h", "/status x"):
        sent_before, token_requests, msal_requests = (
            len(recorder.responses),
            tokens.requests_made,
            (tokens.http_requests),
        )
        await http.delete(f"{bot.url}/sim/_sim/stats")
        reply = await say(http, bot, connector, text)
        assert "Something went wrong" not in texts(card_of(reply))
        sent = [f"{r.request.method} {r.request.url.path}" for r in recorder.responses[sent_before:]]
        assert sent == [f"POST {recorder.graph_root}/$batch"], f"{text}: {sent}"
        stats = (await http.get(f"{bot.url}/sim/_sim/stats")).json()
        assert stats["requests"] == {"POST /v1.0/$batch": 1}, f"{text}: the simulator saw {stats}"
        writes = sum(n for route, n in stats["batched"].items() if route.startswith("POST"))
        assert writes >= 1 and sum(stats["applied"].values()) == writes, f"{text}: every write in it landed"
        assert (tokens.requests_made, tokens.http_requests) == (token_requests, msal_requests), (
            f"{text}: no token request"
        )


def test_the_vendored_openapi_matches_the_shared_one() -> None:
    """tests/contract/ keeps a copy so the contract is checked in any checkout; it must not drift."""
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "graph" / OPENAPI.name
    if not shared.exists():
        pytest.skip(f"{shared} is not beside this checkout: nothing to compare the copy with")
    assert json.loads(OPENAPI.read_text(encoding="utf-8")) == json.loads(shared.read_text(encoding="utf-8"))
