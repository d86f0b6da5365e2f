"""The simulated Graph through HTTP: `create_sim_app(...)` mounted under `/sim` on a bare aiohttp app, as
the bot mounts it. Every Graph answer is checked against
tests/contract/presence-openapi-subset.json (a copy of ../shared/graph/'s)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator, ValidationError
from pytest_aiohttp import AiohttpClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bot.clock import AdjustableClock, Clock, SystemClock
from bot.graph.models import DateTimeTimeZone
from bot.sim.caller import PRESENCE_READ_ALL, PRESENCE_READWRITE_ALL, Caller
from bot.sim.errors import SimGraphError
from bot.sim.routes import SIM_GRAPH, SIM_TENANT, create_sim_app
from bot.sim.tenant import SimTenant
from bot.sim.traffic import SimLimits
from tests.support.trusting import TrustingAuthenticator

APP = "5ad0b075-0000-4000-8000-00000000b075"
OTHER_APP = "11111111-2222-4333-8444-555555555555"
TENANT = "00000000-0000-0000-0000-0000000000001"
ALEX = "00000000-0000-0000-0000-0000000000020"
PRESENCE = f"/v1.0/users/{ALEX}/presence"

OPENAPI = Path(__file__).resolve().parents[1] / "contract" / "presence-openapi-subset.json"
ODATA_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,12})?(Z|[+-]\d{2}:\d{2})$")


# -- the contract: the OpenAPI fragment read as JSON Schema ---------------------------------------------
def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema 2020-12: `nullable` admits null; the generator's required `@odata.type`
    is dropped (real bodies omit it); `anyOf [$ref X, {object, nullable}]` is read strictly as "X or null",
    so an object there must really match X."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if isinstance(out.get("required"), list):
        out["required"] = [name for name in out["required"] if name != "@odata.type"]
        if not out["required"]:
            del out["required"]
    branches = node.get("anyOf")
    if (
        isinstance(branches, list)
        and len(branches) == 2
        and "$ref" in branches[0]
        and branches[1] == {"type": "object", "nullable": True}
    ):
        out["anyOf"] = [{"$ref": branches[0]["$ref"]}, {"type": "null"}]
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@dataclass(frozen=True)
class Contract:
    presence: Draft202012Validator
    collection: Draft202012Validator
    error: Draft202012Validator

    @classmethod
    def load(cls) -> Contract | None:
        if not OPENAPI.exists():
            return None
        document = _as_json_schema(json.loads(OPENAPI.read_text(encoding="utf-8")))
        registry: Registry[Any] = Registry().with_resource(
            "urn:graph", Resource.from_contents(document, default_specification=DRAFT202012)
        )

        def validator(pointer: str) -> Draft202012Validator:
            return Draft202012Validator({"$ref": f"urn:graph#{pointer}"}, registry=registry)

        schemas = "/components/schemas/"
        bulk = (
            "/paths/~1communications~1getPresencesByUserId/post/responses/2XX/content/"
            + "application~1json/schema"
        )
        return cls(
            presence=validator(schemas + "microsoft.graph.presence"),
            collection=validator(bulk),
            error=validator(schemas + "microsoft.graph.ODataErrors.ODataError"),
        )


CONTRACT = Contract.load()


def check_contract(method: str, path: str, status: int, body: Any) -> None:
    """The Graph answer for `method path` has the shape the OpenAPI fragment (and FACTS §1, §4) give it."""
    if status >= 400:
        assert isinstance(body, dict), f"{method} {path}: an error needs Graph's error body"
        assert set(body["error"]) >= {"code", "message", "innerError"}
        inner = body["error"]["innerError"]
        assert set(inner) == {"request-id", "date", "client-request-id"}
        assert ODATA_DATE.match(inner["date"]), inner["date"]
        if CONTRACT is not None:
            CONTRACT.error.validate(body)
        return
    route = path.split("?", 1)[0]
    if method == "POST" and route.endswith("/$batch"):
        assert isinstance(body, dict) and isinstance(body.get("responses"), list)
        return  # its entries are checked by `batch()`
    if method == "GET":
        assert isinstance(body, dict)
        assert set(body) == {
            "id",
            "availability",
            "activity",
            "statusMessage",
            "outOfOfficeSettings",
            "sequenceNumber",
        }
        if CONTRACT is not None:
            CONTRACT.presence.validate(body)
    elif route.endswith("/getPresencesByUserId"):
        assert isinstance(body, dict) and set(body) == {"value"}
        if CONTRACT is not None:
            CONTRACT.collection.validate(body)
    else:
        assert body is None, f"{method} {path} answers an empty body, not {body!r}"


# -- helpers ------------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


class HeaderAuthenticator:
    """A test authenticator: the app and its roles come from headers; `Bearer expired` is refused."""

    async def authenticate(self, request: web.Request) -> Caller:
        if request.headers.get("Authorization") == "Bearer expired":
            raise SimGraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
                headers={"WWW-Authenticate": 'Bearer realm=""'},
            )
        roles = request.headers.get("X-Test-Roles", PRESENCE_READWRITE_ALL)
        return Caller(
            app_id=request.headers.get("X-Test-App", APP),
            tenant_id=TENANT,
            roles=frozenset(role for role in roles.split(",") if role),
        )


class Sim:
    """A client for the mounted simulator: Graph calls are contract-checked, control calls are not."""

    def __init__(self, client: TestClient[web.Request, web.Application], tenant: SimTenant) -> None:
        self.client = client
        self.tenant = tenant

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        data: bytes | None = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        async with self.client.request(method, "/sim" + path, data=data, headers=sent) as response:
            content = await response.read()
            reply = Reply(response.status, response.headers, json.loads(content) if content else None)
        if path.startswith("/v1.0/"):
            check_contract(method, path, reply.status, reply.body)
        return reply

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.call("POST", path, body, **kwargs)

    async def batch(self, requests: list[dict[str, Any]], **kwargs: Any) -> dict[str, dict[str, Any]]:
        """POST /$batch; returns the entries' responses by id, each contract-checked."""
        reply = await self.post("/v1.0/$batch", {"requests": requests}, **kwargs)
        assert reply.status == 200, reply.body
        sent = {r["id"]: r for r in requests}
        answers = {r["id"]: r for r in reply.body["responses"]}
        assert set(answers) == set(sent)
        for entry_id, answer in answers.items():
            assert set(answer) <= {"id", "status", "headers", "body"}
            check_contract(
                sent[entry_id]["method"], sent[entry_id]["url"], answer["status"], answer.get("body")
            )
        return answers

    async def shown(self, user: str = ALEX) -> tuple[str, str]:
        reply = await self.get(f"/v1.0/users/{user}/presence")
        return reply.body["availability"], reply.body["activity"]

    async def describe(self, user: str = ALEX) -> dict[str, Any]:
        reply = await self.get(f"/_sim/users/{user}")
        assert reply.status == 200
        result: dict[str, Any] = reply.body
        return result

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = (await self.get("/_sim/stats")).body
        return result


