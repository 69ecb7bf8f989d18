"""`dbt build` (models, data tests and unit tests) on a database holding the sample feed."""

from __future__ import annotations

import json

import psycopg
import pytest

from leadflow.settings import project_root
from leadflow.sources.files import FeedFile
from leadflow.sources.landing import land_records
from tests.fixtures import run_dbt

pytestmark = pytest.mark.integration


def test_dbt_build_passes_and_builds_the_marts(fresh_database, tmp_path):
    feed = FeedFile.from_path(project_root() / "examples" / "feed" / "crm__contacts.csv")
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, feed.source_system, feed.entity, feed.records())

    result = run_dbt(fresh_database, tmp_path / "target", "build")

    assert result.returncode == 0, result.stdout[-3000:]
    assert "ERROR=0" in result.stdout
    with psycopg.connect(fresh_database.url()) as conn:
        contacts = conn.execute("select count(*), count(distinct email) from marts.dim_contacts").fetchone()
        staged = conn.execute("select count(*) from staging.stg_feed__contacts").fetchone()[0]
        lena = conn.execute(
            "select email_permission, number_of_origins from marts.dim_contacts where email = %s",
            ("lena.meier@example.net",),
        ).fetchall()
        conflicting = conn.execute(
            "select key_type, key_value from intermediate.int_identity_keys_blocked"
            " where block_rule = 'conflicting' order by 1, 2"
        ).fetchall()
        comment = conn.execute("select obj_description('marts.dim_contacts'::regclass)").fetchone()[0]
        # the contracts' constraints and types hold on the tables built (macros/create_table_as.sql
        # builds them with `create table as`, then adds the constraints)
        primary_keys = conn.execute(
            "select conrelid::regclass::text, pg_get_constraintdef(oid) from pg_constraint"
            " where connamespace = 'marts'::regnamespace and contype = 'p' order by 1"
        ).fetchall()
        # keys and value lists held as constraints rather than tests scanning the tables each run
        checks = conn.execute(
            "select conrelid::regclass::text, conname from pg_constraint"
            " where connamespace = 'marts'::regnamespace and contype = 'c' order by 1, 2"
        ).fetchall()
        # the marts computed when read: views that filter their rows for the reader (security barriers)
        views = conn.execute(
            "select oid::regclass::text, relkind, reloptions from pg_class"
            " where oid in ('marts.contact_interests'::regclass, 'marts.contact_score_reasons'::regclass) order by 1"
        ).fetchall()
        not_null = conn.execute(
            "select attname from pg_attribute where attrelid = 'marts.fct_interactions'::regclass"
            " and attnum > 0 and attnotnull"
        ).fetchall()
        # the seeds (staging's only tables) analyzed when loaded: autovacuum never gets to a few rows
        unanalyzed_seeds = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'staging' and c.relkind = 'r' and c.reltuples < 0 order by 1"
        ).fetchall()
        score_type = conn.execute(
            "select format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = 'marts.contact_scores'::regclass and attname = 'lead_score'"
        ).fetchone()
        unique_keys = _unique_keys(conn)

    assert staged == 14
    assert unanalyzed_seeds == []  # the planner knows the rules tables' sizes (dbt_project.yml)
    # Anna Berg and Lena Meier each have two CRM records with different CRM ids: two people to the
    # CRM, so their shared email and phone must not merge them (and are reported)
    assert contacts == (14, 12)
    assert conflicting == [
        ("email", "anna.berg@example.com"),
        ("email", "lena.meier@example.net"),
        ("phone", "+49301234567"),
    ]
    # consent belongs to the address: the newer opt-out beats the older opt-in for both holders
    assert lena == [("denied", 1), ("denied", 1)]
    assert comment and "golden contact" in comment  # docs persisted for BI tools
    assert primary_keys == [
        ("marts.campaign_attribution", "PRIMARY KEY (source_system, opportunity_id, campaign_id, model)"),
        ("marts.contact_scores", "PRIMARY KEY (contact_id)"),
        ("marts.dim_accounts", "PRIMARY KEY (account_id)"),
        ("marts.dim_contacts", "PRIMARY KEY (contact_id)"),
        ("marts.lead_stages", "PRIMARY KEY (contact_id)"),
        ("marts.transfer_candidates", "PRIMARY KEY (contact_id)"),
    ]
    assert checks == [
        ("marts.campaign_attribution", "campaign_attribution_model_check"),
        ("marts.contact_addresses", "contact_addresses_permission_check"),
        ("marts.contact_id_history", "contact_id_history_event_check"),
        ("marts.contact_scores", "contact_scores_engagement_level_check"),
        ("marts.contact_scores", "contact_scores_engagement_percentile_check"),
        ("marts.contact_scores", "contact_scores_profile_grade_check"),
        ("marts.dim_contacts", "dim_contacts_email_permission_check"),
        ("marts.dim_contacts", "dim_contacts_number_of_origins_check"),
        ("marts.dim_contacts", "dim_contacts_phone_permission_check"),
        ("marts.fct_interactions", "fct_interactions_direction_check"),
        ("marts.fct_interactions", "fct_interactions_resolved_by_check"),
        ("marts.lead_stage_history", "lead_stage_history_direction_check"),
    ]
    assert views == [
        ("marts.contact_interests", "v", ["security_barrier=true"]),
        ("marts.contact_score_reasons", "v", ["security_barrier=true"]),
    ]
    assert not_null == [("interaction_key",)]
    assert score_type == ("numeric(6,2)",)
    # the keys of the incremental tables held by unique indexes (ensure_unique_index), not by tests
    # scanning the tables after every run
    assert set(KEPT_UNIQUE) <= unique_keys

    # a table built before its index was declared gets it from the post-hook
    with psycopg.connect(fresh_database.url(), autocommit=True) as conn:
        for table in ("intermediate.int_contact_id_ledger", "intermediate.int_identity_clusters"):
            # the ledger's index, the clusters' deferrable constraint
            for index, constraint in conn.execute(
                "select i.indexrelid::regclass::text, c.conname from pg_index i"
                " left join pg_constraint c on c.conindid = i.indexrelid"
                " where i.indrelid = %s::regclass and i.indisunique and i.indkey[0] = ("
                "select attnum from pg_attribute where attrelid = i.indrelid and attname = 'origin_key')",
                (table,),
            ).fetchall():
                conn.execute(
                    f"alter table {table} drop constraint {constraint}" if constraint else f"drop index {index}"
                )
    rerun = run_dbt(fresh_database, tmp_path / "target", "run", "-s", "int_identity_clusters", "int_contact_id_ledger")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    with psycopg.connect(fresh_database.url()) as conn:
        assert set(KEPT_UNIQUE) <= _unique_keys(conn)


