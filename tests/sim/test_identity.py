"""The simulated identity platform over real TLS, msal's real client-credentials flow against it, and the
simulated Graph's token checks."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from bot.clock import AdjustableClock
from bot.graph.auth import MsalTokenProvider, TokenError
from bot.sim.caller import PRESENCE_READ_ALL, PRESENCE_READWRITE_ALL, Caller
from bot.sim.errors import SimGraphError
from bot.sim.identity import (
    GRAPH_APP_ID,
    IdentitySite,
    JwtAuthenticator,
    RegisteredApp,
    SimAuthError,
    SimIdentity,
    start_identity_site,
)

TENANT = "00000000-0000-0000-0000-0000000000001"
OTHER_TENANT = "11111111-2222-3333-4444-555555555555"
SECRET = "writer-secret-value"
WRITER = RegisteredApp(
    client_id="5ad0b075-0000-4000-8000-00000000b075",
    client_secret=SecretStr(SECRET),
    tenant_id=TENANT,
    roles=frozenset({PRESENCE_READWRITE_ALL}),
    display_name="Presence Bot",
)
READER = RegisteredApp(
    client_id="7eade400-0000-4000-8000-000000000001",
    client_secret=SecretStr("reader-secret"),
    tenant_id=TENANT,
    roles=frozenset({PRESENCE_READ_ALL}),
)
UNCONSENTED = RegisteredApp(
    client_id="7eade400-0000-4000-8000-000000000002",
    client_secret=SecretStr("no-roles-secret"),
    tenant_id=TENANT,
)
APPS = (WRITER, READER, UNCONSENTED)


@pytest.fixture
def clock() -> AdjustableClock:
    return AdjustableClock()


@pytest.fixture
def identity(tmp_path: Path, clock: AdjustableClock) -> SimIdentity:
    return SimIdentity(tmp_path / "data", clock, APPS)


@pytest.fixture
async def site(identity: SimIdentity) -> AsyncIterator[IdentitySite]:
    running = await start_identity_site(identity, "127.0.0.1", 0)
    yield running
    await running.stop()


@pytest.fixture
async def make_provider(
    site: IdentitySite, identity: SimIdentity, clock: AdjustableClock
) -> AsyncIterator[Callable[..., MsalTokenProvider]]:
    made: list[MsalTokenProvider] = []

    def make(app: RegisteredApp = WRITER, **overrides: Any) -> MsalTokenProvider:
        values: dict[str, Any] = {
            "client_id": app.client_id,
            "credential": app.client_secret,
            "default_tenant": app.tenant_id,
            "authority_host": site.base_url,
            "ca_bundle": identity.ca_path,
            "clock": clock,
        }
        values.update(overrides)
        provider = MsalTokenProvider(**values)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


@pytest.fixture
async def raw(identity: SimIdentity) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTPS client trusting the simulator's CA, to look at the wire answers."""
    async with httpx.AsyncClient(verify=identity.client_ssl_context(), trust_env=False) as client:
        yield client


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def graph_request(token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return make_mocked_request("GET", f"/v1.0/users/{WRITER.client_id}/presence", headers=headers)


async def rejected(authenticator: JwtAuthenticator, token: str | None) -> SimAuthError:
    with pytest.raises(SimAuthError) as caught:
        await authenticator.authenticate(graph_request(token))
    return caught.value


# -- msal's flow through MsalTokenProvider --------------------------------------------------------------


async def test_msal_obtains_a_graph_token_with_entra_shaped_claims(
    make_provider: Callable[..., MsalTokenProvider], identity: SimIdentity, clock: AdjustableClock
) -> None:
    provider = make_provider()
    token = await provider.token()

    claims = claims_of(token)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": identity.kid, "typ": "JWT"}
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["tid"] == TENANT
    assert claims["appid"] == claims["azp"] == WRITER.client_id
    assert claims["roles"] == [PRESENCE_READWRITE_ALL]
    assert claims["idtyp"] == "app" and claims["ver"] == "1.0"
    assert claims["oid"] == claims["sub"]
    assert claims["app_displayname"] == "Presence Bot"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - clock.now().timestamp()) < 5
    assert provider.requests_made == 1
    assert identity.tokens_issued == 1


