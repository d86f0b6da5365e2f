"""App-only Graph tokens from the Microsoft identity platform: the same code for Entra ID and the simulator.

`MsalTokenProvider` runs msal's client-credentials flow (`acquire_token_for_client`) with a client
secret or a certificate, or asks the Azure host for a managed identity's token (`msal_clients`). msal is
synchronous, so every msal call runs in a worker thread; concurrent callers for one tenant share one
in-flight acquisition; tokens are reused until five minutes before they expire. Expiry is judged on
the injected `Clock` as well as by msal's own (wall-clock) cache, so when the simulator clock jumps
past a token's `exp` the next call fetches a new token instead of handing Graph an expired one.

msal talks HTTP through a small httpx client of ours: the CA bundle is applied to every request (an
environment `REQUESTS_CA_BUNDLE` cannot override it), there is a timeout, and for a loopback authority
(the simulator) no proxy or other environment setting applies, so nothing leaves the machine.

`GraphAuth` puts those tokens on Graph requests as an `httpx.Auth`: it adds the bearer token and, when
Graph answers 401, drops exactly the refused token and sends the request once more with a fresh one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import msal
from msal.exceptions import MsalServiceError

from bot.clock import Clock, SystemClock
from bot.core.credentials import AppCredential, ManagedIdentity
from bot.core.net import is_loopback_url
from bot.core.tenants import MULTI_TENANT_SEGMENTS, TENANT_SHAPE
from bot.graph.msal_clients import MsalHttp, TokenClient, build_client

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ENTRA_AUTHORITY_HOST = "https://login.microsoftonline.com"
# Fetch a new token this long before expiry (msal's own cache uses the same margin).
REFRESH_MARGIN = timedelta(minutes=5)
_TRANSIENT_ERRORS = frozenset(
    {"temporarily_unavailable", "server_error", "network_error", "service_unavailable"}
)


class TokenError(Exception):
    """The identity platform refused (or could not be asked for) a token.

    `code` is the OAuth error (`invalid_client`, `unauthorized_client`, `invalid_request`…),
    `error_codes` Entra ID's AADSTS numbers, `description` Entra ID's own text for the logs (it names
    the app and tenant, never a secret). `str(error)` is a short message safe to show a person;
    `transient` says whether trying again later may help.
    """

    def __init__(
        self,
        code: str,
        description: str = "",
        *,
        error_codes: Sequence[int] = (),
        correlation_id: str | None = None,
        transient: bool | None = None,
    ) -> None:
        self.code = code
        self.description = description
        self.error_codes = tuple(error_codes)
        self.correlation_id = correlation_id
        self.transient = code in _TRANSIENT_ERRORS if transient is None else transient
        super().__init__(_user_message(code, self.error_codes))

    def __repr__(self) -> str:
        return f"TokenError(code={self.code!r}, error_codes={self.error_codes!r})"

    @classmethod
    def from_msal(cls, result: Mapping[str, Any]) -> TokenError:
        codes = result.get("error_codes")
        return cls(
            str(result.get("error") or "unknown_error"),
            str(result.get("error_description") or ""),
            error_codes=[int(c) for c in codes if isinstance(c, int)] if isinstance(codes, list) else (),
            correlation_id=result.get("correlation_id")
            if isinstance(result.get("correlation_id"), str)
            else None,
        )


# What a person (usually the admin who set the bot up) can do about each refusal.
_BY_AADSTS: dict[int, str] = {
    7000215: "the Graph client secret is wrong (use the secret's value, not its ID)",
    700027: "the Graph certificate is not registered on the app: upload its public certificate",
    700024: "the certificate's client assertion is outside its valid time: check the server's clock",
    700021: "the client assertion names another app than the Graph client id",
    7000222: "the Graph client secret has expired: create a new one",
    7000218: "no Graph client secret is configured",
    700016: "the bot's app registration is not known in this tenant: an admin must consent to it",
    90002: "the tenant was not found: check the tenant id",
    50059: "app-only tokens need a specific tenant id",
    500011: "Microsoft Graph is not available in this tenant",
    1002012: "the token scope must end in /.default",
}
_BY_CODE: dict[str, str] = {
    "invalid_client": "the bot's Graph credentials were rejected",
    "unauthorized_client": "the bot's app registration may not get tokens in this tenant",
    "invalid_tenant": "the tenant was not found: check the tenant id",
    "tenant_required": "app-only tokens need a specific tenant id",
    "network_error": "the identity platform could not be reached",
    "service_unavailable": "the identity platform is unavailable right now",
    "temporarily_unavailable": "the identity platform is unavailable right now",
    "server_error": "the identity platform had an internal error",
    "invalid_authority": "the identity platform address is not valid",
    "invalid_response": "the identity platform's answer could not be read",
    "managed_identity_unavailable": "the managed identity is not available on this host",
}


def _user_message(code: str, error_codes: Sequence[int]) -> str:
    reason = next((_BY_AADSTS[c] for c in error_codes if c in _BY_AADSTS), None) or _BY_CODE.get(
        code, "the identity platform refused the request"
    )
    suffix = f" ({code}, AADSTS{error_codes[0]})" if error_codes else f" ({code})"
    return f"Could not get a Microsoft Graph token: {reason}{suffix}."


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime  # on the injected clock

    def fresh(self, now: datetime) -> bool:
        return now < self.expires_at - REFRESH_MARGIN


class MsalTokenProvider:
    """App-only Graph tokens through msal, one client per tenant.

    `credential` is a client secret, a `ClientCertificate` or a `ManagedIdentity` (which gets tokens
    for its own tenant, `default_tenant`, only). `authority_host` is `https://login.microsoftonline.com`
    for Entra ID (another host for a national cloud) or the simulated identity platform's URL (with
    `ca_bundle` its CA). Secrets, keys and tokens are never logged.
    """

    def __init__(
        self,
        client_id: str,
        credential: AppCredential,
        default_tenant: str,
        authority_host: str = ENTRA_AUTHORITY_HOST,
        ca_bundle: Path | None = None,
        clock: Clock | None = None,
        *,
        scope: str = GRAPH_SCOPE,
        timeout: float = 10.0,
    ) -> None:
        self._client_id = client_id
        self._credential = credential
        self._managed = isinstance(credential, ManagedIdentity)
        self._default_tenant = default_tenant
        self._authority_host = authority_host.rstrip("/")
        self._ca_bundle = ca_bundle
        self._clock: Clock = clock or SystemClock()
        self._scope = scope
        self._timeout = timeout
        self._loopback = is_loopback_url(self._authority_host)
        self._http: MsalHttp | None = None
        self._http_lock = threading.Lock()
        self._apps: dict[str, TokenClient] = {}
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._inflight: dict[str, asyncio.Future[str]] = {}

    def __repr__(self) -> str:
        return (
            f"MsalTokenProvider(client_id={self._client_id!r}, authority_host={self._authority_host!r}, "
            f"default_tenant={self._default_tenant!r})"
        )

    @property
    def requests_made(self) -> int:
        """Token requests sent to the identity platform (cache hits and throttled retries not counted)."""
        return self._http.posts if self._http is not None else 0

    @property
    def http_requests(self) -> int:
        """Every HTTP request sent, OpenID discovery included."""
        return self._http.gets + self._http.posts if self._http is not None else 0

    # -- TokenSource ---------------------------------------------------------------------------------
    async def token(self, tenant_id: str | None = None) -> str:
        tenant = self._tenant(tenant_id)
        cached = self._tokens.get(tenant)
        if cached is not None and cached.fresh(self._clock.now()):
            return cached.value
        inflight = self._inflight.get(tenant)
        if inflight is None:
            inflight = asyncio.ensure_future(self._acquire(tenant))
            self._inflight[tenant] = inflight
            inflight.add_done_callback(self._forget(tenant))
        # shield: one caller giving up (its command's time budget) must not cancel the others' fetch.
        return await asyncio.shield(inflight)

    async def invalidate(self, tenant_id: str | None = None, *, rejected_token: str | None = None) -> None:
        """Drop the tenant's token; with `rejected_token`, only if that is still the one we hold.

        Passing the token Graph refused keeps a burst of 401s from throwing away a token that was
        already replaced.
        """
        tenant = self._tenant(tenant_id)
        async with self._lock(tenant):
            cached = self._tokens.get(tenant)
            if rejected_token is not None and cached is not None and cached.value != rejected_token:
                return
            self._tokens.pop(tenant, None)
            app = self._apps.get(tenant)
            if app is not None:
                await asyncio.to_thread(app.drop_tokens)
            log.info("dropped the Graph token for tenant %s", tenant)

    async def aclose(self) -> None:
        """Close the HTTP connections msal used and forget the tokens (a later call starts afresh)."""
        http, self._http = self._http, None
        self._apps.clear()
        self._tokens.clear()
        if http is not None:
            await asyncio.to_thread(http.close)

    # -- internals -------------------------------------------------------------------------------------
    def _tenant(self, tenant_id: str | None) -> str:
        tenant = (tenant_id or self._default_tenant or "").strip().lower()
        if not tenant or tenant in MULTI_TENANT_SEGMENTS:
            raise TokenError(
                "tenant_required",
                f"app-only Graph tokens need a tenant id, got {tenant or 'none'!r}",
            )
        if not TENANT_SHAPE.match(tenant):
            raise TokenError("invalid_tenant", "the tenant id is neither a GUID nor a domain name")
        if self._managed and tenant != self._default_tenant.strip().lower():
            raise TokenError(
                "unauthorized_client",
                "a managed identity gets tokens in its own tenant only",
                transient=False,
            )
        return tenant

    def _lock(self, tenant: str) -> asyncio.Lock:
        lock = self._locks.get(tenant)
        if lock is None:
            lock = self._locks[tenant] = asyncio.Lock()
        return lock

    def _forget(self, tenant: str) -> Callable[[asyncio.Future[str]], None]:
        def done(future: asyncio.Future[str]) -> None:
            if self._inflight.get(tenant) is future:
                del self._inflight[tenant]
            if not future.cancelled():
                future.exception()  # retrieved: no "exception was never retrieved" if all callers left

        return done

    async def _acquire(self, tenant: str) -> str:
        async with self._lock(tenant):
            now = self._clock.now()
            cached = self._tokens.get(tenant)
            if cached is not None and cached.fresh(now):
                return cached.value
            # Our clock says the token is (nearly) expired; msal's wall-clock cache may disagree when
            # the simulator clock was moved forward, so drop its copy and go to the network.
            stale = cached is not None
            try:
                result = await asyncio.to_thread(self._acquire_blocking, tenant, stale)
                if "access_token" not in result:
                    raise (
                        TokenError.from_msal(result)
                        if result.get("error")
                        else TokenError("invalid_response")
                    )
            except TokenError as error:
                log.warning(
                    "no Graph token for tenant %s: %s %s (correlation id %s)",
                    tenant,
                    error.code,
                    ",".join(f"AADSTS{c}" for c in error.error_codes) or "-",
                    error.correlation_id or "-",
                )
                raise
            try:
                expires_in = max(0, int(result.get("expires_in", 0)))
            except (TypeError, ValueError):
                expires_in = 0
            token = _Token(str(result["access_token"]), self._clock.now() + timedelta(seconds=expires_in))
            self._tokens[tenant] = token
            source = result.get("token_source", "identity_provider")
            log.info("Graph token for tenant %s from %s, expires in %d s", tenant, source, expires_in)
            return token.value

    def _acquire_blocking(self, tenant: str, drop_cached: bool) -> dict[str, Any]:
        """Runs in a worker thread: msal's calls block on HTTP."""
        try:
            app = self._apps.get(tenant)
            if app is None:
                app = self._apps[tenant] = self._build_app(tenant)
            if drop_cached:
                app.drop_tokens()
            result = app.acquire(self._scope)
        except httpx.TimeoutException as exc:
            raise TokenError("network_error", "the identity platform did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise TokenError(
                "network_error", f"could not reach the identity platform ({type(exc).__name__})"
            ) from exc
        except MsalServiceError as exc:  # msal raises it for 5xx answers
            raise TokenError("service_unavailable", "the identity platform answered with an error") from exc
        except msal.ManagedIdentityError as exc:  # no managed identity endpoint on this host
            raise TokenError(
                "managed_identity_unavailable", "no managed identity endpoint answered on this host"
            ) from exc
        except ValueError as exc:  # a token endpoint answer that is not JSON
            raise TokenError("invalid_response", "the identity platform's answer was not JSON") from exc
        return dict(result) if isinstance(result, Mapping) else {"error": "invalid_response"}

    def _build_app(self, tenant: str) -> TokenClient:
        authority = f"{self._authority_host}/{tenant}"
        try:
            return build_client(self._client_id, self._credential, authority, self._http_client())
        except ValueError as exc:  # OpenID discovery refused: unknown tenant, or not an authority at all
            raise _discovery_error(exc, authority) from exc

    def _http_client(self) -> MsalHttp:
        with self._http_lock:
            if self._http is None:
                verify: ssl.SSLContext | bool = True
                if self._ca_bundle is not None:
                    verify = ssl.create_default_context(cafile=str(self._ca_bundle))
                # Loopback (the simulator): no proxies or environment CA settings, nothing leaves the host.
                # A managed identity's endpoint is the host's own (169.254.169.254 or a local port): no proxy.
                trust_env = not (self._loopback or self._managed)
                self._http = MsalHttp(verify, trust_env=trust_env, timeout=self._timeout)
            return self._http


