"""One typed settings object for every process of the stack.

Built once at start-up (``Settings()``) and passed down; nothing reads the environment at import
time. Every value can come from an ``IOC_*`` environment variable or a ``.env`` file in the working
directory, so the same code runs against the private stack (the defaults) or against external
PostgreSQL and Mosquitto in production (set ``IOC_POSTGRES_DSN`` / ``IOC_MQTT_HOST`` and turn
``IOC_MANAGE_POSTGRES`` / ``IOC_MANAGE_MQTT`` off).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Ports chosen away from the system services this machine also runs (PostgreSQL 5432,
# Mosquitto 1883) so the private stack never collides with them.
DEFAULT_PG_PORT = 55432
DEFAULT_MQTT_PORT = 51883


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

    @field_validator("var_dir")
    @classmethod
    def _absolute_var_dir(cls, value: Path) -> Path:
        # Child processes run in other working directories (and as other users), so every
        # path we hand them must be absolute.
        return value.expanduser().resolve()

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