def set_presence_body(
    availability: str = "Busy", activity: str = "InACall", duration: str = "PT1H"
) -> dict[str, str]:
    return {
        "sessionId": APP,
        "availability": availability,
        "activity": activity,
        "expirationDuration": duration,
    }


def mount(sim_app: web.Application) -> web.Application:
    root = web.Application()
    root.add_subapp("/sim", sim_app)
    return root


MakeSim = Callable[..., Awaitable[Sim]]


@pytest.fixture
def clock() -> AdjustableClock:
    return AdjustableClock()


@pytest.fixture
def make_sim(aiohttp_client: AiohttpClient, tmp_path: Path, clock: AdjustableClock) -> MakeSim:
    async def make(
        *,
        authenticator: Any = None,
        sim_clock: Clock | None = None,
        state_path: Path | None = None,
        **options: Any,
    ) -> Sim:
        used_clock = sim_clock or clock
        tenant = SimTenant(used_clock, state_path or tmp_path / "sim-state.json")
        app = create_sim_app(
            tenant, authenticator or TrustingAuthenticator(APP, TENANT), used_clock, **options
        )
        client = await aiohttp_client(mount(app))
        return Sim(client, tenant)

    return make


@pytest.fixture
async def sim(make_sim: MakeSim) -> Sim:
    return await make_sim()


# -- the contract ---------------------------------------------------------------------------------------
def test_the_openapi_contract_is_checked() -> None:
    """Every Graph answer in this file is validated against the shared OpenAPI fragment when present."""
    if CONTRACT is None:
        pytest.skip(f"{OPENAPI} is absent from this checkout: OpenAPI contract checks are skipped")
    CONTRACT.presence.validate(
        {"id": "x", "availability": "Available", "activity": "Available", "statusMessage": None,
         "outOfOfficeSettings": {"isOutOfOffice": False, "message": None}, "sequenceNumber": "1"}
    )  # fmt: skip
    with pytest.raises(ValidationError, match="not valid under any of the given schemas"):
        CONTRACT.presence.validate({"id": "x", "statusMessage": {"publishedDateTime": 5}})


def test_app_state_lives_in_app_keys(clock: AdjustableClock) -> None:
    """The lead reaches the tenant and the service through typed `web.AppKey`s."""
    tenant = SimTenant(clock, None)
    app = create_sim_app(tenant, TrustingAuthenticator(APP, TENANT), clock)
    assert app[SIM_TENANT] is tenant
    assert app[SIM_GRAPH].tenant is tenant


# -- reads ----------------------------------------------------------------------------------------------
async def test_get_presence_on_both_routes(sim: Sim) -> None:
    """FACTS §1: GET /users/{id}/presence and /communications/presences/{id} return the same resource."""
    first = await sim.get(PRESENCE, headers={"client-request-id": "abc-123"})
    second = await sim.get(f"/v1.0/communications/presences/{ALEX}")
    assert first.status == second.status == 200
    assert first.body == second.body
    assert first.body["id"] == ALEX
    assert (first.body["availability"], first.body["activity"]) == ("Available", "Available")
    assert first.headers["client-request-id"] == "abc-123"
    assert first.headers["request-id"]
    assert first.headers["Content-Type"].startswith("application/json")


async def test_ids_are_percent_decoded_segments(sim: Sim) -> None:
    """FACTS §1: ids are opaque; a client quoting every character still names the same user."""
    reply = await sim.get("/v1.0/users/29%3Aa%2Fb%20c/presence")
    assert reply.body["id"] == "29:a/b c"


# -- writes ---------------------------------------------------------------------------------------------
async def test_set_presence_answers_200_with_no_body(sim: Sim) -> None:
    """FACTS §2: success is 200 (Learn) or 204 (OpenAPI); the simulator answers 200 with an empty body."""
    reply = await sim.post(f"{PRESENCE}/setPresence", set_presence_body())
    assert (reply.status, reply.body) == (200, None)
    assert await sim.shown() == ("Busy", "InACall")
    session = next(s for s in (await sim.describe())["sessions"] if s["kind"] == "app")
    assert session["sessionId"] == APP


async def test_every_write_route(sim: Sim, clock: AdjustableClock) -> None:
    """FACTS §2: the five presence actions, as the Graph client sends them."""
    dnd = {"availability": "DoNotDisturb", "activity": "DoNotDisturb", "expirationDuration": "PT1H"}
    assert (await sim.post(f"{PRESENCE}/setUserPreferredPresence", dnd)).status == 200
    assert await sim.shown() == ("DoNotDisturb", "DoNotDisturb")
    assert (await sim.post(f"{PRESENCE}/clearUserPreferredPresence")).status == 200  # no body at all
    assert (await sim.post(f"{PRESENCE}/clearUserPreferredPresence", {})).status == 200
    assert (await sim.describe())["preferred"] is None

    expiry = DateTimeTimeZone.from_datetime(clock.now() + timedelta(hours=1)).wire()
    message = {"message": {"content": "Out for lunch", "contentType": "text"}, "expiryDateTime": expiry}
    assert (await sim.post(f"{PRESENCE}/setStatusMessage", {"statusMessage": message})).status == 200
    status = (await sim.get(PRESENCE)).body["statusMessage"]
    assert status["message"] == {"content": "Out for lunch", "contentType": "text"}
    assert status["expiryDateTime"]["timeZone"] == "UTC"
    assert status["expiryDateTime"]["dateTime"].startswith(expiry["dateTime"])
    empty = {"statusMessage": {"message": {"content": "", "contentType": "text"}}}
    assert (await sim.post(f"{PRESENCE}/setStatusMessage", empty)).status == 200
    assert (await sim.get(PRESENCE)).body["statusMessage"] is None

    assert (await sim.post(f"{PRESENCE}/setPresence", set_presence_body())).status == 200
    assert (await sim.post(f"{PRESENCE}/clearPresence", {"sessionId": APP})).status == 200
    assert all(s["kind"] == "client" for s in (await sim.describe())["sessions"])