def _discovery_error(exc: ValueError, authority: str) -> TokenError:
    """msal's ValueError from OpenID discovery, as a TokenError with Entra ID's error if it sent one."""
    context = exc.__context__ or exc
    match = re.search(r"Error: (\{.*\})\s*$", str(context), re.DOTALL)
    if match:
        try:
            payload = json.loads(match.group(1))
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("error"):
            return TokenError.from_msal(payload)
    return TokenError("invalid_authority", f"OpenID discovery failed for {authority}")


# -- the tokens on Graph requests -----------------------------------------------------------------------
# What a Graph client tells `GraphAuth` about each request, in `request.extensions`:
TENANT_EXTENSION = "presence_bot_tenant"  # str | None: whose token (None: the provider's default tenant)
LIMITS_EXTENSION = "presence_bot_send_limits"  # SendLimits: the call's time, for every send


class TokenSource(Protocol):
    """App-only Graph tokens per tenant: `MsalTokenProvider` (tests pass fakes)."""

    async def token(self, tenant_id: str | None = None) -> str: ...

    async def invalidate(
        self, tenant_id: str | None = None, *, rejected_token: str | None = None
    ) -> None: ...


class SendLimits(Protocol):
    """How long each send of one Graph call may take, and whether it may be sent again after a 401."""

    def timeout(self) -> float:
        """Seconds the next send may take; raises when the call's time is spent."""
        ...

    def may_resend(self) -> bool:
        """After a 401 (its token already dropped): whether to send once more with a fresh token."""
        ...


