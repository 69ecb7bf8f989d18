"""GX checkpoints find what is wrong, say how bad it is, and keep the result in ops."""

from __future__ import annotations

import json

import psycopg
import pytest

from leadflow.quality.checkpoints import Validator, table_batch
from leadflow.quality.results import record_result
from leadflow.quality.suites import expectations_dir, load_suite

pytestmark = pytest.mark.integration

SUITE = expectations_dir() / "marts" / "dim_contacts.json"


def run_suite(database, path):
    suite = load_suite(path)
    with psycopg.connect(database.url()) as conn:
        batch = table_batch(conn, suite)
    return Validator(database, "test-run").run(suite, batch)


def _make_dim_contacts(conn: psycopg.Connection, rows: list[tuple]) -> None:
    conn.execute("create schema marts")
    conn.execute(
        "create table marts.dim_contacts (contact_id text, email text, email_permission text,"
        " phone_permission text, number_of_origins integer)"
    )
    with conn.cursor() as cur:
        cur.executemany("insert into marts.dim_contacts values (%s, %s, %s, %s, %s)", rows)
    conn.commit()


def test_duplicate_ids_and_bad_consent_fail_critically_without_leaking_rows(fresh_database):
    with psycopg.connect(fresh_database.url()) as conn:
        _make_dim_contacts(
            conn,
            [
                ("c1", "anna@example.com", "granted", "unknown", 1),
                ("c1", "marco@example.com", "granted", "unknown", 1),
                ("c2", "lena@example.net", "maybe", "unknown", 2),
            ],
        )
        result = run_suite(fresh_database, SUITE)
        record_result(conn, result, run_id="test-run")
        stored = conn.execute(
            "select success, severity, evaluated_rows, failed_expectations from ops.quality_results"
        ).fetchone()

    assert not result.success and result.blocks_transfers
    failed = {(f["expectation"], f["column"]) for f in result.failed}
    assert failed == {
        ("expect_column_values_to_be_unique_by_index", "contact_id"),  # no unique index: the ids are counted
        ("expect_column_values_to_be_in_set", "email_permission"),
    }
    assert stored[:3] == (False, "critical", 3)
    assert "example" not in json.dumps(stored[3])  # observed values and counts, never the rows


def _uniqueness_query(suite_path) -> str:
    from leadflow.quality.expectations import ExpectColumnValuesToBeUniqueByIndex
    from leadflow.quality.suites import UNIQUE_BY_INDEX

    (check,) = [e for e in load_suite(suite_path).expectations if e["type"] == UNIQUE_BY_INDEX]
    return ExpectColumnValuesToBeUniqueByIndex(**check["kwargs"]).unexpected_rows_query


def test_ids_are_unique_by_the_tables_unique_index_on_them_alone_or_else_counted(fresh_database):
    with psycopg.connect(fresh_database.url()) as conn:
        _make_dim_contacts(
            conn,
            [("c1", "anna@example.com", "granted", "unknown", 1), ("c1", "marco@example.com", "granted", "unknown", 1)],
        )
        # an index unique over more than the id proves nothing about the id
        conn.execute("create unique index on marts.dim_contacts (contact_id, email)")
        conn.commit()
        failed = {(f["expectation"], f["column"]) for f in run_suite(fresh_database, SUITE).failed}
        assert ("expect_column_values_to_be_unique_by_index", "contact_id") in failed

        conn.execute("delete from marts.dim_contacts where email like 'marco%'")
        conn.execute("create unique index on marts.dim_contacts (contact_id)")
        conn.commit()
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "explain analyze " + _uniqueness_query(SUITE).replace("{batch}", "marts.dim_contacts")  # noqa: S608
            )
        )
        result = run_suite(fresh_database, SUITE)

    assert "never executed" in plan  # the index holds it: the table is not read
    assert result.success


