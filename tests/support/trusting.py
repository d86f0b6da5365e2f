"""An `Authenticator` for the simulated Graph that checks no token, for tests that mount the simulator's
routes on their own (`create_sim_app`) and are not about who is calling.

    create_sim_app(tenant, TrustingAuthenticator(APP, TENANT), clock)

The product's simulator always checks the tokens of its simulated identity platform (`JwtAuthenticator`).
"""

from __future__ import annotations

from aiohttp import web

from bot.sim.caller import PRESENCE_READWRITE_ALL, Caller


class TrustingAuthenticator:
    """Every request is the one configured app, with full presence permissions."""

    def __init__(self, app_id: str, tenant_id: str) -> None:
        self._caller = Caller(app_id=app_id, tenant_id=tenant_id, roles=frozenset({PRESENCE_READWRITE_ALL}))

    async def authenticate(self, request: web.Request) -> Caller:
        return self._caller
