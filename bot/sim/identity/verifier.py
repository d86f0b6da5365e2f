"""The simulated Graph's side of authentication: checks a request's bearer token as Graph does and
names the caller, or answers Graph's 401 `InvalidAuthenticationToken`.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web

from bot.clock import Clock
from bot.sim.caller import Caller
from bot.sim.errors import SimGraphError
from bot.sim.identity.issuer import GRAPH_APP_ID, GRAPH_AUDIENCES, SimIdentity, token_issuer

# Graph's answer header on 401 (what Graph sends; the authorization_uri is informational).
GRAPH_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    f'client_id="{GRAPH_APP_ID}"'
)


VERIFIED_TOKENS = 256  # tokens whose signature `JwtAuthenticator` remembers having checked


class SimAuthError(SimGraphError):
    """Graph's 401 for a missing or invalid access token (`InvalidAuthenticationToken`).

    A `SimGraphError`, so the simulated Graph's routes render it; `body()` builds Graph's error shape
    for callers that render it themselves, and `headers` carries Graph's `WWW-Authenticate`.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.headers: dict[str, str] = {"WWW-Authenticate": GRAPH_WWW_AUTHENTICATE} if status == 401 else {}

    def __repr__(self) -> str:
        return f"SimAuthError(status={self.status}, code={self.code!r}, message={self.message!r})"

    def body(self, now: datetime, client_request_id: str | None = None) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id or request_id,
                },
            }
        }


def _invalid_token(message: str) -> SimAuthError:
    return SimAuthError(401, "InvalidAuthenticationToken", message)


class JwtAuthenticator:
    """Checks the bearer token of a simulated Graph request, as Graph does, and names the caller.

    Signature (by `kid`), lifetime (against the injected clock, with a small leeway), audience
    (`https://graph.microsoft.com` or Graph's app id) and issuer (`https://sts.windows.net/{tid}/` of a
    tenant this identity platform knows). Every failure is Graph's 401 `InvalidAuthenticationToken`.
    """

    def __init__(
        self, identity: SimIdentity, clock: Clock, *, leeway: timedelta = timedelta(seconds=30)
    ) -> None:
        self._identity = identity
        self._clock = clock
        self._leeway = leeway.total_seconds()
        # Tokens whose signature was verified, with their key's id and claims: a client sends the same
        # token for an hour, and checking an RS256 signature and decoding it again was a tenth of the
        # simulated tenant's CPU per request (docs/performance.md). Lifetime, audience, issuer and roles
        # are still checked on every request, and a token whose key is no longer known is refused.
        self._verified: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()

    async def authenticate(self, request: web.Request) -> Caller:
        return self.verify(_bearer_token(request))

    def verify(self, token: str) -> Caller:
        """The caller a raw access token names, or `SimAuthError` (401) when Graph would refuse it."""
        if not token:
            raise _invalid_token("Access token is empty.")
        claims = self._signed_claims(token)
        self._check_lifetime(claims)
        if claims.get("aud") not in GRAPH_AUDIENCES:
            raise _invalid_token("Access token validation failure. Invalid audience.")
        tenant_id = claims.get("tid")
        tenant = self._identity.tenant(tenant_id) if isinstance(tenant_id, str) else None
        issuers = (
            {token_issuer(tenant), f"https://login.microsoftonline.com/{tenant}/v2.0"} if tenant else set()
        )
        if claims.get("iss") not in issuers:
            raise _invalid_token("Access token validation failure. Invalid issuer.")
        app_id = claims.get("appid") or claims.get("azp")
        roles = claims.get("roles", [])
        if (
            not isinstance(app_id, str)
            or not isinstance(roles, list)
            or not all(isinstance(r, str) for r in roles)
            or tenant is None
        ):
            raise _invalid_token("Access token validation failure.")
        return Caller(app_id=app_id, tenant_id=tenant, roles=frozenset(roles))

    def _signed_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token signed by a key this identity platform publishes (signature checked
        once per token while its key is known), or `SimAuthError`."""
        verified = self._verified.get(token)
        if verified is not None and self._identity.verification_key(verified[0]) is not None:
            self._verified.move_to_end(token)
            return verified[1]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise _invalid_token("CompactToken parsing failed with error code: 80049217") from None
        kid = header.get("kid")
        key = self._identity.verification_key(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise _invalid_token("Access token validation failure. The signing key is not known.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                options={
                    "verify_signature": True,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError:
            raise _invalid_token("Access token validation failure. Signature validation failed.") from None
        self._verified[token] = (kid, claims)
        while len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return claims

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, int | float) or (nbf is not None and not isinstance(nbf, int | float)):
            raise _invalid_token("Access token validation failure. The token has no valid lifetime.")
        now = self._clock.now().timestamp()
        if now >= exp + self._leeway:
            raise _invalid_token("Lifetime validation failed, the token is expired.")
        if nbf is not None and now + self._leeway < nbf:
            raise _invalid_token("Lifetime validation failed, the token is not yet valid.")


def _bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
