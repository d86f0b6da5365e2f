"""The simulated identity platform's state: the registered apps of its tenants, and the access tokens
it signs for them.

The tokens are shaped like Entra ID's v1.0 access tokens for Microsoft Graph (`iss`
`https://sts.windows.net/{tid}/`, `appid`, `roles`…) and signed with the key in `material`. Token
times (`iat`/`nbf`/`exp`) follow the injected `Clock`, so advancing the simulator clock expires tokens.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import ssl
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel, ConfigDict, SecretStr

from bot.clock import Clock
from bot.core.tenants import MULTI_TENANT_SEGMENTS, TENANT_SHAPE
from bot.sim.identity.material import Material, load_or_create_material

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's well-known app id
GRAPH_AUDIENCES = frozenset({GRAPH_RESOURCE, GRAPH_APP_ID})
TOKEN_LIFETIME = timedelta(hours=1)

# A registration in every tenant: the embedded simulator serves whichever tenant a conversation names.
ANY_TENANT = "*"

_MATERIAL_DIR = "sim-identity"
_OID_NAMESPACE = uuid.UUID("6f1d8a43-3c0e-4b8e-9a51-5a3c1e0b7d21")  # service principal ids (uuid5)


def token_issuer(tenant_id: str) -> str:
    """The `iss` of an Entra ID v1.0 access token (the version Microsoft Graph's tokens use)."""
    return f"https://sts.windows.net/{tenant_id}/"


class RegisteredApp(BaseModel):
    """An app registration in a simulated tenant (`ANY_TENANT`: in every tenant), with its credentials
    (a client secret, and the PEM certificates whose keys may sign client assertions) and the
    application permissions an admin granted."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr = SecretStr("")
    tenant_id: str
    roles: frozenset[str] = frozenset()
    display_name: str = ""
    certificates: tuple[str, ...] = ()

    def secret_matches(self, candidate: str) -> bool:
        expected = self.client_secret.get_secret_value()
        return bool(expected) and hmac.compare_digest(candidate.encode(), expected.encode())


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds, as the token endpoint reports it
    expires_at: datetime  # the token's `exp`, on the simulator clock
    claims: Mapping[str, Any]


class SimIdentity:
    """The simulated identity platform's state: registered apps, the signing key and the TLS material."""

    def __init__(self, data_dir: Path, clock: Clock, apps: Sequence[RegisteredApp]) -> None:
        self._dir = Path(data_dir) / _MATERIAL_DIR
        self._clock = clock
        self._apps: dict[tuple[str, str], RegisteredApp] = {}
        for app in apps:
            key = (app.tenant_id.lower(), app.client_id.lower())
            if key in self._apps:
                raise ValueError(f"app {app.client_id} is registered twice in tenant {app.tenant_id}")
            self._apps[key] = app
        self._tenants = {app.tenant_id.lower(): app.tenant_id for app in apps if app.tenant_id != ANY_TENANT}
        self._any_tenant = any(app.tenant_id == ANY_TENANT for app in apps)
        self._material_lock = threading.Lock()
        self._material: Material | None = None
        self.tokens_issued = 0  # successful token endpoint answers (tests assert on it)

    def __repr__(self) -> str:
        return f"SimIdentity(dir={str(self._dir)!r}, tenants={sorted(self._tenants.values())!r})"

    # -- directory ---------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def tenants(self) -> frozenset[str]:
        """The tenants named at registration (with an `ANY_TENANT` registration, every tenant is known)."""
        return frozenset(self._tenants.values())

    def tenant(self, segment: str) -> str | None:
        """The registered tenant id a path segment names (case-insensitive), or None. With an app
        registered in `ANY_TENANT`, any tenant-shaped segment names a tenant (as given)."""
        known = self._tenants.get(segment.lower())
        if known is not None:
            return known
        if self._any_tenant and segment.lower() not in MULTI_TENANT_SEGMENTS and TENANT_SHAPE.match(segment):
            return segment
        return None

    def find_app(self, tenant_id: str, client_id: str) -> RegisteredApp | None:
        """The app as registered in `tenant_id` (an `ANY_TENANT` app, placed in that tenant)."""
        app = self._apps.get((tenant_id.lower(), client_id.lower()))
        if app is not None:
            return app
        anywhere = self._apps.get((ANY_TENANT, client_id.lower()))
        if anywhere is None or self.tenant(tenant_id) is None:
            return None
        return anywhere.model_copy(update={"tenant_id": tenant_id})

    # -- key material ------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Load or generate the keys and certificates now (blocking: call it via `asyncio.to_thread`)."""
        self._load()

    @property
    def ca_path(self) -> Path:
        """The PEM file of the local CA that signed the server certificate: what clients trust."""
        return self._load().ca_path

    @property
    def kid(self) -> str:
        return self._load().kid

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side TLS context with the loopback certificate (127.0.0.1, ::1, localhost)."""
        material = self._load()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(material.server_cert_path, material.server_key_path)
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client-side TLS context that trusts only this simulator's CA."""
        return ssl.create_default_context(cafile=str(self._load().ca_path))

    def jwks(self) -> dict[str, Any]:
        """The public signing key as a JWK Set, like Entra ID's `discovery/v2.0/keys`."""
        material = self._load()
        jwk = RSAAlgorithm.to_jwk(material.signing_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "use": "sig", "kid": material.kid, "alg": "RS256"}]}

    def verification_key(self, kid: str) -> rsa.RSAPublicKey | None:
        material = self._load()
        return material.signing_key.public_key() if hmac.compare_digest(kid, material.kid) else None

    def _load(self) -> Material:
        material = self._material
        if material is not None:
            return material
        with self._material_lock:
            if self._material is None:
                self._material = load_or_create_material(self._dir)
            return self._material

    # -- tokens ------------------------------------------------------------------------------------
    def issue_token(
        self,
        app: RegisteredApp,
        *,
        audience: str = GRAPH_RESOURCE,
        lifetime: timedelta = TOKEN_LIFETIME,
        certificate: bool = False,
    ) -> IssuedToken:
        """Sign an app-only access token for `app`, shaped like Entra ID's v1.0 tokens for Graph."""
        material = self._load()
        now = self._clock.now()
        issued = int(now.timestamp())
        expires = issued + int(lifetime.total_seconds())
        tid = app.tenant_id
        object_id = str(uuid.uuid5(_OID_NAMESPACE, f"{tid.lower()}/{app.client_id.lower()}"))
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": token_issuer(tid),
            "iat": issued,
            "nbf": issued,
            "exp": expires,
            "appid": app.client_id,
            "azp": app.client_id,
            "appidacr": "2" if certificate else "1",  # 1: a client secret, 2: a certificate
            "idp": token_issuer(tid),
            "idtyp": "app",
            "oid": object_id,
            "sub": object_id,
            "tid": tid,
            "uti": base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode(),
            "ver": "1.0",
        }
        if app.display_name:
            claims["app_displayname"] = app.display_name
        if app.roles:  # Entra ID leaves the claim out when no application permission is granted
            claims["roles"] = sorted(app.roles)
        token = jwt.encode(
            claims, material.signing_key, algorithm="RS256", headers={"kid": material.kid, "typ": "JWT"}
        )
        return IssuedToken(
            access_token=token,
            # Entra ID reports a second less than the lifetime; msal caches by this number.
            expires_in=max(0, expires - issued - 1),
            expires_at=datetime.fromtimestamp(expires, UTC),
            claims=claims,
        )