async def test_second_call_is_served_from_cache(
    make_provider: Callable[..., MsalTokenProvider], identity: SimIdentity
) -> None:
    provider = make_provider()
    first = await provider.token()
    before = provider.http_requests

    assert await provider.token() == first
    assert await provider.token(TENANT.upper()) == first  # tenant ids are case-insensitive
    assert provider.requests_made == 1
    assert provider.http_requests == before == 2  # OpenID discovery + one token request
    assert identity.tokens_issued == 1


async def test_nothing_leaves_loopback(
    make_provider: Callable[..., MsalTokenProvider], monkeypatch: pytest.MonkeyPatch, identity: SimIdentity
) -> None:
    """No instance discovery to login.microsoftonline.com, and no proxy/CA settings from the environment."""
    contacted: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: object) -> None:
        name = str(host)
        if name == "localhost":
            return
        if not ipaddress.ip_address(name).is_loopback:
            raise AssertionError(f"a connection to {name} left loopback")

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            loopback_only(address[0])
            contacted.append(str(address[0]))
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            try:
                loopback_only(host.decode() if isinstance(host, bytes) else host)
            except ValueError as exc:
                raise AssertionError(f"a name lookup for {host} left loopback") from exc
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # An environment that would send everything through a proxy and trust another CA bundle.
    monkeypatch.setenv("HTTPS_PROXY", "http://10.255.255.1:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.255.255.1:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")

    token = await make_provider().token()

    assert claims_of(token)["tid"] == TENANT
    assert contacted and all(ipaddress.ip_address(host).is_loopback for host in contacted)


async def test_wrong_secret_is_a_token_error_with_entra_code(
    make_provider: Callable[..., MsalTokenProvider],
) -> None:
    provider = make_provider(credential=SecretStr("not-the-secret"))

    with pytest.raises(TokenError) as caught:
        await provider.token()

    error = caught.value
    assert error.code == "invalid_client"
    assert error.error_codes == (7000215,)
    assert error.description.startswith("AADSTS7000215: Invalid client secret provided.")
    assert not error.transient
    assert "not-the-secret" not in f"{error} {error!r} {error.description} {provider!r}"
    assert "client secret is wrong" in str(error)


