"""The embedded PostgreSQL: started once, shared, stopped cleanly, recovering from a killed server."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import pytest

from leadflow.warehouse import EmbeddedPostgres

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    instance = EmbeddedPostgres(root=tmp_path / "state", database="leadflow")
    try:
        yield instance
    finally:
        instance.stop()


def _query(server: EmbeddedPostgres) -> int:
    with psycopg.connect(server.url(), connect_timeout=5) as conn:
        return conn.execute("select 1").fetchone()[0]


def _wait_gone(pid: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"process {pid} still alive"
        time.sleep(0.05)


def test_start_listens_on_loopback_with_a_password_and_creates_the_database(server):
    status = server.start()

    assert status.running and status.port
    url = server.url()
    assert url.startswith(f"postgresql://postgres:{server.password()}@127.0.0.1:{status.port}/leadflow")
    assert _query(server) == 1
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(url.replace(server.password(), "wrong"), connect_timeout=5)


def test_starting_twice_or_concurrently_reuses_one_server(server):
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: server.start(), range(4)))

    assert len({s.pid for s in statuses}) == 1
    assert server.start().pid == statuses[0].pid


def test_the_port_is_kept_across_restarts(server):
    first = server.start().port
    server.stop()

    assert not server.status().running
    assert server.start().port == first


def test_a_killed_server_is_detected_and_recovered(server):
    before = server.start()
    os.kill(before.pid, signal.SIGKILL)
    _wait_gone(before.pid)

    status = server.status()
    assert not status.running
    assert "stale" in status.detail

    after = server.start()
    assert after.running and after.pid != before.pid
    assert _query(server) == 1


def test_a_stale_pid_file_from_another_process_is_ignored(server):
    server.start()
    server.stop()
    # a pid file left behind whose pid now belongs to an unrelated process (this test)
    (server.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{server.pgdata}\n0\n5432\n\n\n\nready\n")

    assert not server.status().running
    assert server.start().running
    assert _query(server) == 1


def test_stop_is_clean_and_idempotent(server):
    pid = server.start().pid
    server.stop()
    _wait_gone(pid)

    assert not (server.pgdata / "postmaster.pid").exists()
    assert not server.stop().running


def test_two_checkouts_run_side_by_side_on_different_ports(tmp_path):
    a = EmbeddedPostgres(root=tmp_path / "a")
    b = EmbeddedPostgres(root=tmp_path / "b")
    try:
        assert a.start().port != b.start().port
        assert _query(a) == _query(b) == 1
    finally:
        a.stop()
        b.stop()
