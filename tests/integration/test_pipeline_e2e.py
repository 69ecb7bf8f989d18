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


def test_a_generated_feed_folder_lands_every_record_and_only_new_files_later(pipeline_dag, warehouse, tmp_path):
    """What `leadflow run --feed DIR` runs: every record of every file landed or quarantined.

    (The session's warehouse, not a new one: dbt run in-process by cosmos keeps its first connection.)
    """
    import csv

    from leadflow.demo.generator import Generator

    feed = tmp_path / "feed"
    Generator(200, seed=5, bad_share=0.02).write(feed, progress=False)
    extra = feed / "crm__opportunities.csv"
    held_back = extra.rename(tmp_path / extra.name)  # dropped later
    rows_per_file = {}
    for path in feed.glob("*__*.csv"):
        with open(path, newline="") as handle:
            rows_per_file[path.name] = sum(1 for _ in csv.DictReader(handle))

    first = pipeline_dag.test(logical_date=datetime(2026, 3, 3, tzinfo=UTC), run_conf={"feed_dir": str(feed)})
    again = pipeline_dag.test(logical_date=datetime(2026, 3, 4, tzinfo=UTC), run_conf={"feed_dir": str(feed)})
    held_back.rename(extra)
    later = pipeline_dag.test(logical_date=datetime(2026, 3, 5, tzinfo=UTC), run_conf={"feed_dir": str(feed)})

    assert first.state == again.state == later.state == "success"
    with psycopg.connect(warehouse.url()) as conn:

        def loads(run_id: str) -> dict:
            return {
                origin: (status, fetched, landed, quarantined)
                for origin, status, fetched, landed, quarantined in conn.execute(
                    "select origin, status, fetched, landed, quarantined from ops.loads where airflow_run_id = %s",
                    (run_id,),
                )
            }

        first_loads, again_loads, later_loads = loads(first.run_id), loads(again.run_id), loads(later.run_id)
        quarantined = conn.execute(
            "select count(*) from raw.quarantine q join ops.loads l using (load_id) where l.airflow_run_id = %s",
            (first.run_id,),
        ).fetchone()[0]

    assert {name: fetched for name, (_, fetched, _, _) in first_loads.items()} == rows_per_file
    assert all(status == "succeeded" and f == landed + q for status, f, landed, q in first_loads.values())
    assert quarantined == sum(q for _, _, _, q in first_loads.values()) > 0
    assert {status for status, *_ in again_loads.values()} == {"skipped"}
    assert later_loads["crm__opportunities.csv"][0] == "succeeded"
    assert {s for name, (s, *_) in later_loads.items() if name != "crm__opportunities.csv"} <= {"skipped"}
