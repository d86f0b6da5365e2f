"""The simulated Graph's operations and their route table: one Graph call (`GraphCall`) and its answer
(`GraphAnswer`), each route's method, path template and access (`GraphRoute`), and what each operation
reads from the call and asks of the `SimTenant`. `bot.sim.graph` runs them through its pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.graph.models import DateTimeTimeZone
from bot.sim.caller import Caller
from bot.sim.errors import SimGraphError, bad_request
from bot.sim.tenant import SimTenant
from bot.sim.traffic import SimLimits

__all__ = [
    "GRAPH_ROOT",
    "Access",
    "GraphAnswer",
    "GraphCall",
    "GraphRoute",
    "Operation",
    "Resolved",
    "graph_routes",
    "json_object",
    "optional_str",
]

GRAPH_ROOT = "/v1.0"


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
def json_object(body: Any, *, required: bool = True) -> dict[str, Any]:
    if body is None and not required:
        return {}
    if body is None:
        raise bad_request("The request body is missing: send a JSON object.")
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def optional_str(body: Mapping[str, Any], name: str) -> str | None:
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
    body = json_object(call.body)
    await tenant.set_presence(
        _user_id(call),
        call.caller.app_id,
        optional_str(body, "sessionId"),
        optional_str(body, "availability"),
        optional_str(body, "activity"),
        optional_str(body, "expirationDuration"),
    )
    return GraphAnswer(200)


async def _clear_presence(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    body = json_object(call.body, required=False)
    await tenant.clear_presence(_user_id(call), call.caller.app_id, optional_str(body, "sessionId"))
    return GraphAnswer(200)


async def _set_preferred(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    body = json_object(call.body)
    await tenant.set_preferred_presence(
        _user_id(call),
        optional_str(body, "availability"),
        optional_str(body, "activity"),
        optional_str(body, "expirationDuration"),
    )
    return GraphAnswer(200)


async def _clear_preferred(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    await tenant.clear_preferred_presence(_user_id(call))
    return GraphAnswer(200)


async def _set_status_message(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
    body = json_object(call.body)
    status = body.get("statusMessage")
    if not isinstance(status, dict):
        raise bad_request('statusMessage is required: {"statusMessage": {"message": {"content": "..."}}}.')
    message = status.get("message")
    if message is not None and not isinstance(message, dict):
        raise bad_request('statusMessage.message must be an object: {"content", "contentType"}.')
    content = optional_str(message or {}, "content")
    content_type = optional_str(message or {}, "contentType")
    expiry_data = status.get("expiryDateTime")
    expiry: DateTimeTimeZone | None = None
    if expiry_data is not None:
        if not isinstance(expiry_data, dict):
            raise bad_request('statusMessage.expiryDateTime must be an object: {"dateTime", "timeZone"}.')
        date_time = optional_str(expiry_data, "dateTime")
        if not date_time:
            raise bad_request("statusMessage.expiryDateTime.dateTime is required.")
        expiry = DateTimeTimeZone(
            date_time=date_time, time_zone=optional_str(expiry_data, "timeZone") or "UTC"
        )
    await tenant.set_status_message(_user_id(call), content, content_type, expiry)
    return GraphAnswer(200)


def _presences_by_user_id(max_ids: int) -> Operation:
    async def operation(tenant: SimTenant, call: GraphCall) -> GraphAnswer:
        body = json_object(call.body)
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
