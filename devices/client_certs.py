"""Client certificates for mutual TLS, recorded by serial so a revocation can reach the CRL.

The certificate's CN is the device's broker username: on the mutual-TLS listener Mosquitto takes
the CN as the username (``use_identity_as_username``), so the same ACL block applies whether a
device proves itself with its password or its certificate.
"""

from __future__ import annotations

from psycopg import Connection

from devices.credentials import CredentialError, locked_account, revoke_certificates
from ioc_core.db import fetch_all
from ioc_core.settings import Settings
from ioc_core.stack.tls import ClientCertificate, issue_client_certificate

__all__ = ["issue_device_certificate", "revoked_serials"]


def issue_device_certificate(
    settings: Settings, conn: Connection, device_id: str, *, replace: bool = False
) -> ClientCertificate:
    """Sign a new key pair for an active device; ``replace`` revokes its earlier certificates."""
    with conn.transaction():
        _, username, revoked = locked_account(conn, device_id)
        if username is None or revoked:
            raise CredentialError(
                device_id,
                f"device {device_id!r} has no active account; a certificate names an account "
                "(`ioc devices add` first)",
            )
        if replace:
            revoke_certificates(conn, device_id)
        cert = issue_client_certificate(settings, username=username)
        conn.execute(
            """INSERT INTO device_certificates (serial, device_id, username, not_after)
               VALUES (%s, %s, %s, %s)""",
            (format(cert.serial, "x"), device_id, username, cert.not_after),
        )
    return cert


def revoked_serials(conn: Connection) -> list[int]:
    """Revoked certificates that have not expired yet (an expired one is refused anyway)."""
    rows = fetch_all(
        conn,
        "SELECT serial FROM device_certificates "
        "WHERE revoked_at IS NOT NULL AND not_after > now() ORDER BY serial",
    )
    return [int(serial, 16) for (serial,) in rows]
