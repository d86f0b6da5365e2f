"""The control routes under `/_sim` (not Graph), for people and tests: the tenant's users, their
simulated Teams clients and what they set by hand in Teams and Outlook (a status message, out of office),
the clock, injected faults and request stats. Their errors are answered in
Graph's shape too (`control_errors`).

They check no token, and they move the clock the bot's timers run on and make Graph fail: so they
answer loopback clients only (`loopback_only`, on the connection's peer address), whatever address the
server listens on.
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.clock import AdjustableClock, Clock
from bot.core.net import is_loopback_host
from bot.graph.models import DateTimeTimeZone
from bot.sim.errors import SimGraphError, bad_request
from bot.sim.graph import SIM_GRAPH, SimGraph, read_json
from bot.sim.operations import json_object, optional_str
from bot.sim.times import iso_utc
from bot.sim.traffic import Fault

__all__ = [
    "add_client",
    "add_fault",
    "advance_clock",
    "clear_faults",
    "clear_out_of_office",
    "clear_status_message",
    "control_errors",
    "describe_user",
    "get_clock",
    "get_stats",
    "list_faults",
    "list_users",
    "loopback_only",
    "remove_client",
    "reset_stats",
    "set_client",
    "set_out_of_office",
    "set_status_message",
]

log = logging.getLogger(__name__)


def _sim(request: web.Request) -> SimGraph:
    return request.app[SIM_GRAPH]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
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


# What a reverse proxy or tunnel (ngrok, dev tunnels…) adds: it connects from loopback, its client does not.
_FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")


def loopback_only(handler: Handler) -> Handler:
    """`handler`, answering 403 to a client that is not on this machine: by the TCP peer's address
    (`request.remote`, which no header can change), and refusing a request a proxy or tunnel on this
    machine forwarded (it says so in a forwarding header)."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        forwarded = any(name in request.headers for name in _FORWARDED)
        if forwarded or not is_loopback_host(request.remote or ""):
            log.warning("refused a simulator control request from %s: loopback clients only", request.remote)
            raise SimGraphError(
                403, "Forbidden", "The simulator's control routes answer clients on this machine only."
            )
        return await handler(request)

    return guarded


async def _control_body(request: web.Request) -> dict[str, Any]:
    return json_object(await read_json(request))


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
        request.match_info["user_id"], optional_str(body, "availability"), optional_str(body, "activity")
    )
    return _json({"id": client_id}, status=201)


async def remove_client(request: web.Request) -> web.Response:
    """DELETE /_sim/users/{user_id}/clients/{client_id}: sign a Teams client out."""
    await _sim(request).tenant.remove_client(request.match_info["user_id"], request.match_info["client_id"])
    return web.Response(status=204)


async def set_client(request: web.Request) -> web.Response:
    """PATCH /_sim/users/{user_id}/clients/{client_id} {"availability", "activity"}: the client now reports
    this state (a meeting started, a call ended)."""
    body = await _control_body(request)
    await _sim(request).tenant.set_client(
        request.match_info["user_id"],
        request.match_info["client_id"],
        optional_str(body, "availability"),
        optional_str(body, "activity"),
    )
    return web.Response(status=204)


def _message(body: dict[str, Any]) -> str | None:
    if "message" not in body:
        raise bad_request('message is required: {"message": "text"}, or {"message": null} to clear.')
    return optional_str(body, "message")


async def set_out_of_office(request: web.Request) -> web.Response:
    """POST /_sim/users/{user_id}/outOfOffice {"message": "On leave until Monday"}: automatic replies on
    ({"message": ""}: on, without a message; {"message": null}: off)."""
    message = _message(await _control_body(request))
    tenant = _sim(request).tenant
    user_id = request.match_info["user_id"]
    if message is None:
        await tenant.clear_out_of_office(user_id)
    else:
        await tenant.set_out_of_office(user_id, message)
    return web.Response(status=204)


async def clear_out_of_office(request: web.Request) -> web.Response:
    """DELETE /_sim/users/{user_id}/outOfOffice: automatic replies off."""
    await _sim(request).tenant.clear_out_of_office(request.match_info["user_id"])
    return web.Response(status=204)


async def set_status_message(request: web.Request) -> web.Response:
    """POST /_sim/users/{user_id}/statusMessage {"message": "text", "expiresAt"?: ISO 8601}: the status
    message the user typed in Teams, under setStatusMessage's rules ({"message": "" or null}: cleared)."""
    body = await _control_body(request)
    message = _message(body)
    expires = optional_str(body, "expiresAt")
    expiry = DateTimeTimeZone(date_time=expires, time_zone="UTC") if expires and message else None
    await _sim(request).tenant.set_status_message(request.match_info["user_id"], message, "text", expiry)
    return web.Response(status=204)


async def clear_status_message(request: web.Request) -> web.Response:
    """DELETE /_sim/users/{user_id}/statusMessage."""
    await _sim(request).tenant.set_status_message(request.match_info["user_id"], "", "text", None)
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
    sim.faults.add(Fault.from_json(await read_json(request)))
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
