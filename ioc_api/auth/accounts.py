"""Users and API keys in the database: creating them and checking what a caller presents."""

from __future__ import annotations

from psycopg import Connection
from psycopg.rows import tuple_row

from ioc_api.auth.principal import Principal, Role
from ioc_api.auth.secrets import (
    hash_api_key,
    hash_password,
    new_api_key,
    same_hash,
    split_api_key,
    verify_password,
)

# Verified against when the user does not exist, so a login takes as long for an unknown name
# as for a wrong password (no user enumeration by timing).
_DUMMY_HASH = hash_password("not-a-real-password")


def create_user(
    conn: Connection, *, username: str, password: str, role: Role, tenant_id: str | None = None,
    display_name: str | None = None,
) -> Principal:  # fmt: skip
    conn.execute(
        """INSERT INTO users (username, password_hash, role, tenant_id, display_name)
           VALUES (%s, %s, %s, %s, %s)""",
        (username, hash_password(password), role.value, tenant_id, display_name),
    )
    return Principal(username, role, tenant_id)


def authenticate(conn: Connection, username: str, password: str) -> Principal | None:
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT password_hash, role, tenant_id FROM users "
            "WHERE username = %s AND disabled_at IS NULL",
            (username,),
        ).fetchone()
    if row is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(row[0], password):
        return None
    return Principal(username, Role(row[1]), row[2])


def create_api_key(
    conn: Connection, *, name: str, role: Role, tenant_id: str | None = None
) -> tuple[str, Principal]:
    """Returns the key (shown once) and who it acts as."""
    key, prefix, key_hash = new_api_key()
    conn.execute(
        "INSERT INTO api_keys (prefix, key_hash, name, role, tenant_id) VALUES (%s,%s,%s,%s,%s)",
        (prefix, key_hash, name, role.value, tenant_id),
    )
    return key, Principal(f"key:{prefix}", role, tenant_id)


def principal_for_key(conn: Connection, key: str) -> Principal | None:
    prefix = split_api_key(key)
    if prefix is None:
        return None
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE prefix = %s AND revoked_at IS NULL "
            "RETURNING key_hash, role, tenant_id",
            (prefix,),
        ).fetchone()
    if row is None or not same_hash(row[0], hash_api_key(key)):
        return None
    return Principal(f"key:{prefix}", Role(row[1]), row[2])


def revoke_api_key(conn: Connection, prefix: str) -> bool:
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE prefix = %s AND revoked_at IS NULL",
        (prefix,),
    )
    return cur.rowcount == 1
