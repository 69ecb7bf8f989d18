import os
from pathlib import Path

import pytest
import yaml

from leadflow.settings import (
    ConfigError,
    DatabaseUrl,
    airflow_env,
    load_config,
    memory_limit_bytes,
    memory_sized_settings,
)


def test_database_url_round_trips_special_characters_in_the_password():
    url = DatabaseUrl("db.example", 6543, "lead flow", "p@ss:w/rd%", "warehouse")

    parsed = DatabaseUrl.parse(url.url())

    assert parsed == url


def test_database_url_defaults_port_and_requires_a_database():
    assert DatabaseUrl.parse("postgresql://u:p@host/db").port == 5432
    with pytest.raises(ConfigError, match="database name"):
        DatabaseUrl.parse("postgresql://u:p@host")
    with pytest.raises(ConfigError, match="scheme"):
        DatabaseUrl.parse("mysql://u:p@host/db")


def test_redacted_url_never_shows_the_password():
    url = DatabaseUrl.parse("postgresql://leadflow:s3cret-value@host:5433/db")

    assert "s3cret-value" not in url.redacted()
    assert url.redacted() == "postgresql://leadflow:***@host:5433/db"


def test_dbt_env_carries_every_profile_field():
    env = DatabaseUrl.parse("postgresql://u:p@h:1/d").dbt_env()

    assert env == {
        "LEADFLOW_DB_HOST": "h",
        "LEADFLOW_DB_PORT": "1",
        "LEADFLOW_DB_USER": "u",
        "LEADFLOW_DB_PASSWORD": "p",
        "LEADFLOW_DB_NAME": "d",
    }


def test_config_errors_name_the_file_and_the_field(tmp_path: Path):
    bad = tmp_path / "leadflow.yml"
    bad.write_text("pipeline:\n  retries: -1\nembedded:\n  prot: 5432\n")

    with pytest.raises(ConfigError) as caught:
        load_config.__wrapped__(bad)

    message = str(caught.value)
    assert str(bad) in message
    assert "pipeline.retries" in message
    assert "embedded.prot" in message


def test_committed_config_is_valid():
    config = load_config()

    assert config.warehouse.conn_id == "leadflow_warehouse"


def test_airflow_env_points_connection_dbt_and_folders_at_one_warehouse(monkeypatch, tmp_path):
    url = DatabaseUrl("127.0.0.1", 40000, "postgres", "pw", "leadflow")
    for key in ["AIRFLOW_CONN_LEADFLOW_WAREHOUSE", "AIRFLOW__CORE__DAGS_FOLDER", *url.dbt_env()]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LEADFLOW_STATE_DIR", str(tmp_path))

    env = airflow_env(url, airflow_home=tmp_path / "airflow")

    assert DatabaseUrl.parse(env["AIRFLOW_CONN_LEADFLOW_WAREHOUSE"]) == url
    assert env["LEADFLOW_DB_HOST"] == "127.0.0.1"
    assert env["LEADFLOW_DB_PORT"] == "40000"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64
    # generated secrets are kept, not regenerated on every call
    assert (
        airflow_env(url, airflow_home=tmp_path / "airflow")["AIRFLOW__CORE__FERNET_KEY"]
        == (env["AIRFLOW__CORE__FERNET_KEY"])
    )
    assert oct((tmp_path / "secrets" / "jwt_secret").stat().st_mode & 0o777) == "0o600"


