"""The simulated tenant on its own, as a stand-in for a real one: `presence-bot simulator`.

Graph's routes sit at the root of a plain-HTTP port (`http://127.0.0.1:3980/v1.0/...`, control routes
under `/_sim/...`) and check tokens with `JwtAuthenticator`; the simulated identity platform that
issues those tokens listens over TLS on its own port. The bot is pointed at it exactly as at a real
tenant, through `GRAPH_BASE_URL`, `GRAPH_AUTHORITY_HOST`, `GRAPH_CA_BUNDLE`, `GRAPH_CLIENT_ID`,
`GRAPH_CLIENT_SECRET` and `GRAPH_TENANT_ID` (`StandaloneSimulator.environment()`), so it runs its
production path: msal's real client-credentials flow and the Graph client against a base URL.

The simulator owns its clock (an `AdjustableClock`, moved with `POST /_sim/clock`); its state, keys and
CA live in `data_dir` and survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from bot.clock import AdjustableClock
from bot.config import SIM_APP_ID, SIM_APP_SECRET, SIM_TENANT_ID
from bot.core.net import is_loopback_host, listening_url
from bot.sim.caller import PRESENCE_READWRITE_ALL
from bot.sim.identity import IdentitySite, JwtAuthenticator, RegisteredApp, SimIdentity, start_identity_site
from bot.sim.routes import SIM_GRAPH, SimGraph, create_sim_app
from bot.sim.tenant import SimTenant
from bot.sim.traffic import SimLimits

__all__ = ["DEFAULT_PORT", "StandaloneSimulator", "start_standalone"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 3980
# Seconds a stop waits for Graph calls in flight (a stalled one is released by clearing the faults first).
_SHUTDOWN_TIMEOUT = 2.0


@dataclass
class StandaloneSimulator:
    """A running standalone simulated tenant: where it listens and how to reach it."""

    url: str  # e.g. http://127.0.0.1:3980: Graph under /v1.0, control routes under /_sim
    identity_url: str  # e.g. https://127.0.0.1:3981: the authority host
    ca_path: Path  # the CA that signed the identity platform's certificate
    client_id: str
    client_secret: SecretStr
    tenant_ids: tuple[str, ...]
    clock: AdjustableClock
    tenant: SimTenant
    graph: SimGraph
    _runner: web.AppRunner
    _identity: IdentitySite

    @property
    def graph_base_url(self) -> str:
        return f"{self.url}/v1.0"

    def environment(self) -> dict[str, str]:
        """The variables that point the bot at this tenant, as at a real one (README, Configuration)."""
        return {
            "GRAPH_BASE_URL": self.graph_base_url,
            "GRAPH_AUTHORITY_HOST": self.identity_url,
            "GRAPH_CA_BUNDLE": str(self.ca_path),
            "GRAPH_CLIENT_ID": self.client_id,
            "GRAPH_CLIENT_SECRET": self.client_secret.get_secret_value(),
            "GRAPH_TENANT_ID": self.tenant_ids[0],
        }

    def environment_lines(self) -> list[str]:
        """`export NAME=value` lines: for a shell, and for a `.env` file (which accepts `export`)."""
        return [f"export {name}={shlex.quote(value)}" for name, value in self.environment().items()]

    async def stop(self) -> None:
        self.graph.faults.clear()  # releases Graph calls stalled by a fault, so stopping is quick
        await self._runner.cleanup()
        await self._identity.stop()


def _prepare_dir(data_dir: Path) -> Path:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


async def start_standalone(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    identity_port: int | None = None,
    tenant_ids: Sequence[str] = (SIM_TENANT_ID,),
    client_id: str = SIM_APP_ID,
    client_secret: SecretStr | str = SIM_APP_SECRET,
    client_certificates: Sequence[str] = (),
    limits: SimLimits | None = None,
) -> StandaloneSimulator:
    """Start the simulated Graph on `host:port` and its identity platform on `identity_port`.

    `identity_port` defaults to `port + 1` (any free port when `port` is 0). The app `client_id` is
    registered, with `Presence.ReadWrite.All` consented, in every tenant of `tenant_ids`; the first is
    the one `environment()` names. Besides its secret, the app accepts client assertions signed by the
    keys of `client_certificates` (PEM), as an app with uploaded certificates does in Entra ID. The
    identity platform's certificate covers loopback names only, so it always listens on loopback,
    whatever `host` the Graph side is given.
    """
    tenants = tuple(t.strip() for t in tenant_ids if t.strip())
    if not tenants:
        raise ValueError("the simulated tenant needs at least one tenant id")
    secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
    data_dir = await asyncio.to_thread(_prepare_dir, Path(data_dir))
    clock = AdjustableClock()
    identity = SimIdentity(
        data_dir,
        clock,
        [
            RegisteredApp(
                client_id=client_id,
                client_secret=secret,
                tenant_id=tenant,
                roles=frozenset({PRESENCE_READWRITE_ALL}),
                display_name="Presence Bot (standalone simulated tenant)",
                certificates=tuple(client_certificates),
            )
            for tenant in tenants
        ],
    )
    # Created after the clock and before any token: a restart restores the saved clock offset.
    tenant_state = SimTenant(clock, data_dir / "sim-state.json")
    app = create_sim_app(
        tenant_state, JwtAuthenticator(identity, clock), clock, clock_control=True, limits=limits
    )
    identity_host = host if is_loopback_host(host) else "127.0.0.1"
    if identity_port is None:
        identity_port = port + 1 if port else 0
    identity_site = await start_identity_site(identity, identity_host, identity_port)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        await identity_site.stop()
        raise
    simulator = StandaloneSimulator(
        url=listening_url("http", host, runner.addresses, port),
        identity_url=identity_site.base_url,
        ca_path=identity.ca_path,
        client_id=client_id,
        client_secret=secret,
        tenant_ids=tenants,
        clock=clock,
        tenant=tenant_state,
        graph=app[SIM_GRAPH],
        _runner=runner,
        _identity=identity_site,
    )
    log.info(
        "standalone simulated tenant: Graph at %s, identity platform at %s",
        simulator.graph_base_url,
        simulator.identity_url,
    )
    return simulator
