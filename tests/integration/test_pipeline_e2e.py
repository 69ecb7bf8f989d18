"""The foundation slice end to end with `dag.test()`: feed → raw → dbt (cosmos) → GX → ops."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from leadflow.settings import project_root

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline_dag(airflow_db, warehouse):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project_root() / "dags" / "leadflow_pipeline.py"))
    assert bag.import_errors == {}
    return bag.dags["leadflow_pipeline"]


def _snapshot(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("select * from marts.dim_contacts order by contact_id").fetchall()


def test_pipeline_lands_builds_validates_and_a_rerun_skips_the_landed_file(pipeline_dag, warehouse):
    first = pipeline_dag.test(logical_date=datetime(2026, 3, 1, tzinfo=UTC))

    assert first.state == "success"
    with psycopg.connect(warehouse.url()) as conn:
        loads = conn.execute(
            "select status, fetched, landed, quarantined from ops.loads where airflow_run_id = %s", (first.run_id,)
        ).fetchall()
        quality = conn.execute(
            "select suite, layer, run_id, success, severity, evaluated_rows from ops.quality_results where run_id = %s",
            (first.run_id,),
        ).fetchall()
        contacts = _snapshot(conn)

    assert loads == [("succeeded", 16, 14, 2)]
    assert quality == [("marts.dim_contacts", "marts", first.run_id, True, "critical", 12)]
    assert len(contacts) == 12

    second = pipeline_dag.test(logical_date=datetime(2026, 3, 2, tzinfo=UTC))

    assert second.state == "success"
    with psycopg.connect(warehouse.url()) as conn:
        assert _snapshot(conn) == contacts
        loads = conn.execute(
            "select status, airflow_run_id from ops.loads where airflow_run_id in (%s, %s) order by started_at",
            (first.run_id, second.run_id),
        ).fetchall()
    assert loads == [("succeeded", first.run_id), ("skipped", second.run_id)]