class GraphAuth(httpx.Auth):
    """Bearer tokens on Graph requests, with one fresh token and one more try when Graph answers 401.

    The tenant comes from `request.extensions[TENANT_EXTENSION]`. On a 401 only the refused token is
    revoked (`invalidate(rejected_token=…)`), so a burst of 401s for an old token does not drop the
    replacement another request already fetched. A second 401 is the answer: the caller raises it.
    With `request.extensions[LIMITS_EXTENSION]`, each send gets the timeout it says (fetching a token
    takes time too) and the second send needs its leave. Async only: the token fetch awaits.
    """

    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    def __repr__(self) -> str:
        return f"GraphAuth({self._tokens!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("GraphAuth fetches tokens asynchronously: use it with an httpx.AsyncClient")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raw_tenant = request.extensions.get(TENANT_EXTENSION)
        tenant = raw_tenant if isinstance(raw_tenant, str) else None
        limits: SendLimits | None = request.extensions.get(LIMITS_EXTENSION)
        token = await self._authorize(request, tenant, limits)
        response = yield request
        if response.status_code != 401:
            return
        await self._tokens.invalidate(tenant, rejected_token=token)
        if limits is not None and not limits.may_resend():
            return
        log.info("Graph refused the token for tenant %s (401): sending again with a new one", tenant)
        await self._authorize(request, tenant, limits)
        yield request

    async def _authorize(self, request: httpx.Request, tenant: str | None, limits: SendLimits | None) -> str:
        token = await self._tokens.token(tenant)
        request.headers["Authorization"] = f"Bearer {token}"
        if limits is not None:
            request.extensions["timeout"] = httpx.Timeout(limits.timeout()).as_dict()
        return token
