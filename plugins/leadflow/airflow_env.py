"""Running Airflow for the embedded default: environment, metadata DB, the standalone UI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from leadflow.settings import airflow_env
from leadflow.warehouse import database_url, free_port


def _airflow() -> str:
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def ensure_metadata_db(env: dict[str, str]) -> None:
    """`airflow db migrate` once per Airflow version and home (≈ 6 s; later calls are free)."""
    from airflow import __version__ as airflow_version

    home = Path(env["AIRFLOW_HOME"])
    stamp = home / f".migrated-{airflow_version}"
    if stamp.exists() and env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] in stamp.read_text():
        return
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [_airflow(), "db", "migrate"], env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL
    )
    stamp.write_text(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] + "\n")


def prepared_env() -> dict[str, str]:
    """The leadflow Airflow environment, with the warehouse started and the metadata DB migrated."""
    env = airflow_env(database_url())
    Path(env["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    ensure_metadata_db(env)
    return env


def run_standalone(port: int = 0) -> int:
    """`airflow standalone` on 127.0.0.1, in its own process group so Ctrl-C stops all of it."""
    env = prepared_env()
    env["AIRFLOW__API__PORT"] = str(port or free_port())
    env.setdefault(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(Path(env["AIRFLOW_HOME"]) / "passwords.json")
    )
    print(
        f"Airflow UI: http://127.0.0.1:{env['AIRFLOW__API__PORT']}  (login printed below by Airflow;"
        f" also in {env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']})",
        flush=True,
    )
    proc = subprocess.Popen([_airflow(), "standalone"], env={**os.environ, **env}, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        return 130
