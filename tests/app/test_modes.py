"""Start-up modes, decided from complete configurations only (`bot.modes.decide_mode`), case by case:
each configuration is a set of environment variables, read by the real `Settings`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import SIM_APP_ID, Settings, variable_names
from bot.core.credentials import ClientCertificate, ManagedIdentity
from bot.modes import ConfigurationError, Mode, ModeKind, bind_refusal, decide_mode, graph_scope
from tests.support.certs import write_certificate

APP = "8d3f1c2a-5b6e-4f70-9a81-b2c3d4e5f601"
OTHER_APP = "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "s3cr3t-value~never-printed"
MI = "4f1e2d3c-0b9a-4867-a5b4-c3d2e1f00987"

Configure = Callable[..., Settings]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Configure:
    """`configure(**variables) -> Settings`: exactly these environment variables, nothing else."""

    def make(**variables: str) -> Settings:
        for name in variable_names():
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PRESENCE_BOT_DATA_DIR", str(tmp_path / "data"))
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return Settings(_env_file=None)

    return make


def mode_of(settings: Settings) -> Mode:
    mode = decide_mode(settings)
    assert isinstance(mode, Mode), str(mode)
    return mode


def refusal(settings: Settings) -> ConfigurationError:
    mode = decide_mode(settings)
    assert isinstance(mode, ConfigurationError), f"expected a refusal, got {mode}"
    assert "\n" not in str(mode), "one line"
    return mode


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    path = tmp_path / "bot.pem"
    write_certificate(path)
    return path


# -- development -----------------------------------------------------------------------------------
def test_nothing_configured_is_development_on_the_embedded_simulator(configure: Configure) -> None:
    mode = mode_of(configure())
    assert mode.kind is ModeKind.DEVELOPMENT
    assert not mode.authenticated and mode.bot is None
    assert mode.simulated_graph and mode.session_id == SIM_APP_ID
    assert mode.sim_tenants == (), "any tenant a conversation names"
    line = mode.line()
    assert line.startswith("Mode: development; Graph: the embedded simulated tenant;")
    assert "inbound requests: NOT authenticated" in line and line.endswith("tenants: any")


def test_graph_simulator_without_an_app_id_is_development(configure: Configure) -> None:
    assert mode_of(configure(PRESENCE_BOT_GRAPH="simulator")).kind is ModeKind.DEVELOPMENT


def test_sim_tenants_restrict_the_embedded_simulator(configure: Configure) -> None:
    mode = mode_of(configure(PRESENCE_BOT_SIM_TENANTS=f"{TENANT}, contoso.onmicrosoft.com"))
    assert mode.sim_tenants == (TENANT, "contoso.onmicrosoft.com")
    assert mode.graph.default_tenant == TENANT


def test_graph_credentials_for_a_simulator_on_this_machine_are_development(
    configure: Configure, tmp_path: Path
) -> None:
    """`presence-bot simulator` prints GRAPH_ variables for loopback URLs: no bot id is needed there."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read here")
    mode = mode_of(
        configure(
            GRAPH_CLIENT_ID=SIM_APP_ID,
            GRAPH_CLIENT_SECRET=SECRET,
            GRAPH_BASE_URL="http://127.0.0.1:3980/v1.0",
            GRAPH_AUTHORITY_HOST="https://127.0.0.1:3981",
            GRAPH_CA_BUNDLE=str(bundle),
            GRAPH_TENANT_ID=TENANT,
        )
    )
    assert mode.kind is ModeKind.DEVELOPMENT and not mode.authenticated
    assert not mode.simulated_graph and mode.graph.base_url == "http://127.0.0.1:3980/v1.0"
    assert mode.graph.scope == "https://graph.microsoft.com/.default"
    assert SECRET not in mode.line()


# -- production ------------------------------------------------------------------------------------
def test_secret_single_tenant_is_production_with_the_bots_own_registration_for_graph(
    configure: Configure,
) -> None:
    mode = mode_of(configure(MicrosoftAppId=APP, MicrosoftAppPassword=SECRET, MicrosoftAppTenantId=TENANT))
    assert mode.kind is ModeKind.PRODUCTION and mode.authenticated and not mode.simulated_graph
    assert mode.bot is not None and mode.bot.app_type == "SingleTenant", "the default app type"
    assert mode.bot.tenant_id == TENANT
    assert isinstance(mode.bot.credential, SecretStr)
    assert mode.graph.client_id == APP and mode.graph.credential == mode.bot.credential
    assert mode.graph.default_tenant == TENANT
    assert mode.graph.base_url == "https://graph.microsoft.com/v1.0"
    line = mode.line()
    assert line.startswith("Mode: production; Graph: https://graph.microsoft.com/v1.0 (app ")
    assert f"inbound requests: authenticated (SingleTenant app {APP}, client secret)" in line
    assert SECRET not in line and SECRET not in repr(mode)