def test_the_data_docs_index_lists_the_newest_results_and_keeps_every_page(fresh_database, tmp_path, monkeypatch):
    import leadflow.quality.checkpoints as checkpoints

    monkeypatch.setenv("LEADFLOW_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(checkpoints, "DOCS_INDEX_RESULTS", 2)
    with psycopg.connect(fresh_database.url()) as conn:
        _make_dim_contacts(conn, [("c1", "anna@example.com", "granted", "unknown", 1)])
    suite = load_suite(SUITE)
    pages = []
    for run in ("run-1", "run-2", "run-3"):
        validator = Validator(fresh_database, run)
        with psycopg.connect(fresh_database.url()) as conn:
            pages.append(validator.run(suite, table_batch(conn, suite)).docs_page)
        validator.finish()

    index = checkpoints.data_docs_index().read_text()
    assert [page for page in pages if page in index] == pages[1:]  # the two newest
    assert all((checkpoints.data_docs_index().parent / page).exists() for page in pages)


def test_a_warning_level_failure_is_reported_but_does_not_block(fresh_database):
    with psycopg.connect(fresh_database.url()) as conn:
        _make_dim_contacts(
            conn,
            [(f"c{i}", f"person{i}@example.com", "granted", "unknown", 1) for i in range(20)]
            + [("c99", "not-an-email", "unknown", "unknown", 1)],
        )
        result = run_suite(fresh_database, SUITE)

    assert not result.success
    assert result.severity == "warning" and not result.blocks_transfers
    assert [f["expectation"] for f in result.failed] == ["expect_column_values_to_match_regex"]


def test_the_pipeline_gate_fails_the_task_on_a_critical_failure(fresh_database, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from leadflow.dagfactory.quality_tasks import validate

    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_WAREHOUSE", fresh_database.url())
    with psycopg.connect(fresh_database.url()) as conn:
        _make_dim_contacts(conn, [(None, "a@example.com", "granted", "unknown", 1)])

    with pytest.raises(AirflowFailException, match=r"marts.dim_contacts on marts.dim_contacts \(.*not_be_null"):
        validate(["marts"], "leadflow_warehouse", "gate-test")


def test_a_load_far_smaller_than_the_recent_ones_warns_and_an_empty_incremental_load_passes(fresh_database):
    import uuid
    from datetime import UTC, datetime, timedelta

    from leadflow.quality.checkpoints import validate_layers
    from leadflow.sources.feed import raw_table_ddl
    from leadflow.sources.landing import OPS_DDL

    now = datetime.now(UTC)
    loads = []
    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute(OPS_DDL)
        conn.execute(raw_table_ddl("shop", "campaigns"))
        for day, landed in enumerate((100, 0, 120, 110, 5, 0)):
            load_id, started = str(uuid.uuid4()), now - timedelta(days=10 - day)
            loads.append(load_id)
            conn.execute(
                "insert into ops.loads (load_id, source_system, entity, started_at, finished_at, status, fetched,"
                " landed) values (%s, 'shop', 'campaigns', %s, %s, 'succeeded', %s, %s)",
                (load_id, started, started + timedelta(minutes=1), landed, landed),
            )
            conn.execute(
                "insert into raw.shop__campaigns (load_id, loaded_at, source_system, campaign_id, started_at)"
                " select %s, %s, 'shop', 'c' || i, '2026-01-01' from generate_series(1, %s) as i",
                (load_id, started + timedelta(seconds=30), landed),
            )
        conn.commit()

    small, empty = validate_layers(fresh_database, ["raw"], "sizes", load_ids=loads[4:])

    assert small.batch.endswith(loads[4][:8]) and not small.success and small.severity == "warning"
    assert [f["expectation"] for f in small.failed] == ["expect_table_row_count_to_be_between"]
    assert small.failed[0]["observed"]["observed_value"] == 5  # the median of 100, 120, 110 is 110: at least 11
    assert empty.success and empty.evaluated_expectations == 2  # shape and size only


def _make_scores(conn: psycopg.Connection, contacts: list[tuple[str, str]], scored: list[str]) -> None:
    conn.execute("create schema marts")
    conn.execute("create table marts.dim_contacts (contact_id text, first_seen_at timestamptz)")
    conn.execute(
        "create table marts.contact_scores (contact_id text, profile_score numeric, profile_grade text,"
        " engagement_score numeric, engagement_level integer, rating text, lead_score numeric,"
        " engagement_percentile numeric, scored_at timestamptz)"
    )
    with conn.cursor() as cur:
        cur.executemany("insert into marts.dim_contacts values (%s, %s)", contacts)
        cur.executemany(
            "insert into marts.contact_scores values (%s, 50, 'B', 40, 2, 'B2', 45, 50, '2026-03-01')",
            [(contact_id,) for contact_id in scored],
        )
    conn.commit()


@pytest.mark.parametrize(
    ("c2_first_seen", "scored", "warns"),
    [("2026-02-01", ["c1"], True), ("2026-04-01", ["c1"], False), ("2026-04-01", [], True)],
    ids=["first seen before the scoring date", "first seen after it", "nothing scored"],
)
def test_a_golden_contact_without_a_score_warns_unless_first_seen_after_the_scoring_date(
    fresh_database, c2_first_seen, scored, warns
):
    with psycopg.connect(fresh_database.url()) as conn:
        _make_scores(conn, [("c1", "2026-01-01"), ("c2", c2_first_seen)], scored=scored)
        result = run_suite(fresh_database, expectations_dir() / "marts" / "contact_scores.json")

    assert [f["expectation"] for f in result.failed] == (["expect_query_to_return_no_rows"] if warns else [])
    assert not result.blocks_transfers


@pytest.mark.parametrize("result_format", ["BASIC", "COMPLETE"])
def test_a_query_check_runs_its_query_once_and_returns_the_rows_only_when_asked(fresh_database, result_format):
    """GX's UnexpectedRowsExpectation runs its query twice (the rows, then their count); ours runs
    it once unless the result format keeps the rows. The query counts its runs: each row it reads
    draws from a sequence."""
    import great_expectations as gx

    import leadflow.quality.expectations as ours
    from leadflow.quality.checkpoints import _sqlalchemy_url

    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute("create sequence public.reads")
        conn.execute(
            "create table public.scores as select * from (values ('c1', 120), ('c2', 50), ('c3', -5)) as v (id, s)"
        )
        conn.commit()
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_postgres(name="db", connection_string=_sqlalchemy_url(fresh_database))
        .add_table_asset(name="scores", table_name="scores", schema_name="public")
        .add_batch_definition_whole_table("all")
        .get_batch()
    )
    check = ours.ExpectQueryToReturnNoRows(
        unexpected_rows_query="select id, nextval('public.reads') from {batch} where s not between 0 and 100"
    )

    outcome = batch.validate(check, result_format=result_format)
    with psycopg.connect(fresh_database.url()) as conn:
        reads = conn.execute("select last_value from public.reads").fetchone()[0]

    assert not outcome.success and outcome.result["observed_value"] == 2
    if result_format == "COMPLETE":  # the rows, as GX's own expectation returns them: one more run
        assert sorted(row["id"] for row in outcome.result["details"]["unexpected_rows"]) == ["c1", "c3"]
        assert reads == 4
    else:
        assert "details" not in outcome.result
        assert reads == 2
