"""`TokenValidator`: botbuilder's rules for inbound tokens, checked one by one (the endpoint-level matrix
is tests/app/test_auth_matrix.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from botframework.connector.auth import AuthenticationConstants, EmulatorValidation

from bot.teams.inbound_auth import EMULATOR_ISSUERS, TokenValidator, Unauthorized, tenant_issuers
from bot.teams.signing_keys import KeySource
from tests.support.keyserver import KeyServer, key_server

APP_ID = "app-id-1"
SERVICE_URL = "https://smba.trafficmanager.net/emea/"


@pytest.fixture
async def keys() -> AsyncIterator[KeyServer]:
    async with key_server() as server:
        yield server


@pytest.fixture
def validator(http: httpx.AsyncClient, keys: KeyServer) -> TokenValidator:
    source = KeySource(http, keys.metadata_url)
    return TokenValidator(
        APP_ID, channel_keys=source, emulator_keys=source, extra_issuers=tenant_issuers("t1")
    )


async def check(validator: TokenValidator, token: str, channel: str = "msteams") -> dict[str, object]:
    identity = await validator.validate(f"Bearer {token}", channel_id=channel, service_url=SERVICE_URL)
    claims: dict[str, object] = identity.claims
    return claims


def test_the_issuers_are_botbuilders() -> None:
    assert set(EMULATOR_ISSUERS) == set(
        EmulatorValidation.TO_BOT_FROM_EMULATOR_TOKEN_VALIDATION_PARAMETERS.issuer
    )
    assert tenant_issuers("t1") == (
        "https://sts.windows.net/t1/",
        "https://login.microsoftonline.com/t1/v2.0",
    )


async def test_a_channel_token_gives_its_claims(validator: TokenValidator, keys: KeyServer) -> None:
    claims = await check(validator, keys.token(app_id=APP_ID, service_url=SERVICE_URL))
    assert claims["aud"] == APP_ID and claims["serviceurl"] == SERVICE_URL


async def test_five_minutes_of_clock_skew(validator: TokenValidator, keys: KeyServer) -> None:
    await check(validator, keys.token(app_id=APP_ID, service_url=SERVICE_URL, lifetime=-240))
    with pytest.raises(Unauthorized, match="expired"):
        await check(validator, keys.token(app_id=APP_ID, service_url=SERVICE_URL, lifetime=-360))
    not_yet = int(time.time()) + 600
    with pytest.raises(Unauthorized, match="does not verify"):
        await check(validator, keys.token(app_id=APP_ID, service_url=SERVICE_URL, nbf=not_yet))


async def test_a_token_without_expiry_is_refused(validator: TokenValidator, keys: KeyServer) -> None:
    token = jwt.encode(
        {"iss": "https://api.botframework.com", "aud": APP_ID, "serviceurl": SERVICE_URL},
        keys.key,
        algorithm="RS256",
        headers={"kid": keys.kid},
    )
    with pytest.raises(Unauthorized, match="does not verify"):
        await check(validator, token)


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"ver": "1.0", "appid": APP_ID}, True),
        ({"ver": "2.0", "azp": APP_ID}, True),
        ({"ver": "1.0", "azp": APP_ID}, False),  # v1 names the app in appid
        ({"appid": APP_ID}, False),  # no version
        ({"ver": "3.0", "appid": APP_ID, "azp": APP_ID}, False),
    ],
)
async def test_emulator_tokens_name_the_app_by_version(
    validator: TokenValidator, keys: KeyServer, claims: dict[str, Any], accepted: bool
) -> None:
    token = keys.token(app_id=APP_ID, service_url=SERVICE_URL, issuer=EMULATOR_ISSUERS[0], **claims)
    if accepted:
        await check(validator, token, channel="emulator")
    else:
        with pytest.raises(Unauthorized):
            await check(validator, token, channel="emulator")


async def test_endorsements_apply_only_when_the_key_has_some(http: httpx.AsyncClient) -> None:
    async with key_server(KeyServer(endorsements=[])) as keys:
        source = KeySource(http, keys.metadata_url)
        validator = TokenValidator(APP_ID, channel_keys=source, emulator_keys=source)
        await check(validator, keys.token(app_id=APP_ID, service_url=SERVICE_URL), channel="anything")


async def test_a_token_without_a_kid_is_refused(validator: TokenValidator, keys: KeyServer) -> None:
    token = jwt.encode(
        {"iss": "https://api.botframework.com", "aud": APP_ID, "exp": int(time.time()) + 60},
        keys.key,
        algorithm="RS256",
    )
    with pytest.raises(Unauthorized, match="kid"):
        await check(validator, token)
    assert keys.requests == 0, "refused before any key was fetched"


class _Config:
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


async def test_without_a_validator_the_request_is_anonymous_and_replies_are_bounded() -> None:
    from botbuilder.schema import Activity

    from bot.teams.inbound_auth import CONNECTOR_RETRIES, CONNECTOR_TIMEOUT_SECONDS, InboundAuthentication

    authentication = InboundAuthentication(_Config(), None)
    result = await authentication.authenticate_request(
        Activity(channel_id="emulator", service_url="http://127.0.0.1:1"), "Bearer ignored"
    )
    assert result.claims_identity.is_authenticated and result.caller_id is None
    assert result.audience == AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    client = await result.connector_factory.create("http://127.0.0.1:1", result.audience)
    assert client.config.connection.timeout == CONNECTOR_TIMEOUT_SECONDS
    assert client.config.retry_policy.retries == CONNECTOR_RETRIES
