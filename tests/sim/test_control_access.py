"""The simulator's control routes (`/_sim/...`: the clock the bot's timers run on, injected faults, the
tenant's users) answer only clients on this machine, judged by the TCP peer address (`request.remote`),
whatever address the server listens on. Requests are built with aiohttp's `make_mocked_request` on a
transport whose peer is the given address: no traffic leaves the machine."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.clock import AdjustableClock
from bot.sim.control import control_errors
from bot.sim.routes import create_sim_app
from bot.sim.tenant import SimTenant
from tests.support.trusting import TrustingAuthenticator

APP = "5ad0b075-0000-4000-8000-00000000b075"
TENANT = "00000000-0000-0000-0000-0000000000001"


def _transport(peer: tuple[Any, ...] | None) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: peer if name == "peername" else default
    return transport


@pytest.fixture
def sim_app() -> web.Application:
    clock = AdjustableClock()
    return create_sim_app(
        SimTenant(clock, None), TrustingAuthenticator(APP, TENANT), clock, clock_control=True
    )


def _control_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    for resource in app.router.resources():
        info = resource.get_info()
        template = str(info.get("path") or info.get("formatter") or "")
        if not template.startswith("/_sim"):
            continue
        path = template.replace("{user_id}", "alex").replace("{client_id}", "teams-client-1")
        found.extend((route.method, path, route.handler) for route in resource)
    return found


async def _answer(
    app: web.Application,
    method: str,
    path: str,
    handler: Any,
    peer: tuple[Any, ...] | None,
    headers: dict[str, str] | None = None,
) -> int:
    request = make_mocked_request(method, path, app=app, transport=_transport(peer), headers=headers)
    response = await control_errors(request, handler)
    return response.status


def test_every_control_route_is_found(sim_app: web.Application) -> None:
    paths = {(method, path) for method, path, _ in _control_routes(sim_app)}
    assert ("POST", "/_sim/clock") in paths and ("POST", "/_sim/faults") in paths
    assert len(paths) == 16


@pytest.mark.parametrize(
    "peer",
    [
        ("10.0.0.1", 50000),
        ("192.168.1.20", 50000),
        ("2001:db8::5", 50000, 0, 0),
        ("::ffff:10.0.0.1", 50000, 0, 0),
        None,
    ],
)
async def test_control_routes_refuse_a_client_elsewhere(
    sim_app: web.Application, peer: tuple[Any, ...] | None
) -> None:
    for method, path, handler in _control_routes(sim_app):
        assert await _answer(sim_app, method, path, handler, peer) == 403, (method, path)


async def test_the_refusal_is_in_graphs_error_shape(sim_app: web.Application) -> None:
    request = make_mocked_request("POST", "/_sim/clock", app=sim_app, transport=_transport(("10.0.0.1", 5)))
    (_, _, handler) = next(r for r in _control_routes(sim_app) if r[:2] == ("POST", "/_sim/clock"))
    response = await control_errors(request, handler)
    assert isinstance(response, web.Response) and isinstance(response.body, bytes)
    assert b'"code": "Forbidden"' in response.body and b"this machine only" in response.body


@pytest.mark.parametrize(
    "peer",
    [("127.0.0.1", 50000), ("127.0.0.2", 50000), ("::1", 50000, 0, 0), ("::ffff:127.0.0.1", 50000, 0, 0)],
)
async def test_control_routes_answer_this_machine(sim_app: web.Application, peer: tuple[Any, ...]) -> None:
    (_, _, handler) = next(r for r in _control_routes(sim_app) if r[:2] == ("GET", "/_sim/users"))
    assert await _answer(sim_app, "GET", "/_sim/users", handler, peer) == 200


@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "203.0.113.7"},
        {"Forwarded": "for=203.0.113.7"},
        {"X-Forwarded-Host": "abc.ngrok.app"},
        {"X-Real-IP": "203.0.113.7"},
    ],
)
async def test_a_request_a_local_proxy_or_tunnel_forwarded_is_refused(
    sim_app: web.Application, header: dict[str, str]
) -> None:
    """A tunnel on this machine connects from loopback; its forwarding header gives it away."""
    (_, _, handler) = next(r for r in _control_routes(sim_app) if r[:2] == ("POST", "/_sim/clock"))
    assert await _answer(sim_app, "POST", "/_sim/clock", handler, ("127.0.0.1", 5), header) == 403


async def test_graph_routes_are_not_limited_to_loopback(sim_app: web.Application) -> None:
    """Graph's own routes check tokens instead: a client elsewhere gets Graph's answer, not 403."""
    graph = next(
        route.handler
        for resource in sim_app.router.resources()
        if str(resource.get_info().get("formatter", "")).startswith("/v1.0")
        for route in resource
    )
    request = make_mocked_request(
        "GET", "/v1.0/users/alex/presence", app=sim_app, transport=_transport(("10.0.0.1", 5))
    )
    response = await control_errors(request, graph)
    assert response.status != 403
