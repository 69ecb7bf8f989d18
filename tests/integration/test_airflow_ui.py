"""`make airflow`: the standalone UI on 127.0.0.1 with a printed login, stopped with its children."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from leadflow.warehouse import free_port
from tests.fixtures import wait_for_http

pytestmark = pytest.mark.integration


def test_airflow_ui_serves_on_loopback_accepts_the_printed_login_and_stops_cleanly(airflow_db, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        # nothing is scheduled while the test looks at the UI
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
    }
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "ui.log", "w+") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "leadflow"), "airflow-ui", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        children: list[psutil.Process] = []
        try:
            wait_for_http(f"{base}/api/v2/version", proc)
            out.seek(0)
            login = re.search(r"login: (\S+) / (\S+)", out.read())
            assert login, "the login was not printed"

            refused = requests.post(f"{base}/auth/token", json={"username": login[1], "password": "wrong"}, timeout=10)
            accepted = requests.post(
                f"{base}/auth/token", json={"username": login[1], "password": login[2]}, timeout=10
            )
            assert refused.status_code in (401, 403)
            assert accepted.status_code in (200, 201) and accepted.json()["access_token"]
            # the transfer monitor is a plugin of this UI: its entry in the navigation and its app
            token = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
            plugins = requests.get(f"{base}/api/v2/plugins", headers=token, timeout=30).json()["plugins"]
            leadflow = next(p for p in plugins if p["name"] == "leadflow")
            assert [v["name"] for v in leadflow["external_views"]] == ["Lead transfers"]
            assert leadflow["fastapi_apps"][0]["url_prefix"] == "/leadflow"
            assert requests.get(f"{base}/leadflow/icon.svg", headers=token, timeout=30).ok
            # loopback only: not reachable on another address of this machine
            for other in _non_loopback_ipv4():
                with pytest.raises(requests.ConnectionError):
                    requests.get(f"http://{other}:{port}/api/v2/version", timeout=2)
            children = psutil.Process(proc.pid).children(recursive=True)
            assert children, "airflow standalone is not running"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"processes left behind: {[p.pid for p in alive]}"


def _non_loopback_ipv4() -> list[str]:
    return [
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family.name == "AF_INET" and not a.address.startswith("127.")
    ]
