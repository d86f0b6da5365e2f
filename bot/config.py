"""Configuration from the environment and `.env`, grouped by concern, with the names users already know.

`Settings` holds one frozen group per concern: `bot` (the Bot Framework: who the bot is, whom it answers),
`graph`, `presence` (commands and holds), `colleagues` (`/who`, `/watch`), `store`, `logging` and
`simulator`. Every field is still read from one flat variable (`MicrosoftAppId`,
`PRESENCE_BOT_WATCH_CAP`…): `_Flat` reads each group's fields by their aliases, so a `.env` written for
an older version keeps working. A value out of range or unreadable is a `ValidationError`;
`explain` turns it into one line per problem, each naming the variable to fix.

Inbound token metadata defaults to botbuilder's own URLs, resolved at the edge
(`bot.teams.auth.token_sources`), which knows the national clouds: nothing here repeats them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# The embedded simulator's registered app (not a secret: it only opens the local simulated tenant).
SIM_APP_ID = "5ad0b075-0000-4000-8000-00000000b075"
SIM_APP_SECRET = "simulated-tenant-dev-secret"
SIM_TENANT_ID = "00000000-0000-0000-0000-0000000000001"


def _env(*names: str) -> AliasChoices:
    """The variables a field is read from, the first one the name errors give."""
    return AliasChoices(*names)


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _no_path(value: object) -> object:
    """An empty variable (`NAME=`) means no file, not the current directory."""
    return None if isinstance(value, str) and not value.strip() else value


class _Group(BaseModel):
    # Groups are filled by field name (from `_Flat`, from tests); the aliases are the variables.
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)


Tenants = Annotated[list[str], NoDecode]  # comma-separated in the environment, not JSON


class BotFrameworkSettings(_Group):
    """Who the bot is to the Bot Framework (inbound authentication, replies), whom it serves, and how fast
    it may send proactively. No app id: development mode (bot/modes.py)."""

    app_id: str = Field("", validation_alias=_env("MicrosoftAppId", "MICROSOFT_APP_ID"))
    app_password: SecretStr = Field(
        SecretStr(""), validation_alias=_env("MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD")
    )
    # SingleTenant by default: new multi-tenant Azure Bot resources cannot be created since 31 July 2025.
    app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = Field(
        "SingleTenant", validation_alias=_env("MicrosoftAppType", "MICROSOFT_APP_TYPE")
    )
    app_tenant_id: str = Field("", validation_alias=_env("MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID"))
    # A PEM file with the private key and certificate: the bot's credential instead of a client secret.
    app_certificate_path: Path | None = Field(
        None, validation_alias=_env("MicrosoftAppCertificatePath", "MICROSOFT_APP_CERTIFICATE_PATH")
    )
    app_certificate_send_x5c: bool = Field(
        False, validation_alias=_env("MicrosoftAppCertificateSendX5c", "MICROSOFT_APP_CERTIFICATE_SEND_X5C")
    )
    # botbuilder's national-cloud switch: https://botframework.azure.us for Azure US Government.
    channel_service: str = Field("", validation_alias=_env("ChannelService", "CHANNEL_SERVICE"))
    # Where the keys that sign inbound tokens are published (Bot Framework channels; the Emulator and
    # Azure AD). None: botbuilder's, for the channel service's cloud. Set only to test against a local
    # key server.
    openid_metadata_url: str | None = Field(None, validation_alias=_env("PRESENCE_BOT_OPENID_METADATA_URL"))
    emulator_openid_metadata_url: str | None = Field(
        None, validation_alias=_env("PRESENCE_BOT_EMULATOR_OPENID_METADATA_URL")
    )
    # The tenants this deployment serves (empty: any); others are refused politely.
    allowed_tenants: Tenants = Field(default_factory=list, validation_alias=_env("ALLOWED_TENANTS"))
    # Proactive notices per second per tenant, from this process (Teams allows an app 50; more only
    # against a local connector in tests).
    notices_per_second: int = Field(
        50, ge=1, le=1000, validation_alias=_env("PRESENCE_BOT_NOTICES_PER_SECOND")
    )

    _split = field_validator("allowed_tenants", mode="before")(_comma_list)
    _path = field_validator("app_certificate_path", mode="before")(_no_path)

    def tenant_allowed(self, tenant_id: str | None) -> bool:
        if not self.allowed_tenants:
            return True
        return tenant_id is not None and tenant_id.lower() in {t.lower() for t in self.allowed_tenants}


class GraphSettings(_Group):
    """Microsoft Graph (application permissions). Default: the bot's own app registration."""

    # `simulator`: the embedded simulated tenant even with an app id (Teams before admin consent);
    # `graph`: Graph credentials are required; `auto`: decided by which credentials are set.
    target: Literal["auto", "simulator", "graph"] = Field("auto", validation_alias=_env("PRESENCE_BOT_GRAPH"))
    client_id: str = Field("", validation_alias=_env("GRAPH_CLIENT_ID"))
    client_secret: SecretStr = Field(SecretStr(""), validation_alias=_env("GRAPH_CLIENT_SECRET"))
    client_certificate_path: Path | None = Field(None, validation_alias=_env("GRAPH_CLIENT_CERTIFICATE_PATH"))
    client_certificate_send_x5c: bool = Field(
        False, validation_alias=_env("GRAPH_CLIENT_CERTIFICATE_SEND_X5C")
    )
    managed_identity_client_id: str = Field("", validation_alias=_env("GRAPH_MANAGED_IDENTITY_CLIENT_ID"))
    tenant_id: str = Field("", validation_alias=_env("GRAPH_TENANT_ID"))
    base_url: str = Field("https://graph.microsoft.com/v1.0", validation_alias=_env("GRAPH_BASE_URL"))
    authority_host: str = Field(
        "https://login.microsoftonline.com", validation_alias=_env("GRAPH_AUTHORITY_HOST")
    )
    ca_bundle: Path | None = Field(None, validation_alias=_env("GRAPH_CA_BUNDLE"))

    _paths = field_validator("client_certificate_path", "ca_bundle", mode="before")(_no_path)


