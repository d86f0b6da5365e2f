"""The simulated Graph over HTTP: Graph's presence routes under `/v1.0` (and `$batch`), plus control routes
under `/_sim` for people and tests. The bot mounts `create_sim_app(...)` at `/sim`.

Every Graph request, top level or inside a `$batch`, runs through one pipeline: count it, apply any
injected fault, authenticate (top level only: batch entries share their envelope's caller), throttle,
check the permission, then run the operation on the `SimTenant`. Every error, wherever it is raised, is
answered in Graph's shape: `{"error": {"code", "message", "innerError": {"request-id", "date",
"client-request-id"}}}`.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.clock import AdjustableClock, Clock
from bot.graph.models import DateTimeTimeZone, GraphErrorBody, GraphErrorDetail
from bot.sim.caller import Authenticator, Caller
from bot.sim.errors import SimGraphError, bad_request
from bot.sim.tenant import SimTenant, iso_utc
from bot.sim.traffic import Fault, FaultPlan, RequestStats, SimLimits, Throttle

__all__ = ["SIM_GRAPH", "SIM_TENANT", "GraphAnswer", "GraphCall", "SimGraph", "SimLimits", "create_sim_app"]

log = logging.getLogger(__name__)

GRAPH_ROOT = "/v1.0"
_JSON_ERROR = (
    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
    "valid JSON format."
)
_BATCH_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


# -- one Graph call and its answer, whether it came over HTTP or inside a $batch ------------------------
@dataclass(frozen=True)
class GraphCall:
    method: str
    path: str  # as sent, from /v1.0 on, without the query
    params: Mapping[str, str]  # decoded path parameters ({id})
    body: Any  # the parsed JSON body; None when there was none
    caller: Caller


@dataclass
class GraphAnswer:
    status: int
    body: Any = None  # a JSON value; None answers an empty body
    headers: dict[str, str] = field(default_factory=dict)


Operation = Callable[[SimTenant, GraphCall], Awaitable[GraphAnswer]]
Access = Literal["read", "write", "batch"]


@dataclass(frozen=True)
class GraphRoute:
    method: str
    template: str  # e.g. /v1.0/users/{id}/presence
    access: Access
    operation: Operation | None  # None for $batch, which the pipeline runs itself
    bulk: bool = False  # counts in getPresencesByUserId's own throttling window

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Path parameters when `segments` (decoded) fit the template; literal segments ignore case."""
        parts = self.template.split("/")
        if len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    return None
                params[part.strip("{}")] = segment
            elif part.lower() != segment.lower():
                return None
        return params


@dataclass(frozen=True)
class Resolved:
    method: str
    route: GraphRoute | None
    params: dict[str, str]
    error: SimGraphError | None  # why nothing matched

    @property
    def key(self) -> str:
        """The stats key: `METHOD path-template`, or `METHOD (unmatched)`."""
        return self.route.key if self.route is not None else f"{self.method} (unmatched)"


# -- the operations --------------------------------------------------------------------------------
def _object(body: Any, *, required: bool = True) -> dict[str, Any]:
    if body is None and not required:
        return {}
    if body is None:
        raise bad_request("The request body is missing: send a JSON object.")
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string.")
    return value


def _user_id(call: GraphCall) -> str:
    user_id = call.params["id"]
    if user_id.lower() == "me":
        raise bad_request("/me request is only valid with delegated authentication flow.")
    return user_id


