"""No Docker engine runs here, so the compose file's structure is what we can check."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


def test_it_runs_airflow_postgres_and_redis():
    assert set(AIRFLOW_SERVICES) | {"airflow-init", "airflow-db", "warehouse", "redis"} <= set(SERVICES)
    for name, command in AIRFLOW_SERVICES.items():
        assert SERVICES[name]["command"] == command


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned(name):
    image = SERVICES[name]["image"]

    assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+[\w.-]*", image), f"{name}: image {image!r} is not pinned"


def test_the_airflow_image_is_built_on_the_locked_airflow_version():
    dockerfile = (ROOT / "Dockerfile").read_text()
    lock = (ROOT / "requirements.lock").read_text()

    base = re.search(r"^FROM apache/airflow:(\d+\.\d+\.\d+)", dockerfile, re.M).group(1)
    assert f"\napache-airflow=={base} " in lock


def test_celery_executor_with_redis_and_postgres_metadata():
    env = SERVICES["airflow-scheduler"]["environment"]

    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert "@airflow-db/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW_CONN_LEADFLOW_WAREHOUSE"].startswith("postgresql://")
    assert "@warehouse:5432/" in env["AIRFLOW_CONN_LEADFLOW_WAREHOUSE"]


@pytest.mark.parametrize("folder", ["dags", "plugins", "dbt_project", "expectations", "config"])
def test_the_project_folders_are_mounted_into_every_airflow_service(folder):
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        mounts = [v.split(":")[0] for v in SERVICES[name]["volumes"]]
        assert f"./{folder}" in mounts, f"{name} does not mount ./{folder}"


def test_workers_can_be_scaled_out():
    # a fixed container name or host port would stop `--scale airflow-worker=N`
    assert "container_name" not in SERVICES["airflow-worker"]
    assert "ports" not in SERVICES["airflow-worker"]


def test_no_secret_is_written_in_the_file():
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|FERNET_KEY", key):
                assert str(value).startswith("${"), f"{name}: {key} must come from the environment"
            for url in re.findall(r"\w+://[^\s\"']+", str(value)):
                if "@" in url:
                    credentials = url.split("://", 1)[1].split("@", 1)[0]
                    assert ":${" in credentials, f"{name}: {key} embeds a password"


def test_the_env_example_lists_every_variable_the_file_requires():
    text = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / ".env.example").read_text()

    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required
    for name in required:
        assert re.search(rf"^{name}=", example, re.M), f"{name} missing from .env.example"
