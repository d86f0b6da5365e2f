"""Reused outbound clients (`bot.teams.connectors`): one connector client per (app id, service URL,
audience) and one user-token client per app id, instead of botbuilder's new pair per activity."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

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


async def _anonymous_turn(authentication: InboundAuthentication, service_url: str) -> tuple[Any, Any]:
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
    assert connector.config.connection.timeout == CONNECTOR_TIMEOUT_SECONDS
    assert connector.config.retry_policy.retries == CONNECTOR_RETRIES


async def test_another_service_url_or_audience_gets_its_own_connector() -> None:
    authentication = InboundAuthentication(_Config(), None)
    connector, _ = await _anonymous_turn(authentication, SERVICE_URL)
    other, _ = await _anonymous_turn(authentication, OTHER_URL)
    assert other is not connector
    assert other.config.base_url == OTHER_URL
    result = await authentication.authenticate_request(
        Activity(channel_id="msteams", service_url=SERVICE_URL), "Bearer ignored"
    )
    assert await result.connector_factory.create(SERVICE_URL, "https://api.botframework.us") is not connector
    assert await result.connector_factory.create(SERVICE_URL, result.audience) is connector


async def test_proactive_turns_get_a_client_of_their_own_each_time() -> None:
    """Notices set their own retries, timeout and response hook on their client (bot/teams/notices.py):
    that must never reach the replies' shared client, nor another notice's."""
    authentication = InboundAuthentication(_Config(), None)
    connector, _ = await _anonymous_turn(authentication, SERVICE_URL)
    factory = authentication.create_connector_factory(ClaimsIdentity({}, True))
    first = await factory.create(SERVICE_URL, AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE)
    second = await factory.create(SERVICE_URL, AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE)
    assert len({id(connector), id(first), id(second)}) == 3
    assert first.config.connection.timeout == CONNECTOR_TIMEOUT_SECONDS
    first.config.hooks.append(lambda *_: None)
    assert not connector.config.hooks and not second.config.hooks


class _Validator:
    """A `TokenValidator` that accepts any token as the channel's, for app-1."""

    async def validate(
        self, auth_header: str, *, channel_id: str | None, service_url: str | None
    ) -> ClaimsIdentity:
        return ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: "app-1"}, True)


async def test_with_an_app_id_the_credentials_and_their_token_cache_are_kept() -> None:
    bot = BotIdentity(app_id="app-1", app_type="MultiTenant", tenant_id=None, credential=SecretStr("secret"))
    authentication = InboundAuthentication(
        _Config(),
        _Validator(),  # type: ignore[arg-type]
        credentials_factory=credentials_factory(bot),
    )
    connector, tokens = await _anonymous_turn(authentication, SERVICE_URL)
    again, tokens_again = await _anonymous_turn(authentication, SERVICE_URL)
    assert again is connector and tokens_again is tokens
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
