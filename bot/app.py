"""`create_app(settings) -> web.Application`: the bot endpoint, health, and (with no Graph credentials)
the embedded simulated tenant under `/sim`. Shared resources live in `web.AppKey`s and are opened and
closed in `cleanup_ctx`; nothing is module-level."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

import httpx
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from pydantic import SecretStr

from bot.clock import AdjustableClock, Clock, SystemClock
from bot.config import SIM_APP_ID, SIM_APP_SECRET, Settings
from bot.graph.auth import MsalTokenProvider
from bot.graph.client import GraphClient
from bot.graph.transport import RetryPolicy
from bot.preferences import PreferencesService
from bot.presence.holds import HoldKeeper
from bot.presence.locks import UserLocks
from bot.presence.service import PresenceService
from bot.store.effects import StoreAudit
from bot.store.store import Store, open_store
from bot.store.timers import TimerService
from bot.teams import speedups
from bot.teams.handler import CHANNEL_ERRORS, PresenceBot, describe
from bot.teams.inbound_auth import (
    InboundAuthentication,
    KeysUnavailable,
    TokenValidator,
    Unauthorized,
    tenant_issuers,
)
from bot.teams.notices import TeamsNotifier
from bot.teams.signing_keys import KeySource
from bot.turns import (
    CheckTenant,
    Dispatcher,
    Pipeline,
    RecordTurn,
    ResolveTimeZone,
    check_body,
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
    clock: Clock
    self_url: str = ""  # where this process listens, known once the site is bound
    http: httpx.AsyncClient | None = None
    graph: GraphClient | None = None
    tokens: MsalTokenProvider | None = None
    store: Store | None = None
    timers: TimerService | None = None
    keeper: HoldKeeper | None = None
    notifier: TeamsNotifier | None = None
    bot: PresenceBot | None = None
    adapter: CloudAdapter | None = None
    authentication: InboundAuthentication | None = None
    ready: bool = False
    sim_identity: SimIdentity | None = None  # the embedded simulated tenant's identity platform


RUNTIME = web.AppKey("runtime", Runtime)
MAX_BODY = 1024 * 1024  # bytes, after decompression


class _AdapterConfig:
    """The attribute names botbuilder's configuration objects expect."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password.get_secret_value()
        self.APP_TYPE = settings.microsoft_app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    speedups.apply()
    if clock is None:
        clock = AdjustableClock() if settings.uses_simulator else SystemClock()
    app = web.Application(client_max_size=MAX_BODY)
    runtime = Runtime(settings=settings, clock=clock)
    app[RUNTIME] = runtime
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    if settings.uses_simulator:
        _mount_simulator(app, runtime)
    app.cleanup_ctx.append(_resources)
    return app


def _mount_simulator(app: web.Application, runtime: Runtime) -> None:
    """The embedded simulated tenant: Graph under /sim, its identity platform on its own TLS port."""
    from bot.sim.caller import PRESENCE_READWRITE_ALL
    from bot.sim.identity import JwtAuthenticator, RegisteredApp, SimIdentity
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
            for tenant in settings.sim_tenants
        ],
    )
    tenant_state = SimTenant(runtime.clock, settings.data_dir / "sim-state.json")
    authenticator = JwtAuthenticator(identity, runtime.clock)
    app.add_subapp("/sim", create_sim_app(tenant_state, authenticator, runtime.clock, clock_control=True))
    runtime.sim_identity = identity


