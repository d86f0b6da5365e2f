"""`create_app(settings) -> web.Application`: the wiring. It registers the bot endpoint (`bot/teams/http.py`),
health, and (when the mode says Graph is simulated: `bot/modes.py`) the embedded simulated tenant under
`/sim`; `cleanup_ctx` opens every shared resource and builds `Services`, complete, before the endpoint
opens. Nothing is module-level; nothing here reads a request body."""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from pydantic import SecretStr

from bot.clock import AdjustableClock, Clock, SystemClock
from bot.colleagues.service import ColleaguesService
from bot.colleagues.watcher import Watcher
from bot.config import SIM_APP_ID, SIM_APP_SECRET, Settings
from bot.core.tenants import MULTI_TENANT_SEGMENTS
from bot.graph import speedups as graph_speedups
from bot.graph.auth import MsalTokenProvider
from bot.graph.client import GraphClient
from bot.graph.transport import RetryPolicy
from bot.health import HealthRoutes, Readiness
from bot.modes import Mode, ModeKind, require_mode
from bot.preferences import PreferencesService
from bot.presence.holds import HoldKeeper
from bot.presence.locks import UserLocks, dead_local_owner, lease_owner
from bot.presence.service import PresenceService
from bot.store.dispatch import TimerDispatcher
from bot.store.effects import StoreAudit
from bot.store.records import TimerKind
from bot.store.retention import Retention
from bot.store.store import Store, open_store
from bot.store.timers import TimerService
from bot.teams import speedups
from bot.teams.auth import inbound_authentication
from bot.teams.handler import PresenceBot
from bot.teams.http import MAX_BODY, MessagesEndpoint, TeamsEdge, teams_adapter
from bot.teams.inbound_auth import InboundAuthentication
from bot.teams.notices import TeamsNotifier
from bot.teams.sender import SendPolicy
from bot.turns import (
    CheckTenant,
    Dispatcher,
    KeepCardOwner,
    MarkDone,
    Pipeline,
    RecordTurn,
    ResolveTimeZone,
    require_sender,
    skip_redelivered,
)
from bot.turns.commands import COMMANDS
from bot.turns.commands import Services as CommandServices
from bot.turns.inputs import clean_text

if TYPE_CHECKING:
    from bot.sim.identity import SimIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What a running app holds, built together in `cleanup_ctx` once every resource is open."""

    http: httpx.AsyncClient
    tokens: MsalTokenProvider
    store: Store
    graph: GraphClient
    keeper: HoldKeeper
    watcher: Watcher
    retention: Retention
    timers: TimerService
    notifier: TeamsNotifier
    readiness: Readiness
    bot: PresenceBot
    adapter: CloudAdapter
    authentication: InboundAuthentication


@dataclass
class Runtime:
    """The app's state: what `create_app` knows, and the `Services` once `cleanup_ctx` has built them."""

    settings: Settings
    mode: Mode
    clock: Clock
    endpoint: MessagesEndpoint
    health: HealthRoutes
    self_url: str = ""  # where this process listens, known once the site is bound
    sim_identity: SimIdentity | None = None  # the embedded simulated tenant's identity platform (if any)
    _services: Services | None = field(default=None, repr=False)

    @property
    def services(self) -> Services:
        """The running app's services (`RuntimeError` before `cleanup_ctx` has built them)."""
        if self._services is None:
            raise RuntimeError("the app has not started")
        return self._services

    def start(self, services: Services) -> None:
        """The services are built: the endpoint and the health routes open on them."""
        self._services = services
        self.endpoint.open(TeamsEdge(services.authentication, services.adapter, services.bot))
        self.health.open(
            services.readiness,
            lambda: {"timers": services.timers.stats(), "notices": services.notifier.sender.stats()},
        )

    def stop(self) -> None:
        self.endpoint.close()
        self.health.close()


RUNTIME = web.AppKey("runtime", Runtime)


def create_app(
    settings: Settings, *, clock: Clock | None = None, mode: Mode | None = None
) -> web.Application:
    """The app for `mode` (decided from `settings` when not given: raises `ConfigurationError`)."""
    speedups.apply()
    graph_speedups.apply()
    mode = mode if mode is not None else require_mode(settings)
    if clock is None:
        clock = AdjustableClock() if mode.simulated_graph else SystemClock()
    app = web.Application(client_max_size=MAX_BODY)
    about: dict[str, object] = {
        "mode": mode.kind.value,
        "graph": "simulator" if mode.simulated_graph else "microsoft-graph",
        "authenticated": mode.authenticated,
    }
    runtime = Runtime(
        settings, mode, clock, MessagesEndpoint(authenticated=mode.authenticated), HealthRoutes(about, clock)
    )
    app[RUNTIME] = runtime
    app.router.add_post("/api/messages", runtime.endpoint)
    app.router.add_get("/healthz", runtime.health.live)
    app.router.add_get("/readyz", runtime.health.ready)
    if mode.simulated_graph:  # never in production: no /sim routes at all
        _mount_simulator(app, runtime)
    app.cleanup_ctx.append(_resources)
    return app