async def _get_presence(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    return GraphAnswer(200, await tenant.get_presence(_user_id(call)))


async def _set_presence(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    body = _object(call.body)
    await tenant.set_presence(
        _user_id(call),
        call.caller.app_id,
        _optional_str(body, "sessionId"),
        _optional_str(body, "availability"),
        _optional_str(body, "activity"),
        _optional_str(body, "expirationDuration"),
    )
    return GraphAnswer(200)


async def _clear_presence(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    body = _object(call.body, required=False)
    await tenant.clear_presence(_user_id(call), call.caller.app_id, _optional_str(body, "sessionId"))
    return GraphAnswer(200)


async def _set_preferred(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    body = _object(call.body)
    await tenant.set_preferred_presence(
        _user_id(call),
        _optional_str(body, "availability"),
        _optional_str(body, "activity"),
        _optional_str(body, "expirationDuration"),
    )
    return GraphAnswer(200)


async def _clear_preferred(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    await tenant.clear_preferred_presence(_user_id(call))
    return GraphAnswer(200)


async def _set_status_message(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    body = _object(call.body)
    status = body.get("statusMessage")
    if not isinstance(status, dict):
        raise bad_request('statusMessage is required: {"statusMessage": {"message": {"content": "..."}}}.')
    message = status.get("message")
    if message is not None and not isinstance(message, dict):
        raise bad_request('statusMessage.message must be an object: {"content", "contentType"}.')
    content = _optional_str(message or {}, "content")
    content_type = _optional_str(message or {}, "contentType")
    expiry_data = status.get("expiryDateTime")
    expiry: DateTimeTimeZone | None = None
    if expiry_data is not None:
        if not isinstance(expiry_data, dict):
            raise bad_request('statusMessage.expiryDateTime must be an object: {"dateTime", "timeZone"}.')
        date_time = _optional_str(expiry_data, "dateTime")
        if not date_time:
            raise bad_request("statusMessage.expiryDateTime.dateTime is required.")
        expiry = DateTimeTimeZone(
            date_time=date_time, time_zone=_optional_str(expiry_data, "timeZone") or "UTC"
        )
    await tenant.set_status_message(_user_id(call), content, content_type, expiry)
    return GraphAnswer(200)


def _presences_by_user_id(max_ids: int) -> Operation:
    async def operation(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
        body = _object(call.body)
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise bad_request("ids must be an array of user ids (strings).")
        if len(ids) > max_ids:
            raise SimGraphError(
                400, "InvalidArgument", f"Too many ids: {len(ids)}; at most {max_ids} per request."
            )
        for user_id in ids:
            if user_id.lower() == "me":
                raise bad_request("'me' is not a user id.")
        return GraphAnswer(200, {"value": await tenant.get_presences(ids)})

    return operation


def graph_routes(limits: SimLimits) -> list[GraphRoute]:
    """Every Graph route the simulator answers, in one table."""
    presence = f"{GRAPH_ROOT}/users/{{id}}/presence"
    return [
        GraphRoute("GET", presence, "read", _get_presence),
        GraphRoute("GET", f"{GRAPH_ROOT}/communications/presences/{{id}}", "read", _get_presence),
        GraphRoute("POST", f"{presence}/setPresence", "write", _set_presence),
        GraphRoute("POST", f"{presence}/clearPresence", "write", _clear_presence),
        GraphRoute("POST", f"{presence}/setUserPreferredPresence", "write", _set_preferred),
        GraphRoute("POST", f"{presence}/clearUserPreferredPresence", "write", _clear_preferred),
        GraphRoute("POST", f"{presence}/setStatusMessage", "write", _set_status_message),
        GraphRoute(
            "POST",
            f"{GRAPH_ROOT}/communications/getPresencesByUserId",
            "read",
            _presences_by_user_id(limits.max_bulk_ids),
            bulk=True,
        ),
        GraphRoute("POST", f"{GRAPH_ROOT}/$batch", "batch", None),
    ]


# -- $batch ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchEntry:
    id: str
    method: str
    url: str
    headers: dict[str, str]
    has_body: bool
    body: Any
    depends_on: tuple[str, ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


def _read_batch(body: Any, max_requests: int) -> list[BatchEntry]:
    """The batch's entries, or 400 for the whole batch when it cannot be run as sent."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise bad_request("A $batch body is a JSON object with a 'requests' array.")
    raw_entries: list[Any] = body["requests"]
    if not raw_entries:
        raise bad_request("The $batch has no requests.")
    if len(raw_entries) > max_requests:
        raise bad_request(f"Number of batch request steps exceeds the maximum of {max_requests}.")
    entries: list[BatchEntry] = []
    for raw in raw_entries:
        if not isinstance(raw, dict):
            raise bad_request("Each $batch request is a JSON object.")
        entry_id, method, url = raw.get("id"), raw.get("method"), raw.get("url")
        if not isinstance(entry_id, str) or not entry_id:
            raise bad_request("Each $batch request needs an 'id' (a string).")
        if not isinstance(method, str) or method.upper() not in _BATCH_METHODS:
            raise bad_request(f"Request id : {entry_id} has no valid 'method'.")
        if not isinstance(url, str) or not url:
            raise bad_request(f"Request id : {entry_id} has no 'url'.")
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise bad_request(f"Request id : {entry_id}: 'headers' must be an object of strings.")
        depends_on = raw.get("dependsOn") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise bad_request(f"Request id : {entry_id}: 'dependsOn' must be an array of request ids.")
        entries.append(
            BatchEntry(
                id=entry_id,
                method=method.upper(),
                url=url,
                headers={str(k): v for k, v in headers.items()},
                has_body="body" in raw and raw["body"] is not None,
                body=raw.get("body"),
                depends_on=tuple(depends_on),
            )
        )
    ids = [entry.id for entry in entries]
    for entry_id in ids:
        if ids.count(entry_id) > 1:
            raise bad_request(f"Request ids in a $batch must be unique: '{entry_id}' appears twice.")
    known = set(ids)
    for entry in entries:
        for dependency in entry.depends_on:
            if dependency not in known or dependency == entry.id:
                raise bad_request(f"Request id : {entry.id} depends on an unknown request id '{dependency}'.")
    return entries


def _execution_order(entries: list[BatchEntry]) -> list[BatchEntry]:
    """Dependencies first; otherwise the order sent. 400 when dependsOn forms a cycle."""
    done: set[str] = set()
    order: list[BatchEntry] = []
    pending = list(entries)
    while pending:
        ready = next((e for e in pending if all(d in done for d in e.depends_on)), None)
        if ready is None:
            raise bad_request("The $batch requests' dependsOn form a cycle.")
        pending.remove(ready)
        done.add(ready.id)
        order.append(ready)
    return order


# -- the pipeline ------------------------------------------------------------------------------------
def _retry_after_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class SimGraph:
    """The simulated Graph service: routes, faults, throttling and counts around one `SimTenant`."""

    def __init__(
        self,
        tenant: SimTenant,
        authenticator: Authenticator,
        clock: Clock,
        *,
        clock_control: bool = True,
        limits: SimLimits | None = None,
    ) -> None:
        self.tenant = tenant
        self.authenticator = authenticator
        self.clock = clock
        self.clock_control = clock_control
        self.limits = limits or SimLimits()
        self.routes = graph_routes(self.limits)
        self.faults = FaultPlan()
        self.throttle = Throttle(clock, self.limits)
        self.stats = RequestStats()

    # -- routing ----------------------------------------------------------------------------------
    def resolve(self, method: str, path: str) -> Resolved:
        segments = [unquote(part) for part in path.split("/")]
        allowed: list[str] = []
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.method == method.upper():
                return Resolved(route.method, route, params, None)
            allowed.append(route.method)
        if allowed:
            error = SimGraphError(
                405,
                "MethodNotAllowed",
                f"The HTTP method '{method.upper()}' is not allowed on this resource; "
                f"use {', '.join(allowed)}.",
            )
        else:
            segment = next((s for s in reversed(segments) if s), "")
            error = bad_request(f"Resource not found for the segment '{segment}'.")
        return Resolved(method.upper(), None, {}, error)

    # -- HTTP entry point ------------------------------------------------------------------------
    async def serve(self, request: web.Request) -> web.Response:
        """Answer one Graph request that came over HTTP."""
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        raw = request.rel_url.raw_path
        path = raw[raw.find(f"{GRAPH_ROOT}/") :] if f"{GRAPH_ROOT}/" in raw else GRAPH_ROOT
        resolved = self.resolve(request.method, path)
        self.stats.count(resolved.key)
        try:
            answer = await self._serve(request, path, resolved, client_request_id)
        except SimGraphError as error:
            answer = self.error_answer(error, request_id, client_request_id)
        except Exception:
            log.exception("simulated Graph failed on %s %s", request.method, path)
            failure = SimGraphError(
                500, "InternalServerError", "The simulated Graph failed; see the bot's log."
            )
            answer = self.error_answer(failure, request_id, client_request_id)
        headers = {"request-id": request_id, "client-request-id": client_request_id, **answer.headers}
        if answer.body is None:
            return web.Response(status=answer.status, headers=headers)
        headers.pop("Content-Type", None)
        return web.json_response(answer.body, status=answer.status, headers=headers)

    async def _serve(
        self, request: web.Request, path: str, resolved: Resolved, client_request_id: str
    ) -> GraphAnswer:
        # The whole request arrives before a stall: a stalled write still lands once the stall ends.
        raw = await _read_body(request) if request.method != "GET" else b""
        await self._apply_fault(request.method, path)
        caller = await self.authenticator.authenticate(request)
        if resolved.route is None:
            assert resolved.error is not None
            raise resolved.error
        body = _parse_json(raw) if request.method != "GET" else None
        if resolved.route.access == "batch":
            return await self._batch(body, caller, client_request_id)
        return await self._dispatch(resolved.route, path, resolved.params, body, caller)

    async def _apply_fault(self, method: str, path: str) -> None:
        fault = self.faults.take(method, path)
        if fault is None:
            return
        log.info(
            "simulated fault on %s %s: status %s, delay %d ms", method, path, fault.status, fault.delay_ms
        )
        if fault.delay_ms and not await self.faults.stall(fault.delay_ms / 1000):
            log.info("simulated stall on %s %s released: the faults were cleared", method, path)
            return
        error = fault.error()
        if error is not None:
            raise error

    async def _dispatch(
        self, route: GraphRoute, path: str, params: dict[str, str], body: Any, caller: Caller
    ) -> GraphAnswer:
        self.throttle.admit(caller.tenant_id, caller.app_id, bulk=route.bulk)
        allowed = caller.can_write() if route.access == "write" else caller.can_read()
        if not allowed:
            raise SimGraphError(403, "Forbidden", "Insufficient privileges to complete the operation.")
        assert route.operation is not None
        answer = await route.operation(self.tenant, GraphCall(route.method, path, params, body, caller))
        if route.access == "write":
            self.stats.count_applied(route.key)
        return answer

    # -- $batch ----------------------------------------------------------------------------------
    async def _batch(self, body: Any, caller: Caller, client_request_id: str) -> GraphAnswer:
        entries = _execution_order(_read_batch(body, self.limits.max_batch_requests))
        results: dict[str, GraphAnswer] = {}
        responses: list[dict[str, Any]] = []
        for entry in entries:
            request_id = str(uuid.uuid4())
            entry_client_id = entry.header("client-request-id") or client_request_id
            failed = [d for d in entry.depends_on if not 200 <= results[d].status < 300]
            if failed:
                error = SimGraphError(
                    424,
                    "FailedDependency",
                    f"Request id : {entry.id} depends on request id : {failed[0]}, which failed.",
                )
                answer = self.error_answer(error, request_id, entry_client_id)
            else:
                answer = await self._run_entry(entry, caller, request_id, entry_client_id)
            results[entry.id] = answer
            response: dict[str, Any] = {
                "id": entry.id,
                "status": answer.status,
                "headers": dict(answer.headers),
            }
            if answer.body is not None:
                response["body"] = answer.body
            responses.append(response)
        return GraphAnswer(200, {"responses": responses})

    async def _run_entry(
        self, entry: BatchEntry, caller: Caller, request_id: str, client_request_id: str
    ) -> GraphAnswer:
        try:
            if "://" in entry.url:
                raise bad_request(
                    f"Request id : {entry.id}: the url must be relative to /v1.0 "
                    "(e.g. /users/{id}/presence)."
                )
            path = f"{GRAPH_ROOT}/{entry.url.split('?', 1)[0].lstrip('/')}"
            resolved = self.resolve(entry.method, path)
            self.stats.count_batched(resolved.key)
            content_type = entry.header("Content-Type")
            if entry.has_body and not content_type:
                raise bad_request(f"Write request id : {entry.id} does not contain Content-Type header.")
            if entry.has_body and content_type and "json" not in content_type.lower():
                raise SimGraphError(
                    415, "UnsupportedMediaType", "Only application/json bodies are supported."
                )
            await self._apply_fault(entry.method, path)
            if resolved.route is None:
                assert resolved.error is not None
                raise resolved.error
            if resolved.route.access == "batch":
                raise bad_request("A $batch cannot contain another $batch.")
            body = entry.body if entry.has_body else None
            answer = await self._dispatch(resolved.route, path, resolved.params, body, caller)
        except SimGraphError as error:
            return self.error_answer(error, request_id, client_request_id)
        if answer.body is not None:
            answer.headers.setdefault("Content-Type", "application/json")
        return answer

    # -- errors ----------------------------------------------------------------------------------
    def error_answer(self, error: SimGraphError, request_id: str, client_request_id: str) -> GraphAnswer:
        """Graph's error body for `error`, with `Retry-After` when it has one."""
        detail = GraphErrorDetail(
            code=error.code,
            message=error.message,
            inner_error={
                "request-id": request_id,
                "date": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "client-request-id": client_request_id,
            },
        )
        body = GraphErrorBody(error=detail).model_dump(by_alias=True, mode="json")
        headers = {**error.headers, "Content-Type": "application/json"}
        if error.retry_after is not None:
            headers["Retry-After"] = _retry_after_text(error.retry_after)
        return GraphAnswer(error.status, body, headers)


async def _read_json(request: web.Request) -> Any:
    return _parse_json(await _read_body(request))


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise SimGraphError(413, "RequestEntityTooLarge", "The request body is too large.") from exc


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise bad_request(_JSON_ERROR) from exc


# -- aiohttp ---------------------------------------------------------------------------------------
SIM_GRAPH = web.AppKey("sim_graph", SimGraph)
SIM_TENANT = web.AppKey("sim_tenant", SimTenant)


def _sim(request: web.Request) -> SimGraph:
    return request.app[SIM_GRAPH]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@web.middleware
async def _control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Control routes answer errors in Graph's shape too."""
    try:
        return await handler(request)
    except SimGraphError as error:
        request_id = str(uuid.uuid4())
        answer = _sim(request).error_answer(
            error, request_id, request.headers.get("client-request-id") or request_id
        )
        headers = {k: v for k, v in answer.headers.items() if k != "Content-Type"}
        return web.json_response(answer.body, status=answer.status, headers=headers)


async def _control_body(request: web.Request) -> dict[str, Any]:
    return _object(await _read_json(request))


async def graph(request: web.Request) -> web.Response:
    """Every Graph route: `/v1.0/...`."""
    return await _sim(request).serve(request)


async def list_users(request: web.Request) -> web.Response:
    """GET /_sim/users: every user the simulated tenant has met."""
    return _json({"users": _sim(request).tenant.user_ids()})


async def describe_user(request: web.Request) -> web.Response:
    """GET /_sim/users/{user_id}: the presence Graph returns, the sessions and preference behind it."""
    return _json(await _sim(request).tenant.describe(request.match_info["user_id"]))


async def add_client(request: web.Request) -> web.Response:
    """POST /_sim/users/{user_id}/clients {"availability", "activity"}: sign a Teams client in."""
    body = await _control_body(request)
    client_id = await _sim(request).tenant.add_client(
        request.match_info["user_id"], _optional_str(body, "availability"), _optional_str(body, "activity")
    )
    return _json({"id": client_id}, status=201)


async def remove_client(request: web.Request) -> web.Response:
    """DELETE /_sim/users/{user_id}/clients/{client_id}: sign a Teams client out."""
    await _sim(request).tenant.remove_client(request.match_info["user_id"], request.match_info["client_id"])
    return web.Response(status=204)


def _clock_json(clock: Clock) -> dict[str, Any]:
    data: dict[str, Any] = {"now": iso_utc(clock.now())}
    if isinstance(clock, AdjustableClock):
        data["offsetSeconds"] = clock.offset.total_seconds()
    return data


async def get_clock(request: web.Request) -> web.Response:
    """GET /_sim/clock: the simulator's time."""
    return _json(_clock_json(_sim(request).clock))


async def advance_clock(request: web.Request) -> web.Response:
    """POST /_sim/clock {"advance_seconds": N}: move the shared clock forward (when allowed)."""
    sim = _sim(request)
    clock = sim.clock
    if not sim.clock_control or not isinstance(clock, AdjustableClock):
        raise SimGraphError(403, "Forbidden", "Clock control is turned off for this simulator.")
    body = await _control_body(request)
    seconds = body.get("advance_seconds")
    if (
        not isinstance(seconds, int | float)
        or isinstance(seconds, bool)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise bad_request(
            "advance_seconds must be a number of seconds, 0 or more (the clock only moves forward)."
        )
    clock.advance(float(seconds))
    await sim.tenant.save()  # the clock offset is part of the saved state
    log.info("simulated clock advanced by %s s", seconds)
    return _json(_clock_json(clock))


async def add_fault(request: web.Request) -> web.Response:
    """POST /_sim/faults: make the next matching Graph calls fail or stall."""
    sim = _sim(request)
    sim.faults.add(Fault.from_json(await _read_json(request)))
    return _json({"faults": sim.faults.to_json()}, status=201)


async def list_faults(request: web.Request) -> web.Response:
    return _json({"faults": _sim(request).faults.to_json()})


async def clear_faults(request: web.Request) -> web.Response:
    _sim(request).faults.clear()
    return web.Response(status=204)


async def get_stats(request: web.Request) -> web.Response:
    """GET /_sim/stats: Graph requests received per route since the last reset."""
    return _json(_sim(request).stats.to_json())


async def reset_stats(request: web.Request) -> web.Response:
    _sim(request).stats.reset()
    return web.Response(status=204)


def create_sim_app(
    tenant: SimTenant,
    authenticator: Authenticator,
    clock: Clock,
    *,
    clock_control: bool = True,
    limits: SimLimits | None = None,
) -> web.Application:
    """The simulated Graph as an aiohttp app, to be mounted with `app.add_subapp("/sim", ...)`."""
    app = web.Application(middlewares=[_control_errors])
    app[SIM_TENANT] = tenant
    app[SIM_GRAPH] = SimGraph(tenant, authenticator, clock, clock_control=clock_control, limits=limits)
    app.router.add_route("*", GRAPH_ROOT + "/{path:.*}", graph)
    app.router.add_get("/_sim/users", list_users)
    app.router.add_get("/_sim/users/{user_id}", describe_user)
    app.router.add_post("/_sim/users/{user_id}/clients", add_client)
    app.router.add_delete("/_sim/users/{user_id}/clients/{client_id}", remove_client)
    app.router.add_get("/_sim/clock", get_clock)
    app.router.add_post("/_sim/clock", advance_clock)
    app.router.add_get("/_sim/faults", list_faults)
    app.router.add_post("/_sim/faults", add_fault)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_get("/_sim/stats", get_stats)
    app.router.add_delete("/_sim/stats", reset_stats)
    return app
