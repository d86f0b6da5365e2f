"""The simulated identity platform's HTTP endpoints: the v2.0 endpoints msal uses for the
client-credentials grant (OpenID discovery, JWKS and the token endpoint, with Entra ID's error bodies),
served over local TLS, so the bot's real `MsalTokenProvider` runs unchanged against them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC

from aiohttp import web

from bot.clock import Clock
from bot.core.net import listening_url
from bot.core.tenants import MULTI_TENANT_SEGMENTS
from bot.sim.identity.assertions import JWT_BEARER, AssertionRejected, verify_client_assertion
from bot.sim.identity.issuer import GRAPH_APP_ID, GRAPH_RESOURCE, RegisteredApp, SimIdentity

log = logging.getLogger(__name__)

# Tenant path segments that name no tenant: fine for discovery, refused for app-only tokens.

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

IDENTITY: web.AppKey[SimIdentity] = web.AppKey("sim_identity", SimIdentity)


class _AadError(Exception):
    """An error answer in Entra ID's token-endpoint shape (`error`, `error_description`, `error_codes`…)."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(f"{error}: AADSTS{aadsts}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description


def _unknown_tenant(segment: str, error: str) -> _AadError:
    return _AadError(
        400,
        error,
        90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there "
        "are no active subscriptions for the tenant.",
    )


def _missing(parameter: str) -> _AadError:
    return _AadError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


def _correlation_id(request: web.Request) -> str:
    given = request.headers.get("client-request-id", "")
    return given if _SAFE_ID.match(given) else str(uuid.uuid4())


def _aad_error_response(request: web.Request, clock: Clock, error: _AadError) -> web.Response:
    trace_id, correlation_id = str(uuid.uuid4()), _correlation_id(request)
    timestamp = clock.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error.error,
        "error_description": (
            f"AADSTS{error.aadsts}: {error.description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [error.aadsts],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.aadsts}",
    }
    headers = {"x-ms-request-id": trace_id, "client-request-id": correlation_id, "Cache-Control": "no-store"}
    return web.json_response(body, status=error.status, headers=headers)


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _resolve_tenant(identity: SimIdentity, segment: str, *, error: str) -> str:
    """The tenant id a path segment names; `common`/`organizations` pass through (discovery only)."""
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        return segment.lower()
    tenant = identity.tenant(segment)
    if tenant is None:
        raise _unknown_tenant(segment, error)
    return tenant


