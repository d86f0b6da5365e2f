"""Certificate credentials for Graph, end to end: the bot's `MsalTokenProvider` signs a client assertion
with the certificate's key (msal), the standalone simulated identity platform checks it as Entra ID does
(the registered certificate by thumbprint, the signature, `iss`/`sub`, `aud` = the token endpoint, the
lifetime), and the command lands in the simulated tenant. The same code path runs against Entra ID."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.app import RUNTIME
from bot.config import SIM_APP_ID
from bot.core.credentials import ClientCertificate
from bot.modes import ModeKind, require_mode
from bot.server import start_bot
from bot.sim.identity import RegisteredApp
from bot.sim.identity.assertions import AssertionRejected, verify_client_assertion
from bot.sim.standalone import StandaloneSimulator, start_standalone
from tests.support.builders import ALEX, make_settings
from tests.support.certs import write_certificate
from tests.support.connector import Connector
from tests.support.e2e import app_session, card_of, say, texts


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Path, str]:
    """The bot's certificate file, and the public certificate uploaded to the app registration."""
    path = tmp_path / "graph.pem"
    return path, write_certificate(path)


@pytest.fixture
async def simulator(tmp_path: Path, registered: tuple[Path, str]) -> AsyncIterator[StandaloneSimulator]:
    sim = await start_standalone(tmp_path / "simulator", port=0, client_certificates=[registered[1]])
    yield sim
    await sim.stop()


def certificate_settings(
    data_dir: Path, sim: StandaloneSimulator, certificate: Path, **overrides: Any
) -> Any:
    """The bot pointed at the simulator as at a real tenant, with a certificate instead of a secret."""
    env = sim.environment()
    values: dict[str, Any] = {
        "client_id": env["GRAPH_CLIENT_ID"],
        "client_certificate_path": certificate,
        "base_url": env["GRAPH_BASE_URL"],
        "authority_host": env["GRAPH_AUTHORITY_HOST"],
        "ca_bundle": Path(env["GRAPH_CA_BUNDLE"]),
        "tenant_id": env["GRAPH_TENANT_ID"],
    }
    values.update(overrides)
    return make_settings(data_dir, graph=values)


@pytest.mark.parametrize("send_x5c", [False, True], ids=["x5t-RS256", "x5c-x5t#S256-PS256"])
async def test_busy_lands_with_a_certificate_credential(
    simulator: StandaloneSimulator,
    registered: tuple[Path, str],
    http: httpx.AsyncClient,
    connector: Connector,
    tmp_path: Path,
    send_x5c: bool,
) -> None:
    settings = certificate_settings(
        tmp_path / "bot", simulator, registered[0], client_certificate_send_x5c=send_x5c
    )
    mode = require_mode(settings)
    assert mode.kind is ModeKind.DEVELOPMENT and not mode.simulated_graph
    assert isinstance(mode.graph.credential, ClientCertificate)
    running = await start_bot(settings, "127.0.0.1", 0)
    try:
        reply = await say(http, running, connector, "/busy 30m")
        assert "In a call" in texts(card_of(reply))
        state = (await http.get(f"{simulator.url}/_sim/users/{ALEX}")).json()
        session = app_session(state)
        assert session is not None and session["sessionId"] == SIM_APP_ID
        tokens = running.app[RUNTIME].services.tokens
        assert tokens is not None and tokens.requests_made == 1
        claims = jwt.decode(await tokens.token(), options={"verify_signature": False})
        assert claims["appidacr"] == "2", "the identity platform saw a certificate, not a secret"
    finally:
        await running.stop()


