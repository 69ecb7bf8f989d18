"""The foundation slice end to end with `dag.test()`: feed → raw → dbt (cosmos) → GX → ops."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from leadflow.settings import project_root
from tests.fixtures import bridge_candidates

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline_dag(airflow_db, warehouse):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project_root() / "dags" / "leadflow_pipeline.py"))
    assert bag.import_errors == {}
    return bag.dags["leadflow_pipeline"]


def _origin_contacts(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("select source_system || ':' || source_record_id, contact_id from marts.contact_origins"))


def _snapshot(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("select * from marts.dim_contacts order by contact_id").fetchall()


def test_pipeline_lands_builds_validates_and_a_rerun_skips_the_landed_file(pipeline_dag, warehouse):
    first = pipeline_dag.test(logical_date=datetime(2026, 3, 1, tzinfo=UTC))

    assert first.state == "success"
    with psycopg.connect(warehouse.url()) as conn:
        loads = conn.execute(
            "select status, fetched, landed, quarantined from ops.loads where airflow_run_id = %s", (first.run_id,)
        ).fetchall()
        quality = {
            row[0]: row[1:]
            for row in conn.execute(
                "select coalesce(batch, suite), layer, success, severity, evaluated_rows from ops.quality_results"
                " where run_id = %s",
                (first.run_id,),
            )
        }
        contacts = _snapshot(conn)
        scored_as_of = conn.execute("select distinct scored_at from marts.contact_scores").fetchall()

    assert loads == [("succeeded", 16, 14, 2)]
    # a run without params.include_sources skips the sources' tasks instead of running them for nothing
    states = {ti.task_id: ti.state for ti in first.get_task_instances()}
    assert states["choose_ingest"] == states["land"] == states["validate_raw"] == "success"
    assert {state for task_id, state in states.items() if task_id.startswith("ingest_")} == {"skipped"}
    # dbt ran as of the run's data interval end (passed to its tasks as LEADFLOW_AS_OF), not now
    assert scored_as_of == [(datetime(2026, 3, 1, tzinfo=UTC),)]
    # every layer checked right after what it checks: the landed load, the marts, the candidates;
    # and the freshness of the configured sources (none landed here: stale, a warning only)
    load_check = next(batch for batch in quality if batch.startswith("raw.crm__contacts load "))
    assert quality[load_check] == ("raw", True, "critical", 14)
    assert quality["marts.dim_contacts"] == ("marts", True, "critical", 14)
    assert quality["marts.transfer_candidates"][:2] == ("candidates", True)
    assert {layer for layer, *_ in quality.values()} == {"raw", "marts", "candidates", "freshness"}
    assert all(success or severity == "warning" for _, success, severity, _ in quality.values())
    assert len(contacts) == 14

    second = pipeline_dag.test(logical_date=datetime(2026, 3, 2, tzinfo=UTC))

    assert second.state == "success"
    with psycopg.connect(warehouse.url()) as conn:
        assert _snapshot(conn) == contacts
        loads = conn.execute(
            "select status, airflow_run_id from ops.loads where airflow_run_id in (%s, %s) order by started_at",
            (first.run_id, second.run_id),
        ).fetchall()
    assert loads == [("succeeded", first.run_id), ("skipped", second.run_id)]


@pytest.fixture(scope="module")
def feed_runs(pipeline_dag, warehouse, tmp_path_factory) -> dict:
    """What `leadflow run --feed DIR` runs, three times: a generated folder, the same folder again,
    and the folder with a file added. (The session's warehouse, not a new one: dbt run in-process
    by cosmos keeps its first connection.)"""
    import csv

    from leadflow.demo.generator import Generator

    root = tmp_path_factory.mktemp("generated")
    feed = root / "feed"
    Generator(200, seed=5, bad_share=0.02).write(feed, progress=False)
    extra = feed / "crm__opportunities.csv"
    held_back = extra.rename(root / extra.name)  # dropped later
    rows_per_file = {}
    for path in feed.glob("*__*.csv"):
        with open(path, newline="") as handle:
            rows_per_file[path.name] = sum(1 for _ in csv.DictReader(handle))

    first = pipeline_dag.test(logical_date=datetime(2026, 3, 3, tzinfo=UTC), run_conf={"feed_dir": str(feed)})
    again = pipeline_dag.test(logical_date=datetime(2026, 3, 4, tzinfo=UTC), run_conf={"feed_dir": str(feed)})
    held_back.rename(extra)
    later = pipeline_dag.test(logical_date=datetime(2026, 3, 5, tzinfo=UTC), run_conf={"feed_dir": str(feed)})
    return {"feed": feed, "rows_per_file": rows_per_file, "runs": (first, again, later)}


def test_a_generated_feed_folder_lands_every_record_and_only_new_files_later(feed_runs, warehouse):
    first, again, later = feed_runs["runs"]

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

    assert {name: fetched for name, (_, fetched, _, _) in first_loads.items()} == feed_runs["rows_per_file"]
    assert all(status == "succeeded" and f == landed + q for status, f, landed, q in first_loads.values())
    assert quarantined == sum(q for _, _, _, q in first_loads.values()) > 0
    assert {status for status, *_ in again_loads.values()} == {"skipped"}
    assert later_loads["crm__opportunities.csv"][0] == "succeeded"
    assert {s for name, (s, *_) in later_loads.items() if name != "crm__opportunities.csv"} <= {"skipped"}


def test_a_dropped_record_bridging_two_contacts_merges_them_and_no_other_id_changes(feed_runs, pipeline_dag, warehouse):
    feed = feed_runs["feed"]
    with psycopg.connect(warehouse.url()) as conn:
        before = _origin_contacts(conn)
        (email_contact, email), (phone_contact, phone) = bridge_candidates(conn, email_like="%.example")
    (feed / "fair__contacts.csv").write_text(
        "source_system,source_record_id,updated_at,email,phone,first_name,last_name\n"
        f"fair,F-1,2026-03-05T10:00:00Z,{email},{phone},Bridget,Bridge\n"
    )

    run = pipeline_dag.test(logical_date=datetime(2026, 3, 6, tzinfo=UTC), run_conf={"feed_dir": str(feed)})

    assert run.state == "success"
    with psycopg.connect(warehouse.url()) as conn:
        after = _origin_contacts(conn)
        history = conn.execute(
            "select contact_id, event, other_contact_id from marts.contact_id_history where event = 'merged_into'"
        ).fetchall()
    survivor, retired = sorted([email_contact, phone_contact])  # created in one run: the smaller id survives
    assert after["fair:F-1"] == survivor
    assert (retired, "merged_into", survivor) in history
    assert {o: after[o] for o in before} == {o: survivor if c == retired else c for o, c in before.items()}


def test_a_run_that_lands_nothing_still_checks_and_builds(feed_runs, pipeline_dag, warehouse):
    """No feed folder, no sources: every ingest task is skipped, and the raw checks (nothing to
    check) and dbt run all the same — a rebuild after a rule change, say."""
    with psycopg.connect(warehouse.url()) as conn:
        contacts = _snapshot(conn)

    run = pipeline_dag.test(
        logical_date=datetime(2026, 3, 7, tzinfo=UTC), run_conf={"feed_dir": "", "include_sources": False}
    )

    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert {state for task_id, state in states.items() if task_id == "land" or task_id.startswith("ingest_")} == {
        "skipped"
    }
    assert states["validate_raw"] == states["validate_marts"] == "success"
    with psycopg.connect(warehouse.url()) as conn:
        loads = conn.execute("select count(*) from ops.loads where airflow_run_id = %s", (run.run_id,)).fetchone()
        scored_as_of = conn.execute("select distinct scored_at from marts.contact_scores").fetchall()
        assert _snapshot(conn) == contacts
    assert loads == (0,)
    assert scored_as_of == [(datetime(2026, 3, 7, tzinfo=UTC),)]  # dbt built as of this run
