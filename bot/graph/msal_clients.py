"""The msal objects behind `MsalTokenProvider`, one per credential kind, and the HTTP client msal uses.

- a client secret or a certificate: msal's `ConfidentialClientApplication` (the client-credentials
  grant; with a certificate msal signs a client assertion with the private key);
- a user-assigned managed identity: msal's `ManagedIdentityClient` with `UserAssignedManagedIdentity`
  (the token comes from the Azure host's identity endpoint, for the identity's own tenant).

All of them are synchronous: `MsalTokenProvider` calls them in a worker thread.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
import msal
from pydantic import SecretStr

from bot.core.credentials import AppCredential, ClientCertificate, ManagedIdentity


class MsalHttp:
    """The HTTP client msal uses (its `http_client` interface), on httpx, counting what it sends."""

    def __init__(self, verify: ssl.SSLContext | bool, *, trust_env: bool, timeout: float) -> None:
        self._client = httpx.Client(
            verify=verify, trust_env=trust_env, timeout=timeout, follow_redirects=False
        )
        self._lock = threading.Lock()
        self.gets = 0
        self.posts = 0

    def get(
        self, url: str, params: Any = None, headers: Mapping[str, str] | None = None, **_: Any
    ) -> httpx.Response:
        with self._lock:
            self.gets += 1
        return self._client.get(url, params=params, headers=_clean(headers))

    def post(
        self,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        **_: Any,
    ) -> httpx.Response:
        with self._lock:
            self.posts += 1
        if isinstance(data, str | bytes):
            return self._client.post(url, params=params, content=data, json=json, headers=_clean(headers))
        if isinstance(data, Mapping):
            # msal puts the signed client assertion in the form as bytes; httpx would send str(b"…").
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return self._client.post(url, params=params, data=data, json=json, headers=_clean(headers))

    def close(self) -> None:
        self._client.close()


def _clean(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """msal sometimes sends header values of None; httpx wants strings."""
    return {k: str(v) for k, v in (headers or {}).items() if v is not None}


class TokenClient(Protocol):
    """One tenant's token source: msal's result dict (`access_token`… or `error`…)."""

    def acquire(self, scope: str) -> Mapping[str, Any]: ...

    def drop_tokens(self) -> None:
        """Forget cached tokens: the next `acquire` goes to the network."""
        ...


class ConfidentialClient:
    """A client secret or a certificate, through `msal.ConfidentialClientApplication`."""

    def __init__(
        self, client_id: str, credential: SecretStr | ClientCertificate, authority: str, http: MsalHttp
    ) -> None:
        secret: str | dict[str, str] = (
            credential.msal_credential()
            if isinstance(credential, ClientCertificate)
            else credential.get_secret_value()
        )
        self._app = msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=authority,
            http_client=http,
            # No instance discovery: it would ask login.microsoftonline.com about the authority
            # host, which for the simulator must not happen and for Entra ID adds nothing here.
            validate_authority=False,
            instance_discovery=False,
        )

    def acquire(self, scope: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = self._app.acquire_token_for_client(scopes=[scope])
        return result

    def drop_tokens(self) -> None:
        self._app.remove_tokens_for_client()


class ManagedIdentityClient:
    """A user-assigned managed identity, through `msal.ManagedIdentityClient`: msal finds the host's
    identity endpoint (App Service, Container Apps, Functions, a VM's IMDS, Azure Arc) and asks for a
    token for a resource (the scope without `/.default`)."""

    def __init__(self, identity: ManagedIdentity, http: MsalHttp) -> None:
        self._identity = msal.UserAssignedManagedIdentity(client_id=identity.client_id)
        self._http = http
        self._client = self._new()

    def _new(self) -> Any:
        return msal.ManagedIdentityClient(
            self._identity, http_client=self._http, token_cache=msal.TokenCache()
        )

    def acquire(self, scope: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = self._client.acquire_token_for_client(
            resource=scope.removesuffix("/.default")
        )
        return result

    def drop_tokens(self) -> None:
        self._client = self._new()  # msal's managed identity client has no call to forget one token


def build_client(client_id: str, credential: AppCredential, authority: str, http: MsalHttp) -> TokenClient:
    if isinstance(credential, ManagedIdentity):
        return ManagedIdentityClient(credential, http)
    return ConfidentialClient(client_id, credential, authority, http)