async def test_a_certificate_not_registered_on_the_app_is_a_clear_card(
    simulator: StandaloneSimulator, http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    other = tmp_path / "other.pem"
    write_certificate(other, name="not uploaded")
    running = await start_bot(certificate_settings(tmp_path / "bot", simulator, other), "127.0.0.1", 0)
    try:
        shown = texts(card_of(await say(http, running, connector, "/busy 30m")))
        assert "couldn't sign in to Microsoft Graph" in shown
        assert "certificate is not registered" in shown and "AADSTS700027" in shown
        assert (await http.get(f"{simulator.url}/_sim/stats")).json()["total"] == 0
    finally:
        await running.stop()


# -- the identity platform's checks, one by one ----------------------------------------------------------
ENDPOINT = "https://127.0.0.1:3981/tenant-1/oauth2/v2.0/token"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _assertion(path: Path, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    der = x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    now = int(time.time())
    payload = {
        "aud": ENDPOINT,
        "iss": SIM_APP_ID,
        "sub": SIM_APP_ID,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        **claims,
    }
    headers = (
        header if header is not None else {"x5t": _b64(hashlib.sha1(der, usedforsecurity=False).digest())}
    )
    return jwt.encode(payload, key, algorithm="RS256", headers=headers)  # type: ignore[arg-type]


@pytest.fixture
def app_with(registered: tuple[Path, str]) -> RegisteredApp:
    return RegisteredApp(client_id=SIM_APP_ID, tenant_id="tenant-1", certificates=(registered[1],))


def test_a_good_assertion_is_accepted(app_with: RegisteredApp, registered: tuple[Path, str]) -> None:
    verify_client_assertion(app_with, _assertion(registered[0]), token_endpoint=ENDPOINT)


@pytest.mark.parametrize(
    ("change", "aadsts"),
    [
        ({"aud": "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"}, 700023),
        ({"iss": "someone-else"}, 700021),
        ({"sub": "someone-else"}, 700021),
        ({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 4200}, 700024),
        ({"nbf": int(time.time()) + 3600, "exp": int(time.time()) + 4200}, 700024),
    ],
)
def test_a_wrong_claim_is_refused_with_entras_code(
    app_with: RegisteredApp, registered: tuple[Path, str], change: dict[str, Any], aadsts: int
) -> None:
    with pytest.raises(AssertionRejected) as caught:
        verify_client_assertion(app_with, _assertion(registered[0], **change), token_endpoint=ENDPOINT)
    assert caught.value.aadsts == aadsts


def test_an_assertion_signed_by_another_key_is_refused(
    app_with: RegisteredApp, registered: tuple[Path, str], tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.pem"
    write_certificate(stranger)
    # Its own thumbprint: not registered.
    with pytest.raises(AssertionRejected) as unknown:
        verify_client_assertion(app_with, _assertion(stranger), token_endpoint=ENDPOINT)
    assert unknown.value.aadsts == 700027 and "not registered" in unknown.value.description
    # The registered certificate's thumbprint, but signed by the stranger's key: the signature fails.
    der = x509.load_pem_x509_certificate(registered[1].encode()).public_bytes(serialization.Encoding.DER)
    forged = _assertion(stranger, header={"x5t": _b64(hashlib.sha1(der, usedforsecurity=False).digest())})
    with pytest.raises(AssertionRejected) as bad:
        verify_client_assertion(app_with, forged, token_endpoint=ENDPOINT)
    assert bad.value.aadsts == 700027 and "invalid signature" in bad.value.description


def test_an_assertion_without_a_thumbprint_or_not_a_jwt_is_refused(
    app_with: RegisteredApp, registered: tuple[Path, str]
) -> None:
    with pytest.raises(AssertionRejected) as nameless:
        verify_client_assertion(app_with, _assertion(registered[0], header={}), token_endpoint=ENDPOINT)
    assert nameless.value.aadsts == 700027
    with pytest.raises(AssertionRejected) as garbage:
        verify_client_assertion(app_with, "not-a-jwt", token_endpoint=ENDPOINT)
    assert garbage.value.aadsts == 50027


async def test_the_token_endpoint_wants_the_assertion_type(
    simulator: StandaloneSimulator, registered: tuple[Path, str], tmp_path: Path
) -> None:
    tenant = simulator.tenant_ids[0]
    endpoint = f"{simulator.identity_url}/{tenant}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": SIM_APP_ID,
        "scope": "https://graph.microsoft.com/.default",
        "client_assertion": _assertion(registered[0], aud=endpoint),
    }
    async with httpx.AsyncClient(verify=str(simulator.ca_path), trust_env=False) as raw:
        missing = await raw.post(endpoint, data=form)
        assert missing.status_code == 400 and "client_assertion_type" in missing.json()["error_description"]
        form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ok = await raw.post(endpoint, data=form)
        assert ok.status_code == 200, ok.text
        assert jwt.decode(ok.json()["access_token"], options={"verify_signature": False})["tid"] == tenant
