"""Who may call the API: users with short-lived tokens, machine clients with API keys."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from devices.registry import ensure_tenant
from ioc_api import create_app
from ioc_api.auth.accounts import create_api_key, create_user, revoke_api_key
from ioc_api.auth.principal import Role
from ioc_core.errors import IocError

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(db_settings, conn):
    ensure_tenant(conn, "sxd", "Sở Xây dựng")
    create_user(conn, username="op", password=PASSWORD, role=Role.OPERATOR)
    create_user(conn, username="lights", password=PASSWORD, role=Role.AGENCY_ADMIN, tenant_id="sxd")
    with TestClient(create_app(db_settings)) as test_client:
        yield test_client


def login(client, username, password=PASSWORD):
    return client.post("/auth/token", data={"username": username, "password": password})


def test_password_flow_issues_a_short_lived_token(client, db_settings):
    response = login(client, "lights")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == db_settings.jwt_ttl_s
    claims = jwt.decode(body["access_token"], db_settings.jwt_secret, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == db_settings.jwt_ttl_s <= 3600
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"name": "lights", "role": "agency_admin", "tenant_id": "sxd"}


@pytest.mark.parametrize(
    ("username", "password"), [("op", "wrong password!"), ("nobody", PASSWORD)]
)
def test_wrong_credentials_are_refused_alike(client, username, password):
    response = login(client, username, password)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "wrong username or password"


def test_no_credentials_and_bad_tokens_get_401(client, db_settings):
    assert client.get("/auth/me").status_code == 401
    assert client.get("/auth/me", headers={"Authorization": "Bearer garbage"}).status_code == 401
    expired = jwt.encode(
        {"sub": "op", "role": "operator", "tenant": None, "iat": 1, "exp": int(time.time()) - 5,
         "iss": "haiphong-ioc"},
        db_settings.jwt_secret, algorithm="HS256",
    )  # fmt: skip
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"].lower()
    forged = jwt.encode(
        {"sub": "op", "role": "operator", "tenant": None, "iat": 1, "exp": 2**31,
         "iss": "haiphong-ioc"},
        "another secret of sixteen+ chars", algorithm="HS256",
    )  # fmt: skip
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_api_keys_work_until_revoked(client, conn):
    key, principal = create_api_key(conn, name="envisoft-sync", role=Role.VIEWER)
    assert client.get("/auth/me", headers={"X-API-Key": key}).json()["role"] == "viewer"
    assert client.get("/auth/me", headers={"X-API-Key": key[:-2] + "xx"}).status_code == 401
    revoke_api_key(conn, principal.name.removeprefix("key:"))
    assert client.get("/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_passwords_are_stored_as_argon2id(client, conn):
    (stored,) = conn.execute("SELECT password_hash FROM users WHERE username='op'").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_the_public_dev_secret_is_refused_in_production(db_settings):
    with pytest.raises(IocError, match="IOC_JWT_SECRET"):
        create_app(db_settings.model_copy(update={"environment": "production"}))
    secret = {"environment": "production", "jwt_secret": "a-real-secret-of-our-own"}
    create_app(db_settings.model_copy(update=secret))