def test_airflow_env_lets_the_environment_override(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADFLOW_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_WAREHOUSE", "postgresql://other:pw@elsewhere:5432/prod")

    env = airflow_env(DatabaseUrl("127.0.0.1", 1, "postgres", "pw", "leadflow"), airflow_home=tmp_path)

    assert env["AIRFLOW_CONN_LEADFLOW_WAREHOUSE"] == "postgresql://other:pw@elsewhere:5432/prod"


@pytest.mark.parametrize(
    ("access", "message"),
    [
        ({"bi_role": "BI Team"}, "bi_role"),
        ({"area_roles": {"bi; drop table x": ["EMEA"]}}, "is not a role name"),
        ({"area_roles": {"bi_emea": []}}, "list one or more marketing areas"),
        ({"area_roles": {"bi_emea": ["*"]}}, "list one or more marketing areas"),
        ({"bi_role": "bi", "area_roles": {"bi": ["EMEA"]}}, "an area role needs another name"),
    ],
)
def test_access_roles_are_identifiers_and_area_roles_name_their_areas(tmp_path: Path, access, message):
    path = tmp_path / "leadflow.yml"
    path.write_text(yaml.safe_dump({"access": access}))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_embedded_server_settings_override_the_etl_defaults(tmp_path: Path):
    path = tmp_path / "leadflow.yml"
    path.write_text("embedded:\n  server_settings:\n    work_mem: 64MB\n    jit: off\n")

    settings = load_config.__wrapped__(path).embedded.effective_server_settings()

    assert settings["work_mem"] == "64MB"
    assert settings["jit"] == "False"  # YAML's off is a boolean; PostgreSQL reads False as off
    assert settings["max_wal_size"] == "8GB"  # a default left alone
    assert settings["shared_buffers"].endswith("MB")  # sized to this machine


@pytest.mark.parametrize(
    ("memory_gib", "shared_buffers", "effective_cache_size"),
    [
        (24, "6144MB", "18432MB"),  # a quarter and three quarters
        (4, "1024MB", "3072MB"),
        (0.25, "128MB", "192MB"),  # at least PostgreSQL's own default
        (64, "8192MB", "49152MB"),  # at most 8 GB of buffers
    ],
)
def test_embedded_buffers_are_sized_to_the_memory(tmp_path: Path, memory_gib, shared_buffers, effective_cache_size):
    path = tmp_path / "leadflow.yml"
    path.write_text("embedded:\n  server_settings:\n    work_mem: 64MB\n")

    settings = load_config.__wrapped__(path).embedded.effective_server_settings(int(memory_gib * 2**30))

    assert (settings["shared_buffers"], settings["effective_cache_size"]) == (shared_buffers, effective_cache_size)


def test_embedded_buffers_default_to_1gb_where_the_memory_is_unknown():
    assert memory_sized_settings(None) == {"shared_buffers": "1GB", "effective_cache_size": "4GB"}


def test_embedded_buffers_set_in_the_file_win_over_the_sized_ones(tmp_path: Path):
    path = tmp_path / "leadflow.yml"
    path.write_text("embedded:\n  server_settings:\n    shared_buffers: 256MB\n")

    settings = load_config.__wrapped__(path).embedded.effective_server_settings(24 * 2**30)

    assert settings["shared_buffers"] == "256MB"
    assert settings["effective_cache_size"] == "18432MB"


def test_memory_limit_is_the_container_limit_when_lower(tmp_path: Path):
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = tmp_path / "memory.max"

    limit.write_text(f"{2**30}\n")
    assert memory_limit_bytes((str(limit), str(tmp_path / "absent"))) == min(2**30, ram)
    limit.write_text("max\n")  # cgroup v2: no limit
    assert memory_limit_bytes((str(limit),)) == ram


@pytest.mark.parametrize(
    ("name", "value"),
    [("work_mem", "64MB -c shared_preload_libraries=x"), ("work_mem", "'1GB'"), ("bad name", "1"), ("x;y", "1")],
)
def test_embedded_server_settings_refuse_what_would_reach_the_command_line(tmp_path: Path, name: str, value: str):
    path = tmp_path / "leadflow.yml"
    path.write_text(yaml.safe_dump({"embedded": {"server_settings": {name: value}}}))

    with pytest.raises(ConfigError, match="embedded.server_settings"):
        load_config.__wrapped__(path)


def test_transform_threads_reach_the_dbt_profile(tmp_path: Path, monkeypatch):
    from leadflow.transform.dbt_tasks import _profile_config

    path = tmp_path / "leadflow.yml"
    path.write_text("transform:\n  threads: 5\n")
    monkeypatch.setenv("LEADFLOW_CONFIG", str(path))
    load_config.cache_clear()
    try:
        assert _profile_config().profile_mapping.profile_args["threads"] == 5
    finally:
        load_config.cache_clear()
    assert load_config.__wrapped__(tmp_path / "absent.yml").transform.threads == 3  # the default
    path.write_text("transform:\n  threads: 0\n")
    with pytest.raises(ConfigError, match="transform.threads"):
        load_config.__wrapped__(path)
