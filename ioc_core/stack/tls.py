"""The project's own certificate authority: the broker's server certificate, device client
certificates for mutual TLS, and the revocation list the broker checks them against.

The city network is closed, so there is no public CA to lean on: ``ioc stack up`` creates a CA
under ``<var>/tls`` once and every certificate chains to it. Keys are ECDSA P-256, which every
TLS stack on a microcontroller we target (mbedTLS, wolfSSL, ESP-IDF) supports and which is far
cheaper to generate and verify than RSA. An operator with their own PKI drops ``ca.crt``,
``server.crt`` and ``server.key`` into the folder instead and nothing is generated.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ioc_core.errors import StackError
from ioc_core.settings import Settings

__all__ = [
    "ClientCertificate",
    "TlsFiles",
    "ensure_ca_and_server_cert",
    "issue_client_certificate",
    "write_crl",
]

ORGANISATION = "Hai Phong IOC"
CA_DAYS = 3650  # the CA outlives many device certificates; rotating it means re-enrolling all
SERVER_DAYS = 825  # the longest lifetime clients such as browsers still accept
# Rewritten from the registry at every broker-auth sync (add, rotate, revoke, cert). OpenSSL
# refuses every client once a CRL is past its next-update time, so this errs long: a stale CRL
# only misses revocations that a sync would have added anyway.
CRL_DAYS = 365
_BACKDATE = timedelta(minutes=5)  # tolerate a device clock a little behind ours


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files live; fixed names inside one folder so operators know what to swap."""

    root: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> TlsFiles:
        return cls(settings.tls_dir)

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def crl(self) -> Path:
        return self.root / "crl.pem"


@dataclass(frozen=True)
class ClientCertificate:
    username: str
    serial: int
    not_after: datetime
    certificate_pem: str
    private_key_pem: str
    ca_certificate_pem: str


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create with the final mode from the start: a key is never readable by others, even
    for the moment between write and chmod."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def _load_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise StackError(
            f"no project CA in {files.root} ({exc.filename} missing); run `ioc stack up` in "
            "secure mode once, or put your CA's ca.crt and ca.key there"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise StackError(f"{files.ca_key} is not an EC key; the project CA uses ECDSA P-256")
    return cert, key


def _create_ca(files: TlsFiles) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = _name(f"{ORGANISATION} device CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=CA_DAYS))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(files.ca_key, _key_pem(key), 0o600)
    _write(files.ca_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _server_names(settings: Settings) -> list[x509.GeneralName]:
    wanted = ["localhost", "127.0.0.1", socket.gethostname(), settings.mqtt_host]
    if settings.mqtt_tls_host:
        wanted.append(settings.mqtt_tls_host)
    wanted += settings.mqtt_tls_server_names
    names: list[x509.GeneralName] = []
    for text in dict.fromkeys(w for w in wanted if w and w not in ("0.0.0.0", "::")):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            names.append(x509.DNSName(text))
    return names


def _sign_leaf(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    common_name: str,
    days: int,
    usage: x509.ObjectIdentifier,
    names: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def ensure_ca_and_server_cert(settings: Settings) -> TlsFiles:
    """Create whatever of CA, server certificate and CRL is missing; never replace a file."""
    files = TlsFiles.for_settings(settings)
    files.root.mkdir(parents=True, exist_ok=True)
    files.root.chmod(0o755)  # the broker (user mosquitto) reads the certificates in here
    if not files.ca_cert.exists():
        _create_ca(files)
    if not files.server_cert.exists() or not files.server_key.exists():
        cert, key = _sign_leaf(
            _load_ca(files),
            common_name=settings.mqtt_tls_host or settings.mqtt_host,
            days=SERVER_DAYS,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            names=_server_names(settings),
        )
        _write(files.server_key, _key_pem(key), 0o600)
        _write(files.server_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    if not files.crl.exists() and files.ca_key.exists():
        write_crl(settings, revoked_serials=[])
    return files


def issue_client_certificate(settings: Settings, *, username: str) -> ClientCertificate:
    """A client certificate whose CN is the broker username (``use_identity_as_username``)."""
    files = TlsFiles.for_settings(settings)
    ca = _load_ca(files)
    cert, key = _sign_leaf(
        ca,
        common_name=username,
        days=settings.mqtt_client_cert_days,
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    return ClientCertificate(
        username=username,
        serial=cert.serial_number,
        not_after=cert.not_valid_after_utc,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pem=_key_pem(key).decode(),
        ca_certificate_pem=ca[0].public_bytes(serialization.Encoding.PEM).decode(),
    )


def write_crl(settings: Settings, *, revoked_serials: list[int]) -> Path:
    """Rewrite the CRL from the full list of revoked serials (the registry is the truth)."""
    files = TlsFiles.for_settings(settings)
    ca_cert, ca_key = _load_ca(files)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + timedelta(days=CRL_DAYS))
    )
    for serial in sorted(set(revoked_serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - _BACKDATE)
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    _write(files.crl, crl.public_bytes(serialization.Encoding.PEM), 0o644)
    return files.crl
