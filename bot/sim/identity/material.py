"""The simulated identity platform's key material: the token signing key, a local CA and a loopback
TLS server certificate, generated on first use in one directory and re-used after a restart.

Certificate validity follows wall time (TLS clients check it against wall time), not the simulator clock.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.core.files import write_atomically

log = logging.getLogger(__name__)

_SERVER_NAMES = ("localhost",)
_SERVER_IPS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_CA_LIFETIME = timedelta(days=3650)
_SERVER_CERT_LIFETIME = timedelta(days=397)
_RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class Material:
    """The loaded key material: the signing key (and its `kid`) and the PEM files TLS needs."""

    signing_key: rsa.RSAPrivateKey
    kid: str
    ca_path: Path
    server_cert_path: Path
    server_key_path: Path


def load_or_create_material(directory: Path) -> Material:
    """Read the material from `directory`, generating (and saving) whatever is missing, unusable or
    close to expiry. Blocking: key generation takes a moment."""
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # e.g. a directory owned by someone else
        directory.chmod(0o700)
    signing_key = _load_or_create_signing_key(directory / "signing-key.pem")
    ca_key, ca_cert, ca_path = _load_or_create_ca(directory)
    server_cert_path, server_key_path = _load_or_create_server_cert(directory, ca_key, ca_cert)
    return Material(
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
    write_atomically(path, _private_pem(key), private=True)
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
    write_atomically(key_path, _private_pem(key), private=True)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM))
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
    write_atomically(key_path, _private_pem(key), private=True)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