async def _resources(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    settings = runtime.settings
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                # GRAPH_CA_BUNDLE: an extra CA for Graph too (a TLS-terminating proxy, a rehearsal tenant).
                verify=_graph_tls(settings),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                headers={"User-Agent": "presence-bot/0.1"},
            )
        )
        runtime.http = http
        if settings.uses_simulator:
            from bot.sim.identity import start_identity_site

            identity = runtime.sim_identity
            assert identity is not None
            site = await start_identity_site(identity, "127.0.0.1", settings.sim_identity_port)
            stack.push_async_callback(site.stop)
            tokens = MsalTokenProvider(
                client_id=SIM_APP_ID,
                client_secret=SecretStr(SIM_APP_SECRET),
                default_tenant=settings.default_tenant,
                authority_host=site.base_url,
                ca_bundle=identity.ca_path,
                clock=runtime.clock,
            )
            base_url: str | Callable[[], str] = lambda: f"{runtime.self_url}/sim/v1.0"  # noqa: E731
        else:
            tokens = MsalTokenProvider(
                client_id=settings.graph_app_id,
                client_secret=settings.graph_secret,
                default_tenant=settings.default_tenant,
                authority_host=settings.graph_authority_host,
                ca_bundle=settings.graph_ca_bundle,
                clock=runtime.clock,
            )
            base_url = settings.graph_base_url
        stack.push_async_callback(tokens.aclose)
        runtime.tokens = tokens
        store = await open_store(settings.database_url, settings.data_dir, runtime.clock)
        stack.push_async_callback(store.close)
        runtime.store = store
        graph = GraphClient(
            http,
            base_url=base_url,
            tokens=tokens,
            session_id=settings.session_app_id,
            audit=StoreAudit(store),
            # Graph's own budget ends a second before the command's, so the user sees why it failed.
            retry=RetryPolicy(budget=max(1.0, settings.command_budget_seconds - 1.0)),
        )
        runtime.graph = graph
        owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Replicas share PostgreSQL: they also lease each user in the store around a command or hold step.
        locks = UserLocks(store if store.dialect == "postgresql" else None, owner=owner)
        notifier = TeamsNotifier(
            lambda: runtime.adapter,
            store,
            runtime.clock,
            app_id=settings.microsoft_app_id,
            default_time_zone=settings.default_time_zone,
        )
        keeper = HoldKeeper(
            store, graph, runtime.clock, session_id=settings.session_app_id, notifier=notifier, locks=locks
        )
        timers = TimerService(
            store,
            runtime.clock,
            keeper.fire,
            owner=owner,
            on_give_up=keeper.give_up,
            # A refresh mostly waits for Graph (100–400 ms): 10,000 Available holds need ~42 refreshes a
            # second, so enough of them must be in flight at once (bench/timers.py, docs/performance.md).
            concurrency=64,
        )
        keeper.attach(timers)
        runtime.keeper = keeper
        runtime.timers = timers
        runtime.notifier = notifier
        stack.push_async_callback(timers.stop)  # runs before the store and HTTP client close
        presence = PresenceService(
            graph,
            keeper,
            session_id=settings.session_app_id,
            default_duration=settings.default_duration,
            max_hold=settings.max_hold,
            locks=locks,
        )
        dispatcher = Dispatcher(
            presence, PreferencesService(store), budget_seconds=settings.command_budget_seconds
        )
        pipeline = Pipeline(
            [
                require_sender,
                CheckTenant(settings.tenant_allowed),
                clean_text,
                RecordTurn(store),
                skip_redelivered,
                ResolveTimeZone(settings.default_time_zone),
            ],
            dispatcher,
        )
        runtime.bot = PresenceBot(pipeline, runtime.clock)
        runtime.authentication = _inbound_authentication(settings, http)
        runtime.adapter = CloudAdapter(runtime.authentication)
        runtime.adapter.on_turn_error = _on_turn_error
        runtime.ready = True
        try:
            yield
        finally:
            runtime.ready = False


def _inbound_authentication(settings: Settings, http: httpx.AsyncClient) -> InboundAuthentication:
    """Tokens checked against the app id, with keys fetched asynchronously; none without an app id."""
    validator = None
    if settings.microsoft_app_id:
        tenant = settings.microsoft_app_tenant_id.strip()
        sources = {
            url: KeySource(http, url)
            for url in (settings.openid_metadata_url, settings.emulator_openid_metadata_url)
        }
        validator = TokenValidator(
            settings.microsoft_app_id,
            channel_keys=sources[settings.openid_metadata_url],
            emulator_keys=sources[settings.emulator_openid_metadata_url],
            extra_issuers=tenant_issuers(tenant) if tenant else (),
        )
    return InboundAuthentication(_AdapterConfig(settings), validator)


def _graph_tls(settings: Settings) -> ssl.SSLContext | bool:
    if settings.graph_ca_bundle is None or settings.uses_simulator:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(settings.graph_ca_bundle))
    return context


async def start_background(app: web.Application) -> None:
    """Start what needs the bound address (the embedded simulator's Graph URL): the hold timers.

    Called by `bot.server.start_bot` once the site listens. Active holds missing a timer (a process
    killed between storing a hold and scheduling it) get it first; overdue timers fire at once.
    """
    runtime = app[RUNTIME]
    if runtime.timers is not None and not runtime.timers.running:
        if runtime.keeper is not None:
            await runtime.keeper.repair()
        await runtime.timers.start()


async def _on_turn_error(context: object, error: Exception) -> None:
    if isinstance(error, CHANNEL_ERRORS):  # the reply could not reach the channel (serviceUrl)
        activity = getattr(context, "activity", None)
        where = str(getattr(activity, "service_url", None) or "the channel")[:200]
        log.warning("could not send the reply to %s: %s", where, describe(error))
        return
    log.error("unhandled error in a turn", exc_info=error)


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        return web.json_response({"status": "starting"}, status=503)
    return web.json_response(
        {
            "status": "ok",
            "graph": "simulator" if runtime.settings.uses_simulator else "microsoft-graph",
            "time": runtime.clock.now().isoformat(),
            "timers": runtime.timers.stats() if runtime.timers is not None else None,
        }
    )


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
    problem = check_body(body)
    if problem is not None:
        return _bad_request(problem)
    try:
        activity = Activity().deserialize(clean_strings(body))
    except Exception:  # msrest raises several types for shapes it cannot read
        return _bad_request("the activity could not be read")
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
