"""Settings: one object, from the environment, pointing at private or external services."""

from pathlib import Path

import pytest

from ioc_core.cli.common import settings_from_env
from ioc_core.errors import IocError
from ioc_core.settings import DEFAULT_MQTT_PORT, DEFAULT_PG_PORT, Settings


def test_defaults_stay_clear_of_the_system_services():
    s = Settings(_env_file=None)
    assert s.pg_port == DEFAULT_PG_PORT != 5432
    assert s.mqtt_port == DEFAULT_MQTT_PORT != 1883
    assert s.postgres_dsn == f"postgresql://ioc@127.0.0.1:{DEFAULT_PG_PORT}/ioc"
    assert s.var_dir.is_absolute()


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("IOC_PG_PORT", "6543")
    monkeypatch.setenv("IOC_MQTT_HOST", "broker.example")
    monkeypatch.setenv("IOC_VAR_DIR", "/srv/ioc")
    s = Settings(_env_file=None)
    assert s.pg_port == 6543
    assert s.mqtt_url == f"mqtt://broker.example:{DEFAULT_MQTT_PORT}"
    assert s.pg_data_dir == Path("/srv/ioc/postgres/data")


def test_external_dsn_wins_and_other_databases_derive_from_it(monkeypatch):
    monkeypatch.setenv("IOC_POSTGRES_DSN", "postgresql://app:s3cret@db.city.vn:5433/ioc_prod")
    s = Settings(_env_file=None)
    assert s.postgres_dsn == "postgresql://app:s3cret@db.city.vn:5433/ioc_prod"
    other = s.dsn_for("postgres")
    assert "dbname=postgres" in other and "host=db.city.vn" in other and "port=5433" in other


def test_password_is_quoted_into_the_dsn():
    s = Settings(_env_file=None, pg_password="p@ss/word")
    assert s.postgres_dsn.startswith("postgresql://ioc:p%40ss%2Fword@")


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("IOC_API_PORT=8111\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().api_port == 8111


def test_bad_setting_is_named(monkeypatch):
    monkeypatch.setenv("IOC_PG_PORT", "not-a-port")
    with pytest.raises(IocError, match="IOC_PG_PORT"):
        settings_from_env()
