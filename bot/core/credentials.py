"""The ways an app proves who it is to the Microsoft identity platform, as plain data: a client secret,
a certificate (read from a PEM file holding its private key and certificate), or a user-assigned
managed identity. The Bot Framework side and the Graph side take the same kinds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr


class CertificateError(ValueError):
    """A certificate file that cannot be used; `str()` is one line saying why (never key material)."""


@dataclass(frozen=True)
class ClientCertificate:
    """An app's certificate credential: the private key signs a client assertion, the certificate's
    thumbprint tells the identity platform which uploaded certificate to check it with."""

    path: Path
    private_key_pem: str = field(repr=False)  # PKCS#8, unencrypted: what msal signs with
    certificate_pem: str  # the public certificate (sent as `x5c` only when `send_x5c`)
    sha1_thumbprint: str  # hex, as the Entra admin center shows it (`x5t`)
    send_x5c: bool = False  # subject name / issuer authentication (the certificate chain goes along)

    def msal_credential(self) -> dict[str, str]:
        """msal's `client_credential`: the thumbprint (RS256, `x5t`), or with `send_x5c` the public
        certificate, from which msal derives the SHA-256 thumbprint (PS256, `x5t#S256`) and sends `x5c`."""
        if self.send_x5c:
            return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}
        return {"private_key": self.private_key_pem, "thumbprint": self.sha1_thumbprint}


@dataclass(frozen=True)
class ManagedIdentity:
    """A user-assigned managed identity, named by its client id (tokens come from the Azure host)."""

    client_id: str


AppCredential = SecretStr | ClientCertificate | ManagedIdentity


def describe(credential: AppCredential) -> str:
    """A few words for logs and the start-up line (never the secret)."""
    if isinstance(credential, ClientCertificate):
        return f"certificate {credential.sha1_thumbprint.upper()}"
    if isinstance(credential, ManagedIdentity):
        return f"managed identity {credential.client_id}"
    return "client secret"


def load_certificate(path: Path, *, send_x5c: bool = False) -> ClientCertificate:
    """Read a PEM file holding an unencrypted RSA private key and the certificate for it (the identity
    platform checks client assertions signed with RSA: RS256, or PS256 with a SHA-256 thumbprint).

    Raises `CertificateError` with a one-line reason: the file is missing or unreadable, has no key, no
    certificate, an encrypted key, or a certificate for another key.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"{path} does not exist") from None
    except OSError as error:
        raise CertificateError(f"{path} cannot be read ({error.strerror or type(error).__name__})") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise CertificateError(f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if b"PRIVATE KEY-----" not in data:
        raise CertificateError(
            f"{path} holds no PEM private key (put the key and the certificate in one file)"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertificateError(f"{path}: the private key is encrypted; store it unencrypted") from None
    except ValueError:
        raise CertificateError(f"{path}: the private key cannot be read") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertificateError(f"{path}: the private key must be an RSA key")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateError(f"{path}: the certificate cannot be read") from None
    matching = [c for c in certificates if c.public_key() == key.public_key()]
    if not matching:
        raise CertificateError(f"{path}: the certificate is not the private key's")
    certificate = matching[0]
    der = certificate.public_bytes(serialization.Encoding.DER)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ClientCertificate(
        path=path,
        private_key_pem=key_pem,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        sha1_thumbprint=hashlib.sha1(der, usedforsecurity=False).hexdigest(),
        send_x5c=send_x5c,
    )
