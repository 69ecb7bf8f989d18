"""Shared fixtures: a PostgreSQL database per test session, the Airflow metadata DB, helpers."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import requests

from leadflow.settings import DatabaseUrl, conn_env_var, load_config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def benchmark_script(name: str) -> Iterator[Any]:
    """A script of benchmarks/ imported as a module, its own imports (common, …) found beside it."""
    folder = str(ROOT / "benchmarks")
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(folder)


def create_database(server: DatabaseUrl, prefix: str = "leadflow_test") -> DatabaseUrl:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return server.with_database(name)


def drop_database(database: DatabaseUrl) -> None:
    with psycopg.connect(database.url(dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{database.dbname}" with (force)')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[DatabaseUrl]:
    """The configured warehouse server: LEADFLOW_DATABASE_URL, else this checkout's embedded one.

    An embedded server this session had to start is stopped again at the end.
    """
    from leadflow.settings import configured_database_url
    from leadflow.warehouse import EmbeddedPostgres, database_url

    embedded = None if configured_database_url() else EmbeddedPostgres()
    was_running = embedded is not None and embedded.status().running
    yield database_url(start=True)
    if embedded is not None and not was_running:
        embedded.stop()


@pytest.fixture(scope="session")
def warehouse(pg_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """A database of this test session's own; Airflow's connection and dbt's profile point at it."""
    database = create_database(pg_server)
    previous = {key: os.environ.get(key) for key in (conn_env_var(load_config().warehouse.conn_id),)}
    os.environ[conn_env_var(load_config().warehouse.conn_id)] = database.url()
    os.environ.update(database.dbt_env())
    try:
        yield database
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        drop_database(database)


@pytest.fixture
def fresh_database(pg_server: DatabaseUrl) -> Iterator[DatabaseUrl]:
    """An empty database for one test."""
    database = create_database(pg_server, prefix="leadflow_t")
    try:
        yield database
    finally:
        drop_database(database)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata DB (SQLite in the session's Airflow home), migrated once per session."""
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], check=True, capture_output=True, env=os.environ)


