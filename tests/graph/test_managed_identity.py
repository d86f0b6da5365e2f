"""Graph tokens for a user-assigned managed identity: which msal classes `MsalTokenProvider` builds, with
which arguments, and what it does with their answers. Managed identity cannot run here (its endpoint is
the Azure host's), so msal's classes are replaced by fakes that record their calls."""

from __future__ import annotations

from typing import Any, ClassVar

import msal
import pytest

from bot.core.credentials import ManagedIdentity
from bot.graph.auth import MsalTokenProvider, TokenError
from bot.graph.msal_clients import MsalHttp

MI = "4f1e2d3c-0b9a-4867-a5b4-c3d2e1f00987"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


class FakeIdentity:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class FakeClient:
    built: ClassVar[list[FakeClient]] = []
    answers: ClassVar[list[Any]] = []

    def __init__(self, identity: Any, *, http_client: Any, token_cache: Any) -> None:
        self.identity, self.http_client, self.token_cache = identity, http_client, token_cache
        self.resources: list[str] = []
        FakeClient.built.append(self)

    def acquire_token_for_client(self, *, resource: str) -> Any:
        self.resources.append(resource)
        answer = FakeClient.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.built, FakeClient.answers = [], []
    # The very `msal` module bot.graph.msal_clients calls into.
    monkeypatch.setattr(msal, "ManagedIdentityClient", FakeClient)
    monkeypatch.setattr(msal, "UserAssignedManagedIdentity", FakeIdentity)
    return FakeClient


def provider(**extra: Any) -> MsalTokenProvider:
    return MsalTokenProvider(MI, ManagedIdentity(MI), default_tenant=TENANT, **extra)


async def test_the_identity_its_resource_and_an_http_client_without_proxies(fakes: type[FakeClient]) -> None:
    fakes.answers = [{"access_token": "token-1", "expires_in": 3600, "token_type": "Bearer"}]
    tokens = provider(scope="https://graph.microsoft.us/.default")
    try:
        assert await tokens.token() == "token-1"
        (client,) = fakes.built
        assert isinstance(client.identity, FakeIdentity) and client.identity.kwargs == {"client_id": MI}
        assert client.resources == ["https://graph.microsoft.us"], "a resource, not a scope"
        assert isinstance(client.http_client, MsalHttp)
        assert client.http_client._client.trust_env is False, "the host's identity endpoint: no proxy"
        assert isinstance(client.token_cache, msal.TokenCache)
        assert await tokens.token(TENANT) == "token-1", "cached"
        assert client.resources == ["https://graph.microsoft.us"]
    finally:
        await tokens.aclose()


async def test_only_its_own_tenant(fakes: type[FakeClient]) -> None:
    tokens = provider()
    with pytest.raises(TokenError) as caught:
        await tokens.token("another-tenant.onmicrosoft.com")
    assert caught.value.code == "unauthorized_client" and not caught.value.transient
    assert fakes.built == [], "nothing asked"


async def test_a_refused_token_is_dropped_and_asked_again(fakes: type[FakeClient]) -> None:
    fakes.answers = [
        {"access_token": "token-1", "expires_in": 3600},
        {"access_token": "token-2", "expires_in": 3600},
    ]
    tokens = provider()
    assert await tokens.token() == "token-1"
    await tokens.invalidate(rejected_token="token-1")
    assert await tokens.token() == "token-2"
    assert len(fakes.built) == 2, "msal's managed identity client forgets by being built anew"


async def test_errors_become_token_errors(fakes: type[FakeClient]) -> None:
    fakes.answers = [
        {"error": "invalid_request", "error_description": "Identity not found"},
        msal.ManagedIdentityError("no endpoint"),
    ]
    tokens = provider()
    with pytest.raises(TokenError) as refused:
        await tokens.token()
    assert refused.value.code == "invalid_request"
    with pytest.raises(TokenError) as unavailable:
        await tokens.token()
    assert unavailable.value.code == "managed_identity_unavailable"
    assert "managed identity is not available" in str(unavailable.value)
