"""Who may POST to /api/messages: the Bot Framework token on each request, checked without blocking.

The rules are botbuilder 4.17.1's for the public cloud (`JwtTokenValidation.authenticate_request`,
`ChannelValidation`, `EmulatorValidation`, `JwtTokenExtractor`), applied by our own code so that the
signing keys come from `signing_keys.KeySource` (async, with a timeout, cached, failures remembered)
instead of botbuilder's blocking fetch:

- `Authorization: Bearer <JWT>`, signed RS256 (no `none`, no HS256) by a key the issuer's OpenID metadata
  publishes, not expired (5 minutes of clock skew, as botbuilder allows);
- a **channel** token (issuer `https://api.botframework.com`): audience = the bot's app id, and its
  `serviceurl` claim equal to the activity's `serviceUrl`;
- an **Emulator** token (the Azure AD issuers botbuilder lists, and for a single-tenant bot its own
  tenant's `https://login.microsoftonline.com/{tenant}/v2.0` and `https://sts.windows.net/{tenant}/`):
  `ver` 1.0 with `appid`, or 2.0 with `azp`, equal to the bot's app id;
- the signing key's endorsements, when it has any, name the activity's channel;
- a skill's token (another bot calling this one) is refused: the bot is not a skill.

Every refusal is an `Unauthorized` with a short reason for one log line (never the token); no keys to
check with is `KeysUnavailable` (signing_keys). With no app id configured (development, the Emulator
without credentials) nothing is checked, as botbuilder does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import jwt
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    EmulatorValidation,
    SkillValidation,
    UserTokenClient,
)

from bot.teams.connectors import ClientCache
from bot.teams.signing_keys import KeySource, KeysUnavailable

__all__ = ["InboundAuthentication", "KeysUnavailable", "TokenValidator", "Unauthorized", "tenant_issuers"]

log = logging.getLogger(__name__)

CHANNEL_ISSUER: str = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
EMULATOR_ISSUERS: tuple[str, ...] = tuple(
    EmulatorValidation.TO_BOT_FROM_EMULATOR_TOKEN_VALIDATION_PARAMETERS.issuer
)
ALGORITHM = "RS256"
CLOCK_SKEW_SECONDS = 5 * 60
MAX_TOKEN_LENGTH = 16 * 1024  # Azure AD tokens are 1–3 KB
CONNECTOR_TIMEOUT_SECONDS = 10.0
CONNECTOR_RETRIES = 2


class Unauthorized(PermissionError):
    """The request does not carry a token this bot accepts; `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def tenant_issuers(tenant_id: str) -> tuple[str, ...]:
    """The issuers of a single-tenant bot's own tenant (v1 and v2 tokens)."""
    return (
        AuthenticationConstants.VALID_TOKEN_ISSUER_URL_TEMPLATE_V1.format(tenant_id),
        AuthenticationConstants.VALID_TOKEN_ISSUER_URL_TEMPLATE_V2.format(tenant_id),
    )


class TokenValidator:
    def __init__(
        self,
        app_id: str,
        *,
        channel_keys: KeySource,
        emulator_keys: KeySource,
        extra_issuers: Iterable[str] = (),
        channel_issuer: str = CHANNEL_ISSUER,  # https://api.botframework.us in Azure US Government
    ) -> None:
        self._app_id = app_id
        self._channel_issuer = channel_issuer
        self._channel_keys = channel_keys
        self._emulator_keys = emulator_keys
        self._emulator_issuers = frozenset((*EMULATOR_ISSUERS, *extra_issuers))

    async def validate(
        self, auth_header: str, *, channel_id: str | None, service_url: str | None
    ) -> ClaimsIdentity:
        """The token's claims, or `Unauthorized` / `KeysUnavailable`."""
        token = _bearer(auth_header)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise Unauthorized(f"the token is not a JWT ({type(error).__name__})") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"signing algorithm {_short(header.get('alg'))} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise Unauthorized("the token names no signing key (kid)")
        issuer = unverified.get("iss")
        if issuer == self._channel_issuer:
            keys = self._channel_keys
        elif isinstance(issuer, str) and issuer in self._emulator_issuers:
            keys = self._emulator_keys
        else:
            raise Unauthorized(f"issuer {_short(issuer)} is not accepted")
        key = await keys.key(kid)
        if key is None:
            raise Unauthorized("the token is signed with a key the issuer does not publish")
        if key.endorsements and channel_id and channel_id not in key.endorsements:
            raise Unauthorized(f"the signing key is not endorsed for channel {_short(channel_id)}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                leeway=CLOCK_SKEW_SECONDS,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise Unauthorized(f"the token does not verify ({type(error).__name__})") from None
        if SkillValidation.is_skill_claim(claims):
            raise Unauthorized("a skill's token: this bot is not a skill")
        if issuer == self._channel_issuer:
            self._check_channel(claims, service_url)
        else:
            self._check_emulator(claims)
        return ClaimsIdentity(claims, True)

    def _check_channel(self, claims: dict[str, Any], service_url: str | None) -> None:
        if claims.get(AuthenticationConstants.AUDIENCE_CLAIM) != self._app_id:
            raise Unauthorized("the token is for another app (aud)")
        if service_url is not None and claims.get(AuthenticationConstants.SERVICE_URL_CLAIM) != service_url:
            raise Unauthorized("the token's serviceurl claim is not the activity's serviceUrl")

    def _check_emulator(self, claims: dict[str, Any]) -> None:
        version = claims.get(AuthenticationConstants.VERSION_CLAIM)
        if version is None:
            raise Unauthorized("an Emulator token needs a ver claim")
        if not version or version == "1.0":
            app_id = claims.get(AuthenticationConstants.APP_ID_CLAIM)
        elif version == "2.0":
            app_id = claims.get(AuthenticationConstants.AUTHORIZED_PARTY)
        else:
            raise Unauthorized(f"unknown Emulator token version {_short(version)}")
        if app_id != self._app_id:
            raise Unauthorized("the token is for another app (appid/azp)")


def _bearer(auth_header: str) -> str:
    if not auth_header:
        raise Unauthorized("no Authorization header")
    if len(auth_header) > MAX_TOKEN_LENGTH:
        raise Unauthorized("the Authorization header is too long")
    parts = auth_header.split(" ")
    if len(parts) != 2 or parts[0] != "Bearer" or not parts[1]:
        raise Unauthorized("the Authorization header is not 'Bearer <token>'")
    return parts[1]


def _short(value: object) -> str:
    """A claim or header value for a log line: its repr, cut short (it comes from the request)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class InboundAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """botbuilder's authentication for the public cloud, with the inbound check done by `validator`
    (None: development, nothing checked). `CloudAdapter.process_activity` calls `authenticate_request`;
    the connector factory, outbound audience and user-token client stay botbuilder's.

    An inbound activity's connector client and user-token client are built once and reused
    (`bot.teams.connectors`) instead of once per activity. Proactive turns (`continue_conversation`:
    the notices, which set their own retries, timeout and response hook on their client) get a client
    of their own each time from `create_connector_factory`, as botbuilder builds them."""

    def __init__(self, configuration: object, validator: TokenValidator | None, **options: Any) -> None:
        super().__init__(configuration, **options)  # e.g. credentials_factory: how replies are signed
        self._validator = validator
        self._connectors = ClientCache()
        self._user_token_clients = ClientCache()

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        if self._validator is None:
            # What botbuilder gives an unauthenticated request when no app id is configured.
            identity = ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)
            caller_id = None
        else:
            identity = await self._validator.validate(
                auth_header or "", channel_id=activity.channel_id, service_url=activity.service_url
            )
            caller_id = CallerIdConstants.public_azure_channel
        result = AuthenticateRequestResult()
        result.claims_identity = identity
        result.audience = self.get_originating_audience()
        result.caller_id = caller_id
        result.connector_factory = _ReusedConnectorFactory(
            super().create_connector_factory(identity), _app_id(identity), self._connectors
        )
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _BoundedConnectorFactory(super().create_connector_factory(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        parent = super().create_user_token_client
        return await self._user_token_clients.get(_app_id(claims_identity), lambda: parent(claims_identity))


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    """The app id botbuilder builds a turn's clients for: the audience of a channel's token, the appid
    of an Emulator's, none for an anonymous request (`_BuiltinBotFrameworkAuthentication.get_app_id`)."""
    app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return str(app_id) if app_id is not None else None


def _bounded(client: Any) -> Any:
    """botbuilder's connector clients wait 100 s for a channel's answer and retry a refused connection
    for 5 s: a reply to a `serviceUrl` that hangs would hold a worker thread for minutes. Teams waits
    about 15 s for a turn; a reply that has not gone out in 10 s will not help."""
    client.config.connection.timeout = CONNECTOR_TIMEOUT_SECONDS
    client.config.retry_policy.retries = CONNECTOR_RETRIES
    client.config.retry_policy.backoff_factor = 0.4
    return client


class _BoundedConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    """botbuilder's factory, a new client per call, `_bounded`."""

    def __init__(self, inner: ConnectorFactory) -> None:
        self._inner = inner

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        return _bounded(await self._inner.create(service_url, audience))


class _ReusedConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    """botbuilder's factory for the turn's app id, with its clients (`_bounded`) kept per (app id,
    service URL, audience) in `clients`. Only for inbound turns, whose clients nothing reconfigures."""

    def __init__(self, inner: ConnectorFactory, app_id: str | None, clients: ClientCache) -> None:
        self._inner = inner
        self._app_id = app_id
        self._clients = clients

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        async def build() -> Any:
            return _bounded(await self._inner.create(service_url, audience))

        return await self._clients.get((self._app_id, service_url, audience), build)
