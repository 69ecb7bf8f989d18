"""The pipeline benchmark's I/O counters on a real database (benchmarks/common.py): track_io_timing
is set on the benchmark's database alone, and what its sessions read, hit and spilled is counted."""

from __future__ import annotations

import psycopg
import pytest

from tests.fixtures import benchmark_script


@pytest.fixture(scope="module")
def common():  # noqa: ANN201 (the benchmark helpers as a module)
    with benchmark_script("common") as module:
        yield module


def test_a_database_timed_for_io_counts_its_sessions_blocks_waits_and_spills(common, fresh_database):
    assert common.time_io(fresh_database)  # the embedded server's user is a superuser
    before = common.io_counters(fresh_database)

    with psycopg.connect(fresh_database.url(), autocommit=True) as conn:
        assert conn.execute("show track_io_timing").fetchone()[0] == "on"  # a new session has it
        conn.execute("create table numbers as select n from generate_series(1, 200000) as n")
        conn.execute("set work_mem = '64kB'")  # the sort spills to a temporary file
        conn.execute("select n from numbers order by n desc").fetchall()
    # (a session's counters reach pg_stat_database when it ends)
    io = common.io_between(before, common.io_counters(fresh_database), timed=True)

    assert io["blocks_read"] + io["blocks_hit"] > 0
    assert io["temp_files"] >= 1 and io["temp_gb"] >= 0
    assert io["read_wait_seconds"] is not None and io["read_wait_seconds"] >= 0


def test_io_timing_stays_with_the_benchmark_database(common, fresh_database, pg_server):
    def elsewhere() -> str:  # a new session of another database
        with psycopg.connect(pg_server.url(dbname="postgres")) as conn:
            return conn.execute("show track_io_timing").fetchone()[0]

    before = elsewhere()
    common.time_io(fresh_database)

    assert elsewhere() == before
    with psycopg.connect(pg_server.url(dbname="postgres")) as conn:
        settings = conn.execute(
            "select s.setconfig from pg_db_role_setting as s join pg_database as d on d.oid = s.setdatabase"
            " where d.datname = %s",
            (fresh_database.dbname,),
        ).fetchone()
    assert settings == (["track_io_timing=on"],)  # kept with the database, dropped with it