class PresenceSettings(_Group):
    """Commands and holds: how long a state lasts by default and at most, the time zone when Teams sends
    none, and how long a chat command may take in all."""

    default_duration: timedelta = Field(
        timedelta(hours=1),
        ge=timedelta(minutes=5),
        le=timedelta(hours=12),
        validation_alias=_env("PRESENCE_BOT_DEFAULT_DURATION"),
    )
    max_hold: timedelta = Field(
        timedelta(hours=12),
        ge=timedelta(minutes=5),
        le=timedelta(days=7),
        validation_alias=_env("PRESENCE_BOT_MAX_HOLD"),
    )
    default_time_zone: str = Field("UTC", validation_alias=_env("PRESENCE_BOT_DEFAULT_TIMEZONE"))
    # Seconds a chat command may take in all, Graph retries included (Teams waits about 15 s).
    command_budget_seconds: float = Field(
        12.0, ge=1.0, le=60.0, validation_alias=_env("PRESENCE_BOT_COMMAND_BUDGET")
    )

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from bot.core.zones import valid_zone

        zone = valid_zone(value)
        if zone is None:
            raise ValueError(f"unknown IANA time zone {value!r}")
        return zone


class ColleaguesSettings(_Group):
    """/who and /watch: an admin switch, how often watches are polled, how many members /who shows in a
    group chat, how many watches a user may have, and when a working day ends (a watch with no end given
    lasts until then, in the watcher's zone, at most 24 hours)."""

    enabled: bool = Field(True, validation_alias=_env("PRESENCE_BOT_COLLEAGUES"))
    watch_interval: timedelta = Field(
        timedelta(seconds=60),
        ge=timedelta(seconds=1),
        le=timedelta(hours=1),
        validation_alias=_env("PRESENCE_BOT_WATCH_INTERVAL"),
    )
    who_limit: int = Field(50, ge=1, le=500, validation_alias=_env("PRESENCE_BOT_WHO_LIMIT"))
    watch_cap: int = Field(20, ge=1, le=1000, validation_alias=_env("PRESENCE_BOT_WATCH_CAP"))
    workday_end: time = Field(time(18, 0), validation_alias=_env("PRESENCE_BOT_WORKDAY_END"))

    @field_validator("enabled", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in {"on", "true", "1", "yes", "enabled"}:
                return True
            if word in {"off", "false", "0", "no", "disabled"}:
                return False
            raise ValueError("must be on or off")
        return value

    @field_validator("watch_interval", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """A plain number is seconds (`PRESENCE_BOT_WATCH_INTERVAL=30`); ISO 8601 (`PT30S`) works too."""
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return timedelta(seconds=float(value))
        return value


class StoreSettings(_Group):
    """Where state lives (SQLite in the data directory, or PostgreSQL) and how long the audit is kept."""

    data_dir: Path = Field(Path(".presence-bot"), validation_alias=_env("PRESENCE_BOT_DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    # Days the audit log (and ended holds) are kept; pruned daily by a durable timer.
    audit_days: int = Field(90, ge=1, le=3650, validation_alias=_env("PRESENCE_BOT_AUDIT_DAYS"))


class LoggingSettings(_Group):
    """json: one JSON object a line (for a log collector); text: one readable line a record."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", validation_alias=_env("PRESENCE_BOT_LOG_LEVEL")
    )
    format: Literal["text", "json"] = Field("text", validation_alias=_env("PRESENCE_BOT_LOG_FORMAT"))

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
                raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
            return value.strip().upper()
        return value

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class SimulatorSettings(_Group):
    """The embedded simulator: the tenants where its dev app is registered and consented (empty: any
    tenant a conversation names), and the TLS port of its identity platform (0: any free port)."""

    tenants: Tenants = Field(default_factory=list, validation_alias=_env("PRESENCE_BOT_SIM_TENANTS"))
    identity_port: int = Field(0, ge=0, le=65535, validation_alias=_env("PRESENCE_BOT_SIM_IDENTITY_PORT"))

    _split = field_validator("tenants", mode="before")(_comma_list)


class Settings(BaseSettings):
    """Everything the bot reads from its environment, one group per concern."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    bot: BotFrameworkSettings = BotFrameworkSettings()
    graph: GraphSettings = GraphSettings()
    presence: PresenceSettings = PresenceSettings()
    colleagues: ColleaguesSettings = ColleaguesSettings()
    store: StoreSettings = StoreSettings()
    logging: LoggingSettings = LoggingSettings()
    simulator: SimulatorSettings = SimulatorSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the environment, then `.env`: each read flat into the groups."""
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)  # DotEnvSettingsSource is one
        return (init_settings, _Flat(settings_cls, env_settings), _Flat(settings_cls, dotenv_settings))


class _Flat(PydanticBaseSettingsSource):
    """A group's fields from flat variables: pydantic-settings looks up each field's aliases (case
    insensitively, comma lists left to the groups' validators), and the values are nested here."""

    def __init__(self, settings_cls: type[BaseSettings], variables: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._variables = variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._variables.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for group, name, field in _fields():
            value, _key, complex_value = self._variables.get_field_value(field, name)
            value = self._variables.prepare_field_value(name, field, value, complex_value)
            if value is not None:
                found.setdefault(group, {})[name] = value
        return found


def _fields() -> Iterator[tuple[str, str, FieldInfo]]:
    for group, info in Settings.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, _Group)
        for name, field in model.model_fields.items():
            yield group, name, field


def variable_names() -> list[str]:
    """Every variable the settings read, each under every name it answers to."""
    names: list[str] = []
    for _group, _name, field in _fields():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.extend(str(choice) for choice in alias.choices)
    return names


def explain(error: ValidationError) -> list[str]:
    """One line per problem in `error`, each naming the variable to fix: `PRESENCE_BOT_WATCH_CAP: must be
    between 1 and 1000`."""
    lines = []
    for problem in error.errors():
        field = _field_at(problem["loc"])
        name = _variable(field) if field is not None else ".".join(str(part) for part in problem["loc"])
        lines.append(f"{name}: {_reason(problem, field)}")
    return lines


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    if len(loc) < 2:
        return None
    for group, name, field in _fields():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else []
        if loc[0] == group and (loc[1] == name or loc[1] in choices):
            return field
    return None


def _variable(field: FieldInfo) -> str:
    alias = field.validation_alias
    assert isinstance(alias, AliasChoices) and alias.choices
    return str(alias.choices[0])


def _reason(problem: Any, field: FieldInfo | None) -> str:
    """The message, with a range said in full (both ends, in words) wherever the field has one."""
    if problem["type"] == "value_error":
        return str(problem["ctx"]["error"])
    if field is not None and problem["type"] in {"greater_than_equal", "less_than_equal"}:
        low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
        high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
        if low is not None and high is not None:
            return f"must be between {_amount(low)} and {_amount(high)}"
    return str(problem["msg"])


def _amount(value: object) -> str:
    """`5 minutes`, `12 hours`, `7 days`, `1 second` for a duration; `60` for 60.0; others as they are."""
    if isinstance(value, float):
        return f"{value:g}"
    if not isinstance(value, timedelta):
        return str(value)
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{value.total_seconds():g} seconds"