KEPT_UNIQUE = [
    ("intermediate.int_identity_origins", "origin_key"),
    ("intermediate.int_identity_origins", "node_id"),
    ("intermediate.int_identity_clusters", "origin_key"),
    ("intermediate.int_contact_id_ledger", "origin_key, run_sequence"),
    ("intermediate.int_contact_origins_current", "origin_key"),
    ("marts.contact_origins", "source_system, source_record_id"),
    ("marts.dim_contacts", "contact_id"),
    ("marts.lead_stage_history", "contact_id, entered_at"),
    # a key of contact_score_reasons (a view computed when read) where it costs no upkeep: a table
    # built whole (the incremental ones are unique by their group by)
    ("intermediate.int_contact_negative_points", "contact_id, rule"),
    # built whole: an index build, not a test reading it again
    ("intermediate.int_contact_stages_current", "contact_id"),
]


def _unique_keys(conn: psycopg.Connection) -> set[tuple[str, str]]:
    """(table, its columns) of every unique index (primary keys included)."""
    return set(
        conn.execute(
            "select i.indrelid::regclass::text, string_agg(a.attname, ', ' order by k.position)"
            " from pg_index i cross join unnest(i.indkey::int2[]) with ordinality as k (attnum, position)"
            " join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum"
            " where i.indisunique group by i.indexrelid, i.indrelid"
        ).fetchall()
    )


def fct_interactions_checks(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "select conname, pg_get_constraintdef(oid) from pg_constraint"
        " where conrelid = 'marts.fct_interactions'::regclass and contype = 'c' order by 1"
    ).fetchall()


