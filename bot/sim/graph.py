"""The simulated Graph service, `SimGraph`: the pipeline every Graph request runs through.

Every Graph request, top level or inside a `$batch`, runs through one pipeline: count it, apply any
injected fault, authenticate (top level only: batch entries share their envelope's caller), throttle,
check the permission, then run the operation on the `SimTenant`. Every error, wherever it is raised, is
answered in Graph's shape: `{"error": {"code", "message", "innerError": {"request-id", "date",
"client-request-id"}}}`.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.clock import Clock
from bot.graph.models import GraphErrorBody, GraphErrorDetail
from bot.sim.batch import BatchEntry, execution_order, read_batch
from bot.sim.caller import Authenticator, Caller
from bot.sim.errors import SimGraphError, bad_request
from bot.sim.operations import GRAPH_ROOT, GraphAnswer, GraphCall, GraphRoute, Resolved, graph_routes
from bot.sim.tenant import SimTenant
from bot.sim.traffic import FaultPlan, RequestStats, SimLimits, Throttle

__all__ = ["SIM_GRAPH", "SIM_TENANT", "SimGraph", "read_json"]

log = logging.getLogger(__name__)

_JSON_ERROR = (
    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
    "valid JSON format."
)


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
        entries = execution_order(read_batch(body, self.limits.max_batch_requests))
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


# -- request bodies --------------------------------------------------------------------------------
async def read_json(request: web.Request) -> Any:
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


# -- where an aiohttp app keeps them (`create_sim_app`) -------------------------------------------
SIM_GRAPH = web.AppKey("sim_graph", SimGraph)
SIM_TENANT = web.AppKey("sim_tenant", SimTenant)
