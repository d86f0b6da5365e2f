"""How the bot runs, decided once at start from complete configurations only.

- **Development**: no app id and no Graph credentials. The embedded simulated tenant stands in for
  Graph, inbound requests are not authenticated, and `serve` listens on loopback only (another address
  needs `--allow-unauthenticated`). Graph credentials for a simulated tenant on this machine (the
  standalone `presence-bot simulator`) are development too.
- **Production**: an app id, a bot credential (client secret, certificate, or the managed identity that
  `MicrosoftAppType=UserAssignedMSI` names) and complete Graph credentials (the bot's own by default):
  real Graph, every inbound request authenticated, no `/sim` routes.
- **Teams with a simulated Graph**: an app id and its credential with `PRESENCE_BOT_GRAPH=simulator`, to
  try a real Teams client before an admin has consented: inbound requests authenticated, the embedded
  simulated tenant, and every card says it is simulated.

Anything else (an id without a credential, a credential without an id, `SingleTenant` without a tenant
id, a certificate file that is not there…) is a `ConfigurationError` naming the variable to fix:
nothing falls back silently to the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.config import (
    SIM_APP_ID,
    SIM_APP_SECRET,
    SIM_TENANT_ID,
    BotFrameworkSettings,
    GraphSettings,
    Settings,
    SimulatorSettings,
)
from bot.core.credentials import (
    AppCredential,
    CertificateError,
    ClientCertificate,
    ManagedIdentity,
    describe,
    load_certificate,
)
from bot.core.net import is_loopback_host, is_loopback_url
from bot.core.tenants import GUID

# The scope of app-only Graph tokens where Graph's host says nothing (a simulated tenant on loopback).
GLOBAL_GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_MULTI_TENANT = "organizations"  # no default tenant: each conversation's tenant gets its token


class ModeKind(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEAMS_SIMULATED_GRAPH = "Teams with a simulated Graph"


class ConfigurationError(Exception):
    """A configuration the bot will not start with: `variable` is what to fix, `problem` says why."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is to the Bot Framework: inbound tokens must name `app_id`; replies are signed with
    `credential`."""

    app_id: str
    app_type: str  # SingleTenant, MultiTenant or UserAssignedMSI
    tenant_id: str | None  # the app's home tenant (required for SingleTenant and UserAssignedMSI)
    credential: AppCredential
    channel_service: str | None = None  # botbuilder's CHANNEL_SERVICE (national clouds)


@dataclass(frozen=True)
class GraphTarget:
    """Where Graph calls go and how their tokens are had. The embedded simulator's URLs are known only
    once it listens, so `base_url` and `authority_host` are empty for it."""

    embedded: bool
    client_id: str  # also setPresence's sessionId
    credential: AppCredential
    default_tenant: str
    base_url: str = ""
    authority_host: str = ""
    ca_bundle: Path | None = None
    scope: str = GLOBAL_GRAPH_SCOPE


@dataclass(frozen=True)
class Mode:
    kind: ModeKind
    bot: BotIdentity | None  # None: inbound requests are not authenticated
    graph: GraphTarget
    tenants: tuple[str, ...] = ()  # ALLOWED_TENANTS; empty: any
    sim_tenants: tuple[str, ...] = ()  # the embedded simulator's consented tenants; empty: any

    @property
    def authenticated(self) -> bool:
        return self.bot is not None

    @property
    def simulated_graph(self) -> bool:
        """The embedded simulated tenant stands in for Graph (its routes are under /sim)."""
        return self.graph.embedded

    @property
    def session_id(self) -> str:
        """setPresence's sessionId: the Graph app's id, always the same."""
        return self.graph.client_id

    def line(self) -> str:
        """The one line `serve` prints at start."""
        if self.graph.embedded:
            where = "the embedded simulated tenant"
            if self.kind is ModeKind.TEAMS_SIMULATED_GRAPH:
                where += " (nothing changes in Teams; cards say so)"
        else:
            where = f"{self.graph.base_url} (app {self.graph.client_id}, {describe(self.graph.credential)})"
        if self.bot is None:
            inbound = "NOT authenticated (loopback callers and replies only)"
        else:
            inbound = (
                f"authenticated ({self.bot.app_type} app {self.bot.app_id}, {describe(self.bot.credential)})"
            )
        tenants = ", ".join(self.tenants) if self.tenants else "any"
        return f"Mode: {self.kind.value}; Graph: {where}; inbound requests: {inbound}; tenants: {tenants}"


CertificateLoader = Callable[..., ClientCertificate]


def decide_mode(
    settings: Settings, *, load: CertificateLoader = load_certificate
) -> Mode | ConfigurationError:
    """The mode `settings` describe, or what is missing or wrong. Reads certificate files (via `load`)."""
    try:
        return _decide(settings, load)
    except ConfigurationError as error:
        return error


def require_mode(settings: Settings) -> Mode:
    """`decide_mode`, raising the `ConfigurationError`."""
    mode = decide_mode(settings)
    if isinstance(mode, ConfigurationError):
        raise mode
    return mode


def bind_refusal(mode: Mode, host: str, *, allow_unauthenticated: bool) -> str | None:
    """Why `serve` must not listen on `host` in this mode (None: it may)."""
    if mode.authenticated or is_loopback_host(host) or allow_unauthenticated:
        return None
    return (
        f"refusing to listen on {host}: inbound requests are not authenticated in {mode.kind.value} mode, "
        "so anyone who reaches the port could use the bot. Set MicrosoftAppId and its credential, listen "
        "on 127.0.0.1, or pass --allow-unauthenticated"
    )


def graph_scope(base_url: str) -> str:
    """The `.default` scope for Graph at `base_url`: national clouds have their own Graph host
    (graph.microsoft.us, microsoftgraph.chinacloudapi.cn), and the scope must name it."""
    parts = urlsplit(base_url)
    if is_loopback_url(base_url) or not parts.hostname:
        return GLOBAL_GRAPH_SCOPE
    return f"{parts.scheme}://{parts.netloc}/.default"


# -- the decision ------------------------------------------------------------------------------------
def _decide(settings: Settings, load: CertificateLoader) -> Mode:
    tenants, sim_tenants = tuple(settings.bot.allowed_tenants), tuple(settings.simulator.tenants)
    app_id = settings.bot.app_id.strip()
    explicit_graph = _explicit_graph_credentials(settings.graph)
    if len(explicit_graph) > 1:
        raise ConfigurationError(
            explicit_graph[0], f"and {explicit_graph[1]} are both set: keep one Graph credential"
        )
    simulator_asked = settings.graph.target == "simulator"
    if simulator_asked and explicit_graph:
        raise ConfigurationError(
            explicit_graph[0], "is set, but PRESENCE_BOT_GRAPH=simulator: unset one of them"
        )
    if not app_id:
        _no_bot_credential_without_an_id(settings.bot)
        graph_configured = bool(settings.graph.client_id.strip() or explicit_graph)
        if simulator_asked or (settings.graph.target == "auto" and not graph_configured):
            return Mode(ModeKind.DEVELOPMENT, None, _embedded(settings.simulator), tenants, sim_tenants)
        graph = _graph(settings.graph, None, load)
        if not (is_loopback_url(graph.base_url) and is_loopback_url(graph.authority_host)):
            raise ConfigurationError(
                "MicrosoftAppId",
                f"not set, but Graph credentials for {graph.base_url} are: a bot that changes presence "
                "in a real tenant must authenticate who calls it. Set MicrosoftAppId and its credential "
                "(or unset the GRAPH_ variables to use the simulated tenant)",
            )
        return Mode(ModeKind.DEVELOPMENT, None, graph, tenants)
    bot = _bot(settings.bot, app_id, load)
    if simulator_asked:
        return Mode(ModeKind.TEAMS_SIMULATED_GRAPH, bot, _embedded(settings.simulator), tenants, sim_tenants)
    return Mode(ModeKind.PRODUCTION, bot, _graph(settings.graph, bot, load), tenants)


def _explicit_graph_credentials(graph: GraphSettings) -> list[str]:
    found = []
    if graph.client_secret.get_secret_value():
        found.append("GRAPH_CLIENT_SECRET")
    if graph.client_certificate_path is not None:
        found.append("GRAPH_CLIENT_CERTIFICATE_PATH")
    if graph.managed_identity_client_id.strip():
        found.append("GRAPH_MANAGED_IDENTITY_CLIENT_ID")
    return found


def _no_bot_credential_without_an_id(bot: BotFrameworkSettings) -> None:
    stray = (
        "MicrosoftAppPassword"
        if bot.app_password.get_secret_value()
        else "MicrosoftAppCertificatePath"
        if bot.app_certificate_path is not None
        else "MicrosoftAppType=UserAssignedMSI"
        if bot.app_type == "UserAssignedMSI"
        else None
    )
    if stray is not None:
        raise ConfigurationError(
            "MicrosoftAppId",
            f"not set, but {stray} is: set the bot's app id (or unset {stray.split('=')[0]} for "
            "development mode)",
        )


def _embedded(simulator: SimulatorSettings) -> GraphTarget:
    sim_tenants = [t for t in simulator.tenants if t]
    return GraphTarget(
        embedded=True,
        client_id=SIM_APP_ID,
        credential=SecretStr(SIM_APP_SECRET),
        default_tenant=sim_tenants[0] if sim_tenants else SIM_TENANT_ID,
    )


def _bot(settings: BotFrameworkSettings, app_id: str, load: CertificateLoader) -> BotIdentity:
    if not GUID.match(app_id):
        raise ConfigurationError(
            "MicrosoftAppId", f"{app_id!r} is not an app (client) id: a GUID is expected"
        )
    app_type = settings.app_type
    tenant = settings.app_tenant_id.strip() or None
    password = settings.app_password.get_secret_value()
    certificate_path = settings.app_certificate_path
    credential: AppCredential
    if app_type == "UserAssignedMSI":
        for name, value in (
            ("MicrosoftAppPassword", password),
            ("MicrosoftAppCertificatePath", certificate_path),
        ):
            if value:
                raise ConfigurationError(
                    name,
                    "is set, but MicrosoftAppType=UserAssignedMSI signs in as the managed identity: unset it",
                )
        if tenant is None:
            raise ConfigurationError(
                "MicrosoftAppTenantId",
                "not set: MicrosoftAppType=UserAssignedMSI needs the identity's tenant id",
            )
        credential = ManagedIdentity(app_id)
    else:
        if password and certificate_path is not None:
            raise ConfigurationError(
                "MicrosoftAppPassword",
                "and MicrosoftAppCertificatePath are both set: keep one bot credential",
            )
        if not password and certificate_path is None:
            raise ConfigurationError(
                "MicrosoftAppPassword",
                f"not set for MicrosoftAppId {app_id}: set the bot's client secret, or "
                "MicrosoftAppCertificatePath, or MicrosoftAppType=UserAssignedMSI for a managed identity",
            )
        if app_type == "SingleTenant" and tenant is None:
            raise ConfigurationError(
                "MicrosoftAppTenantId",
                "not set, and MicrosoftAppType is SingleTenant (the default): set the bot's tenant id, or "
                "MicrosoftAppType=MultiTenant for a registration created as multi-tenant",
            )
        if certificate_path is not None:
            credential = _certificate(
                "MicrosoftAppCertificatePath",
                certificate_path,
                settings.app_certificate_send_x5c,
                load,
            )
        else:
            credential = SecretStr(password)
    return BotIdentity(
        app_id=app_id,
        app_type=app_type,
        tenant_id=tenant,
        credential=credential,
        channel_service=settings.channel_service.strip() or None,
    )


def _graph(settings: GraphSettings, bot: BotIdentity | None, load: CertificateLoader) -> GraphTarget:
    client_id = settings.client_id.strip() or (bot.app_id if bot is not None else "")
    managed = settings.managed_identity_client_id.strip()
    secret = settings.client_secret.get_secret_value()
    certificate_path = settings.client_certificate_path
    credential: AppCredential
    if managed:
        if settings.client_id.strip() and settings.client_id.strip().lower() != managed.lower():
            raise ConfigurationError(
                "GRAPH_CLIENT_ID",
                "differs from GRAPH_MANAGED_IDENTITY_CLIENT_ID: the managed identity's client id is the "
                "Graph app; unset GRAPH_CLIENT_ID",
            )
        client_id, credential = managed, ManagedIdentity(managed)
    elif secret or certificate_path is not None:
        given = "GRAPH_CLIENT_SECRET" if secret else "GRAPH_CLIENT_CERTIFICATE_PATH"
        if not client_id:
            raise ConfigurationError(
                "GRAPH_CLIENT_ID", f"not set, but {given} is: set the app (client) id it belongs to"
            )
        credential = (
            SecretStr(secret)
            if secret
            else _certificate(
                "GRAPH_CLIENT_CERTIFICATE_PATH",
                certificate_path,
                settings.client_certificate_send_x5c,
                load,
            )
        )
    elif bot is not None and client_id.lower() == bot.app_id.lower():
        credential = bot.credential  # the bot's own registration holds the Graph permission
    elif client_id:
        raise ConfigurationError(
            "GRAPH_CLIENT_SECRET",
            f"not set for GRAPH_CLIENT_ID {client_id}: set its GRAPH_CLIENT_SECRET, "
            "GRAPH_CLIENT_CERTIFICATE_PATH or GRAPH_MANAGED_IDENTITY_CLIENT_ID",
        )
    else:
        raise ConfigurationError(
            "GRAPH_CLIENT_ID",
            "not set: PRESENCE_BOT_GRAPH=graph needs Graph credentials (GRAPH_CLIENT_ID with "
            "GRAPH_CLIENT_SECRET, GRAPH_CLIENT_CERTIFICATE_PATH or GRAPH_MANAGED_IDENTITY_CLIENT_ID)",
        )
    tenant = settings.tenant_id.strip() or (bot.tenant_id if bot is not None else None) or _MULTI_TENANT
    if isinstance(credential, ManagedIdentity) and tenant == _MULTI_TENANT:
        raise ConfigurationError(
            "GRAPH_TENANT_ID",
            "not set: a managed identity gets Graph tokens in its own tenant only; set GRAPH_TENANT_ID "
            "(or MicrosoftAppTenantId)",
        )
    base_url = settings.base_url.rstrip("/")
    for name, url in (("GRAPH_BASE_URL", base_url), ("GRAPH_AUTHORITY_HOST", settings.authority_host)):
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(name, f"{url!r} is not an http(s) URL")
        if parts.scheme == "http" and not is_loopback_url(url):
            raise ConfigurationError(name, f"{url!r}: plain http is for a simulator on this machine only")
    if settings.ca_bundle is not None and not settings.ca_bundle.is_file():
        raise ConfigurationError("GRAPH_CA_BUNDLE", f"{settings.ca_bundle} is not a file")
    return GraphTarget(
        embedded=False,
        client_id=client_id,
        credential=credential,
        default_tenant=tenant,
        base_url=base_url,
        authority_host=settings.authority_host.rstrip("/"),
        ca_bundle=settings.ca_bundle,
        scope=graph_scope(base_url),
    )


def _certificate(
    variable: str, path: Path | None, send_x5c: bool, load: CertificateLoader
) -> ClientCertificate:
    assert path is not None
    try:
        return load(path, send_x5c=send_x5c)
    except CertificateError as error:
        raise ConfigurationError(variable, str(error)) from None


__all__ = [
    "GLOBAL_GRAPH_SCOPE",
    "BotIdentity",
    "ConfigurationError",
    "GraphTarget",
    "Mode",
    "ModeKind",
    "bind_refusal",
    "decide_mode",
    "graph_scope",
    "require_mode",
]