def _mount_simulator(app: web.Application, runtime: Runtime) -> None:
    """The embedded simulated tenant: Graph under /sim, its identity platform on its own TLS port."""
    from bot.sim.caller import PRESENCE_READWRITE_ALL
    from bot.sim.identity import ANY_TENANT, JwtAuthenticator, RegisteredApp, SimIdentity
    from bot.sim.routes import create_sim_app
    from bot.sim.tenant import SimTenant

    settings = runtime.settings
    settings.store.data_dir.mkdir(parents=True, exist_ok=True)
    identity = SimIdentity(
        settings.store.data_dir,
        runtime.clock,
        [
            RegisteredApp(
                client_id=SIM_APP_ID,
                client_secret=SecretStr(SIM_APP_SECRET),
                tenant_id=tenant,
                roles=frozenset({PRESENCE_READWRITE_ALL}),
                display_name="Presence Bot (simulated tenant)",
            )
            # By default registered in every tenant: a developer's own Teams tenant works as it is.
            for tenant in runtime.mode.sim_tenants or (ANY_TENANT,)
        ],
    )
    tenant_state = SimTenant(runtime.clock, settings.store.data_dir / "sim-state.json")
    authenticator = JwtAuthenticator(identity, runtime.clock)
    app.add_subapp("/sim", create_sim_app(tenant_state, authenticator, runtime.clock, clock_control=True))
    runtime.sim_identity = identity