async def test_clear_presence_without_a_session_is_404(sim: Sim) -> None:
    """FACTS §2: clearPresence answers 404 when the app has no session for the user."""
    reply = await sim.post(f"{PRESENCE}/clearPresence", {"sessionId": APP})
    assert reply.status == 404
    assert reply.body["error"]["code"] == "NotFound"


# -- errors ---------------------------------------------------------------------------------------------
def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _status(content: str, expiry: dict[str, str] | None = None) -> bytes:
    message: dict[str, Any] = {"message": {"content": content}}
    if expiry is not None:
        message["expiryDateTime"] = expiry
    return _json({"statusMessage": message})


BAD_REQUESTS: list[tuple[str, bytes, int, str]] = [
    ("/setPresence", b"{not json", 400, "BadRequest"),
    ("/setPresence", b"\xff\xfe\x00", 400, "BadRequest"),
    ("/setPresence", b"[1, 2]", 400, "BadRequest"),
    ("/setPresence", b"", 400, "BadRequest"),
    ("/setPresence", _json({**set_presence_body(), "sessionId": 5}), 400, "BadRequest"),
    ("/setPresence", _json({"availability": "Busy", "activity": "InACall"}), 400, "BadRequest"),
    ("/setPresence", _json({**set_presence_body(), "sessionId": "other"}), 400, "InvalidArgument"),
    ("/setPresence", _json(set_presence_body("Busy", "Busy")), 400, "InvalidArgument"),
    ("/setPresence", _json(set_presence_body(duration="PT4H1M")), 400, "InvalidArgument"),
    ("/setPresence", _json(set_presence_body(duration="an hour")), 400, "BadRequest"),
    ("/clearPresence", b"{}", 400, "BadRequest"),
    (
        "/setUserPreferredPresence",
        _json({"availability": "Busy", "activity": "InACall"}),
        400,
        "InvalidArgument",
    ),
    ("/setStatusMessage", b"{}", 400, "BadRequest"),
    ("/setStatusMessage", _json({"statusMessage": {"message": "hi"}}), 400, "BadRequest"),
    ("/setStatusMessage", _status("x" * 281), 400, "InvalidArgument"),
    ("/setStatusMessage", _status("a", {"timeZone": "UTC"}), 400, "BadRequest"),
    (
        "/setStatusMessage",
        _status("a", {"dateTime": "2020-01-01T00:00:00", "timeZone": "UTC"}),
        400,
        "InvalidArgument",
    ),
]


@pytest.mark.parametrize(("path", "raw", "status", "code"), BAD_REQUESTS)
async def test_bad_requests_get_graphs_error_shape(
    sim: Sim, path: str, raw: bytes, status: int, code: str
) -> None:
    """FACTS §4: error body {"error": {code, message, innerError}}; malformed input is 400, never 500."""
    reply = await sim.call(
        "POST",
        PRESENCE + path,
        raw=raw,
        headers={"Content-Type": "application/json", "client-request-id": "my-request"},
    )
    assert (reply.status, reply.body["error"]["code"]) == (status, code), reply.body
    inner = reply.body["error"]["innerError"]
    assert inner["client-request-id"] == "my-request"
    assert inner["request-id"] == reply.headers["request-id"]
    assert reply.body["error"]["message"]


async def test_session_id_required_message(sim: Sim) -> None:
    """FACTS §5.3: clearPresence without sessionId fails with "SessionId field is required"."""
    reply = await sim.post(f"{PRESENCE}/clearPresence", {})
    assert reply.body["error"]["message"] == "SessionId field is required."


async def test_unknown_routes_and_methods(sim: Sim) -> None:
    """FACTS §1–§2 list the routes; anything else is a Graph-shaped 400 (unknown segment) or 405."""
    assert (await sim.get("/v1.0/users/x/presense")).status == 400
    assert (await sim.call("DELETE", PRESENCE)).status == 405
    assert (await sim.get(f"{PRESENCE}/setPresence")).status == 405
    me = await sim.get("/v1.0/users/me/presence")
    assert me.status == 400 and "delegated" in me.body["error"]["message"]
    assert (await sim.get("/v1.0/me/presence")).status == 400


async def test_action_names_ignore_case(sim: Sim) -> None:
    """FACTS §1 (parse case-insensitively): Graph's URL segments are not case-sensitive either."""
    assert (await sim.post(f"/v1.0/Users/{ALEX}/Presence/SETPRESENCE", set_presence_body())).status == 200


async def test_unauthenticated_calls_get_401_in_graphs_shape(make_sim: MakeSim) -> None:
    """FACTS §4: 401 comes back in the same error shape (the authenticator raises SimGraphError)."""
    sim = await make_sim(authenticator=HeaderAuthenticator())
    reply = await sim.get(PRESENCE, headers={"Authorization": "Bearer expired"})
    assert (reply.status, reply.body["error"]["code"]) == (401, "InvalidAuthenticationToken")
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm=""'  # an error's own headers are sent


async def test_missing_permissions_are_403(make_sim: MakeSim) -> None:
    """FACTS §2 (Presence.ReadWrite.All to write, Presence.Read.All to read) and §5.2 (403 Forbidden)."""
    sim = await make_sim(authenticator=HeaderAuthenticator())
    read_only = {"X-Test-Roles": PRESENCE_READ_ALL}
    reply = await sim.post(f"{PRESENCE}/setPresence", set_presence_body(), headers=read_only)
    assert (reply.status, reply.body["error"]["code"]) == (403, "Forbidden")
    assert (await sim.get(PRESENCE, headers=read_only)).status == 200
    bulk = await sim.post("/v1.0/communications/getPresencesByUserId", {"ids": [ALEX]}, headers=read_only)
    assert bulk.status == 200
    nothing = {"X-Test-Roles": ""}
    assert (await sim.get(PRESENCE, headers=nothing)).status == 403
    entries = await sim.batch(
        [
            {"id": "1", "method": "GET", "url": f"/users/{ALEX}/presence"},
            {"id": "2", "method": "POST", "url": f"/users/{ALEX}/presence/clearUserPreferredPresence"},
        ],
        headers=read_only,
    )
    assert (entries["1"]["status"], entries["2"]["status"]) == (200, 403)