async def test_token_endpoint_answers_in_entra_error_shape(
    site: IdentitySite, raw: httpx.AsyncClient
) -> None:
    url = f"{site.base_url}/{TENANT}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": WRITER.client_id,
        "client_secret": "wrong",
        "scope": "https://graph.microsoft.com/.default",
    }

    answer = await raw.post(url, data=form, headers={"client-request-id": "abc-123"})

    assert answer.status_code == 401
    body = answer.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["correlation_id"] == "abc-123"
    assert body["error_uri"].endswith("code=7000215")
    assert {"error_description", "timestamp", "trace_id"} <= body.keys()
    assert f"Trace ID: {body['trace_id']}" in body["error_description"]

    cases: list[tuple[dict[str, str], int, str, int]] = [
        ({**form, "client_id": "00000000-dead-beef-0000-000000000000"}, 400, "unauthorized_client", 700016),
        ({k: v for k, v in form.items() if k != "client_secret"}, 401, "invalid_client", 7000218),
        ({**form, "client_secret": SECRET, "scope": "https://graph.microsoft.com/Presence.Read.All"}, 400,
         "invalid_scope", 1002012),
        ({**form, "client_secret": SECRET, "scope": "api://someone-else/.default"}, 400,
         "invalid_resource", 500011),
        ({**form, "grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({k: v for k, v in form.items() if k != "grant_type"}, 400, "invalid_request", 900144),
    ]  # fmt: skip
    for data, status, error, code in cases:
        answer = await raw.post(url, data=data)
        assert (answer.status_code, answer.json()["error"], answer.json()["error_codes"]) == (
            status,
            error,
            [code],
        )

    # client_secret_basic works as well as client_secret_post, and Graph's app id is a valid resource.
    basic = base64.b64encode(f"{WRITER.client_id}:{SECRET}".encode()).decode()
    answer = await raw.post(
        url,
        data={"grant_type": "client_credentials", "scope": f"{GRAPH_APP_ID}/.default"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json()["token_type"] == "Bearer"
    assert answer.json()["expires_in"] == 3599
    assert claims_of(answer.json()["access_token"])["aud"] == GRAPH_APP_ID


async def test_unknown_tenant_is_refused(
    make_provider: Callable[..., MsalTokenProvider], site: IdentitySite, raw: httpx.AsyncClient
) -> None:
    provider = make_provider()
    with pytest.raises(TokenError) as caught:
        await provider.token(OTHER_TENANT)
    assert (caught.value.code, caught.value.error_codes) == ("invalid_tenant", (90002,))

    # A good tenant still works with the same provider afterwards.
    assert claims_of(await provider.token())["tid"] == TENANT

    form = {"grant_type": "client_credentials", "client_id": WRITER.client_id, "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/.default"}  # fmt: skip
    answer = await raw.post(f"{site.base_url}/{OTHER_TENANT}/oauth2/v2.0/token", data=form)
    assert answer.status_code == 400
    assert (answer.json()["error"], answer.json()["error_codes"]) == ("invalid_request", [90002])

    # /organizations and /common name no tenant: discovery works, app-only tokens are refused.
    discovery = await raw.get(f"{site.base_url}/organizations/v2.0/.well-known/openid-configuration")
    assert discovery.json()["issuer"] == f"{site.base_url}/{{tenantid}}/v2.0"
    answer = await raw.post(f"{site.base_url}/organizations/oauth2/v2.0/token", data=form)
    assert (answer.status_code, answer.json()["error_codes"]) == (400, [50059])


async def test_provider_refuses_tenantless_authority_without_a_request(
    make_provider: Callable[..., MsalTokenProvider],
) -> None:
    provider = make_provider(default_tenant="organizations")
    with pytest.raises(TokenError) as caught:
        await provider.token()
    assert caught.value.code == "tenant_required"
    with pytest.raises(TokenError) as caught:
        await provider.token("contoso.onmicrosoft.com/../evil")
    assert caught.value.code == "invalid_tenant"
    assert provider.http_requests == 0


async def test_discovery_and_keys_point_at_this_host(
    site: IdentitySite, raw: httpx.AsyncClient, identity: SimIdentity
) -> None:
    config = (await raw.get(f"{site.base_url}/{TENANT}/v2.0/.well-known/openid-configuration")).json()
    assert config["issuer"] == f"{site.base_url}/{TENANT}/v2.0"
    assert config["token_endpoint"] == f"{site.base_url}/{TENANT}/oauth2/v2.0/token"
    keys = (await raw.get(config["jwks_uri"])).json()
    assert [key["kid"] for key in keys["keys"]] == [identity.kid]
    assert keys == identity.jwks()
    unknown = await raw.get(f"{site.base_url}/{OTHER_TENANT}/v2.0/.well-known/openid-configuration")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_tenant")


async def test_tls_is_real_a_client_without_the_ca_is_refused(
    make_provider: Callable[..., MsalTokenProvider], identity: SimIdentity
) -> None:
    provider = make_provider(ca_bundle=None)
    with pytest.raises(TokenError) as caught:
        await provider.token()
    assert caught.value.code == "network_error"
    assert caught.value.transient
    assert identity.tokens_issued == 0


# -- expiry, invalidation, concurrency ------------------------------------------------------------------


async def test_clock_moved_past_expiry_fetches_a_new_token(
    make_provider: Callable[..., MsalTokenProvider], identity: SimIdentity, clock: AdjustableClock
) -> None:
    provider = make_provider()
    authenticator = JwtAuthenticator(identity, clock)
    first = await provider.token()

    clock.advance(56 * 60)  # inside the 5-minute refresh margin: renew before Graph would refuse it
    second = await provider.token()
    assert second != first
    assert provider.requests_made == 2

    clock.advance(3 * 3600)  # msal's wall-clock cache still holds `second`; our clock says expired
    third = await provider.token()
    assert third != second
    assert provider.requests_made == 3
    assert claims_of(third)["iat"] >= int(clock.now().timestamp()) - 5
    assert (await authenticator.authenticate(graph_request(third))).app_id == WRITER.client_id
    expired = await rejected(authenticator, second)
    assert expired.message == "Lifetime validation failed, the token is expired."


async def test_concurrent_callers_share_one_request(
    make_provider: Callable[..., MsalTokenProvider], identity: SimIdentity
) -> None:
    provider = make_provider()
    tokens = await asyncio.gather(*(provider.token() for _ in range(20)))

    assert len(set(tokens)) == 1
    assert provider.requests_made == 1
    assert identity.tokens_issued == 1


async def test_a_caller_giving_up_does_not_cancel_the_fetch(
    make_provider: Callable[..., MsalTokenProvider],
) -> None:
    provider = make_provider()
    impatient = asyncio.ensure_future(provider.token())
    patient = asyncio.ensure_future(provider.token())
    await asyncio.sleep(0)
    impatient.cancel()

    assert claims_of(await patient)["tid"] == TENANT
    assert impatient.cancelled()
    assert provider.requests_made == 1


async def test_invalidate_drops_the_token(make_provider: Callable[..., MsalTokenProvider]) -> None:
    provider = make_provider()
    first = await provider.token()

    await provider.invalidate()
    second = await provider.token()
    assert second != first
    assert provider.requests_made == 2

    # A late 401 for the token already replaced does not throw the new one away.
    await provider.invalidate(rejected_token=first)
    assert await provider.token() == second
    assert provider.requests_made == 2


# -- the simulated Graph's side --------------------------------------------------------------------------


async def test_authenticator_accepts_the_token_and_names_the_caller(
    make_provider: Callable[..., MsalTokenProvider], identity: SimIdentity, clock: AdjustableClock
) -> None:
    token = await make_provider().token()

    caller = await JwtAuthenticator(identity, clock).authenticate(graph_request(token))

    assert caller == Caller(
        app_id=WRITER.client_id, tenant_id=TENANT, roles=frozenset({PRESENCE_READWRITE_ALL})
    )
    assert caller.can_write()


async def test_app_without_readwrite_permission_cannot_write(
    make_provider: Callable[..., MsalTokenProvider], identity: SimIdentity, clock: AdjustableClock
) -> None:
    authenticator = JwtAuthenticator(identity, clock)

    reader = await authenticator.authenticate(graph_request(await make_provider(READER).token()))
    assert reader.can_read() and not reader.can_write()

    token = await make_provider(UNCONSENTED).token()
    assert "roles" not in claims_of(token)  # as Entra ID: no permission granted, no claim
    nobody = await authenticator.authenticate(graph_request(token))
    assert nobody.roles == frozenset() and not nobody.can_read()


async def test_authenticator_refuses_bad_tokens_with_graphs_401(
    identity: SimIdentity, clock: AdjustableClock
) -> None:
    authenticator = JwtAuthenticator(identity, clock)
    good = identity.issue_token(WRITER).access_token
    header, payload, signature = good.split(".")

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    escalated = part({**claims_of(good), "roles": ["Presence.ReadWrite.All", "Directory.ReadWrite.All"]})
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "missing": (None, "Access token is empty."),
        "empty": ("", "Access token is empty."),
        "garbage": ("not-a-jwt", "CompactToken parsing failed with error code: 80049217"),
        "tampered": (f"{header}.{escalated}.{signature}", "Signature validation failed."),
        "foreign key": (
            jwt.encode(claims_of(good), stranger, algorithm="RS256", headers={"kid": identity.kid}),
            "Signature validation failed.",
        ),
        "alg none": (
            f"{part({'alg': 'none', 'kid': identity.kid})}.{payload}.",
            "Signature validation failed.",
        ),
        "unknown kid": (
            jwt.encode(claims_of(good), stranger, algorithm="RS256", headers={"kid": "other"}),
            "The signing key is not known.",
        ),
        "other audience": (
            identity.issue_token(WRITER, audience="api://someone-else").access_token,
            "Access token validation failure. Invalid audience.",
        ),
    }
    for name, (token, message) in cases.items():
        error = await rejected(authenticator, token)
        assert (error.status, error.code) == (401, "InvalidAuthenticationToken"), name
        assert message in error.message, name

    # Graph's own app id is an accepted audience as well.
    by_app_id = identity.issue_token(WRITER, audience=GRAPH_APP_ID).access_token
    assert (await authenticator.authenticate(graph_request(by_app_id))).can_write()

    clock.advance(3600 + 31)  # past exp and the leeway
    error = await rejected(authenticator, good)
    assert error.message == "Lifetime validation failed, the token is expired."


async def test_a_token_is_checked_fully_each_time_its_signature_once(
    identity: SimIdentity, clock: AdjustableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    authenticator = JwtAuthenticator(identity, clock)
    token = identity.issue_token(WRITER).access_token
    decoded: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    for _ in range(3):
        assert (await authenticator.authenticate(graph_request(token))).can_write()
    assert decoded == [token]  # the signature checked once
    other = identity.issue_token(WRITER, audience="api://someone-else").access_token
    for _ in range(2):  # a remembered signature is no pass: the audience is checked every time
        error = await rejected(authenticator, other)
        assert error.message == "Access token validation failure. Invalid audience."
    clock.advance(3600 + 31)  # and the lifetime
    error = await rejected(authenticator, token)
    assert error.message == "Lifetime validation failed, the token is expired."


async def test_token_from_an_unknown_tenant_is_refused(tmp_path: Path, clock: AdjustableClock) -> None:
    elsewhere = RegisteredApp(
        client_id=WRITER.client_id, client_secret=SecretStr("x"), tenant_id=OTHER_TENANT, roles=WRITER.roles
    )
    issuer = SimIdentity(tmp_path / "shared", clock, [WRITER, elsewhere])
    verifier = SimIdentity(tmp_path / "shared", clock, [WRITER])  # same key, knows only TENANT

    error = await rejected(JwtAuthenticator(verifier, clock), issuer.issue_token(elsewhere).access_token)
    assert error.message == "Access token validation failure. Invalid issuer."


def test_sim_auth_error_renders_graphs_shape(clock: AdjustableClock) -> None:
    error = SimAuthError(401, "InvalidAuthenticationToken", "Access token is empty.")

    assert isinstance(error, SimGraphError)
    body = error.body(clock.now(), client_request_id="abc")
    assert body["error"]["code"] == "InvalidAuthenticationToken"
    assert body["error"]["message"] == "Access token is empty."
    inner = body["error"]["innerError"]
    assert inner["client-request-id"] == "abc"
    assert set(inner) == {"date", "request-id", "client-request-id"}
    assert "T" in inner["date"] and not inner["date"].endswith("Z")
    assert error.headers["WWW-Authenticate"].startswith("Bearer ")


# -- key material ------------------------------------------------------------------------------------------


async def test_keys_and_certificates_persist_across_restarts(
    tmp_path: Path,
    clock: AdjustableClock,
    identity: SimIdentity,
    make_provider: Callable[..., MsalTokenProvider],
) -> None:
    token = await make_provider().token()
    ca_before = identity.ca_path.read_bytes()

    restarted = SimIdentity(tmp_path / "data", clock, APPS)
    assert restarted.kid == identity.kid
    assert restarted.ca_path.read_bytes() == ca_before
    assert (await JwtAuthenticator(restarted, clock).authenticate(graph_request(token))).can_write()

    # The restarted platform serves TLS with a certificate the original CA file still vouches for.
    second_site = await start_identity_site(restarted)
    try:
        provider = make_provider(authority_host=second_site.base_url)
        assert claims_of(await provider.token())["tid"] == TENANT
    finally:
        await second_site.stop()


def test_private_keys_are_owner_only(identity: SimIdentity) -> None:
    identity.prepare()
    directory = identity.ca_path.parent
    for name in ("signing-key.pem", "ca-key.pem", "server-key.pem"):
        assert stat.S_IMODE(os.stat(directory / name).st_mode) == 0o600, name


def test_secrets_stay_out_of_reprs(identity: SimIdentity) -> None:
    shown = f"{WRITER!r} {WRITER} {identity!r}"
    assert SECRET not in shown


async def test_closed_provider_starts_afresh(make_provider: Callable[..., MsalTokenProvider]) -> None:
    provider = make_provider()
    first = await provider.token()
    await provider.aclose()

    assert await provider.token() != first  # new connections, new token; no error from a closed client
