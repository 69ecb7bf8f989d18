"""A source added as YAML alone becomes an ingest DAG that lands data; SQL sources are incremental
by watermark (no gap, no loss, a rerun gets the same window); the transform runs on the raw Assets."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import psycopg
import pytest

from leadflow.settings import project_root
from leadflow.sources.config import load_source
from leadflow.sources.sql import land_sql_entity
from tests.fixtures import create_database, drop_database

pytestmark = pytest.mark.integration

FILES_SOURCE = """
name: badges
kind: files
description: Badge scans from a test drop folder.
schedule: "@hourly"
files: {{folder: "{folder}"}}
entities: [interactions]
"""
SQL_SOURCE = """
name: replica
kind: sql
conn_id: leadflow_src_replica
schedule: "@daily"
entities:
  contacts:
    table: public.people
    timestamp_column: modified_at
    mapping: {source_record_id: id, updated_at: modified_at, email: mail, last_name: surname}
"""


@pytest.fixture
def replica(pg_server, monkeypatch):
    database = create_database(pg_server, prefix="leadflow_replica")
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_SRC_REPLICA", database.url())
    with psycopg.connect(database.url()) as conn:
        conn.execute("create table people (id int primary key, modified_at timestamptz, mail text, surname text)")
        conn.execute(
            "insert into people values (1, '2026-02-01T10:00Z', 'a@example.com', 'Berg'),"
            " (2, '2026-02-02T10:00Z', 'b@example.com', 'Rossi'), (3, '2026-03-05T10:00Z', 'c@example.com', 'Later')"
        )
    yield database
    drop_database(database)


@pytest.fixture
def sources(tmp_path, monkeypatch):
    drops = tmp_path / "drops"
    drops.mkdir()
    shutil.copy(
        project_root() / "examples" / "drops" / "trade_fair" / "trade_fair__interactions.csv",
        drops / "badges__interactions.csv",
    )
    text = (drops / "badges__interactions.csv").read_text().replace("trade_fair,", "badges,")
    (drops / "badges__interactions.csv").write_text(text)
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "badges.yml").write_text(FILES_SOURCE.format(folder=drops))
    (folder / "replica.yml").write_text(SQL_SOURCE)
    monkeypatch.setenv("LEADFLOW_SOURCES_DIR", str(folder))
    return folder


@pytest.fixture
def warehouse(fresh_database, monkeypatch):
    """A warehouse of this test's own (the session one holds the end-to-end test's tables)."""
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_WAREHOUSE", fresh_database.url())
    return fresh_database


@pytest.fixture
def ingest_dags(sources, airflow_db, warehouse):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project_root() / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def test_yaml_sources_appear_as_dags_with_an_asset_per_table(ingest_dags):
    assert {"ingest_badges", "ingest_replica"} <= set(ingest_dags)
    replica = ingest_dags["ingest_replica"]
    outlets = {a.name for t in replica.tasks for a in t.outlets}
    assert outlets == {"raw.replica__contacts"}
    # the Asset is published by the raw check after the landing, so the transform sees checked loads
    assert [a.name for a in replica.get_task("validate_raw").outlets] == ["raw.replica__contacts"]
    assert replica.get_task("validate_raw").upstream_task_ids == {"land_contacts"}
    transform = ingest_dags["leadflow_transform"]
    scheduled_on = {a.name for a in transform.timetable.asset_condition.objects}
    assert {"raw.badges__interactions", "raw.replica__contacts"} <= scheduled_on


def test_a_files_source_lands_its_drop_once(ingest_dags, warehouse):
    dag = ingest_dags["ingest_badges"]

    assert dag.test(logical_date=datetime(2026, 3, 1, tzinfo=UTC)).state == "success"
    assert dag.test(logical_date=datetime(2026, 3, 2, tzinfo=UTC)).state == "success"

    with psycopg.connect(warehouse.url()) as conn:
        loads = conn.execute(
            "select status, fetched, landed, quarantined from ops.loads where source_system = 'badges'"
            " order by started_at"
        ).fetchall()
    assert loads == [("succeeded", 7, 6, 1), ("skipped", 0, 0, 0)]


def test_a_sql_source_lands_changes_by_watermark(ingest_dags, sources, replica, warehouse):
    dag = ingest_dags["ingest_replica"]

    first = dag.test(logical_date=datetime(2026, 3, 1, tzinfo=UTC))
    with psycopg.connect(replica.url()) as conn:  # a new person, and a change to person 1
        conn.execute("insert into people values (4, '2026-03-01T12:00Z', 'd@example.com', 'New')")
        conn.execute("update people set modified_at = '2026-03-01T13:00Z', surname = 'Berg-Li' where id = 1")
    second = dag.test(logical_date=datetime(2026, 3, 2, tzinfo=UTC))

    assert first.state == second.state == "success"
    with psycopg.connect(warehouse.url()) as conn:
        loads = conn.execute(
            "select watermark_from, watermark_to, landed from ops.loads where source_system = 'replica'"
            " order by started_at"
        ).fetchall()
        rows = conn.execute(
            "select source_record_id, last_name, payload ->> 'surname' from raw.replica__contacts order by load_id, 1"
        ).fetchall()
    march_1, march_2 = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    assert loads == [(None, march_1, 2), (march_1, march_2, 2)]
    assert sorted(rows) == sorted(
        [("1", "Berg", "Berg"), ("2", "Rossi", "Rossi"), ("1", "Berg-Li", "Berg-Li"), ("4", "New", "New")]
    )

    # a rerun of the second interval gets the same window: nothing lost, the repeats counted
    source = load_source(sources / "replica.yml")
    with psycopg.connect(warehouse.url()) as conn:
        again = land_sql_entity(conn, replica, source, "contacts", march_2)
    assert (again.watermark_from, again.watermark_to, again.landed, again.duplicates) == (march_1, march_2, 2, 2)