async def _resources(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    settings, mode, clock = runtime.settings, runtime.mode, runtime.clock
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                # GRAPH_CA_BUNDLE: an extra CA for Graph too (a TLS-terminating proxy, a rehearsal tenant).
                verify=_graph_tls(mode),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                headers={"User-Agent": "presence-bot/0.1"},
            )
        )
        target = mode.graph
        ca_bundle: Path | None
        base_url: str | Callable[[], str]
        if runtime.sim_identity is not None:  # the embedded simulated tenant (mode.graph.embedded)
            from bot.sim.identity import start_identity_site

            identity = runtime.sim_identity
            site = await start_identity_site(identity, "127.0.0.1", settings.simulator.identity_port)
            stack.push_async_callback(site.stop)
            authority_host, ca_bundle = site.base_url, identity.ca_path
            base_url = lambda: f"{runtime.self_url}/sim/v1.0"  # noqa: E731
        else:
            authority_host, ca_bundle, base_url = target.authority_host, target.ca_bundle, target.base_url
        tokens = MsalTokenProvider(
            client_id=target.client_id,
            credential=target.credential,
            default_tenant=target.default_tenant,
            authority_host=authority_host,
            ca_bundle=ca_bundle,
            clock=clock,
            scope=target.scope,
        )
        stack.push_async_callback(tokens.aclose)
        store = await open_store(settings.store.database_url, settings.store.data_dir, clock)
        stack.push_async_callback(store.close)
        graph = GraphClient(
            http,
            base_url=base_url,
            tokens=tokens,
            session_id=mode.session_id,
            audit=StoreAudit(store),
            # Graph's own budget ends a second before the command's, so the user sees why it failed.
            retry=RetryPolicy(budget=max(1.0, settings.presence.command_budget_seconds - 1.0)),
        )
        owner = lease_owner()
        # Replicas share PostgreSQL: they also lease each user in the store around a command or hold step.
        locks = UserLocks(store if store.dialect == "postgresql" else None, owner=owner)
        if store.dialect == "postgresql":
            # A replica of this host killed while holding user leases (a crash, a redeploy) would keep
            # those users waiting until the leases expire: its leases go now.
            freed = await store.release_leases_of(dead_local_owner)
            if freed:
                log.warning("released %d user lease(s) of processes of this host that are gone", freed)
        authentication = inbound_authentication(mode, settings.bot, http)
        adapter = teams_adapter(authentication)
        simulated = mode.kind is ModeKind.TEAMS_SIMULATED_GRAPH
        notifier = TeamsNotifier(
            lambda: adapter,
            store,
            clock,
            app_id=mode.bot.app_id if mode.bot is not None else "",
            default_time_zone=settings.presence.default_time_zone,
            policy=SendPolicy(per_tenant=settings.bot.notices_per_second),
            simulated=simulated,
        )
        stack.push_async_callback(notifier.close)  # after the timers stop, before the store closes
        keeper = HoldKeeper(store, graph, clock, session_id=mode.session_id, notifier=notifier, locks=locks)
        retention = Retention(store, clock, days=settings.store.audit_days)
        # /watch: one poll timer per tenant, notices through the same sender as hold notices.
        watcher = Watcher(store, graph, clock, notifier, interval=settings.colleagues.watch_interval)
        # One handler per kind of timer: a hold's steps, the watches' polls, the store's own maintenance.
        routes = TimerDispatcher()
        routes.route([kind.value for kind in TimerKind], keeper.fire, keeper.give_up)
        routes.route(watcher.kinds, watcher.fire, watcher.give_up)
        routes.route(retention.kinds, retention.fire, retention.give_up)
        timers = TimerService(
            store,
            clock,
            routes.fire,
            owner=owner,
            on_give_up=routes.give_up,
            # A refresh mostly waits for Graph (100–400 ms): 10,000 Available holds need ~42 refreshes a
            # second, so enough of them must be in flight at once (bench/timers.py, docs/performance.md).
            concurrency=64,
        )
        keeper.attach(timers)
        watcher.attach(timers)
        retention.attach(timers)
        stack.push_async_callback(timers.stop)  # runs before the store and HTTP client close
        presence = PresenceService(
            graph,
            keeper,
            session_id=mode.session_id,
            default_duration=settings.presence.default_duration,
            max_hold=settings.presence.max_hold,
            locks=locks,
        )
        colleagues = ColleaguesService(
            graph,
            store,
            watcher,
            enabled=settings.colleagues.enabled,
            who_limit=settings.colleagues.who_limit,
            watch_cap=settings.colleagues.watch_cap,
            workday_end=settings.colleagues.workday_end,
        )
        dispatcher = Dispatcher(
            CommandServices(presence, PreferencesService(store), colleagues),
            budget_seconds=settings.presence.command_budget_seconds,
        )
        pipeline = Pipeline(
            [
                require_sender,
                CheckTenant(settings.bot.tenant_allowed),
                clean_text,
                RecordTurn(store),
                MarkDone(store),
                skip_redelivered,
                ResolveTimeZone(settings.presence.default_time_zone),
                KeepCardOwner(dispatcher.card_of),
            ],
            dispatcher,
        )
        bot = PresenceBot(
            pipeline,
            clock,
            notifier,
            simulated=simulated,
            commands=COMMANDS.docs(colleagues=colleagues.enabled),
        )
        runtime.start(
            Services(
                http=http,
                tokens=tokens,
                store=store,
                graph=graph,
                keeper=keeper,
                watcher=watcher,
                retention=retention,
                timers=timers,
                notifier=notifier,
                readiness=_readiness(mode, store, timers, tokens),
                bot=bot,
                adapter=adapter,
                authentication=authentication,
            )
        )
        try:
            yield
        finally:
            runtime.stop()


def _readiness(mode: Mode, store: Store, timers: TimerService, tokens: MsalTokenProvider) -> Readiness:
    """Readiness checks a Graph token only against real Graph, and only with one tenant to ask in."""
    if mode.graph.embedded:
        return Readiness(store, timers, None)
    if mode.graph.default_tenant.lower() in MULTI_TENANT_SEGMENTS:
        return Readiness(store, timers, None, skipped_because="no default tenant: set GRAPH_TENANT_ID")
    return Readiness(store, timers, tokens)


def _graph_tls(mode: Mode) -> ssl.SSLContext | bool:
    if mode.graph.ca_bundle is None or mode.graph.embedded:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(mode.graph.ca_bundle))
    return context


async def start_background(app: web.Application) -> None:
    """Start what needs the bound address (the embedded simulator's Graph URL): the timer service, which
    fires the holds' refreshes and ends, the watches' polls and the audit's pruning.

    Called by `bot.server.start_bot` once the site listens. First, active holds missing a timer (a
    process killed between storing a hold and scheduling it) get it, the pruning timer is created if
    missing, and every tenant with watches gets its poll timer if missing; then the service starts, and
    overdue timers fire at once.
    """
    services = app[RUNTIME].services
    if not services.timers.running:
        await services.keeper.repair()
        await services.retention.start()
        await services.watcher.start()
        await services.timers.start()
