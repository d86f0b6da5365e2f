"""Reused outbound clients (`bot.teams.connectors`): one connector client per (app id, service URL,
audience) and one user-token client per app id, instead of botbuilder's new pair per activity."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity
from pydantic import SecretStr

from bot.modes import BotIdentity
from bot.teams.auth import credentials_factory
from bot.teams.connectors import ClientCache
from bot.teams.inbound_auth import CONNECTOR_RETRIES, CONNECTOR_TIMEOUT_SECONDS, InboundAuthentication

SERVICE_URL = "https://smba.trafficmanager.net/emea/"
OTHER_URL = "https://smba.trafficmanager.net/amer/"


class _Config:
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


async def _anonymous_turn(authentication: InboundAuthentication, service_url: str) -> tuple[object, object]:
    """What `CloudAdapter.process_activity` asks for on one activity: its connector and user-token client."""
    result = await authentication.authenticate_request(
        Activity(channel_id="msteams", service_url=service_url), "Bearer ignored"
    )
    connector = await result.connector_factory.create(service_url, result.audience)
    tokens = await authentication.create_user_token_client(result.claims_identity)
    return connector, tokens


async def test_activities_to_one_service_url_share_one_connector_and_one_user_token_client() -> None:
    authentication = InboundAuthentication(_Config(), None)
    first = await _anonymous_turn(authentication, SERVICE_URL)
    second = await _anonymous_turn(authentication, SERVICE_URL)
    assert first[0] is second[0] and first[1] is second[1]
    connector = first[0]
    assert connector.config.connection.timeout == CONNECTOR_TIMEOUT_SECONDS  # type: ignore[attr-defined]
    assert connector.config.retry_policy.retries == CONNECTOR_RETRIES  # type: ignore[attr-defined]


async def test_another_service_url_audience_or_app_gets_its_own_connector() -> None:
    authentication = InboundAuthentication(_Config(), None)
    connector, _ = await _anonymous_turn(authentication, SERVICE_URL)
    other, _ = await _anonymous_turn(authentication, OTHER_URL)
    assert other is not connector
    assert other.config.base_url == OTHER_URL  # type: ignore[attr-defined]
    factory = authentication.create_connector_factory(ClaimsIdentity({}, True))
    assert await factory.create(SERVICE_URL, "https://api.botframework.us") is not connector
    assert (
        await factory.create(SERVICE_URL, AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE)
        is connector
    )


async def test_with_an_app_id_the_credentials_and_their_token_cache_are_kept() -> None:
    bot = BotIdentity(app_id="app-1", app_type="MultiTenant", tenant_id=None, credential=SecretStr("secret"))
    authentication = InboundAuthentication(_Config(), None, credentials_factory=credentials_factory(bot))
    claims = ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: "app-1"}, True)
    factory = authentication.create_connector_factory(claims)
    connector = await factory.create(SERVICE_URL)
    again = await authentication.create_connector_factory(claims).create(SERVICE_URL)
    assert again is connector
    # The credentials sign every request (msal's cache renews the token): kept with the client.
    credentials = connector.config.credentials
    assert credentials.microsoft_app_id == "app-1"
    assert again.config.credentials is credentials


async def test_the_cache_is_bounded_least_recently_used_out_first() -> None:
    cache = ClientCache(limit=2)
    built = itertools.count()

    async def build() -> int:
        return next(built)

    assert [await cache.get(key, build) for key in ("a", "b", "a", "c")] == [0, 1, 0, 2]
    assert len(cache) == 2
    assert await cache.get("a", build) == 0  # kept: used more recently than "b"
    assert await cache.get("b", build) == 3  # dropped when "c" came, built again
    with pytest.raises(ValueError):
        ClientCache(limit=0)


async def test_clients_built_at_the_same_time_for_one_key_end_up_shared() -> None:
    cache = ClientCache()
    built = itertools.count()

    async def build() -> int:
        await asyncio.sleep(0)
        return next(built)

    first, second = await asyncio.gather(cache.get("k", build), cache.get("k", build))
    assert first == second == 0
    assert len(cache) == 1