# -- getPresencesByUserId --------------------------------------------------------------------------------
async def test_get_presences_by_user_id(sim: Sim) -> None:
    """FACTS §2: POST /communications/getPresencesByUserId {ids} → {value: [presence…]}."""
    await sim.post(f"{PRESENCE}/setPresence", set_presence_body())
    reply = await sim.post("/v1.0/communications/getPresencesByUserId", {"ids": [ALEX, "megan", ALEX]})
    assert reply.status == 200
    assert [(p["id"], p["availability"]) for p in reply.body["value"]] == [
        (ALEX, "Busy"),
        ("megan", "Available"),
    ]


async def test_get_presences_by_user_id_limits(make_sim: MakeSim) -> None:
    """FACTS §2: at most 650 ids per call (and ids must be strings)."""
    sim = await make_sim(state_path=None)
    ok = await sim.post("/v1.0/communications/getPresencesByUserId", {"ids": [f"u{i}" for i in range(650)]})
    assert (ok.status, len(ok.body["value"])) == (200, 650)
    too_many = await sim.post(
        "/v1.0/communications/getPresencesByUserId", {"ids": [f"u{i}" for i in range(651)]}
    )
    assert too_many.status == 400
    for body in ({"ids": "alex"}, {"ids": [1]}, {}):
        assert (await sim.post("/v1.0/communications/getPresencesByUserId", body)).status == 400


BULK = "/v1.0/communications/getPresencesByUserId"
MEGAN = "00000000-0000-0000-0000-0000000000021"


