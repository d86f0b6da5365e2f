"""Configuration from the environment and `.env`, with the Bot Framework names users already know."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The embedded simulator's registered app (not a secret: it only opens the local simulated tenant).
SIM_APP_ID = "5ad0b075-0000-4000-8000-00000000b075"
SIM_APP_SECRET = "simulated-tenant-dev-secret"
SIM_TENANT_ID = "00000000-0000-0000-0000-0000000000001"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Bot Framework (inbound authentication and replies). No app id: development mode (bot/modes.py).
    microsoft_app_id: str = Field("", validation_alias=_env("MicrosoftAppId", "MICROSOFT_APP_ID"))
    microsoft_app_password: SecretStr = Field(
        SecretStr(""), validation_alias=_env("MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD")
    )
    # SingleTenant by default: new multi-tenant Azure Bot resources cannot be created since 31 July 2025.
    microsoft_app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = Field(
        "SingleTenant", validation_alias=_env("MicrosoftAppType", "MICROSOFT_APP_TYPE")
    )
    microsoft_app_tenant_id: str = Field(
        "", validation_alias=_env("MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID")
    )
    # A PEM file with the private key and certificate: the bot's credential instead of a client secret.
    microsoft_app_certificate_path: Path | None = Field(
        None, validation_alias=_env("MicrosoftAppCertificatePath", "MICROSOFT_APP_CERTIFICATE_PATH")
    )
    microsoft_app_certificate_send_x5c: bool = Field(
        False, validation_alias=_env("MicrosoftAppCertificateSendX5c", "MICROSOFT_APP_CERTIFICATE_SEND_X5C")
    )
    # botbuilder's national-cloud switch: https://botframework.azure.us for Azure US Government.
    channel_service: str = Field("", validation_alias=_env("ChannelService", "CHANNEL_SERVICE"))
    # Where the keys that sign inbound tokens are published (Bot Framework channels; the Emulator and
    # Azure AD). Changed only to test against a local key server.
    openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        validation_alias=_env("PRESENCE_BOT_OPENID_METADATA_URL"),
    )
    emulator_openid_metadata_url: str = Field(
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
        validation_alias=_env("PRESENCE_BOT_EMULATOR_OPENID_METADATA_URL"),
    )

    # Microsoft Graph (application permissions). Default: the bot's own app registration.
    graph_client_id: str = Field("", validation_alias=_env("GRAPH_CLIENT_ID"))
    graph_client_secret: SecretStr = Field(SecretStr(""), validation_alias=_env("GRAPH_CLIENT_SECRET"))
    graph_client_certificate_path: Path | None = Field(
        None, validation_alias=_env("GRAPH_CLIENT_CERTIFICATE_PATH")
    )
    graph_client_certificate_send_x5c: bool = Field(
        False, validation_alias=_env("GRAPH_CLIENT_CERTIFICATE_SEND_X5C")
    )
    graph_managed_identity_client_id: str = Field(
        "", validation_alias=_env("GRAPH_MANAGED_IDENTITY_CLIENT_ID")
    )
    graph_tenant_id: str = Field("", validation_alias=_env("GRAPH_TENANT_ID"))
    graph_base_url: str = Field("https://graph.microsoft.com/v1.0", validation_alias=_env("GRAPH_BASE_URL"))
    graph_authority_host: str = Field(
        "https://login.microsoftonline.com", validation_alias=_env("GRAPH_AUTHORITY_HOST")
    )
    graph_ca_bundle: Path | None = Field(None, validation_alias=_env("GRAPH_CA_BUNDLE"))
    # `simulator`: the embedded simulated tenant even with an app id (Teams before admin consent);
    # `graph`: Graph credentials are required; `auto`: decided by which credentials are set.
    graph_target: Literal["auto", "simulator", "graph"] = Field(
        "auto", validation_alias=_env("PRESENCE_BOT_GRAPH")
    )

    data_dir: Path = Field(Path(".presence-bot"), validation_alias=_env("PRESENCE_BOT_DATA_DIR"))
    default_duration: timedelta = Field(
        timedelta(hours=1), validation_alias=_env("PRESENCE_BOT_DEFAULT_DURATION")
    )
    default_time_zone: str = Field("UTC", validation_alias=_env("PRESENCE_BOT_DEFAULT_TIMEZONE"))
    allowed_tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("ALLOWED_TENANTS")
    )
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    max_hold: timedelta = Field(timedelta(hours=12), validation_alias=_env("PRESENCE_BOT_MAX_HOLD"))
    # Seconds a chat command may take in all, Graph retries included (Teams waits about 15 s).
    command_budget_seconds: float = Field(12.0, validation_alias=_env("PRESENCE_BOT_COMMAND_BUDGET"))
    log_level: str = Field("INFO", validation_alias=_env("PRESENCE_BOT_LOG_LEVEL"))
    # Proactive notices per second per tenant, from this process (Teams allows an app 50; more only
    # against a local connector in tests).
    notices_per_second: int = Field(
        50, ge=1, le=1000, validation_alias=_env("PRESENCE_BOT_NOTICES_PER_SECOND")
    )
    # json: one JSON object a line (for a log collector); text: one readable line a record.
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("PRESENCE_BOT_LOG_FORMAT"))
    # Days the audit log (and ended holds) are kept; pruned daily by a durable timer.
    audit_days: int = Field(90, validation_alias=_env("PRESENCE_BOT_AUDIT_DAYS"))
    # Embedded simulator: the tenants where its dev app is registered and consented (empty: any tenant a
    # conversation names), and the TLS port of its identity platform (0: any free port).
    sim_tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("PRESENCE_BOT_SIM_TENANTS")
    )
    sim_identity_port: int = Field(0, validation_alias=_env("PRESENCE_BOT_SIM_IDENTITY_PORT"))

    # /who and /watch (colleagues' presence): an admin switch, how often watches are polled, how many
    # members /who shows in a group chat, how many watches a user may have, and when a working day ends
    # (a watch with no end given lasts until then, in the watcher's zone, at most 24 hours).
    colleagues: Literal["on", "off"] = Field("on", validation_alias=_env("PRESENCE_BOT_COLLEAGUES"))
    watch_interval: timedelta = Field(
        timedelta(seconds=60), validation_alias=_env("PRESENCE_BOT_WATCH_INTERVAL")
    )
    who_limit: int = Field(50, ge=1, le=500, validation_alias=_env("PRESENCE_BOT_WHO_LIMIT"))
    watch_cap: int = Field(20, ge=1, le=1000, validation_alias=_env("PRESENCE_BOT_WATCH_CAP"))
    workday_end: time = Field(time(18, 0), validation_alias=_env("PRESENCE_BOT_WORKDAY_END"))

    @field_validator("colleagues", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in {"on", "true", "1", "yes", "enabled"}:
                return "on"
            if word in {"off", "false", "0", "no", "disabled"}:
                return "off"
            raise ValueError("PRESENCE_BOT_COLLEAGUES must be on or off")
        return value

    @field_validator("watch_interval", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """A plain number is seconds (`PRESENCE_BOT_WATCH_INTERVAL=30`); ISO 8601 (`PT30S`) works too."""
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return timedelta(seconds=float(value))
        return value

    @field_validator("watch_interval")
    @classmethod
    def _watch_interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1) or value > timedelta(hours=1):
            raise ValueError("PRESENCE_BOT_WATCH_INTERVAL must be between 1 and 3600 seconds")
        return value

    @property
    def colleagues_enabled(self) -> bool:
        return self.colleagues == "on"

    @field_validator("allowed_tenants", "sim_tenants", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "microsoft_app_certificate_path", "graph_client_certificate_path", "graph_ca_bundle", mode="before"
    )
    @classmethod
    def _no_path(cls, value: object) -> object:
        """An empty variable (`NAME=`) means no file, not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from bot.core.zones import valid_zone

        zone = valid_zone(value)
        if zone is None:
            raise ValueError(f"PRESENCE_BOT_DEFAULT_TIMEZONE: unknown IANA time zone {value!r}")
        return zone

    @field_validator("max_hold")
    @classmethod
    def _max_hold(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5) or value > timedelta(days=7):
            raise ValueError("PRESENCE_BOT_MAX_HOLD must be between 5 minutes and 7 days")
        return value

    @field_validator("default_duration")
    @classmethod
    def _duration(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5) or value > timedelta(hours=12):
            raise ValueError("PRESENCE_BOT_DEFAULT_DURATION must be between 5 minutes and 12 hours")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
                raise ValueError("PRESENCE_BOT_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
            return value.strip().upper()
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("audit_days")
    @classmethod
    def _audit_days(cls, value: int) -> int:
        if not 1 <= value <= 3650:
            raise ValueError("PRESENCE_BOT_AUDIT_DAYS must be between 1 and 3650 days")
        return value

    def tenant_allowed(self, tenant_id: str | None) -> bool:
        if not self.allowed_tenants:
            return True
        return tenant_id is not None and tenant_id.lower() in {t.lower() for t in self.allowed_tenants}
