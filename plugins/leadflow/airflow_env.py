"""Running Airflow for the embedded default: environment, metadata DB, the standalone UI."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
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
    subprocess.run([_airflow(), "db", "migrate"], env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] + "\n")


def prepared_env() -> dict[str, str]:
    """The leadflow Airflow environment, with the warehouse started and the metadata DB migrated."""
    env = airflow_env(database_url())
    Path(env["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    # Airflow starts its own sub-commands (`airflow scheduler`, …) by name: put this venv first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    ensure_metadata_db(env)
    return env


def _ensure_login(env: dict[str, str]) -> tuple[str, str]:
    """The UI login of the embedded default: user admin, a password generated once (0600 file)."""
    path = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    if path.exists():
        users = json.loads(path.read_text() or "{}")
        if "admin" in users:
            return "admin", users["admin"]
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"admin": password}, handle)
    return "admin", password


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """`airflow standalone` does not always stop its children on SIGTERM: stop the whole group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
    proc.wait()


def run_standalone(port: int = 0) -> int:
    """`airflow standalone` on 127.0.0.1, in its own process group; Ctrl-C or SIGTERM stops all of it."""
    env = prepared_env()
    port = port or free_port()
    env["AIRFLOW__API__PORT"] = str(port)
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    # the log servers default to fixed ports (8793, 8794): two checkouts would collide
    env.setdefault("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", str(free_port()))
    env.setdefault("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", str(free_port()))
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    env.setdefault(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(Path(env["AIRFLOW_HOME"]) / "passwords.json")
    )
    user, password = _ensure_login(env)
    print(f"Airflow UI: http://127.0.0.1:{port}   login: {user} / {password}", flush=True)
    print("(Ctrl-C stops Airflow; the embedded PostgreSQL keeps running: `leadflow db stop`)", flush=True)
    proc = subprocess.Popen([_airflow(), "standalone"], env={**os.environ, **env}, start_new_session=True)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        _stop_group(proc)
        return 130