def test_fct_interactions_checks_its_values_as_rows_are_written(fresh_database, tmp_path):
    feed = FeedFile.from_path(project_root() / "examples" / "feed" / "crm__contacts.csv")
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, feed.source_system, feed.entity, feed.records())
    built = run_dbt(
        fresh_database, tmp_path / "target", "build", "--select", "+fct_interactions", "--exclude", "resource_type:test"
    )
    assert built.returncode == 0, built.stdout[-3000:]

    with psycopg.connect(fresh_database.url(), autocommit=True) as conn:
        created = fct_interactions_checks(conn)
        # a table built before the checks were declared gets them on its next incremental run
        conn.execute("alter table marts.fct_interactions drop constraint fct_interactions_direction_check")
        conn.execute("alter table marts.fct_interactions alter column interaction_key drop not null")
        rerun = run_dbt(fresh_database, tmp_path / "target", "run", "--select", "fct_interactions")
        assert rerun.returncode == 0, rerun.stdout[-3000:]
        restored = fct_interactions_checks(conn)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("insert into marts.fct_interactions (interaction_key, direction) values ('x:1', 'sideways')")
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute("insert into marts.fct_interactions (interaction_key, direction) values (null, 'inbound')")

    assert [name for name, _ in created] == [
        "fct_interactions_direction_check",
        "fct_interactions_resolved_by_check",
    ]
    assert restored == created


def test_dbt_build_fails_when_a_test_fails(fresh_database, tmp_path):
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(
            conn,
            "crm",
            "contacts",
            iter([(1, {"source_record_id": "X", "updated_at": "2026-01-01", "email": "a@example.com"})]),
        )
        # a record without its id (as a broken loader might land) breaks stg's not_null test
        conn.execute("update raw.crm__contacts set source_record_id = null")

    result = run_dbt(fresh_database, tmp_path / "target", "build", "--select", "+stg_feed__contacts")

    assert result.returncode != 0
    assert "not_null_stg_feed__contacts_source_record_id" in result.stdout


def test_a_new_logical_date_reaches_the_sql_without_parsing_the_project_again(fresh_database, tmp_path):
    """The Airflow tasks pass the logical date as LEADFLOW_AS_OF. A new date each day must not cost
    a parse of the whole project, as a new --vars value or an environment variable read while
    parsing would (5-7 s in every dbt task), yet must be the date the models run as of."""
    target = tmp_path / "target"
    parsed = run_dbt(fresh_database, target, "parse", env={"LEADFLOW_AS_OF": "2026-11-01T00:00:00+00:00"})
    assert parsed.returncode == 0, parsed.stdout[-3000:]

    next_day = run_dbt(
        fresh_database,
        target,
        *("--log-format", "json", "--log-level", "debug", "compile", "--select", "contact_interests"),
        env={"LEADFLOW_AS_OF": "2026-11-02T00:00:00+00:00"},
    )

    assert next_day.returncode == 0, next_day.stdout[-3000:]
    events = [json.loads(line)["info"]["name"] for line in next_day.stdout.splitlines() if line.startswith("{")]
    assert "PartialParsingSkipParsing" in events
    assert "UnableToPartialParse" not in events
    compiled = next(target.glob("compiled/*/models/marts/interests/contact_interests.sql")).read_text()
    assert "cast('2026-11-02T00:00:00+00:00' as timestamptz)" in compiled
    assert "2026-11-01" not in compiled


def test_a_row_breaking_a_marts_key_or_value_list_is_refused(fresh_database, tmp_path):
    """The keys and value lists that are constraints refuse a violating row as it is written (a
    build writing one fails, as the test it replaces would)."""
    feed = FeedFile.from_path(project_root() / "examples" / "feed" / "crm__contacts.csv")
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, feed.source_system, feed.entity, feed.records())
    built = run_dbt(
        fresh_database,
        tmp_path / "target",
        "build",
        "--select",
        "+contact_scores",
        "--exclude",
        "resource_type:test",
    )
    assert built.returncode == 0, built.stdout[-3000:]

    score = (
        "insert into marts.contact_scores (contact_id, profile_score, profile_grade, engagement_score,"
        " engagement_level, rating, lead_score, engagement_percentile, scored_at)"
        " values (%s, 80, %s, 70, %s, 'A1', %s, %s, now())"
    )
    with psycopg.connect(fresh_database.url(), autocommit=True) as conn:
        conn.execute(score, ("ctc_x", "A", 1, 75, 50))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(score, ("ctc_x", "B", 2, 75, 50))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(score, ("ctc_y", "E", 1, 75, 50))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(score, ("ctc_z", "A", 5, 75, 50))
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(score, ("ctc_w", "A", 1, None, 50))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(score, ("ctc_v", "A", 1, 75, 100.01))


