"""The Bot Framework side of each credential: which botbuilder factory signs the bot's replies, with
which app id, tenant and key (constructed only: no token is fetched, nothing leaves the machine); and
where inbound tokens' signing keys are published for the bot's cloud."""

from __future__ import annotations

from pathlib import Path

import pytest
from botframework.connector.auth import (
    AuthenticationConstants,
    CertificateAppCredentials,
    CertificateServiceClientCredentialsFactory,
    GovernmentConstants,
    ManagedIdentityAppCredentials,
    ManagedIdentityServiceClientCredentialsFactory,
    PasswordServiceClientCredentialFactory,
)
from pydantic import SecretStr

from bot.config import BotFrameworkSettings
from bot.core.credentials import ManagedIdentity, load_certificate
from bot.modes import BotIdentity, GraphTarget, Mode, ModeKind
from bot.teams.auth import TokenSources, bot_framework_authentication, credentials_factory, token_sources
from tests.support.certs import write_certificate

APP = "8d3f1c2a-5b6e-4f70-9a81-b2c3d4e5f601"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PUBLIC_LOGIN = "https://login.microsoftonline.com/botframework.com"
SCOPE = "https://api.botframework.com"


def _bot(credential: object, app_type: str = "SingleTenant", **extra: object) -> BotIdentity:
    return BotIdentity(app_id=APP, app_type=app_type, tenant_id=TENANT, credential=credential, **extra)  # type: ignore[arg-type]


async def test_without_a_bot_identity_authentication_is_disabled() -> None:
    factory = credentials_factory(None)
    assert isinstance(factory, PasswordServiceClientCredentialFactory)
    assert await factory.is_authentication_disabled()


@pytest.mark.parametrize(("app_type", "tenant"), [("SingleTenant", TENANT), ("MultiTenant", None)])
async def test_a_client_secret(app_type: str, tenant: str | None) -> None:
    factory = credentials_factory(_bot(SecretStr("secret"), app_type))
    assert isinstance(factory, PasswordServiceClientCredentialFactory)
    assert (factory.app_id, factory.password, factory.tenant_id) == (APP, "secret", tenant)
    assert not await factory.is_authentication_disabled()
    assert await factory.is_valid_app_id(APP) and not await factory.is_valid_app_id("someone-else")


@pytest.mark.parametrize("send_x5c", [False, True])
async def test_a_certificate(tmp_path: Path, send_x5c: bool) -> None:
    path = tmp_path / "bot.pem"
    public = write_certificate(path)
    certificate = load_certificate(path, send_x5c=send_x5c)
    factory = credentials_factory(_bot(certificate))
    assert isinstance(factory, CertificateServiceClientCredentialsFactory)
    assert factory.app_id == APP and factory.tenant_id == TENANT
    assert factory.certificate_thumbprint == certificate.sha1_thumbprint
    assert factory.certificate_private_key == certificate.private_key_pem
    assert factory.certificate_public == (public if send_x5c else None)
    credentials = await factory.create_credentials(APP, SCOPE, PUBLIC_LOGIN, True)
    assert isinstance(credentials, CertificateAppCredentials)
    assert credentials.oauth_endpoint.endswith(TENANT), "a single-tenant bot gets its token in its tenant"


async def test_a_managed_identity() -> None:
    factory = credentials_factory(_bot(ManagedIdentity(APP), "UserAssignedMSI"))
    assert isinstance(factory, ManagedIdentityServiceClientCredentialsFactory)
    assert factory.app_id == APP
    credentials = await factory.create_credentials(APP, SCOPE, PUBLIC_LOGIN, True)
    assert isinstance(credentials, ManagedIdentityAppCredentials)
    assert credentials._managed_identity == {"ManagedIdentityIdType": "ClientId", "Id": APP}


def _mode(bot: BotIdentity) -> Mode:
    graph = GraphTarget(embedded=False, client_id=APP, credential=bot.credential, default_tenant=TENANT)
    return Mode(ModeKind.PRODUCTION, bot, graph)


def test_the_channel_service_picks_the_cloud() -> None:
    public = bot_framework_authentication(_mode(_bot(SecretStr("s"))), None)
    assert type(public._inner).__name__ == "_PublicCloudBotFrameworkAuthentication"
    government = bot_framework_authentication(
        _mode(_bot(SecretStr("s"), channel_service="https://botframework.azure.us")), None
    )
    assert type(government._inner).__name__ == "_GovernmentCloudBotFrameworkAuthentication"


def test_inbound_tokens_are_checked_against_botbuilders_metadata_for_the_cloud() -> None:
    public = token_sources(_bot(SecretStr("s")), BotFrameworkSettings())
    assert public == TokenSources(
        channel_metadata=AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        emulator_metadata=AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        channel_issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
    )
    government = token_sources(
        _bot(SecretStr("s"), channel_service="https://botframework.azure.us/"), BotFrameworkSettings()
    )
    assert government.channel_metadata == GovernmentConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    assert government.channel_issuer == GovernmentConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER


def test_metadata_urls_in_the_settings_win() -> None:
    local = "http://127.0.0.1:9/openid"
    settings = BotFrameworkSettings(openid_metadata_url=local, emulator_openid_metadata_url=local)
    sources = token_sources(
        _bot(SecretStr("s"), channel_service=GovernmentConstants.CHANNEL_SERVICE), settings
    )
    assert (sources.channel_metadata, sources.emulator_metadata) == (local, local)
