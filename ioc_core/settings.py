"""One typed settings object for every process of the stack.

Built once at start-up (``Settings()``) and passed down; nothing reads the environment at import
time. Every value can come from an ``IOC_*`` environment variable or a ``.env`` file in the working
directory, so the same code runs against the private stack (the defaults) or against external
PostgreSQL and Mosquitto in production (set ``IOC_POSTGRES_DSN`` / ``IOC_MQTT_HOST`` and turn
``IOC_MANAGE_POSTGRES`` / ``IOC_MANAGE_MQTT`` off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Ports chosen away from the system services this machine also runs (PostgreSQL 5432,
# Mosquitto 1883) so the private stack never collides with them.
DEFAULT_PG_PORT = 55432
DEFAULT_MQTT_PORT = 51883
DEFAULT_MQTT_TLS_PORT = 58883

# --- MQTT security (module level) ---------------------------------------------------------
# Environments where an anonymous broker is acceptable: a developer's machine, the test suite
# and `ioc demo`, all on 127.0.0.1. Anything else (staging, production) must be "secure".
MQTT_OPEN_ENVIRONMENTS = frozenset({"dev", "test", "demo"})


def _default_mqtt_security(data: dict[str, Any]) -> Literal["open", "secure"]:
    """Secure unless the environment is one where anonymous access is allowed."""
    return "open" if data.get("environment", "dev") in MQTT_OPEN_ENVIRONMENTS else "secure"


# --- end MQTT security (module level) ------------------------------------------------------


class Settings(BaseSettings):
    """Configuration of the whole stack; field names map to ``IOC_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="IOC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: str = Field("dev", description="dev, test or production")
    var_dir: Path = Field(Path("var"), description="Data, logs, pids and generated configs")

    # --- PostgreSQL + TimescaleDB -------------------------------------------------------
    manage_postgres: bool = Field(True, description="`ioc stack up` starts a private cluster")
    pg_bin_dir: Path = Path("/usr/lib/postgresql/15/bin")
    pg_host: str = "127.0.0.1"
    pg_port: int = DEFAULT_PG_PORT
    pg_user: str = "ioc"
    pg_password: str = ""
    pg_database: str = "ioc"
    postgres_dsn_override: str | None = Field(
        None,
        validation_alias="IOC_POSTGRES_DSN",
        description="Full DSN of an external database; wins over the pg_* fields",
    )

    # --- Mosquitto -----------------------------------------------------------------------
    manage_mqtt: bool = Field(True, description="`ioc stack up` starts a private broker")
    mosquitto_bin: Path = Path("/usr/sbin/mosquitto")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = DEFAULT_MQTT_PORT
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    # Broker limits we generate into mosquitto.conf. Mosquitto's defaults (20 in flight,
    # 1,000 queued per client) throttle a consumer that acknowledges only after its database
    # commit and drop QoS 1 messages for a consumer that is briefly away; see docs/mqtt.md.
    mqtt_max_inflight_messages: int = Field(20_000, ge=0)
    mqtt_max_queued_messages: int = Field(2_000_000, ge=0)
    mqtt_max_packet_size: int = Field(65_536, ge=1024)

    # --- MQTT security --------------------------------------------------------------------
    # Broker authentication and authorisation (docs/security.md). "open": anonymous clients,
    # no ACL, no TLS listener (dev, test and demo only). "secure": per-device accounts and an
    # ACL generated from the registry, service accounts below, a TLS listener and optionally
    # a mutual-TLS one. Unset, it is "secure" everywhere but dev/test/demo.
    mqtt_security: Literal["open", "secure"] = Field(default_factory=_default_mqtt_security)
    # Listeners of the managed broker in secure mode; 0 turns one off. TLS binds to
    # mqtt_tls_host (default: mqtt_host) so devices on the city network can reach it while the
    # plain listener stays on loopback for the backend.
    mqtt_tls_host: str | None = None
    mqtt_tls_port: int = Field(DEFAULT_MQTT_TLS_PORT, ge=0)
    mqtt_mtls_port: int = Field(0, ge=0, description="Mutual-TLS listener; 0 = off")
    # CA, server certificate and CRL (ca.crt, ca.key, server.crt, server.key, crl.pem);
    # generated at `ioc stack up` when absent. Default: <var_dir>/tls.
    mqtt_tls_dir: Path | None = None
    mqtt_tls_server_names: list[str] = Field(
        default_factory=list, description="Extra DNS names / IPs in the server certificate"
    )
    mqtt_client_cert_days: int = Field(825, ge=1, le=3650)
    # Service accounts. The account named by mqtt_username (what every backend process
    # connects with) gets the union of the ingest and API rights; the two narrower ones
    # exist so each process can be given only what it needs. A role without a password is
    # kept as last stored in the database (a CLI run without the secret does not drop it).
    mqtt_ingest_username: str = "ioc.ingest"
    mqtt_ingest_password: SecretStr | None = None
    mqtt_api_username: str = "ioc.api"
    mqtt_api_password: SecretStr | None = None
    # External broker: run after the password/ACL files are rewritten, e.g.
    # "systemctl reload mosquitto" (no shell; split like a command line).
    mqtt_reload_command: str | None = None
    # --- end MQTT security ----------------------------------------------------------------

    # --- Services ------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url_override: str | None = Field(None, validation_alias="IOC_API_URL")
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8050

    # --- Ingest --------------------------------------------------------------------------
    # Stable per worker: the broker keeps this client's session (and queued messages) across
    # restarts. With several workers, give each its own id and the same shared group.
    ingest_client_id: str = "ioc-ingest"
    ingest_shared_group: str | None = Field(
        None, description="MQTT shared-subscription group ($share/<group>/...) for N workers"
    )
    ingest_freshness_interval_s: float = Field(
        1.0,
        ge=0,
        description="Write devices.last_seen at most this often (0: with every batch)",
    )
    ingest_publish_readings: bool = Field(
        True,
        description="After each commit, publish the batch's readings on "
        "ioc/v1/_readings/<client id> (the alert engine's input)",
    )
    ingest_metrics_host: str = "127.0.0.1"
    ingest_metrics_port: int = Field(9108, ge=0, description="Prometheus /metrics; 0 turns it off")
    ingest_max_pending: int = Field(
        40_000, ge=1, description="Decoded messages waiting to be written"
    )
    ingest_batch_size: int = Field(5_000, ge=1, description="Flush when this many readings wait")
    ingest_flush_interval_s: float = Field(
        0.25, gt=0, description="...or when the oldest is this old"
    )
    ingest_max_payload_bytes: int = Field(16_384, ge=64)
    ingest_max_future_s: float = Field(300.0, ge=0)
    ingest_max_past_s: float = Field(7 * 86_400.0, ge=0)

    # --- Rollups and retention -------------------------------------------------------------
    # `ioc analytics run` (docs/rollups.md). Refresh: every rollup_interval_s, buckets from
    # watermark - rollup_safety_margin_s up to now - rollup_lag_s (the lag lets the last
    # seconds' batches land first; the margin re-reads what a slow batch may have added behind
    # the watermark). At most rollup_max_span_hours per transaction, so a first run over a
    # large backlog commits in steps instead of one huge transaction.
    rollup_interval_s: float = Field(60.0, gt=0)
    rollup_lag_s: float = Field(30.0, ge=0)
    rollup_safety_margin_s: float = Field(300.0, ge=0)
    rollup_max_span_hours: int = Field(24, ge=1)
    # Retention, checked every retention_interval_s; None keeps a table forever. Telemetry is
    # dropped by whole 1-day chunks, the rollups by their 7- and 90-day chunks.
    retention_interval_s: float = Field(3600.0, gt=0)
    retention_telemetry_days: int | None = Field(90, ge=1)
    retention_telemetry_1m_days: int | None = Field(365, ge=1)
    retention_telemetry_1h_days: int | None = Field(3650, ge=1)
    retention_dead_letters_days: int | None = Field(30, ge=1)
    # Must exceed ingest's 7-day window for late readings, or late data could go unnoticed.
    retention_touched_hours_days: int | None = Field(30, ge=8)
    # Plain tables are trimmed by DELETE in batches of this many rows (short locks, small WAL).
    retention_delete_batch: int = Field(10_000, ge=1)

    @field_validator(
        "retention_telemetry_days",
        "retention_telemetry_1m_days",
        "retention_telemetry_1h_days",
        "retention_dead_letters_days",
        "retention_touched_hours_days",
        mode="before",
    )
    @classmethod
    def _forever(cls, value: object) -> object:
        # An environment variable cannot be None: "" or "forever" keeps the table forever.
        if isinstance(value, str) and value.strip().lower() in {"", "none", "forever"}:
            return None
        return value

    # --- end Rollups and retention ---------------------------------------------------------

    # --- API security (auth) -------------------------------------------------------------
    # Signs the API's access tokens. The dev default is public knowledge: outside dev, test and
    # demo a real secret must be set (checked when the API starts).
    jwt_secret: str = Field("dev-insecure-jwt-secret-change-me", min_length=16)
    jwt_ttl_s: int = Field(900, ge=60, le=86_400, description="Access-token lifetime")
    cors_origins: list[str] = Field(default_factory=list)
    wall_api_key: str | None = Field(None, description="The wall's API key (a viewer's)")

    @field_validator("var_dir")
    @classmethod
    def _absolute_var_dir(cls, value: Path) -> Path:
        # Child processes run in other working directories (and as other users), so every
        # path we hand them must be absolute.
        return value.expanduser().resolve()

    # --- MQTT security (validation) --------------------------------------------------------
    @field_validator("mqtt_security")
    @classmethod
    def _no_open_broker_outside_dev(cls, value: str, info: ValidationInfo) -> str:
        # An anonymous broker is refused wherever it could meet real devices.
        environment = info.data.get("environment", "dev")
        if value == "open" and environment not in MQTT_OPEN_ENVIRONMENTS:
            raise ValueError(
                f"IOC_MQTT_SECURITY=open (anonymous MQTT, no ACL) is refused when "
                f"IOC_ENVIRONMENT={environment}; it is only for "
                f"{', '.join(sorted(MQTT_OPEN_ENVIRONMENTS))}. Use IOC_MQTT_SECURITY=secure."
            )
        return value

    # --- Derived -------------------------------------------------------------------------
    @property
    def postgres_dsn(self) -> str:
        if self.postgres_dsn_override:
            return self.postgres_dsn_override
        return self.dsn_for(self.pg_database)

    def dsn_for(self, database: str) -> str:
        """DSN of another database on the same server (tests use one database per test)."""
        if self.postgres_dsn_override:
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            params = conninfo_to_dict(self.postgres_dsn_override)
            params["dbname"] = database
            return make_conninfo("", **params)
        auth = quote(self.pg_user, safe="")
        if self.pg_password:
            auth += ":" + quote(self.pg_password, safe="")
        return f"postgresql://{auth}@{self.pg_host}:{self.pg_port}/{quote(database, safe='')}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{self.mqtt_host}:{self.mqtt_port}"

    @property
    def api_url(self) -> str:
        return self.api_url_override or f"http://{self.api_host}:{self.api_port}"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def pg_data_dir(self) -> Path:
        return self.var_dir / "postgres" / "data"

    @property
    def mqtt_dir(self) -> Path:
        return self.var_dir / "mosquitto"

    # --- MQTT security (derived) -----------------------------------------------------------
    @property
    def tls_dir(self) -> Path:
        return (self.mqtt_tls_dir or self.var_dir / "tls").expanduser().resolve()

    @property
    def mqtt_secure(self) -> bool:
        return self.mqtt_security == "secure"

    # --- api ---
    # Rate limits of the HTTP API (docs/security.md): a token bucket per credential, and per
    # client address for calls without one (login included). Per process: N uvicorn workers
    # allow up to N times these. A rate of 0 turns that limit off.
    api_rate_limit_per_s: float = Field(
        20.0, ge=0, description="Sustained requests/s per credential (API key or token)"
    )
    api_rate_limit_burst: int = Field(200, ge=1, description="Requests a credential may burst")
    api_rate_limit_anonymous_per_s: float = Field(
        5.0, ge=0, description="Sustained requests/s per client address without credentials"
    )
    api_rate_limit_anonymous_burst: int = Field(
        60, ge=1, description="Requests an anonymous client address may burst"
    )
    api_live_sweep: bool = Field(
        True, description="Run the latest-value sweep and the /live hub in this API process"
    )
    open_data_max_age_s: int = Field(
        300, ge=0, description="Cache-Control max-age of the open-data exports"
    )
    api_public_docs: bool = Field(
        True, description="Serve /openapi.json, /docs and /redoc (no data, no credentials)"
    )
    # --- end api ---

    # --- alerts ---------------------------------------------------------------------------
    # The alert engine, `ioc analytics alerts run` (docs/alerts.md).
    alerts_client_id: str = Field("ioc-alerts", description="MQTT client id of the engine")
    alerts_shared_group: str | None = Field(
        "ioc-alerts", description="Shared-subscription group for readings; null: plain"
    )
    alerts_input: Literal["readings", "telemetry"] = Field(
        "readings",
        description="readings: ingest's stored batches (ioc/v1/_readings/+, decoded once); "
        "telemetry: the devices' own topics, decoded again by the engine",
    )
    alerts_detectors: list[str] = Field(
        default_factory=list,
        description="Detectors this engine runs (names or globs: thresholds, connectivity, "
        "entry-point names of ioc.detectors; -name leaves one out); empty: all",
    )
    alerts_nice: int = Field(
        0, ge=0, le=19, description="CPU niceness this engine process takes at start"
    )
    alerts_merge_idle_s: float = Field(
        1.0, gt=0, description="A readings stream silent this long stops holding the others "
        "back (analytics/alerts/merge.py)",
    )  # fmt: skip
    alerts_rules_reload_s: float = Field(15.0, gt=0, description="Re-read threshold rules")
    alerts_tick_s: float = Field(1.0, gt=0, description="Watermark ticks and escalation pass")
    alerts_escalate_after_s: dict[str, float] = Field(
        default_factory=lambda: {"critical": 900.0, "warning": 3600.0, "advisory": 14400.0},
        description="Severity -> seconds unacknowledged before each escalation step",
    )
    alerts_escalation_max_level: int = Field(3, ge=0, description="Escalation steps at most")
    alerts_notify_mqtt: bool = Field(True, description="Publish on ioc/v1/_alerts/...")
    alerts_webhook_urls: list[str] = Field(
        default_factory=list, description="Webhook URLs (JSON list in IOC_ALERTS_WEBHOOK_URLS)"
    )
    alerts_webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of X-IOC-Signature; required with webhook URLs"
    )
    alerts_webhook_timeout_s: float = Field(5.0, gt=0)
    alerts_retry_first_s: float = Field(1.0, gt=0, description="First retry delay; doubles")
    alerts_retry_max_s: float = Field(600.0, gt=0, description="Longest retry delay")
    alerts_max_attempts: int = Field(12, ge=1, description="Then a delivery is marked failed")
    alerts_outbox_poll_s: float = Field(1.0, gt=0, description="Outbox look-up when idle")
    alerts_outbox_keep_days: int = Field(
        30, ge=1, description="Delivered (or given-up) notifications are deleted after this"
    )
    # --- end alerts -----------------------------------------------------------------------

    # --- quality ---
    # Data-quality, lighting and traffic detectors of the alert engine (docs/quality.md).
    quality_flatline_min_count: int = Field(
        10, ge=2, description="Identical readings in a row before a flat-line alert"
    )
    quality_flatline_min_s: float = Field(
        900.0, ge=0, description="...and at least this many seconds of event time"
    )
    quality_spike_k: float = Field(
        6.0, gt=0, description="Hampel limit in robust standard deviations (1.4826 x MAD)"
    )
    quality_spike_window: int = Field(15, ge=5, description="Readings in the Hampel window")
    quality_dropout_factor: float = Field(
        4.0, gt=1, description="Expected reporting gaps of silence before a dropout"
    )
    quality_dropout_min_s: float = Field(
        240.0, ge=0, description="Silence shorter than this is never a dropout"
    )
    quality_out_of_range_poll_s: float = Field(
        2.0, ge=0, description="Dead-letter tail period for out-of-range values; 0 turns it off"
    )
    quality_pm_ratio_relative: float = Field(
        0.10, ge=0, description="PM2.5 may exceed PM10 by this share of PM10..."
    )
    quality_pm_ratio_absolute: float = Field(
        2.0, ge=0, description="...plus this many ug/m3 before a pair is inconsistent"
    )
    quality_anomaly_z: float = Field(
        5.0, gt=0, description="Robust z-score opening an anomaly (own profile or neighbours)"
    )
    quality_anomaly_profile_days: int = Field(
        28, ge=1, description="Days of telemetry_1h the own-profile detector learns from"
    )
    quality_anomaly_series: str | None = Field(
        None, description="kind.metric list the anomaly detectors watch; unset: the defaults"
    )
    quality_neighbour_radius_km: float = Field(
        40.0, gt=0, description="Stations of the same kind this close are neighbours"
    )
    quality_lamp_min_power_w: float = Field(
        5.0, ge=0, description="A street light drawing less is dark"
    )
    quality_lighting_margin_s: float = Field(
        1800.0, ge=0, description="How far into night/day the sun decides 'should be on/off'"
    )
    quality_cable_collapse_fraction: float = Field(
        0.3, gt=0, lt=1, description="Cabinet power below this share of its lit power"
    )
    quality_congestion_speed_kmh: float = Field(15.0, gt=0)
    quality_congestion_occupancy_pct: float = Field(60.0, gt=0, le=100)
    # --- end quality ---
    # --- wall ------------------------------------------------------------------------------
    wall_session_secret: SecretStr | None = Field(
        None,
        description="Signs the wall's session cookie (IOC_WALL_SESSION_SECRET); random per "
        "start when unset, which logs everyone out on a restart",
    )
    wall_refresh_ms: int = Field(
        3000, ge=1000, le=60_000, description="Map, KPI and alert refresh period of the wall"
    )
    wall_tile_url: str | None = Field(
        None,
        description="XYZ raster tiles under the wall's map, e.g. an in-house tile server "
        "'http://tiles.ioc.local/{z}/{x}/{y}.png'; unset: no tiles, no outside requests",
    )
    # --- end wall --------------------------------------------------------------------------

    # --- forecast ------------------------------------------------------------------------
    forecast_enabled: bool = Field(
        True, description="`ioc analytics run` also retrains and issues forecasts"
    )
    forecast_interval_s: float = Field(
        900.0, gt=0, description="How often forecasts are issued (traffic steps are 15 min)"
    )
    forecast_retrain_s: float = Field(
        86_400.0, gt=0, description="Age after which a target's model is retrained"
    )
    forecast_history_days: int = Field(
        120, ge=7, le=3650, description="Training window read from the rollups"
    )
    forecast_keep_days: int = Field(30, ge=1, description="Stored forecasts older than this go")
    forecast_seed: int = Field(0, description="Seed of every model fit (reproducible training)")
    forecast_max_rows: int = Field(
        60_000, ge=1_000, description="(origin, horizon) pairs sampled per model fit"
    )
    forecast_tz: str = Field(
        "Asia/Ho_Chi_Minh", description="Zone of the calendar features (hour of day, weekday)"
    )
    forecast_aqi_warning: int = Field(
        150, ge=0, le=500, description="Early warning when the forecast VN_AQI exceeds this"
    )
    forecast_warning_hours: float = Field(
        6.0, gt=0, le=48, description="How far ahead an exceedance raises an early warning"
    )
    # --- end forecast --------------------------------------------------------------------
