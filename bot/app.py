"""`create_app(settings) -> web.Application`: the bot endpoint, health, and (when the mode says Graph is
simulated: `bot/modes.py`) the embedded simulated tenant under `/sim`. Shared resources live in
`web.AppKey`s and are opened and closed in `cleanup_ctx`; nothing is module-level."""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from botframework.connector.auth import GovernmentConstants
from pydantic import SecretStr

from bot.clock import AdjustableClock, Clock, SystemClock
from bot.colleagues.service import ColleaguesService
from bot.colleagues.watcher import Watcher
from bot.config import SIM_APP_ID, SIM_APP_SECRET, Settings
from bot.core.catalog import offered
from bot.core.tenants import MULTI_TENANT_SEGMENTS
from bot.graph.auth import MsalTokenProvider
from bot.graph.client import GraphClient
from bot.graph.transport import RetryPolicy
from bot.health import Readiness
from bot.logs import correlation_id, log_context
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
from bot.teams.auth import bot_framework_authentication
from bot.teams.context import tenant_of
from bot.teams.handler import CHANNEL_ERRORS, PresenceBot, log_unsent
from bot.teams.inbound_auth import (
    CHANNEL_ISSUER,
    InboundAuthentication,
    KeysUnavailable,
    TokenValidator,
    Unauthorized,
    tenant_issuers,
)
from bot.teams.notices import TeamsNotifier
from bot.teams.sender import SendPolicy
from bot.teams.signing_keys import KeySource
from bot.turns import (
    CheckTenant,
    Dispatcher,
    KeepCardOwner,
    MarkDone,
    Pipeline,
    RecordTurn,
    ResolveTimeZone,
    check_body,
    check_reply_address,
    require_sender,
    skip_redelivered,
)
from bot.turns.inputs import BodyError, clean_strings, clean_text, read_json