async def _openid_configuration(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    segment = request.match_info["tenant"]
    try:
        tenant = _resolve_tenant(identity, segment, error="invalid_tenant")
    except _AadError as error:
        return _aad_error_response(request, identity.clock, error)
    base = _base_url(request)
    issuer_tenant = "{tenantid}" if tenant in MULTI_TENANT_SEGMENTS else tenant
    document = {
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "client_secret_basic",
            "private_key_jwt",
        ],
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        # Listed because msal requires the key; this simulator serves no interactive sign-in.
        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
        "grant_types_supported": ["client_credentials"],
        "claims_supported": ["aud", "iss", "iat", "nbf", "exp", "appid", "azp", "oid", "sub", "tid", "roles"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }
    return web.json_response(document)


async def _keys(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    try:
        _resolve_tenant(identity, request.match_info["tenant"], error="invalid_tenant")
    except _AadError as error:
        return _aad_error_response(request, identity.clock, error)
    return web.json_response(identity.jwks())


def _client_credentials(request: web.Request, form: Mapping[str, str]) -> tuple[str, str | None]:
    """client_id and client_secret, from the form (client_secret_post) or Basic auth."""
    authorization = request.headers.get("Authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _AadError(401, "invalid_client", 7000218, "The client credentials are malformed.") from exc
        client_id, _, secret = decoded.partition(":")
        return client_id, secret or None
    client_id = form.get("client_id", "")
    if not client_id:
        raise _missing("client_id")
    return client_id, form.get("client_secret") or None


def _audience_for(scope: str, tenant: str) -> str:
    scopes = scope.split()
    if len(scopes) != 1:
        raise _AadError(
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. "
            f"The scope {scope} is not valid.",
        )
    (only,) = scopes
    if not only.endswith("/.default"):
        raise _AadError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {only} is not valid. Client credential flows must have a scope "
            "value with /.default suffixed to the resource identifier (application ID URI).",
        )
    resource = only.removesuffix("/.default").rstrip("/")
    if resource.lower() == GRAPH_RESOURCE:
        return GRAPH_RESOURCE
    if resource.lower() == GRAPH_APP_ID:
        return GRAPH_APP_ID
    raise _AadError(
        400,
        "invalid_resource",
        500011,
        f"The resource principal named {resource} was not found in the tenant named {tenant}. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
    )


async def _token(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    segment = request.match_info["tenant"]
    try:
        if segment.lower() in MULTI_TENANT_SEGMENTS:
            raise _AadError(
                400,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any provided "
                "credentials. App-only tokens need a tenant id in the path.",
            )
        tenant = _resolve_tenant(identity, segment, error="invalid_request")
        form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise _missing("grant_type")
        if grant_type != "client_credentials":
            raise _AadError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'. "
                "The simulated identity platform supports client_credentials only.",
            )
        client_id, secret = _client_credentials(request, form)
        app = identity.find_app(tenant, client_id)
        if app is None:
            raise _AadError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This "
                "can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to "
                "the wrong tenant.",
            )
        assertion = form.get("client_assertion") or None
        if assertion is not None:
            _check_assertion(app, assertion, form, f"{_base_url(request)}/{tenant}/oauth2/v2.0/token")
        elif secret is None:
            raise _AadError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        elif not app.secret_matches(secret):
            raise _AadError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        scope = form.get("scope", "")
        if not scope:
            raise _missing("scope")
        audience = _audience_for(scope, tenant)
    except _AadError as error:
        log.info(
            "simulated identity platform refused a token request for tenant %r: %s AADSTS%d",
            segment,
            error.error,
            error.aadsts,
        )
        return _aad_error_response(request, identity.clock, error)
    issued = identity.issue_token(app, audience=audience, certificate=assertion is not None)
    identity.tokens_issued += 1
    log.info(
        "issued an app-only token for client %s in tenant %s (roles: %s)",
        app.client_id,
        app.tenant_id,
        ", ".join(sorted(app.roles)) or "none",
    )
    body = {
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "ext_expires_in": issued.expires_in,
        "access_token": issued.access_token,
    }
    headers = {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "client-request-id": _correlation_id(request),
        "x-ms-request-id": str(uuid.uuid4()),
    }
    return web.json_response(body, headers=headers)


def _check_assertion(app: RegisteredApp, assertion: str, form: Mapping[str, str], endpoint: str) -> None:
    """A certificate credential's client assertion (`private_key_jwt`), checked as Entra ID does."""
    if form.get("client_assertion_type") != JWT_BEARER:
        raise _AadError(
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: 'client_assertion_type' ({JWT_BEARER}).",
        )
    try:
        verify_client_assertion(app, assertion, token_endpoint=endpoint)
    except AssertionRejected as rejected:
        raise _AadError(401, "invalid_client", rejected.aadsts, rejected.description) from None


def create_identity_app(identity: SimIdentity) -> web.Application:
    """The identity platform's v2.0 endpoints msal needs for the client-credentials grant.

    Serve it over TLS with `identity.ssl_context()` (see `start_identity_site`): msal talks https only.
    """
    app = web.Application(client_max_size=64 * 1024)
    app[IDENTITY] = identity
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", _openid_configuration)
    app.router.add_get("/{tenant}/discovery/v2.0/keys", _keys)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", _token)
    return app


@dataclass
class IdentitySite:
    """A running simulated identity platform: its base URL is msal's `authority_host`."""

    runner: web.AppRunner
    base_url: str

    def authority(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_identity_site(identity: SimIdentity, host: str = "127.0.0.1", port: int = 0) -> IdentitySite:
    """Serve the identity platform over TLS on `host:port` (0 picks a free port) and return its URL.

    The certificate covers 127.0.0.1, ::1 and localhost only: bind to one of those.
    """
    await asyncio.to_thread(identity.prepare)  # key generation on first run takes a moment
    context = identity.ssl_context()
    runner = web.AppRunner(create_identity_app(identity), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context)
    await site.start()
    base_url = listening_url("https", host, runner.addresses, port)
    log.info("simulated identity platform listening on %s", base_url)
    return IdentitySite(runner=runner, base_url=base_url)
