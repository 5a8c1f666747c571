"""Every route x every role x two tenants: no leak across tenants or roles.

Routes are enumerated from the app's OpenAPI document, so a router added later (alerts,
forecasts, the wall's) is covered without touching this file. Path and required query
parameters are filled with the *other* tenant's resources (bravo's), and every principal bound
to tenant alpha must then either be refused or answer without a trace of bravo. Anonymous
callers get 401 except on the public routes; read-only roles never change anything.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ioc_api import create_app
from tests.api.seed import BRAVO_DEVICE, seed
from tests.conftest import api_key_headers

PUBLIC = re.compile(r"^/(health|open-data/.*)$")
LOGIN = "/auth/token"
STREAMS = {"/live"}
# (role, tenant): alpha-bound principals must never see bravo; city-wide ones may.
PRINCIPALS = [
    ("operator", None), ("environment_staff", None), ("viewer", None),
    ("agency_admin", "alpha"), ("viewer", "alpha"), ("operator", "alpha"),
    ("environment_staff", "alpha"), ("open_data", None),
]  # fmt: skip
READ_ONLY = {"viewer", "open_data"}
# Routes that answer any authenticated caller by design (who am I).
SELF = {"/auth/me"}
# POSTs that compute rather than change anything, hence leave no audit row.
NOT_WRITES = {"/thresholds/preview"}


def bravo_values(conn) -> dict[str, str]:
    def one(query: str) -> str:
        return str(conn.execute(query).fetchone()[0])

    return {
        "device_id": BRAVO_DEVICE,
        "tenant_id": "bravo",
        "tenant": "bravo",
        "kind": "traffic_camera",
        "metric": "count_car_in",
        "entity_id": f"urn:ngsi-ld:TrafficFlowObserved:{BRAVO_DEVICE}",
        "id": f"urn:ngsi-ld:TrafficFlowObserved:{BRAVO_DEVICE}",
        "type": "TrafficFlowObserved",
        "commune_code": one(f"SELECT commune_code FROM devices WHERE id = '{BRAVO_DEVICE}'"),
        "commune": one(f"SELECT commune_code FROM devices WHERE id = '{BRAVO_DEVICE}'"),
        "command_id": one(f"SELECT id FROM commands WHERE device_id = '{BRAVO_DEVICE}'"),
        "rule_id": one("SELECT id FROM threshold_rules WHERE scope_value = 'bravo'"),
        "alert_id": one(f"SELECT id FROM alerts WHERE device_id = '{BRAVO_DEVICE}'"),
        "fmt": "json",
    }


def requests(app, values: dict[str, str]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, template, url, query) for every operation of the OpenAPI document (every
    route a client can know of); DELETEs last, since they change state."""
    out = []
    for template, operations in app.openapi()["paths"].items():
        for method, op in operations.items():
            params = op.get("parameters", [])
            url = template
            for name in re.findall(r"{(\w+)}", template):
                url = url.replace("{%s}" % name, values.get(name, "x"))  # noqa: UP031
            query = {p["name"]: values.get(p["name"], "x") for p in params
                     if p["in"] == "query" and p.get("required")}  # fmt: skip
            # Optional filters that name the other tenant's things are tried too.
            for p in params:
                if p["in"] == "query" and p["name"] in ("tenant", "device_id", "id"):
                    query.setdefault(p["name"], values[p["name"]])
            out.append((method.upper(), template, url, query))
    return sorted(out, key=lambda r: r[0] == "DELETE")


@pytest.fixture
def setup(db_settings, conn):
    seed(conn, db_settings, minutes=90)
    settings = db_settings.model_copy(update={"api_live_sweep": False,
                                              "api_rate_limit_per_s": 0.0,
                                              "api_rate_limit_anonymous_per_s": 0.0})  # fmt: skip
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, app, bravo_values(conn)


def call(client, method: str, url: str, query: dict, headers: dict):
    body = None if method in ("GET", "DELETE") else {}
    return client.request(method, url, params=query, json=body, headers=headers)


def test_every_route_every_role_every_tenant(setup, conn):
    client, app, values = setup
    failures: list[str] = []
    city_saw_bravo = 0
    ops = requests(app, values)
    assert len(ops) >= 35, "the app's routes were not enumerated"
    for method, template, url, query in ops:
        public = bool(PUBLIC.match(template))
        anonymous = call(client, method, url, query, {})
        if anonymous.status_code >= 500:
            failures.append(f"anonymous {method} {template}: {anonymous.status_code}")
        if not public and template != LOGIN and anonymous.status_code != 401:
            failures.append(f"anonymous {method} {template} answered {anonymous.status_code}")
        if template == LOGIN:
            continue
        for role, tenant in PRINCIPALS:
            who = f"{role}@{tenant or 'city'} {method} {url} {query}"
            if template in STREAMS and role != "open_data":
                continue  # an open stream never ends; its tenancy is tested in test_live
            headers = api_key_headers(conn, role, tenant)
            audited = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
            response = call(client, method, url, query, headers)
            status, ok = response.status_code, response.status_code < 300
            write = method != "GET" and template not in NOT_WRITES
            if (
                write
                and ok
                and conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] <= audited
            ):
                failures.append(f"{who}: a write ({status}) left no audit-log row")
            if status >= 500:
                failures.append(f"{who}: {status} {response.text[:200]}")
            elif tenant == "alpha" and ok and not public and "bravo" in response.text:
                # (open data is public by design: everyone sees every tenant's aggregates)
                failures.append(f"{who}: leaked bravo: {response.text[:200]}")
            elif role in READ_ONLY and method != "GET" and ok:
                failures.append(f"{who}: a read-only role changed something ({status})")
            elif role == "open_data" and ok and not public and template not in SELF:
                failures.append(f"{who}: open_data reached a non-public route ({status})")
            elif tenant is None and role != "open_data" and ok and "bravo" in response.text:
                city_saw_bravo += 1
    assert not failures, "\n".join(failures)
    # The matrix is only meaningful if bravo's resources really were reachable by the city.
    assert city_saw_bravo >= 20, city_saw_bravo
    # ... and writes really happened (the operator's DELETEs), each audited with its before.
    deleted = conn.execute(
        "SELECT count(*) FROM audit_log WHERE before IS NOT NULL AND "
        "action IN ('deleted', 'retired', 'disable', 'delete')"
    ).fetchone()[0]
    assert deleted >= 1