def test_multi_tenant_needs_no_tenant_id_and_asks_graph_per_conversation(configure: Configure) -> None:
    mode = mode_of(configure(MicrosoftAppId=APP, MicrosoftAppPassword=SECRET, MicrosoftAppType="MultiTenant"))
    assert mode.kind is ModeKind.PRODUCTION
    assert mode.graph.default_tenant == "organizations"


def test_allowed_tenants_are_on_the_mode_line(configure: Configure) -> None:
    mode = mode_of(
        configure(
            MicrosoftAppId=APP,
            MicrosoftAppPassword=SECRET,
            MicrosoftAppTenantId=TENANT,
            ALLOWED_TENANTS=TENANT,
        )
    )
    assert mode.line().endswith(f"tenants: {TENANT}")


def test_certificate_for_the_bot_serves_graph_too(configure: Configure, certificate: Path) -> None:
    mode = mode_of(
        configure(
            MicrosoftAppId=APP, MicrosoftAppCertificatePath=str(certificate), MicrosoftAppTenantId=TENANT
        )
    )
    assert mode.bot is not None
    credential = mode.bot.credential
    assert isinstance(credential, ClientCertificate) and len(credential.sha1_thumbprint) == 40
    assert mode.graph.credential == credential
    assert f"certificate {credential.sha1_thumbprint.upper()}" in mode.line()
    assert "PRIVATE KEY" not in repr(mode), "the key is never shown"


def test_managed_identity_app_type_is_production_with_the_identity_on_both_sides(
    configure: Configure,
) -> None:
    mode = mode_of(
        configure(MicrosoftAppId=MI, MicrosoftAppType="UserAssignedMSI", MicrosoftAppTenantId=TENANT)
    )
    assert mode.kind is ModeKind.PRODUCTION
    assert mode.bot is not None and mode.bot.credential == ManagedIdentity(MI)
    assert mode.graph.credential == ManagedIdentity(MI) and mode.graph.default_tenant == TENANT
    assert f"managed identity {MI}" in mode.line()


def test_graph_can_have_its_own_registration_and_credential(configure: Configure, tmp_path: Path) -> None:
    graph_cert = tmp_path / "graph.pem"
    write_certificate(graph_cert)
    mode = mode_of(
        configure(
            MicrosoftAppId=APP,
            MicrosoftAppPassword=SECRET,
            MicrosoftAppTenantId=TENANT,
            GRAPH_CLIENT_ID=OTHER_APP,
            GRAPH_CLIENT_CERTIFICATE_PATH=str(graph_cert),
            GRAPH_CLIENT_CERTIFICATE_SEND_X5C="true",
        )
    )
    assert mode.graph.client_id == OTHER_APP and mode.session_id == OTHER_APP
    assert isinstance(mode.graph.credential, ClientCertificate) and mode.graph.credential.send_x5c
    assert "public_certificate" in mode.graph.credential.msal_credential()


def test_graph_managed_identity_with_a_secret_bot(configure: Configure) -> None:
    mode = mode_of(
        configure(
            MicrosoftAppId=APP,
            MicrosoftAppPassword=SECRET,
            MicrosoftAppTenantId=TENANT,
            GRAPH_MANAGED_IDENTITY_CLIENT_ID=MI,
        )
    )
    assert mode.graph.credential == ManagedIdentity(MI) and mode.graph.client_id == MI
    assert mode.graph.default_tenant == TENANT


@pytest.mark.parametrize(
    ("base_url", "scope"),
    [
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"),
        ("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"),
        ("https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"),
        ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"),
        ("http://127.0.0.1:3980/v1.0", "https://graph.microsoft.com/.default"),
    ],
)
def test_the_token_scope_names_the_clouds_graph_host(base_url: str, scope: str) -> None:
    assert graph_scope(base_url) == scope


