"""The simulated Graph over HTTP: Graph's presence routes under `/v1.0` (and `$batch`), plus control routes
under `/_sim` for people and tests. The bot mounts `create_sim_app(...)` at `/sim`.

The parts, one job each: `bot.sim.operations` (the operations and their route table), `bot.sim.batch`
(`$batch` as sent), `bot.sim.graph` (`SimGraph`, the pipeline every Graph request runs through) and
`bot.sim.control` (the `/_sim` routes). This module wires them into one aiohttp app.
"""

from __future__ import annotations

from aiohttp import web

from bot.clock import Clock
from bot.sim.caller import Authenticator
from bot.sim.control import (
    add_client,
    add_fault,
    advance_clock,
    clear_faults,
    clear_out_of_office,
    clear_status_message,
    control_errors,
    describe_user,
    get_clock,
    get_stats,
    list_faults,
    list_users,
    loopback_only,
    remove_client,
    reset_stats,
    set_client,
    set_out_of_office,
    set_status_message,
)
from bot.sim.graph import SIM_GRAPH, SIM_TENANT, SimGraph
from bot.sim.operations import GRAPH_ROOT, GraphAnswer, GraphCall
from bot.sim.tenant import SimTenant
from bot.sim.traffic import SimLimits

__all__ = ["SIM_GRAPH", "SIM_TENANT", "GraphAnswer", "GraphCall", "SimGraph", "SimLimits", "create_sim_app"]


async def graph(request: web.Request) -> web.Response:
    """Every Graph route: `/v1.0/...`."""
    return await request.app[SIM_GRAPH].serve(request)


def create_sim_app(
    tenant: SimTenant,
    authenticator: Authenticator,
    clock: Clock,
    *,
    clock_control: bool = True,
    limits: SimLimits | None = None,
) -> web.Application:
    """The simulated Graph as an aiohttp app, to be mounted with `app.add_subapp("/sim", ...)`."""
    app = web.Application(middlewares=[control_errors])
    app[SIM_TENANT] = tenant
    app[SIM_GRAPH] = SimGraph(tenant, authenticator, clock, clock_control=clock_control, limits=limits)
    app.router.add_route("*", GRAPH_ROOT + "/{path:.*}", graph)
    for method, path, handler in (
        ("GET", "/_sim/users", list_users),
        ("GET", "/_sim/users/{user_id}", describe_user),
        ("POST", "/_sim/users/{user_id}/clients", add_client),
        ("PATCH", "/_sim/users/{user_id}/clients/{client_id}", set_client),
        ("DELETE", "/_sim/users/{user_id}/clients/{client_id}", remove_client),
        ("POST", "/_sim/users/{user_id}/statusMessage", set_status_message),
        ("DELETE", "/_sim/users/{user_id}/statusMessage", clear_status_message),
        ("POST", "/_sim/users/{user_id}/outOfOffice", set_out_of_office),
        ("DELETE", "/_sim/users/{user_id}/outOfOffice", clear_out_of_office),
        ("GET", "/_sim/clock", get_clock),
        ("POST", "/_sim/clock", advance_clock),
        ("GET", "/_sim/faults", list_faults),
        ("POST", "/_sim/faults", add_fault),
        ("DELETE", "/_sim/faults", clear_faults),
        ("GET", "/_sim/stats", get_stats),
        ("DELETE", "/_sim/stats", reset_stats),
    ):
        app.router.add_route(method, path, loopback_only(handler))  # no token: this machine only
    return app