def run_dbt(
    database: DatabaseUrl, target_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Plain dbt against a test database; artifacts go to target_path (not the shared manifest)."""
    project = ROOT / "dbt_project"
    return subprocess.run(
        [str(BIN / "dbt"), *args, "--project-dir", str(project), "--profiles-dir", str(project)]
        + ["--target-path", str(target_path)],
        cwd=project,
        env={**os.environ, **database.dbt_env(), "DBT_USE_COLORS": "false", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def dbt_rows_written(database: DatabaseUrl, target_path: Path, *args: str, as_of: str) -> dict[str, int]:
    """dbt (unit tests left out) as of a day, which must pass; the rows each model wrote."""
    day = json.dumps({"as_of": as_of})
    result = run_dbt(database, target_path, *args, "--exclude", "test_type:unit", "--vars", day)
    assert result.returncode == 0, result.stdout[-3000:]
    return {
        r["unique_id"].rsplit(".", 1)[-1]: r["adapter_response"].get("rows_affected")
        for r in json.loads((target_path / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("model.")
    }


def table_rows(database: DatabaseUrl, table: str, order: str) -> list[tuple]:
    """Every row of a table, in the order given."""
    with psycopg.connect(database.url()) as conn:
        return conn.execute(f"select * from {table} order by {order}").fetchall()


def build_marts(database: DatabaseUrl, workdir: Path, people: int, seed: int) -> None:
    """Generated sources landed in raw, then `dbt build` as of 2026-11-01: the marts of a small demo."""
    from leadflow.demo.generator import Generator
    from leadflow.sources.files import find_feed_files, land_files

    feed = workdir / "feed"
    Generator(people, seed=seed).write(feed, progress=False)
    with psycopg.connect(database.url()) as conn:
        land_files(conn, find_feed_files(feed), None)
    dbt_build(database, workdir / "target")


def dbt_build(database: DatabaseUrl, target_path: Path, as_of: str = "2026-11-01T00:00:00+00:00") -> None:
    """`dbt build` of the whole project (without unit tests) as of a day; fails with dbt's output."""
    vars_ = f'{{as_of: "{as_of}"}}'
    built = run_dbt(database, target_path, "build", "--exclude", "test_type:unit", "--vars", vars_)
    assert built.returncode == 0, built.stdout[-3000:]


def sandbox_adapter(sandbox: Any, definition: Any) -> Any:
    """The Salesforce adapter of a transfer, pointed at a running sales sandbox (quick retries)."""
    from leadflow.transfer.adapters.salesforce import SalesforceAdapter

    settings = json.loads(sandbox.connections()["AIRFLOW_CONN_LEADFLOW_SALES"])
    connection = SimpleNamespace(**settings, extra_dejson=settings["extra"])
    return SalesforceAdapter.from_connection(
        connection, external_id_field=definition.external_id_field, backoff_s=0.01, attempts=8
    )


def run_transfer(database: DatabaseUrl, definition: Any, sandbox: Any, airflow_run_id: str) -> tuple[str, Any]:
    """One run of a transfer against the sales sandbox, the steps its DAG takes, without Airflow:
    (status, counts) from finish_run."""
    from leadflow.transfer.runner import finish_run, push, select_candidates, start_run

    with psycopg.connect(database.url()) as conn:
        run_id, _ = start_run(conn, definition, airflow_run_id)
        select_candidates(conn, definition, run_id)
        push(conn, definition, run_id, sandbox_adapter(sandbox, definition))
        return finish_run(conn, definition, run_id)


def wait_for_http(url: str, proc: subprocess.Popen, log: Path | None = None, timeout_s: float = 180) -> None:
    """Until url answers 200; fails early (with the log's tail) when the server process exits."""
    deadline = time.monotonic() + timeout_s
    tail = lambda: f":\n{log.read_text()[-3000:]}" if log else ""  # noqa: E731
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited early{tail()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout_s}s{tail()}")


def bridge_candidates(
    conn: psycopg.Connection, *, with_interactions: bool = False, email_like: str = "%"
) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two single-origin contacts, one known by an email, one by a phone, neither key blocked nor
    holding a CRM id (one per contact: two would conflict): a new record naming both merges them.
    ((email contact, email), (phone contact, phone))."""
    from psycopg import sql

    def pick(key: str, other: str) -> tuple[str, str]:
        query = sql.SQL(
            "select d.contact_id, d.{key} from marts.dim_contacts d where d.number_of_origins = 1"
            " and d.{key} like %(like)s"
            " and d.{key} not in (select key_value from intermediate.int_identity_keys_blocked)"
            " and d.contact_id <> %(other)s {interactions}"
            " and not exists (select from intermediate.int_contact_origins_current c"
            " join intermediate.int_identity_keys k on k.origin_key = c.origin_key"
            " where c.contact_id = d.contact_id and k.key_type = 'crm_id')"
            " order by d.contact_id limit 1"
        ).format(
            key=sql.Identifier(key),
            interactions=sql.SQL(
                "and exists (select from marts.fct_interactions f where f.contact_id = d.contact_id)"
                if with_interactions
                else ""
            ),
        )
        return conn.execute(query, {"like": email_like if key == "email" else "%", "other": other}).fetchone()

    by_email = pick("email", "")
    return by_email, pick("phone", by_email[0])


def land_folder(database: DatabaseUrl, folder: Path) -> None:
    """Land every feed file of a folder, as a file drop would."""
    from leadflow.sources.files import find_feed_files, land_files

    with psycopg.connect(database.url()) as conn:
        land_files(conn, find_feed_files(folder), None)


def write_feed_file(path: Path, entity: str, rows: list[dict[str, str]]) -> None:
    """A feed file of the entity's columns (missing values empty)."""
    import csv

    from leadflow.sources.feed import ENTITIES

    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ENTITIES[entity].columns)
        writer.writeheader()
        writer.writerows(rows)
