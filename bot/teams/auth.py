"""Bot Framework authentication from the start-up mode: which of botbuilder's credential factories signs
the bot's replies (and names the app id inbound tokens must carry).

- no bot identity (development): authentication disabled, as the Bot Framework Emulator expects;
- a client secret: `PasswordServiceClientCredentialFactory` (with the tenant for SingleTenant);
- a certificate: `CertificateServiceClientCredentialsFactory` (msal's client assertion);
- a managed identity (`MicrosoftAppType=UserAssignedMSI`): `ManagedIdentityServiceClientCredentialsFactory`.

botbuilder's own `ConfigurationServiceClientCredentialFactory` knows secrets and managed identities
only, and refuses a SingleTenant configuration without an app id, so the factory is chosen here.

Inbound tokens are checked by a `TokenValidator` (`inbound_authentication`) against the signing keys
botbuilder's constants name for the bot's cloud (`metadata`), unless the settings name others.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from botframework.connector.auth import (
    AuthenticationConstants,
    CertificateServiceClientCredentialsFactory,
    GovernmentConstants,
    ManagedIdentityServiceClientCredentialsFactory,
    PasswordServiceClientCredentialFactory,
    ServiceClientCredentialsFactory,
)

from bot.config import BotFrameworkSettings
from bot.core.credentials import ClientCertificate, ManagedIdentity
from bot.modes import BotIdentity, Mode
from bot.teams.inbound_auth import InboundAuthentication, TokenValidator, tenant_issuers
from bot.teams.signing_keys import KeySource


class _Configuration:
    """The attribute names botbuilder's configuration objects expect."""

    def __init__(self, bot: BotIdentity | None) -> None:
        self.APP_ID = bot.app_id if bot is not None else ""
        self.APP_TYPE = bot.app_type if bot is not None else "MultiTenant"
        self.APP_TENANTID = (bot.tenant_id or "") if bot is not None else ""
        if bot is not None and bot.channel_service:
            self.CHANNEL_SERVICE = bot.channel_service  # e.g. https://botframework.azure.us


def credentials_factory(bot: BotIdentity | None) -> ServiceClientCredentialsFactory:
    """The factory for the bot's outbound credentials (and the app id inbound tokens must name)."""
    if bot is None:
        return PasswordServiceClientCredentialFactory(None, None, None)  # no app id: auth disabled
    credential = bot.credential
    tenant = bot.tenant_id if bot.app_type == "SingleTenant" else None
    if isinstance(credential, ManagedIdentity):
        return ManagedIdentityServiceClientCredentialsFactory(credential.client_id)
    if isinstance(credential, ClientCertificate):
        return CertificateServiceClientCredentialsFactory(
            credential.sha1_thumbprint,
            credential.private_key_pem,
            bot.app_id,
            tenant,
            credential.certificate_pem if credential.send_x5c else None,
        )
    return PasswordServiceClientCredentialFactory(bot.app_id, credential.get_secret_value(), tenant)


def bot_framework_authentication(mode: Mode, validator: TokenValidator | None) -> InboundAuthentication:
    """The `CloudAdapter`'s authentication for `mode`: inbound tokens checked by `validator` (None: the
    development mode, nothing checked), replies signed by the factory for the bot's credential."""
    return InboundAuthentication(
        _Configuration(mode.bot), validator, credentials_factory=credentials_factory(mode.bot)
    )


@dataclass(frozen=True)
class TokenSources:
    """Where inbound tokens' signing keys are published, and who issues channel tokens."""

    channel_metadata: str
    emulator_metadata: str
    channel_issuer: str


def token_sources(bot: BotIdentity, settings: BotFrameworkSettings) -> TokenSources:
    """botbuilder's metadata and issuer for the bot's cloud: in Azure US Government (`ChannelService`),
    channel tokens come from its own issuer, with its own keys. The settings' URLs, when set, win."""
    government = (bot.channel_service or "").rstrip("/") == GovernmentConstants.CHANNEL_SERVICE
    cloud = GovernmentConstants if government else AuthenticationConstants
    return TokenSources(
        channel_metadata=settings.openid_metadata_url or cloud.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        # The Emulator's tokens are checked against Azure AD's public keys in either cloud, as before.
        emulator_metadata=settings.emulator_openid_metadata_url
        or AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        channel_issuer=cloud.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
    )


def inbound_authentication(
    mode: Mode, settings: BotFrameworkSettings, http: httpx.AsyncClient
) -> InboundAuthentication:
    """The `CloudAdapter`'s authentication for `mode`, inbound tokens checked with keys fetched through
    `http` (asynchronously); nothing checked without an app id (development)."""
    if mode.bot is None:
        return bot_framework_authentication(mode, None)
    sources = token_sources(mode.bot, settings)
    # One source per URL: the same metadata for both (a test's key server) is fetched once.
    keys = {url: KeySource(http, url) for url in (sources.channel_metadata, sources.emulator_metadata)}
    tenant = (mode.bot.tenant_id or "").strip()
    validator = TokenValidator(
        mode.bot.app_id,
        channel_keys=keys[sources.channel_metadata],
        emulator_keys=keys[sources.emulator_metadata],
        extra_issuers=tenant_issuers(tenant) if tenant else (),
        channel_issuer=sources.channel_issuer,
    )
    return bot_framework_authentication(mode, validator)
