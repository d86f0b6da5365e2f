"""Bot Framework authentication from the start-up mode: which of botbuilder's credential factories signs
the bot's replies (and names the app id inbound tokens must carry).

- no bot identity (development): authentication disabled, as the Bot Framework Emulator expects;
- a client secret: `PasswordServiceClientCredentialFactory` (with the tenant for SingleTenant);
- a certificate: `CertificateServiceClientCredentialsFactory` (msal's client assertion);
- a managed identity (`MicrosoftAppType=UserAssignedMSI`): `ManagedIdentityServiceClientCredentialsFactory`.

botbuilder's own `ConfigurationServiceClientCredentialFactory` knows secrets and managed identities
only, and refuses a SingleTenant configuration without an app id, so the factory is chosen here.
"""

from __future__ import annotations

from botframework.connector.auth import (
    CertificateServiceClientCredentialsFactory,
    ManagedIdentityServiceClientCredentialsFactory,
    PasswordServiceClientCredentialFactory,
    ServiceClientCredentialsFactory,
)

from bot.core.credentials import ClientCertificate, ManagedIdentity
from bot.modes import BotIdentity, Mode
from bot.teams.inbound_auth import InboundAuthentication, TokenValidator


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
