"""Set the city up at scale in a private stack and measure the wall against it."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devices.registry import ensure_tenant
from ioc_api.auth.accounts import create_api_key
from ioc_api.auth.principal import Role
from ioc_core.db import connect_db
from ioc_core.errors import IocError
from ioc_core.stack.temporary import settings_env, temporary_stack
from ioc_dashboard.bench.browser import measure_wall
from ioc_dashboard.bench.fleet import TENANTS, fleet_csv


@dataclass(frozen=True)
class WallBenchConfig:
    devices: int = 20_000
    seconds: float = 20.0
    refresh_ms: int = 3000
    seed: int = 1
    viewport: tuple[int, int] = (1920, 1080)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise IocError(f"{url} exited: {log.read_text()[-1500:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise IocError(f"{url} did not answer in {timeout:.0f} s")


def _liven(conn: Any, *, seed: int) -> dict[str, int]:
    """Fresh last-seen times for most of the fleet, silence for some, and open alerts of
    each severity: the map's layers then have something to tell apart."""
    rng = random.Random(seed)
    conn.execute(
        """UPDATE devices SET last_seen = CASE WHEN random() < 0.85 THEN now()
                                             WHEN random() < 0.7 THEN now() - interval '1 day'
                                             ELSE NULL END"""
    )
    ids = [r[0] for r in conn.execute("SELECT id FROM devices ORDER BY id")]
    picked = rng.sample(ids, k=min(300, len(ids)))
    severities = rng.choices(["advisory", "warning", "critical"], weights=[5, 4, 1], k=len(picked))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO alerts (kind, severity, device_id, tenant_id, title, source)
               SELECT 'threshold', %s, id, tenant_id, 'bench', 'bench'
               FROM devices WHERE id = %s""",
            list(zip(severities, picked, strict=True)),
        )
    return {s: severities.count(s) for s in ("advisory", "warning", "critical")}


def _churn(settings: Any, stop: threading.Event, changes: list[int]) -> None:
    """A live city while the browser watches: every second ~100 devices change status, so
    every refresh tick brings a different map (the worst case: each tick redraws)."""
    with connect_db(settings) as conn:
        conn.autocommit = True
        while not stop.wait(1.0):
            cur = conn.execute(
                """UPDATE devices SET last_seen = CASE WHEN last_seen > now() - interval '1 hour'
                                                   THEN now() - interval '1 day' ELSE now() END
                   WHERE id IN (SELECT id FROM devices TABLESAMPLE SYSTEM (0.5))"""
            )
            changes.append(cur.rowcount)


def _api_timings(api_url: str, key: str) -> dict[str, Any]:
    """The wall's reads against the naive one (every device, every tick)."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=api_url, headers={"X-API-Key": key}, timeout=60) as http:
        for name, path in (("wall_map", "/wall/map?layer=alerts"), ("wall_kpis", "/wall/kpis"),
                           ("all_devices", "/devices")):  # fmt: skip
            times, size = [], 0
            for _ in range(5):
                start = time.perf_counter()
                response = http.get(path)
                times.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()
                size = len(response.content)
            out[f"{name}_ms_p50"] = round(statistics.median(times), 1)
            out[f"{name}_kb"] = round(size / 1024, 1)
        body = http.get("/wall/map").json()
        out["clusters_at_city_view"] = len(body["clusters"])
    return out


def run_wall_benchmark(cfg: WallBenchConfig) -> dict[str, Any]:
    with temporary_stack() as s:
        with connect_db(s) as conn:
            for tenant in TENANTS:
                ensure_tenant(conn, tenant, tenant)
            operator, _ = create_api_key(conn, name="bench-operator", role=Role.OPERATOR)
            viewer, _ = create_api_key(conn, name="bench-wall", role=Role.VIEWER)
            conn.commit()
        env = {**settings_env(s), "IOC_WALL_API_KEY": viewer,
               "IOC_WALL_REFRESH_MS": str(cfg.refresh_ms)}  # fmt: skip
        procs: list[subprocess.Popen[bytes]] = []
        wall_url = f"http://{s.dashboard_host}:{s.dashboard_port}/"
        try:
            for name, argv, url in (
                ("api", [sys.executable, "-m", "ioc_core.cli.main", "api", "run"],
                 f"{s.api_url}/health"),
                ("wall", [sys.executable, "-m", "ioc_dashboard"], wall_url),
            ):  # fmt: skip
                log = s.var_dir / f"{name}.log"
                with log.open("wb") as out:
                    procs.append(subprocess.Popen(argv, env=env, stdout=out,
                                                  stderr=subprocess.STDOUT))  # fmt: skip
                _wait_http(url, procs[-1], log)
            data, kinds = fleet_csv(cfg.devices, seed=cfg.seed)
            start = time.perf_counter()
            headers = {"X-API-Key": operator, "Content-Type": "text/csv"}
            answer = httpx.post(f"{s.api_url}/devices/import", content=data, timeout=900,
                                headers=headers)  # fmt: skip
            if answer.status_code != 200:
                raise IocError(f"import refused: {answer.status_code} {answer.text[:500]}")
            seed_s = time.perf_counter() - start
            with connect_db(s) as conn:
                alerts = _liven(conn, seed=cfg.seed)
                conn.commit()
            api = _api_timings(s.api_url, viewer)
            stop = threading.Event()
            changes: list[int] = []
            churn = threading.Thread(target=_churn, args=(s, stop, changes), daemon=True)
            churn.start()
            try:
                browser = measure_wall(wall_url, seconds=cfg.seconds, viewport=cfg.viewport)
            finally:
                stop.set()
                churn.join(10)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(15)
    return {
        "bench": "wall",
        "devices": cfg.devices,
        "kinds": kinds,
        "open_alerts": alerts,
        "import_s": round(seed_s, 1),
        "refresh_ms_configured": cfg.refresh_ms,
        "viewport": f"{cfg.viewport[0]}x{cfg.viewport[1]}",
        **api,
        "status_changes_per_s": round(sum(changes) / max(len(changes), 1)),
        **browser,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
