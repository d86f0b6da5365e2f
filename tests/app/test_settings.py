"""`Settings`: grouped by concern in the code, read from the same flat variables as ever (a `.env` written
for an older version keeps working), and a value that cannot be used named in one line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings, explain, variable_names

# Every variable the bot has ever read: renaming one would silently ignore a line of someone's .env.
KNOWN = {
    "MicrosoftAppId",
    "MicrosoftAppPassword",
    "MicrosoftAppType",
    "MicrosoftAppTenantId",
    "MicrosoftAppCertificatePath",
    "MicrosoftAppCertificateSendX5c",
    "ChannelService",
    "GRAPH_CLIENT_ID",
    "GRAPH_CLIENT_SECRET",
    "GRAPH_CLIENT_CERTIFICATE_PATH",
    "GRAPH_CLIENT_CERTIFICATE_SEND_X5C",
    "GRAPH_MANAGED_IDENTITY_CLIENT_ID",
    "GRAPH_TENANT_ID",
    "GRAPH_BASE_URL",
    "GRAPH_AUTHORITY_HOST",
    "GRAPH_CA_BUNDLE",
    "DATABASE_URL",
    "ALLOWED_TENANTS",
    *(
        f"PRESENCE_BOT_{name}"
        for name in (
            "OPENID_METADATA_URL",
            "EMULATOR_OPENID_METADATA_URL",
            "GRAPH",
            "DATA_DIR",
            "DEFAULT_DURATION",
            "DEFAULT_TIMEZONE",
            "MAX_HOLD",
            "COMMAND_BUDGET",
            "LOG_LEVEL",
            "LOG_FORMAT",
            "NOTICES_PER_SECOND",
            "AUDIT_DAYS",
            "SIM_TENANTS",
            "SIM_IDENTITY_PORT",
            "COLLEAGUES",
            "WATCH_INTERVAL",
            "WHO_LIMIT",
            "WATCH_CAP",
            "WORKDAY_END",
        )
    ),
}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No configuration in the environment; the working directory is `tmp_path` (where `.env` goes)."""
    for name in variable_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_variable_keeps_its_name() -> None:
    assert KNOWN - set(variable_names()) == set()


def test_a_dotenv_file_fills_the_groups_and_the_environment_wins(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_environment / ".env").write_text(
        "MicrosoftAppId=8d3f1c2a-5b6e-4f70-9a81-b2c3d4e5f601\nMicrosoftAppPassword=s3cr3t\n"
        "PRESENCE_BOT_WATCH_CAP=7\nALLOWED_TENANTS=t1, t2\nPRESENCE_BOT_COLLEAGUES=off\n"
        "PRESENCE_BOT_WATCH_INTERVAL=30\nPRESENCE_BOT_LOG_LEVEL=debug\nSOMETHING_ELSE=1\n"
    )
    monkeypatch.setenv("PRESENCE_BOT_WATCH_CAP", "9")
    settings = Settings()
    assert settings.bot.app_id == "8d3f1c2a-5b6e-4f70-9a81-b2c3d4e5f601"
    assert settings.bot.app_password.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(settings), "secrets stay SecretStr"
    assert settings.bot.allowed_tenants == ["t1", "t2"] and settings.bot.tenant_allowed("T1")
    assert settings.colleagues.watch_cap == 9, "the environment wins over .env"
    assert not settings.colleagues.enabled
    assert settings.colleagues.watch_interval == timedelta(seconds=30)
    assert settings.logging.level == "DEBUG"
    assert Settings(_env_file=None).bot.app_id == "", "no .env when told so"


def test_defaults_need_no_variable(clean_environment: Path) -> None:
    settings = Settings(_env_file=None)
    assert settings.bot.openid_metadata_url is None, "botbuilder's, chosen at the edge for the cloud"
    assert settings.presence.max_hold == timedelta(hours=12)
    assert settings.store.data_dir == Path(".presence-bot") and settings.store.database_url is None
    assert settings.simulator.identity_port == 0 and settings.colleagues.enabled


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("PRESENCE_BOT_MAX_HOLD", "PT1M", "PRESENCE_BOT_MAX_HOLD: must be between 5 minutes and 7 days"),
        (
            "PRESENCE_BOT_DEFAULT_DURATION",
            "PT13H",
            "PRESENCE_BOT_DEFAULT_DURATION: must be between 5 minutes and 12 hours",
        ),
        (
            "PRESENCE_BOT_WATCH_INTERVAL",
            "3601",
            "PRESENCE_BOT_WATCH_INTERVAL: must be between 1 second and 1 hour",
        ),
        ("PRESENCE_BOT_WHO_LIMIT", "501", "PRESENCE_BOT_WHO_LIMIT: must be between 1 and 500"),
        (
            "PRESENCE_BOT_SIM_IDENTITY_PORT",
            "70000",
            "PRESENCE_BOT_SIM_IDENTITY_PORT: must be between 0 and 65535",
        ),
        ("PRESENCE_BOT_COMMAND_BUDGET", "0", "PRESENCE_BOT_COMMAND_BUDGET: must be between 1 and 60"),
        ("MicrosoftAppType", "Anything", "MicrosoftAppType: Input should be 'MultiTenant'"),
        ("MICROSOFT_APP_TYPE", "Anything", "MicrosoftAppType: Input should be"),
        (
            "PRESENCE_BOT_DEFAULT_TIMEZONE",
            "Mars/Base",
            "PRESENCE_BOT_DEFAULT_TIMEZONE: unknown IANA time zone",
        ),
    ],
)
def test_a_value_that_cannot_be_used_is_one_line_naming_the_variable(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, line: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    lines = explain(raised.value)
    assert len(lines) == 1 and lines[0].startswith(line), lines
