"""Client assertions: how an app with a certificate credential authenticates at the token endpoint.

The app signs a short JWT with the certificate's private key (RFC 7523, `client_assertion_type`
`urn:ietf:params:oauth:client-assertion-type:jwt-bearer`). Entra ID finds the certificate uploaded to
the app registration by the header's thumbprint (`x5t#S256`, or the older SHA-1 `x5t`), checks the
signature (RS256 or PS256), that `iss` and `sub` are the app's client id, that `aud` is the token
endpoint, and the assertion's lifetime. This module does the same for the simulated identity platform,
so a bot's certificate credential runs the same code against it as against Entra ID.

Lifetimes are checked against wall time, not the simulator's clock: the client (msal) signs with wall
time, as it does for Entra ID.
"""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bot.sim.identity.issuer import RegisteredApp

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ALGORITHMS = ["RS256", "PS256"]
_LEEWAY_SECONDS = 300  # Entra ID allows some clock skew


class AssertionRejected(Exception):
    """Why a client assertion is refused: Entra ID's AADSTS code and its description."""

    def __init__(self, aadsts: int, description: str) -> None:
        super().__init__(f"AADSTS{aadsts}: {description}")
        self.aadsts = aadsts
        self.description = description


@dataclass(frozen=True)
class _Registered:
    certificate: x509.Certificate
    sha1: bytes
    sha256: bytes


def _registered(app: RegisteredApp) -> list[_Registered]:
    found = []
    for pem in app.certificates:
        certificate = x509.load_pem_x509_certificate(pem.encode())
        found.append(
            _Registered(
                certificate, certificate.fingerprint(hashes.SHA1()), certificate.fingerprint(hashes.SHA256())
            )
        )
    return found


def _thumbprint(header: dict[str, Any], name: str) -> bytes | None:
    value = header.get(name)
    if not isinstance(value, str):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None


def verify_client_assertion(app: RegisteredApp, assertion: str, *, token_endpoint: str) -> None:
    """Accept the assertion for `app` at `token_endpoint`, or raise `AssertionRejected`."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.DecodeError:
        raise AssertionRejected(50027, "JWT token is invalid or malformed.") from None
    sha256, sha1 = _thumbprint(header, "x5t#S256"), _thumbprint(header, "x5t")
    if sha256 is None and sha1 is None:
        raise AssertionRejected(
            700027, "Client assertion contains an invalid signature. The header names no certificate (x5t)."
        )
    match = next(
        (
            r
            for r in _registered(app)
            if (sha256 is not None and hmac.compare_digest(r.sha256, sha256))
            or (sha256 is None and sha1 is not None and hmac.compare_digest(r.sha1, sha1))
        ),
        None,
    )
    if match is None:
        raise AssertionRejected(
            700027,
            "Client assertion failed signature validation. The certificate with identifier used to sign the "
            f"client assertion is not registered on application '{app.client_id}'.",
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            match.certificate.public_key(),  # type: ignore[arg-type]
            algorithms=_ALGORITHMS,
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidTokenError:
        raise AssertionRejected(700027, "Client assertion contains an invalid signature.") from None
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise AssertionRejected(
            700021, "Client assertion application identifier doesn't match 'client_id' parameter."
        )
    audience = claims.get("aud")
    if not isinstance(audience, str) or audience.rstrip("/").lower() != token_endpoint.rstrip("/").lower():
        raise AssertionRejected(700023, "Client assertion audience claim does not match Realm issuer.")
    now = time.time()
    expires, not_before = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if (
        not isinstance(expires, int | float)
        or now > expires + _LEEWAY_SECONDS
        or (isinstance(not_before, int | float) and now + _LEEWAY_SECONDS < not_before)
    ):
        raise AssertionRejected(700024, "Client assertion is not within its valid time range.")