def test_a_national_cloud(configure: Configure) -> None:
    mode = mode_of(
        configure(
            MicrosoftAppId=APP,
            MicrosoftAppPassword=SECRET,
            MicrosoftAppTenantId=TENANT,
            GRAPH_BASE_URL="https://graph.microsoft.us/v1.0",
            GRAPH_AUTHORITY_HOST="https://login.microsoftonline.us",
            ChannelService="https://botframework.azure.us",
        )
    )
    assert mode.graph.scope == "https://graph.microsoft.us/.default"
    assert mode.graph.authority_host == "https://login.microsoftonline.us"
    assert mode.bot is not None and mode.bot.channel_service == "https://botframework.azure.us"


# -- Teams with a simulated Graph ------------------------------------------------------------------
def test_graph_simulator_with_an_app_id_is_teams_with_a_simulated_graph(configure: Configure) -> None:
    mode = mode_of(
        configure(
            MicrosoftAppId=APP,
            MicrosoftAppPassword=SECRET,
            MicrosoftAppTenantId=TENANT,
            PRESENCE_BOT_GRAPH="simulator",
        )
    )
    assert mode.kind is ModeKind.TEAMS_SIMULATED_GRAPH
    assert mode.authenticated and mode.simulated_graph and mode.session_id == SIM_APP_ID
    assert "Mode: Teams with a simulated Graph;" in mode.line() and "cards say so" in mode.line()


# -- refused -------------------------------------------------------------------------------------------
REFUSED: list[tuple[dict[str, str], str, str]] = [
    # an id without a credential
    (
        {"MicrosoftAppId": APP, "MicrosoftAppTenantId": TENANT},
        "MicrosoftAppPassword",
        "not set for MicrosoftAppId",
    ),
    # a credential without an id
    ({"MicrosoftAppPassword": SECRET}, "MicrosoftAppId", "but MicrosoftAppPassword is"),
    ({"MicrosoftAppCertificatePath": "/nowhere/bot.pem"}, "MicrosoftAppId", "MicrosoftAppCertificatePath is"),
    ({"MicrosoftAppType": "UserAssignedMSI"}, "MicrosoftAppId", "UserAssignedMSI"),
    ({"GRAPH_CLIENT_SECRET": SECRET}, "GRAPH_CLIENT_ID", "but GRAPH_CLIENT_SECRET is"),
    ({"GRAPH_CLIENT_ID": OTHER_APP}, "GRAPH_CLIENT_SECRET", f"not set for GRAPH_CLIENT_ID {OTHER_APP}"),
    # real Graph with nobody authenticated
    ({"GRAPH_CLIENT_ID": OTHER_APP, "GRAPH_CLIENT_SECRET": SECRET}, "MicrosoftAppId", "must authenticate"),
    # SingleTenant (the default) without its tenant
    (
        {"MicrosoftAppId": APP, "MicrosoftAppPassword": SECRET},
        "MicrosoftAppTenantId",
        "SingleTenant (the default)",
    ),
    (
        {"MicrosoftAppId": APP, "MicrosoftAppType": "UserAssignedMSI"},
        "MicrosoftAppTenantId",
        "identity's tenant",
    ),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppType": "UserAssignedMSI",
            "MicrosoftAppTenantId": TENANT,
            "MicrosoftAppPassword": SECRET,
        },
        "MicrosoftAppPassword",
        "signs in as the managed identity",
    ),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppTenantId": TENANT,
            "MicrosoftAppCertificatePath": "/nowhere/bot.pem",
        },
        "MicrosoftAppCertificatePath",
        "/nowhere/bot.pem does not exist",
    ),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppTenantId": TENANT,
            "MicrosoftAppPassword": SECRET,
            "GRAPH_CLIENT_CERTIFICATE_PATH": "/nowhere/g.pem",
        },
        "GRAPH_CLIENT_CERTIFICATE_PATH",
        "does not exist",
    ),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppTenantId": TENANT,
            "MicrosoftAppPassword": SECRET,
            "GRAPH_CLIENT_ID": OTHER_APP,
        },
        "GRAPH_CLIENT_SECRET",
        "not set for GRAPH_CLIENT_ID",
    ),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppType": "MultiTenant",
            "MicrosoftAppPassword": SECRET,
            "GRAPH_MANAGED_IDENTITY_CLIENT_ID": MI,
        },
        "GRAPH_TENANT_ID",
        "own tenant only",
    ),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppTenantId": TENANT,
            "MicrosoftAppPassword": SECRET,
            "GRAPH_CLIENT_SECRET": "x",
            "GRAPH_MANAGED_IDENTITY_CLIENT_ID": MI,
        },
        "GRAPH_CLIENT_SECRET",
        "both set",
    ),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppTenantId": TENANT,
            "MicrosoftAppPassword": SECRET,
            "PRESENCE_BOT_GRAPH": "simulator",
            "GRAPH_CLIENT_SECRET": "x",
        },
        "GRAPH_CLIENT_SECRET",
        "PRESENCE_BOT_GRAPH=simulator",
    ),
    ({"PRESENCE_BOT_GRAPH": "graph"}, "GRAPH_CLIENT_ID", "PRESENCE_BOT_GRAPH=graph needs Graph credentials"),
    ({"MicrosoftAppId": "my-bot", "MicrosoftAppPassword": SECRET}, "MicrosoftAppId", "a GUID is expected"),
    (
        {
            "MicrosoftAppId": APP,
            "MicrosoftAppTenantId": TENANT,
            "MicrosoftAppPassword": SECRET,
            "GRAPH_BASE_URL": "http://graph.example.com/v1.0",
        },
        "GRAPH_BASE_URL",
        "plain http",
    ),
]


