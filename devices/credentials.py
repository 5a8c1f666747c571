"""Per-device MQTT credentials: issue, rotate, revoke, verify.

A password is generated here and shown to the operator once; only two hashes are kept. Ours is
scrypt (memory-hard, in the standard library), for anything that checks a device password
outside the broker. The broker's is Mosquitto's own PBKDF2 format, which it must be able to
read; it is made at the same moment because the plaintext never exists again. Changing a row
here changes nothing on the broker until ``devices.broker_auth.sync_broker_auth`` runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from psycopg import Connection

from devices.errors import DeviceNotFoundError
from devices.topics import Channel, Topic
from ioc_core.db import fetch_one
from ioc_core.errors import IocError
from ioc_core.stack.broker_files import mosquitto_hash

__all__ = [
    "CredentialError",
    "IssuedCredentials",
    "hash_password",
    "issue_credentials",
    "locked_account",
    "revoke_certificates",
    "revoke_credentials",
    "rotate_credentials",
    "verify_device_password",
    "verify_password",
]

# scrypt cost: 2^14 x 8 is 16 MiB and ~50 ms per hash here, OWASP's floor for scrypt. Hashing
# happens once per issue, so the cost lands on guessing, not on the fleet.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_PASSWORD_BYTES = 24  # 192 bits, 32 URL-safe characters: typeable, and never guessable


class CredentialError(IocError):
    """A credential operation that does not apply to this device as it stands."""

    def __init__(self, device_id: str, message: str) -> None:
        super().__init__(message)
        self.device_id = device_id


@dataclass(frozen=True)
class IssuedCredentials:
    """What the operator is shown once; the password is not stored anywhere."""

    device_id: str
    tenant_id: str
    username: str
    password: str

    @property
    def telemetry_topic(self) -> str:
        return str(Topic(self.tenant_id, self.device_id, Channel.TELEMETRY))

    @property
    def command_topic(self) -> str:
        return str(Topic(self.tenant_id, self.device_id, Channel.COMMAND))

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.device_id,
            "tenant": self.tenant_id,
            "username": self.username,
            "password": self.password,
            "telemetry_topic": self.telemetry_topic,
            "command_topic": self.command_topic,
        }


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        kind, n, r, p, salt_b64, key_b64 = stored.split("$")
        salt, key = base64.b64decode(salt_b64), base64.b64decode(key_b64)
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(key))
    return hmac.compare_digest(got, key)


def locked_account(conn: Connection, device_id: str) -> tuple[str, str | None, bool]:
    """(tenant, username or None, revoked), locking the device row against a parallel issue
    (credentials and certificates both start here)."""
    row = fetch_one(
        conn,
        """SELECT d.tenant_id, c.username, c.revoked_at IS NOT NULL
           FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id
           WHERE d.id = %s FOR UPDATE OF d""",
        (device_id,),
    )
    if row is None:
        raise DeviceNotFoundError(device_id)
    return row[0], row[1], bool(row[2])


def issue_credentials(
    conn: Connection, device_id: str, *, replace: bool = False
) -> IssuedCredentials:
    """A new password for a registered device.

    Refuses a device that already has an active account unless ``replace`` (what a simulator
    does at every start, since it cannot know the old plaintext); a revoked account is
    reinstated with the new password, which is how an operator re-admits a device.
    """
    with conn.transaction():
        tenant, username, revoked = locked_account(conn, device_id)
        if username is not None and not revoked and not replace:
            raise CredentialError(
                device_id,
                f"device {device_id!r} already has credentials; "
                f"`ioc devices rotate {device_id}` issues a new password",
            )
        username = username or device_id
        taken = fetch_one(
            conn, "SELECT role FROM broker_service_accounts WHERE username = %s", (username,)
        )
        if taken:
            raise CredentialError(
                device_id, f"username {username!r} is the {taken[0]} service account's"
            )
        password = secrets.token_urlsafe(_PASSWORD_BYTES)
        conn.execute(
            """INSERT INTO device_credentials (device_id, username, password_hash, broker_hash)
               VALUES (%(id)s, %(u)s, %(ph)s, %(bh)s)
               ON CONFLICT (device_id) DO UPDATE SET
                 password_hash = EXCLUDED.password_hash, broker_hash = EXCLUDED.broker_hash,
                 rotated_at = now(), revoked_at = NULL""",
            {
                "id": device_id,
                "u": username,
                "ph": hash_password(password),
                "bh": mosquitto_hash(password),
            },
        )
    return IssuedCredentials(device_id, tenant, username, password)


def rotate_credentials(conn: Connection, device_id: str) -> IssuedCredentials:
    """A new password for an active account; the old one stops working at the next sync."""
    with conn.transaction():
        _, username, revoked = locked_account(conn, device_id)
        if username is None:
            raise CredentialError(device_id, f"device {device_id!r} has no credentials to rotate")
        if revoked:
            raise CredentialError(
                device_id,
                f"device {device_id!r} is revoked; re-admit it with `ioc devices add` "
                "(same id) to issue a new password",
            )
        return issue_credentials(conn, device_id, replace=True)


def revoke_credentials(conn: Connection, device_id: str) -> bool:
    """Revoke the account and every client certificate; False if it was already revoked."""
    with conn.transaction():
        _, username, revoked = locked_account(conn, device_id)
        if username is None:
            raise CredentialError(device_id, f"device {device_id!r} has no credentials")
        revoke_certificates(conn, device_id)
        if revoked:
            return False
        conn.execute(
            "UPDATE device_credentials SET revoked_at = now() WHERE device_id = %s", (device_id,)
        )
    return True


def revoke_certificates(conn: Connection, device_id: str) -> None:
    """Every unrevoked client certificate of the device; the CRL picks them up on sync."""
    conn.execute(
        "UPDATE device_certificates SET revoked_at = now() "
        "WHERE device_id = %s AND revoked_at IS NULL",
        (device_id,),
    )


def verify_device_password(conn: Connection, username: str, password: str) -> bool:
    """Check a device password against our own hash (the broker checks its own copy)."""
    row = fetch_one(
        conn,
        "SELECT password_hash FROM device_credentials WHERE username = %s AND revoked_at IS NULL",
        (username,),
    )
    return row is not None and verify_password(row[0], password)
