"""The simulated Microsoft identity platform: app-only tokens for the simulated Graph, over local TLS.

It speaks the v2.0 endpoints msal uses for the client-credentials grant (OpenID discovery, JWKS and
the token endpoint, with Entra ID's error bodies), so the bot's real `MsalTokenProvider` runs
unchanged against it. The tokens are shaped like Entra ID's v1.0 access tokens for Microsoft Graph
(`iss` `https://sts.windows.net/{tid}/`, `appid`, `roles`…) and signed with a local RSA key;
`JwtAuthenticator` checks them on the simulated Graph's side.

Key material (the signing key, a local CA and a loopback server certificate) is generated on first
use under `data_dir/sim-identity/` and re-used on restart, so tokens and the CA survive restarts.
Token times (`iat`/`nbf`/`exp`) and their validation follow the injected `Clock`, so advancing the
simulator clock expires tokens; certificate validity follows wall time, because TLS clients check it
against wall time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import ssl
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel, ConfigDict, SecretStr

from bot.clock import Clock
from bot.sim.caller import Caller
from bot.sim.errors import SimGraphError

log = logging.getLogger(__name__)

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's well-known app id
GRAPH_AUDIENCES = frozenset({GRAPH_RESOURCE, GRAPH_APP_ID})
TOKEN_LIFETIME = timedelta(hours=1)
# Tenant path segments that name no tenant: fine for discovery, refused for app-only tokens.
MULTI_TENANT_SEGMENTS = frozenset({"common", "organizations", "consumers"})
# Graph's answer header on 401 (what Graph sends; the authorization_uri is informational).
GRAPH_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    f'client_id="{GRAPH_APP_ID}"'
)

_MATERIAL_DIR = "sim-identity"
_SERVER_NAMES = ("localhost",)
_SERVER_IPS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_CA_LIFETIME = timedelta(days=3650)
_SERVER_CERT_LIFETIME = timedelta(days=397)
_RENEW_BEFORE = timedelta(days=30)
_OID_NAMESPACE = uuid.UUID("6f1d8a43-3c0e-4b8e-9a51-5a3c1e0b7d21")  # service principal ids (uuid5)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def token_issuer(tenant_id: str) -> str:
    """The `iss` of an Entra ID v1.0 access token (the version Microsoft Graph's tokens use)."""
    return f"https://sts.windows.net/{tenant_id}/"


class RegisteredApp(BaseModel):
    """An app registration in a simulated tenant, with the application permissions an admin granted."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr
    tenant_id: str
    roles: frozenset[str] = frozenset()
    display_name: str = ""

    def secret_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.client_secret.get_secret_value().encode())


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds, as the token endpoint reports it
    expires_at: datetime  # the token's `exp`, on the simulator clock
    claims: Mapping[str, Any]


@dataclass(frozen=True)
class _Material:
    signing_key: rsa.RSAPrivateKey
    kid: str
    ca_path: Path
    server_cert_path: Path
    server_key_path: Path


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
        self._tenants = {app.tenant_id.lower(): app.tenant_id for app in apps}
        self._material_lock = threading.Lock()
        self._material: _Material | None = None
        self.tokens_issued = 0  # successful token endpoint answers (tests assert on it)

    def __repr__(self) -> str:
        return f"SimIdentity(dir={str(self._dir)!r}, tenants={sorted(self._tenants.values())!r})"

    # -- directory ---------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def tenants(self) -> frozenset[str]:
        return frozenset(self._tenants.values())

    def tenant(self, segment: str) -> str | None:
        """The registered tenant id a path segment names (case-insensitive), or None."""
        return self._tenants.get(segment.lower())

    def find_app(self, tenant_id: str, client_id: str) -> RegisteredApp | None:
        return self._apps.get((tenant_id.lower(), client_id.lower()))

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

    def _load(self) -> _Material:
        material = self._material
        if material is not None:
            return material
        with self._material_lock:
            if self._material is None:
                self._material = _load_or_create_material(self._dir)
            return self._material

    # -- tokens ------------------------------------------------------------------------------------
    def issue_token(
        self,
        app: RegisteredApp,
        *,
        audience: str = GRAPH_RESOURCE,
        lifetime: timedelta = TOKEN_LIFETIME,
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
            "appidacr": "1",  # authenticated with a client secret
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


# -- key material on disk ------------------------------------------------------------------------------


def _load_or_create_material(directory: Path) -> _Material:
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # e.g. a directory owned by someone else
        directory.chmod(0o700)
    signing_key = _load_or_create_signing_key(directory / "signing-key.pem")
    ca_key, ca_cert, ca_path = _load_or_create_ca(directory)
    server_cert_path, server_key_path = _load_or_create_server_cert(directory, ca_key, ca_cert)
    return _Material(
        signing_key=signing_key,
        kid=_jwk_thumbprint(signing_key.public_key()),
        ca_path=ca_path,
        server_cert_path=server_cert_path,
        server_key_path=server_key_path,
    )


def _jwk_thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint of the key: a stable `kid` derived from the key itself."""
    numbers = key.public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    canonical = json.dumps({"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _write_atomically(path: Path, data: bytes, *, private: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _private_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _read_private_key(path: Path) -> Any:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None


def _read_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_or_create_signing_key(path: Path) -> rsa.RSAPrivateKey:
    key = _read_private_key(path)
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return key
    log.info("generating the simulated identity platform's token signing key in %s", path.parent)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_atomically(path, _private_pem(key), private=True)
    return key


def _load_or_create_ca(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key_path, cert_path = directory / "ca-key.pem", directory / "ca.pem"
    key, cert = _read_private_key(key_path), _read_cert(cert_path)
    now = datetime.now(UTC)  # certificates: wall time, as TLS clients check them
    if (
        isinstance(key, ec.EllipticCurvePrivateKey)
        and cert is not None
        and cert.public_key() == key.public_key()
        and cert.not_valid_after_utc - now > _RENEW_BEFORE
    ):
        return key, cert, cert_path
    log.info("generating the simulator's local CA in %s", directory)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Presence Bot simulator (local only)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Presence Bot simulator CA"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Even if this CA is trusted somewhere it should not be, it can only vouch for loopback names.
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_atomically(key_path, _private_pem(key), private=True)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return key, cert, cert_path


def _server_cert_usable(cert: x509.Certificate, ca_cert: x509.Certificate, now: datetime) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    covers = set(names.get_values_for_type(x509.DNSName)) >= set(_SERVER_NAMES) and set(
        names.get_values_for_type(x509.IPAddress)
    ) >= set(_SERVER_IPS)
    return covers and cert.not_valid_after_utc - now > _RENEW_BEFORE


def _load_or_create_server_cert(
    directory: Path, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[Path, Path]:
    key_path, cert_path = directory / "server-key.pem", directory / "server.pem"
    key, cert = _read_private_key(key_path), _read_cert(cert_path)
    now = datetime.now(UTC)
    if (
        isinstance(key, ec.EllipticCurvePrivateKey)
        and cert is not None
        and cert.public_key() == key.public_key()
        and _server_cert_usable(cert, ca_cert, now)
    ):
        return cert_path, key_path
    log.info("issuing the simulator's loopback TLS certificate in %s", directory)
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + _SERVER_CERT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [*(x509.DNSName(n) for n in _SERVER_NAMES), *(x509.IPAddress(ip) for ip in _SERVER_IPS)]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # Key first: a reader never sees a certificate whose key is not on disk yet.
    _write_atomically(key_path, _private_pem(key), private=True)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert_path, key_path


# -- the identity platform's HTTP endpoints -------------------------------------------------------------

IDENTITY: web.AppKey[SimIdentity] = web.AppKey("sim_identity", SimIdentity)


class _AadError(Exception):
    """An error answer in Entra ID's token-endpoint shape (`error`, `error_description`, `error_codes`…)."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(f"{error}: AADSTS{aadsts}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description


def _unknown_tenant(segment: str, error: str) -> _AadError:
    return _AadError(
        400,
        error,
        90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there "
        "are no active subscriptions for the tenant.",
    )


def _missing(parameter: str) -> _AadError:
    return _AadError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


def _correlation_id(request: web.Request) -> str:
    given = request.headers.get("client-request-id", "")
    return given if _SAFE_ID.match(given) else str(uuid.uuid4())


def _aad_error_response(request: web.Request, clock: Clock, error: _AadError) -> web.Response:
    trace_id, correlation_id = str(uuid.uuid4()), _correlation_id(request)
    timestamp = clock.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error.error,
        "error_description": (
            f"AADSTS{error.aadsts}: {error.description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [error.aadsts],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.aadsts}",
    }
    headers = {"x-ms-request-id": trace_id, "client-request-id": correlation_id, "Cache-Control": "no-store"}
    return web.json_response(body, status=error.status, headers=headers)


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _resolve_tenant(identity: SimIdentity, segment: str, *, error: str) -> str:
    """The tenant id a path segment names; `common`/`organizations` pass through (discovery only)."""
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        return segment.lower()
    tenant = identity.tenant(segment)
    if tenant is None:
        raise _unknown_tenant(segment, error)
    return tenant


async def _openid_configuration(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    segment = request.match_info["tenant"]
    try:
        tenant = _resolve_tenant(identity, segment, error="invalid_tenant")
    except _AadError as error:
        return _aad_error_response(request, identity.clock, error)
    base = _base_url(request)
    issuer_tenant = "{tenantid}" if tenant in MULTI_TENANT_SEGMENTS else tenant
    document = {
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        # Listed because msal requires the key; this simulator serves no interactive sign-in.
        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
        "grant_types_supported": ["client_credentials"],
        "claims_supported": ["aud", "iss", "iat", "nbf", "exp", "appid", "azp", "oid", "sub", "tid", "roles"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }
    return web.json_response(document)


async def _keys(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    try:
        _resolve_tenant(identity, request.match_info["tenant"], error="invalid_tenant")
    except _AadError as error:
        return _aad_error_response(request, identity.clock, error)
    return web.json_response(identity.jwks())


def _client_credentials(request: web.Request, form: Mapping[str, str]) -> tuple[str, str | None]:
    """client_id and client_secret, from the form (client_secret_post) or Basic auth."""
    authorization = request.headers.get("Authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _AadError(401, "invalid_client", 7000218, "The client credentials are malformed.") from exc
        client_id, _, secret = decoded.partition(":")
        return client_id, secret or None
    client_id = form.get("client_id", "")
    if not client_id:
        raise _missing("client_id")
    return client_id, form.get("client_secret") or None


def _audience_for(scope: str, tenant: str) -> str:
    scopes = scope.split()
    if len(scopes) != 1:
        raise _AadError(
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. "
            f"The scope {scope} is not valid.",
        )
    (only,) = scopes
    if not only.endswith("/.default"):
        raise _AadError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {only} is not valid. Client credential flows must have a scope "
            "value with /.default suffixed to the resource identifier (application ID URI).",
        )
    resource = only.removesuffix("/.default").rstrip("/")
    if resource.lower() == GRAPH_RESOURCE:
        return GRAPH_RESOURCE
    if resource.lower() == GRAPH_APP_ID:
        return GRAPH_APP_ID
    raise _AadError(
        400,
        "invalid_resource",
        500011,
        f"The resource principal named {resource} was not found in the tenant named {tenant}. This can "
        "happen if the application has not been installed by the administrator of the tenant or consented "
        "to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
    )


async def _token(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    segment = request.match_info["tenant"]
    try:
        if segment.lower() in MULTI_TENANT_SEGMENTS:
            raise _AadError(
                400,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any provided "
                "credentials. App-only tokens need a tenant id in the path.",
            )
        tenant = _resolve_tenant(identity, segment, error="invalid_request")
        form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
        grant_type = form.get("grant_type", "")
        if not grant_type:
            raise _missing("grant_type")
        if grant_type != "client_credentials":
            raise _AadError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'. "
                "The simulated identity platform supports client_credentials only.",
            )
        client_id, secret = _client_credentials(request, form)
        app = identity.find_app(tenant, client_id)
        if app is None:
            raise _AadError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This "
                "can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to "
                "the wrong tenant.",
            )
        if secret is None:
            raise _AadError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not app.secret_matches(secret):
            raise _AadError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        scope = form.get("scope", "")
        if not scope:
            raise _missing("scope")
        audience = _audience_for(scope, tenant)
    except _AadError as error:
        log.info(
            "simulated identity platform refused a token request for tenant %r: %s AADSTS%d",
            segment,
            error.error,
            error.aadsts,
        )
        return _aad_error_response(request, identity.clock, error)
    issued = identity.issue_token(app, audience=audience)
    identity.tokens_issued += 1
    log.info(
        "issued an app-only token for client %s in tenant %s (roles: %s)",
        app.client_id,
        app.tenant_id,
        ", ".join(sorted(app.roles)) or "none",
    )
    body = {
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "ext_expires_in": issued.expires_in,
        "access_token": issued.access_token,
    }
    headers = {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "client-request-id": _correlation_id(request),
        "x-ms-request-id": str(uuid.uuid4()),
    }
    return web.json_response(body, headers=headers)


def create_identity_app(identity: SimIdentity) -> web.Application:
    """The identity platform's v2.0 endpoints msal needs for the client-credentials grant.

    Serve it over TLS with `identity.ssl_context()` (see `start_identity_site`): msal talks https only.
    """
    app = web.Application(client_max_size=64 * 1024)
    app[IDENTITY] = identity
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", _openid_configuration)
    app.router.add_get("/{tenant}/discovery/v2.0/keys", _keys)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", _token)
    return app


@dataclass
class IdentitySite:
    """A running simulated identity platform: its base URL is msal's `authority_host`."""

    runner: web.AppRunner
    base_url: str

    def authority(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_identity_site(identity: SimIdentity, host: str = "127.0.0.1", port: int = 0) -> IdentitySite:
    """Serve the identity platform over TLS on `host:port` (0 picks a free port) and return its URL.

    The certificate covers 127.0.0.1, ::1 and localhost only: bind to one of those.
    """
    await asyncio.to_thread(identity.prepare)  # key generation on first run takes a moment
    context = identity.ssl_context()
    runner = web.AppRunner(create_identity_app(identity), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context)
    await site.start()
    bound_port = port
    for address in runner.addresses:  # the socket's (host, port, …): learns the port 0 picked
        if isinstance(address, tuple) and len(address) >= 2:
            bound_port = int(address[1])
            break
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"https://{shown_host}:{bound_port}"
    log.info("simulated identity platform listening on %s", base_url)
    return IdentitySite(runner=runner, base_url=base_url)


# -- the simulated Graph's side: who is calling ------------------------------------------------------------


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

    async def authenticate(self, request: web.Request) -> Caller:
        return self.verify(_bearer_token(request))

    def verify(self, token: str) -> Caller:
        """The caller a raw access token names, or `SimAuthError` (401) when Graph would refuse it."""
        if not token:
            raise _invalid_token("Access token is empty.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise _invalid_token("CompactToken parsing failed with error code: 80049217") from None
        kid = header.get("kid")
        key = self._identity.verification_key(kid) if isinstance(kid, str) else None
        if key is None:
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