@pytest.mark.parametrize(("variables", "variable", "says"), REFUSED)
def test_incomplete_or_contradictory_configurations_are_refused_naming_the_variable(
    configure: Configure, variables: dict[str, str], variable: str, says: str
) -> None:
    error = refusal(configure(**variables))
    assert error.variable == variable
    assert str(error).startswith(f"{variable}: ") and says in str(error)
    assert SECRET not in str(error)


def test_a_bot_and_graph_certificate_that_is_not_a_certificate_is_refused(
    configure: Configure, tmp_path: Path
) -> None:
    cases = {
        "empty.pem": b"",
        "cert-only.pem": write_certificate(tmp_path / "x.pem").encode(),
    }
    ec_path = tmp_path / "ec.pem"
    write_certificate(ec_path, key_kind="ec")
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    says = {
        "empty.pem": "holds no PEM certificate",
        "cert-only.pem": "holds no PEM private key",
        "ec.pem": "must be an RSA key",
    }
    for name, expected in says.items():
        error = refusal(
            configure(
                MicrosoftAppId=APP,
                MicrosoftAppTenantId=TENANT,
                MicrosoftAppCertificatePath=str(tmp_path / name),
            )
        )
        assert error.variable == "MicrosoftAppCertificatePath" and expected in str(error), str(error)


def test_a_certificate_for_another_key_is_refused(configure: Configure, tmp_path: Path) -> None:
    write_certificate(tmp_path / "a.pem")
    other_cert = write_certificate(tmp_path / "b.pem")
    key_only = (tmp_path / "a.pem").read_text().split("-----BEGIN CERTIFICATE-----")[0]
    (tmp_path / "mixed.pem").write_text(key_only + other_cert)
    error = refusal(
        configure(
            MicrosoftAppId=APP,
            MicrosoftAppTenantId=TENANT,
            MicrosoftAppCertificatePath=str(tmp_path / "mixed.pem"),
        )
    )
    assert "is not the private key's" in str(error)


def test_an_empty_certificate_variable_means_none(configure: Configure) -> None:
    """`GRAPH_CLIENT_CERTIFICATE_PATH=` (empty) is no certificate, not the current directory."""
    assert mode_of(configure(GRAPH_CLIENT_CERTIFICATE_PATH="")).kind is ModeKind.DEVELOPMENT


# -- where serve may listen ---------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_development_listens_on_loopback(configure: Configure, host: str) -> None:
    mode = mode_of(configure())
    assert bind_refusal(mode, host, allow_unauthenticated=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "bot.example.com"])
def test_development_refuses_other_addresses_without_the_switch(configure: Configure, host: str) -> None:
    mode = mode_of(configure())
    refused = bind_refusal(mode, host, allow_unauthenticated=False)
    assert refused is not None and "--allow-unauthenticated" in refused and "\n" not in refused
    assert bind_refusal(mode, host, allow_unauthenticated=True) is None


def test_authenticated_modes_listen_anywhere(configure: Configure) -> None:
    mode = mode_of(configure(MicrosoftAppId=APP, MicrosoftAppPassword=SECRET, MicrosoftAppTenantId=TENANT))
    assert bind_refusal(mode, "0.0.0.0", allow_unauthenticated=False) is None
