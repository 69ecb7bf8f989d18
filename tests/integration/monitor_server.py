"""A warehouse with demo data and transfer history, and a real `airflow api-server` in front of it,
for the transfer monitor's API and browser tests.

The data is the pipeline's own: generated sources landed in raw, `dbt build`, then three runs of the
demo transfer against the sales sandbox (the first two with record errors, so the ledger holds
failures and dead letters), the marts and candidates quality checks (real GX, with Data Docs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests
import yaml

from leadflow.demo.sales_sandbox import SalesSandbox, SandboxFaults
from leadflow.quality.checkpoints import validate_layers
from leadflow.settings import DatabaseUrl, conn_env_var, load_config
from leadflow.transfer.definitions import load_transfer
from leadflow.transfer.lifecycle import current_status
from leadflow.warehouse import free_port
from tests.fixtures import BIN, ROOT, build_marts, create_database, drop_database, run_transfer, wait_for_http

DEMO_TRANSFER = ROOT / "config" / "transfers" / "emea_sales_ready.yml"


@dataclass
class Monitor:
    base: str
    database: DatabaseUrl
    user: str
    password: str
    transfer: str
    log: Path

    def token(self) -> str:
        response = requests.post(
            f"{self.base}/auth/token", json={"username": self.user, "password": self.password}, timeout=30
        )
        response.raise_for_status()
        return response.json()["access_token"]


def build_history(database: DatabaseUrl, workdir: Path, people: int = 600) -> Path:
    """Demo data through the real pipeline steps; returns the transfers folder the server reads."""
    build_marts(database, workdir, people, seed=8)
    validate_layers(database, ["marts", "candidates"], "monitor-test")

    transfers = workdir / "transfers"
    transfers.mkdir()
    # the demo transfer, giving up after two attempts so the history shows dead letters
    definition_file = transfers / DEMO_TRANSFER.name
    definition_file.write_text(yaml.safe_dump({**yaml.safe_load(DEMO_TRANSFER.read_text()), "max_attempts": 2}))
    definition = load_transfer(definition_file)
    sandbox = SalesSandbox(seed=3).start()
    try:
        for number, faults in enumerate(
            (SandboxFaults(record_error_rate=0.5), SandboxFaults(record_error_rate=0.5), SandboxFaults()), 1
        ):
            sandbox.faults = faults
            with psycopg.connect(database.url()) as conn:
                current_status(conn, definition)
            run_transfer(database, definition, sandbox, f"manual__2026-11-0{number}T06:00:00+00:00")
    finally:
        sandbox.stop()
    return transfers


def serve_monitor(pg_server: DatabaseUrl, workdir: Path) -> Iterator[Monitor]:
    database = create_database(pg_server, prefix="leadflow_ui")
    try:
        transfers = build_history(database, workdir)
        port = free_port()
        password = "monitor-test-pw"
        passwords = workdir / "passwords.json"
        passwords.write_text(json.dumps({"admin": password}))
        env = {
            **os.environ,
            conn_env_var(load_config().warehouse.conn_id): database.url(),
            "LEADFLOW_TRANSFERS_DIR": str(transfers),
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        }
        log = workdir / "api-server.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(BIN / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/api/v2/version", proc, log)
            yield Monitor(base, database, "admin", password, "emea_sales_ready", log)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        drop_database(database)