if TYPE_CHECKING:
    from bot.sim.identity import SimIdentity

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a running app holds: filled in by `cleanup_ctx`."""

    settings: Settings
    mode: Mode
    clock: Clock
    self_url: str = ""  # where this process listens, known once the site is bound
    http: httpx.AsyncClient | None = None
    graph: GraphClient | None = None
    tokens: MsalTokenProvider | None = None
    store: Store | None = None
    timers: TimerService | None = None
    keeper: HoldKeeper | None = None
    watcher: Watcher | None = None
    retention: Retention | None = None
    readiness: Readiness | None = None
    notifier: TeamsNotifier | None = None
    bot: PresenceBot | None = None
    adapter: CloudAdapter | None = None
    authentication: InboundAuthentication | None = None
    ready: bool = False
    sim_identity: SimIdentity | None = None  # the embedded simulated tenant's identity platform


RUNTIME = web.AppKey("runtime", Runtime)
MAX_BODY = 1024 * 1024  # bytes, after decompression


def create_app(
    settings: Settings, *, clock: Clock | None = None, mode: Mode | None = None
) -> web.Application:
    """The app for `mode` (decided from `settings` when not given: raises `ConfigurationError`)."""
    speedups.apply()
    mode = mode if mode is not None else require_mode(settings)
    if clock is None:
        clock = AdjustableClock() if mode.simulated_graph else SystemClock()
    app = web.Application(client_max_size=MAX_BODY)
    runtime = Runtime(settings=settings, mode=mode, clock=clock)
    app[RUNTIME] = runtime
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    identity = SimIdentity(
        settings.data_dir,
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
    tenant_state = SimTenant(runtime.clock, settings.data_dir / "sim-state.json")
    authenticator = JwtAuthenticator(identity, runtime.clock)
    app.add_subapp("/sim", create_sim_app(tenant_state, authenticator, runtime.clock, clock_control=True))
    runtime.sim_identity = identity


async def _resources(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    settings, mode = runtime.settings, runtime.mode
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                # GRAPH_CA_BUNDLE: an extra CA for Graph too (a TLS-terminating proxy, a rehearsal tenant).
                verify=_graph_tls(mode),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                headers={"User-Agent": "presence-bot/0.1"},
            )
        )
        runtime.http = http
        target = mode.graph
        ca_bundle: Path | None
        if target.embedded:
            from bot.sim.identity import start_identity_site

            identity = runtime.sim_identity
            assert identity is not None
            site = await start_identity_site(identity, "127.0.0.1", settings.sim_identity_port)
            stack.push_async_callback(site.stop)
            authority_host, ca_bundle = site.base_url, identity.ca_path
            base_url: str | Callable[[], str] = lambda: f"{runtime.self_url}/sim/v1.0"  # noqa: E731
        else:
            authority_host, ca_bundle, base_url = target.authority_host, target.ca_bundle, target.base_url
        tokens = MsalTokenProvider(
            client_id=target.client_id,
            credential=target.credential,
            default_tenant=target.default_tenant,
            authority_host=authority_host,
            ca_bundle=ca_bundle,
            clock=runtime.clock,
            scope=target.scope,
        )
        stack.push_async_callback(tokens.aclose)
        runtime.tokens = tokens
        store = await open_store(settings.database_url, settings.data_dir, runtime.clock)
        stack.push_async_callback(store.close)
        runtime.store = store
        graph = GraphClient(
            http,
            base_url=base_url,
            tokens=tokens,
            session_id=mode.session_id,
            audit=StoreAudit(store),
            # Graph's own budget ends a second before the command's, so the user sees why it failed.
            retry=RetryPolicy(budget=max(1.0, settings.command_budget_seconds - 1.0)),
        )
        runtime.graph = graph
        owner = lease_owner()
        # Replicas share PostgreSQL: they also lease each user in the store around a command or hold step.
        locks = UserLocks(store if store.dialect == "postgresql" else None, owner=owner)
        if store.dialect == "postgresql":
            # A replica of this host killed while holding user leases (a crash, a redeploy) would keep
            # those users waiting until the leases expire: its leases go now.
            freed = await store.release_leases_of(dead_local_owner)
            if freed:
                log.warning("released %d user lease(s) of processes of this host that are gone", freed)
        notifier = TeamsNotifier(
            lambda: runtime.adapter,
            store,
            runtime.clock,
            app_id=mode.bot.app_id if mode.bot is not None else "",
            default_time_zone=settings.default_time_zone,
            policy=SendPolicy(per_tenant=settings.notices_per_second),
            simulated=mode.kind is ModeKind.TEAMS_SIMULATED_GRAPH,
        )
        stack.push_async_callback(notifier.close)  # after the timers stop, before the store closes
        keeper = HoldKeeper(
            store, graph, runtime.clock, session_id=mode.session_id, notifier=notifier, locks=locks
        )
        retention = Retention(store, runtime.clock, days=settings.audit_days)
        # /watch: one poll timer per tenant, notices through the same sender as hold notices.
        watcher = Watcher(store, graph, runtime.clock, notifier, interval=settings.watch_interval)
        # One handler per kind of timer: a hold's steps, the watches' polls, the store's own maintenance.
        routes = TimerDispatcher()
        routes.route([kind.value for kind in TimerKind], keeper.fire, keeper.give_up)
        routes.route(watcher.kinds, watcher.fire, watcher.give_up)
        routes.route(retention.kinds, retention.fire, retention.give_up)
        timers = TimerService(
            store,
            runtime.clock,
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
        runtime.keeper = keeper
        runtime.watcher = watcher
        runtime.retention = retention
        runtime.readiness = _readiness(mode, store, timers, tokens)
        runtime.timers = timers
        runtime.notifier = notifier
        stack.push_async_callback(timers.stop)  # runs before the store and HTTP client close
        presence = PresenceService(
            graph,
            keeper,
            session_id=mode.session_id,
            default_duration=settings.default_duration,
            max_hold=settings.max_hold,
            locks=locks,
        )
        colleagues = ColleaguesService(
            graph,
            store,
            watcher,
            enabled=settings.colleagues_enabled,
            who_limit=settings.who_limit,
            watch_cap=settings.watch_cap,
            workday_end=settings.workday_end,
        )
        dispatcher = Dispatcher(
            presence, PreferencesService(store), colleagues, budget_seconds=settings.command_budget_seconds
        )
        pipeline = Pipeline(
            [
                require_sender,
                CheckTenant(settings.tenant_allowed),
                clean_text,
                RecordTurn(store),
                MarkDone(store),
                skip_redelivered,
                ResolveTimeZone(settings.default_time_zone),
                KeepCardOwner(dispatcher.card_of),
            ],
            dispatcher,
        )
        runtime.bot = PresenceBot(
            pipeline,
            runtime.clock,
            notifier,
            simulated=mode.kind is ModeKind.TEAMS_SIMULATED_GRAPH,
            commands=offered(colleagues=colleagues.enabled),
        )
        runtime.authentication = bot_framework_authentication(mode, _token_validator(settings, mode, http))
        runtime.adapter = CloudAdapter(runtime.authentication)
        runtime.adapter.on_turn_error = _on_turn_error
        runtime.ready = True
        try:
            yield
        finally:
            runtime.ready = False


def _readiness(mode: Mode, store: Store, timers: TimerService, tokens: MsalTokenProvider) -> Readiness:
    """Readiness checks a Graph token only against real Graph, and only with one tenant to ask in."""
    if mode.graph.embedded:
        return Readiness(store, timers, None)
    if mode.graph.default_tenant.lower() in MULTI_TENANT_SEGMENTS:
        return Readiness(store, timers, None, skipped_because="no default tenant: set GRAPH_TENANT_ID")
    return Readiness(store, timers, tokens)


def _token_validator(settings: Settings, mode: Mode, http: httpx.AsyncClient) -> TokenValidator | None:
    """Inbound tokens checked against the app id, with keys fetched asynchronously; none without one.

    In Azure US Government (`ChannelService`), channel tokens come from its own issuer, with its own keys
    (unless `PRESENCE_BOT_OPENID_METADATA_URL` names others)."""
    if mode.bot is None:
        return None
    tenant = (mode.bot.tenant_id or "").strip()
    channel_metadata, channel_issuer = settings.openid_metadata_url, CHANNEL_ISSUER
    if (mode.bot.channel_service or "").rstrip("/") == GovernmentConstants.CHANNEL_SERVICE:
        channel_issuer = GovernmentConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        if channel_metadata == Settings.model_fields["openid_metadata_url"].default:
            channel_metadata = GovernmentConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    # One source per URL: the same metadata for both (a test's key server) is fetched once.
    sources = {url: KeySource(http, url) for url in (channel_metadata, settings.emulator_openid_metadata_url)}
    return TokenValidator(
        mode.bot.app_id,
        channel_keys=sources[channel_metadata],
        emulator_keys=sources[settings.emulator_openid_metadata_url],
        extra_issuers=tenant_issuers(tenant) if tenant else (),
        channel_issuer=channel_issuer,
    )


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
    runtime = app[RUNTIME]
    if runtime.timers is not None and not runtime.timers.running:
        if runtime.keeper is not None:
            await runtime.keeper.repair()
        if runtime.retention is not None:
            await runtime.retention.start()
        if runtime.watcher is not None:
            await runtime.watcher.start()
        await runtime.timers.start()


async def _on_turn_error(context: object, error: Exception) -> None:
    if isinstance(error, CHANNEL_ERRORS):  # the reply could not reach the channel (serviceUrl)
        log_unsent(context, error)
        return
    log.error("unhandled error in a turn", exc_info=error)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: answers 200 once the app has started, for as long as its event loop answers."""
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        return web.json_response({"status": "starting"}, status=503)
    return web.json_response(
        {
            "status": "ok",
            "mode": runtime.mode.kind.value,
            "graph": "simulator" if runtime.mode.simulated_graph else "microsoft-graph",
            "authenticated": runtime.mode.authenticated,
            "time": runtime.clock.now().isoformat(),
            "timers": runtime.timers.stats() if runtime.timers is not None else None,
            "notices": runtime.notifier.sender.stats() if runtime.notifier is not None else None,
        }
    )


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when the store answers, the timers run and (real Graph) a token can be had; else
    503 naming the check that failed."""
    runtime = request.app[RUNTIME]
    if not runtime.ready or runtime.readiness is None:
        return web.json_response({"status": "starting"}, status=HTTPStatus.SERVICE_UNAVAILABLE)
    failed, checks = await runtime.readiness.check()
    body = {"status": "not ready" if failed else "ready", "checks": checks, "failed": failed}
    return web.json_response(body, status=HTTPStatus.SERVICE_UNAVAILABLE if failed else HTTPStatus.OK)


def _error(status: HTTPStatus, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": status.phrase, "message": reason}, status=status, headers=headers)


def _bad_request(reason: str) -> web.Response:
    return _error(HTTPStatus.BAD_REQUEST, reason)


async def _answer_and_close(request: web.Request, response: web.Response) -> web.Response:
    """Send `response`, then close the connection: after a body that could not be decoded, aiohttp
    would read on to drain it and log the same error again as an unhandled exception."""
    response.force_close()  # "Connection: close", so the client does not send its next request on it
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


_ENCODINGS = frozenset({"", "identity", "gzip", "deflate"})


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /api/messages: read and check the body ourselves (400/413/415, never 500), authenticate
    (401, or 503 while no signing keys can be had), then hand the activity to botbuilder."""
    runtime = request.app[RUNTIME]
    assert runtime.adapter is not None and runtime.bot is not None and runtime.authentication is not None
    if "application/json" not in request.headers.get("Content-Type", ""):
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the activity as application/json")
    if request.headers.get("Content-Encoding", "").strip().lower() not in _ENCODINGS:
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body may be sent plain, gzip or deflate")
    try:
        raw = await request.read()  # aiohttp decompresses, and stops at client_max_size (decompressed)
    except web.HTTPRequestEntityTooLarge:
        return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {MAX_BODY} bytes")
    except (RequestPayloadError, HttpProcessingError):
        return await _answer_and_close(request, _bad_request("the body could not be read (broken gzip?)"))
    try:
        body = read_json(raw)
    except BodyError as error:
        return _bad_request(str(error))
    problem = check_body(body) or check_reply_address(body, authenticated=runtime.mode.authenticated)
    if problem is not None:
        return _bad_request(problem)
    try:
        activity = Activity().deserialize(clean_strings(body))
    except Exception:  # msrest raises several types for shapes it cannot read
        return _bad_request("the activity could not be read")
    # Every line logged while this activity is handled names it and the caller's correlation id.
    with log_context(activity.id, correlation_id(request.headers)):
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s activity from tenant %s via %s", activity.type, tenant_of(activity), activity.service_url
            )
        try:
            authenticated = await runtime.authentication.authenticate_request(
                activity, request.headers.get("Authorization", "")
            )
        except Unauthorized as refused:
            log.warning("refused a request from %s: %s", request.remote, refused.reason)
            return _error(HTTPStatus.UNAUTHORIZED, "the request's token was not accepted")
        except KeysUnavailable:
            log.warning("refused a request from %s: no signing keys to check its token with", request.remote)
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "cannot check tokens now", **{"Retry-After": "30"})
        invoke = await runtime.adapter.process_activity(authenticated, activity, runtime.bot.on_turn)
    if invoke is None:
        return web.Response(status=HTTPStatus.CREATED)
    if invoke.body is None:
        return web.Response(status=invoke.status)
    body_out = invoke.body if isinstance(invoke.body, dict | list) else serializer_helper(invoke.body)
    return web.json_response(body_out, status=invoke.status)