def test_staging_tests_check_each_load_before_the_build_that_reads_it(fresh_database, tmp_path):
    """Raw is append-only: the staging tests check the rows of the loads int_identity_origins has
    not read yet (every load on a first build), not the whole history in every run."""
    target = tmp_path / "target"
    # (the seed the interest codes' test on staging reads)
    build = ("build", "--select", "+int_identity_origins", "interest_taxonomy", "--exclude", "test_type:unit")
    record = {"source_record_id": "X", "updated_at": "2026-01-01", "email": "a@example.com"}
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, "crm", "contacts", iter([(1, record)]))
    first = run_dbt(fresh_database, target, *build)
    assert first.returncode == 0, first.stdout[-3000:]

    # a new load with a record that lost its id (as a broken loader might land): refused
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, "crm", "contacts", iter([(1, {**record, "source_record_id": "Y"})]))
        conn.execute("update raw.crm__contacts set source_record_id = null where source_record_id = 'Y'")
    broken = run_dbt(fresh_database, target, "build", "--select", "+stg_feed__contacts", "--exclude", "test_type:unit")
    assert broken.returncode != 0
    assert "not_null_stg_feed__contacts_source_record_id" in broken.stdout

    # once its load is read, a row is not scanned again
    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute("delete from raw.crm__contacts where source_record_id is null")
    read = run_dbt(fresh_database, target, *build)
    assert read.returncode == 0, read.stdout[-3000:]
    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute("update raw.crm__contacts set source_record_id = null")
    again = run_dbt(fresh_database, target, "build", "--select", "+stg_feed__contacts", "--exclude", "test_type:unit")
    assert again.returncode == 0, again.stdout[-3000:]


def test_unknown_interest_codes_warn_once_in_the_build_that_reads_their_load(fresh_database, tmp_path):
    """Codes seed interest_taxonomy does not list count nowhere: the build reading their load warns
    and names them; later builds check only the loads they read (the history is not rescanned)."""
    target = tmp_path / "target"
    build = ("build", "--select", "+int_identity_origins", "interest_taxonomy", "--exclude", "test_type:unit")
    interaction = {"source_interaction_id": "I-1", "occurred_at": "2026-01-01", "interaction_type": "web_visit"}
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, "web", "interactions", iter([(1, {**interaction, "interests": "crm|quantum-knitting"})]))
    first = run_dbt(fresh_database, target, *build)
    assert first.returncode == 0, first.stdout[-3000:]
    warning = next(
        line for line in first.stdout.splitlines() if "interest_codes_are_in_the_taxonomy" in line and "WARN" in line
    )
    assert "WARN 1" in warning  # one unknown code

    with psycopg.connect(fresh_database.url()) as conn:
        land_records(
            conn,
            "web",
            "interactions",
            iter([(1, {**interaction, "source_interaction_id": "I-2", "interests": "crm"})]),
        )
    second = run_dbt(fresh_database, target, *build)
    assert second.returncode == 0, second.stdout[-3000:]
    assert any("PASS" in line and "interest_codes_are_in_the_taxonomy" in line for line in second.stdout.splitlines())


def test_a_full_refresh_keeps_the_indexes_the_post_hooks_build(fresh_database, tmp_path):
    # the post-hooks name their indexes; on a full refresh the table dbt replaces still holds those
    # names until it is dropped after the build (`create index if not exists` then made none)
    feed = FeedFile.from_path(project_root() / "examples" / "feed" / "crm__contacts.csv")
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, feed.source_system, feed.entity, feed.records())
    built = {
        "marts.fct_interactions": {"key", "contact_id", "load_id", "occurred_on", "interaction_type", "written_at"},
        "intermediate.int_contact_origins_current": {"origin", "run", "contact"},
    }

    def indexes() -> dict[str, set[str]]:
        with psycopg.connect(fresh_database.url()) as conn:
            return {
                table: {
                    name.removeprefix(table.split(".")[1] + "__")
                    for (name,) in conn.execute(
                        "select c.relname from pg_index as i join pg_class as c on c.oid = i.indexrelid"
                        " where i.indrelid = %s::regclass",
                        (table,),
                    )
                }
                for table in built
            }

    assert run_dbt(fresh_database, tmp_path / "target", "build").returncode == 0
    assert indexes() == built
    models = ("fct_interactions", "int_contact_origins_current")
    result = run_dbt(fresh_database, tmp_path / "target", "run", "--full-refresh", "-s", *models)
    assert result.returncode == 0, result.stdout[-3000:]
    assert indexes() == built
    with psycopg.connect(fresh_database.url()) as conn:  # and the replaced tables' went with them
        left = conn.execute("select count(*) from pg_class where relname like '%%__replaced_%%'").fetchone()[0]
    assert left == 0