async def bulk_and_single(sim: Sim, *users: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each user's presence as getPresencesByUserId answers it, beside what GET presence answers."""
    bulk = await sim.post(BULK, {"ids": list(users)})
    assert bulk.status == 200, bulk.body
    singles = [(await sim.get(f"/v1.0/users/{user}/presence")).body for user in users]
    return list(zip(bulk.body["value"], singles, strict=True))


async def test_bulk_and_single_reads_apply_the_same_precedence(sim: Sim) -> None:
    """FACTS §3, read in bulk: an app's Away cannot pull down a Teams client's Available; a preferred
    presence wins over every session; with no session the user is Offline. Bulk and single reads agree
    to the last field."""
    # Megan: her Teams client Available, the app's session Away.
    await sim.post(f"/v1.0/users/{MEGAN}/presence/setPresence", set_presence_body("Away", "Away"))
    # Alex: a preferred Do not disturb over the app's Busy, with a status message.
    await sim.post(f"{PRESENCE}/setPresence", set_presence_body())
    await sim.post(
        f"{PRESENCE}/setUserPreferredPresence", {"availability": "DoNotDisturb", "activity": "DoNotDisturb"}
    )
    await sim.post(f"{PRESENCE}/setStatusMessage", {"statusMessage": {"message": {"content": "Focus"}}})
    # Sam: signed out of Teams.
    await sim.call("DELETE", "/_sim/users/sam/clients/teams-client-1")
    read = await bulk_and_single(sim, MEGAN, ALEX, "sam")
    for bulk, single in read:
        assert bulk == single
    assert [(b["availability"], b["activity"]) for b, _ in read] == [
        ("Available", "Available"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("Offline", "Offline"),
    ]
    assert read[1][0]["statusMessage"]["message"]["content"] == "Focus"


async def test_the_1501st_bulk_read_in_30_s_is_throttled_while_single_reads_go_on(
    make_sim: MakeSim, clock: AdjustableClock
) -> None:
    """FACTS §4: getPresencesByUserId has its own window, 1,500 calls per 30 s per app per tenant."""
    sim = await make_sim(state_path=None)
    body = {"ids": [ALEX, MEGAN]}
    for _ in range(1500):
        assert (await sim.post(BULK, body)).status == 200
    throttled = await sim.post(BULK, body)
    assert (throttled.status, throttled.body["error"]["code"]) == (429, "TooManyRequests")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 30
    assert (await sim.get(PRESENCE)).status == 200, "single reads count in the larger presence window"
    clock.advance(30)
    assert (await sim.post(BULK, body)).status == 200, "the window has room again 30 s later"


async def test_ids_that_are_not_guids_are_users_like_any_other(sim: Sim) -> None:
    """Choice (docs/simulator.md): any id is a user, in bulk as in single reads (the Emulator's ids,
    Teams' 29: ids, UPNs); GUIDs match in any case and are answered lowercased."""
    ids = ["emulator-user-1", "29:1abcDEF", "megan@contoso.example", MEGAN.upper()]
    read = await bulk_and_single(sim, *ids)
    assert [b["id"] for b, _ in read] == ["emulator-user-1", "29:1abcDEF", "megan@contoso.example", MEGAN]
    assert {(b["availability"], b["activity"]) for b, _ in read} == {("Available", "Available")}
    assert all(bulk == single for bulk, single in read)


class TenantHeaderAuthenticator:
    """Every caller is the app, in the tenant the `X-Test-Tenant` header names."""

    async def authenticate(self, request: web.Request) -> Caller:
        return Caller(
            app_id=APP,
            tenant_id=request.headers.get("X-Test-Tenant", TENANT),
            roles=frozenset({PRESENCE_READWRITE_ALL}),
        )


async def test_a_caller_from_another_tenant_reads_the_one_tenants_users(make_sim: MakeSim) -> None:
    """Choice (docs/simulator.md): one tenant's state whatever tenant the token names, so a colleague
    "from another tenant" reads as whatever the simulator knows of that id; only the throttling windows
    are per tenant."""
    sim = await make_sim(
        authenticator=TenantHeaderAuthenticator(), limits=SimLimits(bulk_requests_per_window=1)
    )
    elsewhere = {"X-Test-Tenant": "99999999-0000-4000-8000-000000000099"}
    await sim.post(f"{PRESENCE}/setPresence", set_presence_body())
    here = await sim.post(BULK, {"ids": [ALEX]})
    there = await sim.post(BULK, {"ids": [ALEX]}, headers=elsewhere)
    assert (here.status, there.status) == (200, 200), "each tenant has its own bulk window"
    assert there.body["value"] == here.body["value"]
    assert (await sim.post(BULK, {"ids": [ALEX]})).status == 429


# -- out of office (set by hand: the simulator has no calendar) ---------------------------------------------
def out_of_office(reply: Reply) -> tuple[str, str, bool, str | None]:
    body = reply.body
    settings = body["outOfOfficeSettings"]
    return body["availability"], body["activity"], settings["isOutOfOffice"], settings["message"]


async def test_out_of_office_shows_in_single_and_bulk_reads(sim: Sim) -> None:
    """FACTS §1: outOfOfficeSettings {isOutOfOffice, message}; Teams shows Out of office (activity
    OutOfOffice) over Available. Bulk and single reads agree."""
    before = (await sim.get(PRESENCE)).body["sequenceNumber"]
    reply = await sim.post(f"/_sim/users/{ALEX}/outOfOffice", {"message": "On leave until Monday"})
    assert reply.status == 204
    single = await sim.get(PRESENCE)
    assert out_of_office(single) == ("Available", "OutOfOffice", True, "On leave until Monday")
    assert single.body["sequenceNumber"] > before, "a reader sees the presence changed"
    [(bulk, again)] = await bulk_and_single(sim, ALEX)
    assert bulk == again == single.body
    assert (await sim.describe())["outOfOffice"]["message"] == "On leave until Monday"


@pytest.mark.parametrize(
    ("setup", "shown"),
    [
        ([("client", "Busy", "InAMeeting")], ("Busy", "InAMeeting")),
        ([("app", "Busy", "InACall")], ("Busy", "InACall")),
        ([("app", "DoNotDisturb", "Presenting")], ("DoNotDisturb", "Presenting")),
        ([("preferred", "DoNotDisturb", "DoNotDisturb")], ("DoNotDisturb", "DoNotDisturb")),
        ([("preferred", "BeRightBack", "BeRightBack")], ("BeRightBack", "OutOfOffice")),
        ([("preferred", "Offline", "OffWork")], ("Offline", "OutOfOffice")),
        ([("signed out", "", "")], ("Offline", "OutOfOffice")),
        ([("signed out", "", ""), ("app", "Away", "Away")], ("Away", "OutOfOffice")),
    ],
)
async def test_out_of_office_gives_way_only_to_busy_and_do_not_disturb(
    sim: Sim, setup: list[tuple[str, str, str]], shown: tuple[str, str]
) -> None:
    """Choice (docs/simulator.md): while out of office the activity reads OutOfOffice, unless the person
    is Busy or Do not disturb (a call, a meeting, presenting): those keep their own. The availability
    is always what aggregation gives."""
    for kind, availability, activity in setup:
        if kind == "client":
            await sim.post(
                f"/_sim/users/{ALEX}/clients", {"availability": availability, "activity": activity}
            )
        elif kind == "app":
            await sim.post(f"{PRESENCE}/setPresence", set_presence_body(availability, activity))
        elif kind == "preferred":
            pair = {"availability": availability, "activity": activity}
            await sim.post(f"{PRESENCE}/setUserPreferredPresence", pair)
        else:
            await sim.call("DELETE", f"/_sim/users/{ALEX}/clients/teams-client-1")
    await sim.post(f"/_sim/users/{ALEX}/outOfOffice", {"message": "Away this week"})
    [(bulk, single)] = await bulk_and_single(sim, ALEX)
    assert bulk == single
    assert (bulk["availability"], bulk["activity"]) == shown
    assert bulk["outOfOfficeSettings"] == {"isOutOfOffice": True, "message": "Away this week"}


async def test_out_of_office_is_turned_off_by_null_or_delete(sim: Sim) -> None:
    await sim.post(f"/_sim/users/{ALEX}/outOfOffice", {"message": "Off"})
    assert (await sim.post(f"/_sim/users/{ALEX}/outOfOffice", {"message": None})).status == 204
    assert out_of_office(await sim.get(PRESENCE)) == ("Available", "Available", False, None)
    await sim.post(f"/_sim/users/{ALEX}/outOfOffice", {"message": ""})
    assert out_of_office(await sim.get(PRESENCE)) == ("Available", "OutOfOffice", True, None), "no message"
    assert (await sim.call("DELETE", f"/_sim/users/{ALEX}/outOfOffice")).status == 204
    assert out_of_office(await sim.get(PRESENCE)) == ("Available", "Available", False, None)
    assert (await sim.call("DELETE", f"/_sim/users/{ALEX}/outOfOffice")).status == 204, "off already"


@pytest.mark.parametrize("body", [{}, {"message": 5}, ["On leave"]])
async def test_unclear_out_of_office_requests_are_refused(sim: Sim, body: Any) -> None:
    reply = await sim.post(f"/_sim/users/{ALEX}/outOfOffice", body)
    assert (reply.status, reply.body["error"]["code"]) == (400, "BadRequest")
    assert (await sim.get(PRESENCE)).body["outOfOfficeSettings"]["isOutOfOffice"] is False


async def test_out_of_office_survives_a_restart(make_sim: MakeSim, tmp_path: Path) -> None:
    path = tmp_path / "ooo" / "sim-state.json"
    first = await make_sim(state_path=path)
    await first.post(f"/_sim/users/{ALEX}/outOfOffice", {"message": "Parental leave"})
    before = (await first.get(PRESENCE)).body
    second = await make_sim(state_path=path, sim_clock=AdjustableClock())
    assert (await second.get(PRESENCE)).body == before
    assert before["outOfOfficeSettings"]["message"] == "Parental leave"


# -- $batch ---------------------------------------------------------------------------------------------
def entry(entry_id: str, url: str, body: Any = None, depends_on: list[str] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"id": entry_id, "method": "POST" if body is not None else "GET", "url": url}
    if body is not None:
        request["headers"] = {"Content-Type": "application/json"}
        request["body"] = body
    if depends_on:
        request["dependsOn"] = depends_on
    return request


USER = f"/users/{ALEX}/presence"


async def test_batch_runs_writes_in_order_then_reads(sim: Sim) -> None:
    """FACTS §4: $batch with dependsOn; per-entry status, headers and body; one round trip."""
    await sim.call("DELETE", "/_sim/stats")
    answers = await sim.batch(
        [
            entry("1", f"{USER}/setPresence", set_presence_body("DoNotDisturb", "Presenting")),
            entry(
                "2", f"{USER}/setStatusMessage", {"statusMessage": {"message": {"content": "Demo"}}}, ["1"]
            ),
            entry("3", USER, depends_on=["1", "2"]),
        ]
    )
    assert [answers[i]["status"] for i in "123"] == [200, 200, 200]
    read = answers["3"]["body"]
    assert (read["availability"], read["activity"]) == ("DoNotDisturb", "Presenting")
    assert read["statusMessage"]["message"]["content"] == "Demo"
    assert answers["3"]["headers"]["Content-Type"] == "application/json"
    stats = await sim.stats()
    assert stats["requests"] == {"POST /v1.0/$batch": 1}
    assert stats["total"] == 1
    assert stats["batched"]["GET /v1.0/users/{id}/presence"] == 1


async def test_a_failed_request_fails_its_dependents_with_424(sim: Sim) -> None:
    """FACTS §4: a failed dependency makes dependents 424; independent requests still run."""
    answers = await sim.batch(
        [
            entry("1", f"{USER}/setPresence", set_presence_body("Busy", "Busy")),
            entry(
                "2", f"{USER}/setUserPreferredPresence", {"availability": "Away", "activity": "Away"}, ["1"]
            ),
            entry("3", USER, depends_on=["2"]),
            entry(
                "4",
                "/users/megan/presence/setStatusMessage",
                {"statusMessage": {"message": {"content": "hi"}}},
            ),
        ]
    )
    assert answers["1"]["status"] == 400
    assert answers["1"]["body"]["error"]["code"] == "InvalidArgument"
    assert (answers["2"]["status"], answers["3"]["status"]) == (424, 424)
    assert answers["2"]["body"]["error"]["code"] == "FailedDependency"
    assert answers["4"]["status"] == 200
    assert (await sim.describe())["preferred"] is None  # the dependent write never ran


async def test_batch_follows_depends_on_not_the_order_sent(sim: Sim) -> None:
    """FACTS §4: dependsOn orders execution; responses may come in any order (match them by id)."""
    answers = await sim.batch(
        [
            entry("a", f"{USER}/clearPresence", {"sessionId": APP}, ["b"]),
            entry("b", f"{USER}/setPresence", set_presence_body()),
        ]
    )
    assert (answers["a"]["status"], answers["b"]["status"]) == (200, 200)
    assert await sim.shown() == ("Available", "Available")


async def test_a_body_without_content_type_fails_that_entry(sim: Sim) -> None:
    """FACTS §4: `headers` with Content-Type are required when an entry has a body."""
    no_header = {"id": "1", "method": "POST", "url": f"{USER}/setPresence", "body": set_presence_body()}
    answers = await sim.batch([no_header, entry("2", USER)])
    assert answers["1"]["status"] == 400
    assert "Content-Type" in answers["1"]["body"]["error"]["message"]
    assert answers["2"]["status"] == 200
    assert await sim.shown() == ("Available", "Available")


async def test_batch_limits_and_malformed_batches(sim: Sim) -> None:
    """FACTS §4: at most 20 requests; ids unique; dependsOn must name requests of the batch."""
    twenty = [entry(str(i), USER) for i in range(20)]
    assert len(await sim.batch(twenty)) == 20
    bad_batches: list[Any] = [
        {"requests": [entry(str(i), USER) for i in range(21)]},
        {"requests": []},
        {"requests": [entry("1", USER), entry("1", USER)]},
        {"requests": [entry("1", USER, depends_on=["9"])]},
        {"requests": [entry("1", USER, depends_on=["2"]), entry("2", USER, depends_on=["1"])]},
        {"requests": [{"id": "1", "method": "FETCH", "url": USER}]},
        {"requests": [{"id": 1, "method": "GET", "url": USER}]},
        {"requests": "all of them"},
        [1, 2],
    ]
    for body in bad_batches:
        reply = await sim.post("/v1.0/$batch", body)
        assert (reply.status, reply.body["error"]["code"]) == (400, "BadRequest"), body
    garbled = await sim.call("POST", "/v1.0/$batch", raw=b"{", headers={"Content-Type": "application/json"})
    assert garbled.status == 400


async def test_batch_entries_that_cannot_run(sim: Sim) -> None:
    """FACTS §4 (each entry answers on its own): bad urls and nested batches fail only their entry."""
    answers = await sim.batch(
        [
            entry("1", "https://graph.microsoft.com/v1.0" + USER),
            entry("2", "/$batch", {"requests": []}),
            entry("3", "/users/x/presense"),
            entry("4", "users/megan/presence"),  # a url without its leading slash is fine
            {"id": "5", "method": "DELETE", "url": USER},
        ]
    )
    assert [answers[i]["status"] for i in "12345"] == [400, 400, 400, 200, 405]


# -- faults ---------------------------------------------------------------------------------------------
async def test_faults_fail_the_next_matching_calls(sim: Sim) -> None:
    """FACTS §4: 503 and 429 answers, in Graph's error shape, with Retry-After when given."""
    created = await sim.post(
        "/_sim/faults", {"match": "setPresence", "status": 503, "count": 2, "retry_after": 1.5}
    )
    assert created.status == 201
    assert (await sim.get("/_sim/faults")).body["faults"][0]["remaining"] == 2
    for _ in range(2):
        reply = await sim.post(f"{PRESENCE}/setPresence", set_presence_body())
        assert (reply.status, reply.body["error"]["code"]) == (503, "ServiceUnavailable")
        assert reply.headers["Retry-After"] == "1.5"
    assert (await sim.get(PRESENCE)).status == 200  # does not match
    assert (await sim.post(f"{PRESENCE}/setPresence", set_presence_body())).status == 200
    assert (await sim.get("/_sim/faults")).body == {"faults": []}


async def test_throttling_faults_and_clearing(sim: Sim) -> None:
    """FACTS §4: 429 TooManyRequests with Retry-After (seconds)."""
    await sim.post("/_sim/faults", {"match": "/presence", "status": 429, "count": 5, "retry_after": 2})
    reply = await sim.get(PRESENCE)
    assert (reply.status, reply.headers["Retry-After"], reply.body["error"]["code"]) == (
        429,
        "2",
        "TooManyRequests",
    )
    assert (await sim.call("DELETE", "/_sim/faults")).status == 204
    assert (await sim.get(PRESENCE)).status == 200


async def test_a_delay_stalls_then_answers(sim: Sim) -> None:
    """FACTS §3–§4 (slow answers happen): delay_ms with no status stalls, then answers normally."""
    await sim.post("/_sim/faults", {"match": "presence", "delay_ms": 300})
    started = time.monotonic()
    reply = await sim.get(PRESENCE)
    assert reply.status == 200
    assert time.monotonic() - started >= 0.29


async def test_faults_hit_batch_entries_and_the_envelope(sim: Sim) -> None:
    """FACTS §4: each batch entry is answered (and can fail) on its own."""
    await sim.post("/_sim/faults", {"match": "setStatusMessage", "status": 500})
    answers = await sim.batch(
        [
            entry("1", f"{USER}/setStatusMessage", {"statusMessage": {"message": {"content": "x"}}}),
            entry("2", USER),
        ]
    )
    assert (answers["1"]["status"], answers["2"]["status"]) == (500, 200)
    await sim.post("/_sim/faults", {"match": "$batch", "status": 504})
    reply = await sim.post("/v1.0/$batch", {"requests": [entry("1", USER)]})
    assert (reply.status, reply.body["error"]["code"]) == (504, "GatewayTimeout")


@pytest.mark.parametrize(
    "body",
    [
        {"match": "x", "status": 418},
        {"match": "x"},
        {"match": "x", "status": 503, "count": 0},
        {"match": 5, "status": 503},
        {"match": "x", "status": 503, "retry_after": -1},
        {"match": "x", "delay_ms": -5},
        [1],
    ],
)
async def test_unclear_faults_are_refused(sim: Sim, body: Any) -> None:
    """Control route input is validated like Graph's: 400 in Graph's error shape, never 500."""
    reply = await sim.post("/_sim/faults", body)
    assert (reply.status, reply.body["error"]["code"]) == (400, "BadRequest")


# -- throttling ------------------------------------------------------------------------------------------
async def test_automatic_throttling_per_app(make_sim: MakeSim, clock: AdjustableClock) -> None:
    """FACTS §4: N requests per 30 s per app per tenant, then 429 with Retry-After (here N = 3)."""
    sim = await make_sim(authenticator=HeaderAuthenticator(), limits=SimLimits(requests_per_window=3))
    for _ in range(3):
        assert (await sim.get(PRESENCE)).status == 200
    throttled = await sim.get(PRESENCE)
    assert throttled.status == 429
    assert throttled.body["error"]["code"] == "TooManyRequests"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 30
    assert (await sim.get(PRESENCE, headers={"X-Test-App": OTHER_APP})).status == 200  # per app
    clock.advance(30)
    assert (await sim.get(PRESENCE)).status == 200


async def test_each_batch_entry_is_throttled_on_its_own(make_sim: MakeSim) -> None:
    """FACTS §4: "each entry is throttled on its own"."""
    sim = await make_sim(limits=SimLimits(requests_per_window=3))
    answers = await sim.batch([entry(str(i), USER) for i in range(5)])
    statuses = sorted(a["status"] for a in answers.values())
    assert statuses == [200, 200, 200, 429, 429]
    throttled = next(a for a in answers.values() if a["status"] == 429)
    assert int(throttled["headers"]["Retry-After"]) >= 1


async def test_get_presences_by_user_id_has_its_own_limit(make_sim: MakeSim) -> None:
    """FACTS §4: getPresencesByUserId: 1,500 per 30 s (here 1), besides the presence limit."""
    sim = await make_sim(limits=SimLimits(bulk_requests_per_window=1))
    body = {"ids": [ALEX]}
    assert (await sim.post("/v1.0/communications/getPresencesByUserId", body)).status == 200
    assert (await sim.post("/v1.0/communications/getPresencesByUserId", body)).status == 429
    assert (await sim.get(PRESENCE)).status == 200


# -- stats ----------------------------------------------------------------------------------------------
async def test_stats_count_graph_round_trips_per_route(sim: Sim) -> None:
    """Tests count Graph round trips per `METHOD path-template`; control routes are not counted."""
    await sim.get(PRESENCE)
    assert (await sim.call("DELETE", "/_sim/stats")).status == 204
    await sim.get(PRESENCE)
    await sim.get("/v1.0/users/megan/presence")
    await sim.post(f"{PRESENCE}/setPresence", set_presence_body())
    await sim.get("/v1.0/nowhere")
    await sim.describe()
    stats = await sim.stats()
    assert stats["requests"] == {
        "GET /v1.0/users/{id}/presence": 2,
        "POST /v1.0/users/{id}/presence/setPresence": 1,
        "GET (unmatched)": 1,
    }
    assert stats["total"] == 4


# -- the clock -----------------------------------------------------------------------------------------
async def test_advancing_the_clock_is_seen_at_once(sim: Sim, clock: AdjustableClock) -> None:
    """FACTS §3: Available fades after 5 minutes; the control clock makes that testable now."""
    await sim.post(f"{PRESENCE}/setPresence", set_presence_body("Available", "Available"))
    await sim.call("DELETE", f"/_sim/users/{ALEX}/clients/teams-client-1")
    before = clock.now()
    reply = await sim.post("/_sim/clock", {"advance_seconds": 301})
    assert reply.status == 200
    moved = reply.body["now"]
    assert (await sim.get("/_sim/clock")).body["offsetSeconds"] >= 301
    assert moved > before.astimezone(UTC).isoformat()
    assert await sim.shown() == ("Available", "AvailableInactive")


async def test_clock_control_can_be_refused(make_sim: MakeSim) -> None:
    """Moving time is a test and demo tool: off when asked, and impossible on the wall clock."""
    off = await make_sim(clock_control=False)
    reply = await off.post("/_sim/clock", {"advance_seconds": 60})
    assert (reply.status, reply.body["error"]["code"]) == (403, "Forbidden")
    wall = await make_sim(sim_clock=SystemClock())
    assert (await wall.post("/_sim/clock", {"advance_seconds": 60})).status == 403
    assert "offsetSeconds" not in (await wall.get("/_sim/clock")).body


@pytest.mark.parametrize(
    "body", [{"advance_seconds": -1}, {"advance_seconds": "60"}, {}, {"advance_seconds": True}]
)
async def test_bad_clock_requests(sim: Sim, body: Any) -> None:
    reply = await sim.post("/_sim/clock", body)
    assert reply.status == 400


# -- control routes ------------------------------------------------------------------------------------
async def test_teams_clients_through_control_routes(sim: Sim) -> None:
    """FACTS §3: sessions per Teams client; the control routes add and remove them."""
    added = await sim.post(f"/_sim/users/{ALEX}/clients", {"availability": "Busy", "activity": "InAMeeting"})
    assert added.status == 201
    client_id = added.body["id"]
    assert await sim.shown() == ("Busy", "InAMeeting")
    assert (await sim.call("DELETE", f"/_sim/users/{ALEX}/clients/{client_id}")).status == 204
    missing = await sim.call("DELETE", f"/_sim/users/{ALEX}/clients/{client_id}")
    assert (missing.status, missing.body["error"]["code"]) == (404, "NotFound")
    refused = await sim.post(
        f"/_sim/users/{ALEX}/clients", {"availability": "Offline", "activity": "OffWork"}
    )
    assert refused.status == 400
    garbled = await sim.call(
        "POST", f"/_sim/users/{ALEX}/clients", raw=b"{", headers={"Content-Type": "application/json"}
    )
    assert garbled.status == 400
    assert ALEX in (await sim.get("/_sim/users")).body["users"]


async def test_a_teams_clients_state_can_change(sim: Sim) -> None:
    """A meeting starts and ends on the client the user is signed in on, without signing it out."""
    client = f"/_sim/users/{ALEX}/clients/teams-client-1"
    before = (await sim.get(PRESENCE)).body["sequenceNumber"]
    assert (await sim.call("PATCH", client, {"availability": "Busy", "activity": "InAMeeting"})).status == 204
    assert await sim.shown() == ("Busy", "InAMeeting")
    assert (await sim.get(PRESENCE)).body["sequenceNumber"] > before
    await sim.call("PATCH", client, {"availability": "Available", "activity": "Available"})
    assert await sim.shown() == ("Available", "Available")
    assert [s["sessionId"] for s in (await sim.describe())["sessions"]] == ["teams-client-1"]
    missing = await sim.call("PATCH", f"/_sim/users/{ALEX}/clients/teams-client-9", {"availability": "Busy"})
    assert missing.status == 400, "the pair is checked first: no activity"
    missing = await sim.call(
        "PATCH", f"/_sim/users/{ALEX}/clients/teams-client-9", {"availability": "Busy", "activity": "Busy"}
    )
    assert (missing.status, missing.body["error"]["code"]) == (404, "NotFound")
    refused = await sim.call("PATCH", client, {"availability": "Offline", "activity": "OffWork"})
    assert refused.status == 400, "Appear offline is a preferred presence, not a client state"


async def test_a_status_message_set_as_in_teams(sim: Sim, clock: AdjustableClock) -> None:
    """The message a user types in Teams, with setStatusMessage's rules, without an app token."""
    route = f"/_sim/users/{ALEX}/statusMessage"
    expires = (clock.now() + timedelta(hours=1)).astimezone(UTC).replace(microsecond=0)
    reply = await sim.post(route, {"message": "In Berlin this week", "expiresAt": expires.isoformat()})
    assert reply.status == 204
    status = (await sim.get(PRESENCE)).body["statusMessage"]
    assert status["message"] == {"content": "In Berlin this week", "contentType": "text"}
    expiry = DateTimeTimeZone.model_validate(status["expiryDateTime"]).to_datetime()
    assert expiry == expires
    clock.advance(3601)
    assert (await sim.get(PRESENCE)).body["statusMessage"] is None, "gone once it expired"

    await sim.post(route, {"message": "Ask me about the launch"})
    assert (await sim.get(PRESENCE)).body["statusMessage"]["expiryDateTime"] is None
    assert (await sim.call("DELETE", route)).status == 204
    assert (await sim.get(PRESENCE)).body["statusMessage"] is None
    await sim.post(route, {"message": "Back soon"})
    assert (await sim.post(route, {"message": None})).status == 204
    assert (await sim.get(PRESENCE)).body["statusMessage"] is None
    too_long = await sim.post(route, {"message": "x" * 281})
    assert (too_long.status, too_long.body["error"]["code"]) == (400, "InvalidArgument")
    past = await sim.post(route, {"message": "Late", "expiresAt": "2001-01-01T00:00:00Z"})
    assert (past.status, past.body["error"]["code"]) == (400, "InvalidArgument")
    assert (await sim.post(route, {})).status == 400


async def test_describe_shows_presence_sessions_preference_and_status(sim: Sim) -> None:
    """FACTS §3: what is shown, and the sessions and preference it is aggregated from."""
    await sim.post(f"{PRESENCE}/setPresence", set_presence_body())
    await sim.post(
        f"{PRESENCE}/setUserPreferredPresence", {"availability": "BeRightBack", "activity": "BeRightBack"}
    )
    await sim.post(f"{PRESENCE}/setStatusMessage", {"statusMessage": {"message": {"content": "brb"}}})
    state = await sim.describe()
    assert state["presence"] == (await sim.get(PRESENCE)).body
    assert [s["kind"] for s in state["sessions"]] == ["app", "client"]  # the winner first
    assert state["preferred"]["availability"] == "BeRightBack"
    assert state["statusMessage"]["message"]["content"] == "brb"


# -- persistence ---------------------------------------------------------------------------------------
async def test_state_survives_a_restart(make_sim: MakeSim, tmp_path: Path) -> None:
    """FACTS §2–§3: what Graph accepted stays accepted when the simulator restarts on the same file."""
    path = tmp_path / "restart" / "sim-state.json"
    first = await make_sim(state_path=path)
    await first.post(f"{PRESENCE}/setPresence", set_presence_body("DoNotDisturb", "Presenting"))
    await first.post(f"{PRESENCE}/setStatusMessage", {"statusMessage": {"message": {"content": "On stage"}}})
    await first.post("/_sim/clock", {"advance_seconds": 60})
    before = (await first.get(PRESENCE)).body

    restarted_clock = AdjustableClock()
    second = await make_sim(state_path=path, sim_clock=restarted_clock)
    assert (await second.get(PRESENCE)).body == before
    assert restarted_clock.offset >= timedelta(seconds=60)


async def test_concurrent_requests_are_all_answered_and_saved(sim: Sim) -> None:
    """FACTS §2: every answered write holds, even when many arrive at once."""
    users = [f"user-{i}" for i in range(25)]
    replies = await asyncio.gather(
        *(sim.post(f"/v1.0/users/{u}/presence/setPresence", set_presence_body()) for u in users)
    )
    assert {r.status for r in replies} == {200}
    restarted = SimTenant(AdjustableClock(), sim.tenant.state_path)
    assert set(users) <= set(restarted.user_ids())
