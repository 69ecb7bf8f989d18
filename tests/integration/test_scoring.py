"""Scores, stages and interactions on generated data with real dbt and PostgreSQL: the incremental
fct_interactions equals a full refresh after new, re-sent and re-resolved interactions, lead
stages built on the last build equal those read from the whole history, and a backfill of a past
day reproduces that day's scores and stages."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.generator import Generator
from leadflow.settings import DatabaseUrl
from tests.fixtures import bridge_candidates, land_folder, run_dbt, write_feed_file

pytestmark = pytest.mark.integration

FCT_COLUMNS = (
    "interaction_key, source_system, source_interaction_id, contact_id, resolved_by, occurred_at, interaction_type,"
    " direction, campaign_id, content_url, interests, marketing_area, source_record_id, crm_id, email_hash,"
    " cookie_id, load_id, loaded_at"
)


def _dbt(database: DatabaseUrl, target: Path, *args: str) -> None:
    result = run_dbt(database, target, *args)
    assert result.returncode == 0, result.stdout[-3000:]


def _rows(database: DatabaseUrl, query: str) -> list[tuple]:
    with psycopg.connect(database.url()) as conn:
        return conn.execute(query).fetchall()


def test_incremental_interactions_equal_a_full_refresh(fresh_database, tmp_path):
    feed = tmp_path / "feed"
    Generator(150, seed=11).write(feed, progress=False)
    land_folder(fresh_database, feed)
    target = tmp_path / "target"
    _dbt(fresh_database, target, "build", "--exclude", "test_type:unit")

    # two single-origin contacts with interactions — one known by email, one by phone — that a new
    # record naming both will merge
    with psycopg.connect(fresh_database.url()) as conn:
        (first, first_email), (second, second_phone) = bridge_candidates(conn, with_interactions=True)
    total_before = _rows(fresh_database, "select count(*) from marts.fct_interactions")[0][0]
    resent_key, resent_id = _rows(
        fresh_database,
        "select interaction_key, source_interaction_id from marts.fct_interactions"
        " where source_system = 'email' order by interaction_key limit 1",
    )[0]

    drop = tmp_path / "drop"
    drop.mkdir()
    write_feed_file(
        drop / "fair__contacts.csv",
        "contacts",
        [
            {"source_system": "fair", "source_record_id": "F-1", "updated_at": "2026-10-01T00:00:00Z",
             "email": first_email, "phone": second_phone, "first_name": "Bridget", "last_name": "Bridge"},
        ],
    )  # fmt: skip
    write_feed_file(
        drop / "email__interactions.csv",
        "interactions",
        [
            # new interactions, one of them by the merged person
            {"source_system": "email", "source_interaction_id": "NEW-1", "occurred_at": "2026-10-30T10:00:00Z",
             "interaction_type": "email_click", "email": first_email, "campaign_id": "K-0001",
             "interests": "ai|cloud"},
            {"source_system": "email", "source_interaction_id": "NEW-2", "occurred_at": "2026-10-30T11:00:00Z",
             "interaction_type": "email_open", "email": "nobody@unknown.example"},
            # an old interaction re-sent with a correction: its latest version wins
            {"source_system": "email", "source_interaction_id": resent_id, "occurred_at": "2026-10-29T09:00:00Z",
             "interaction_type": "email_click", "email": first_email, "interests": "security"},
        ],
    )  # fmt: skip
    land_folder(fresh_database, drop)
    # with the default margin: the first loads finished within it, but the table has seen them, so
    # only the drop's loads are new and the merged contact's older interactions can only be
    # corrected by resolving again what the id ledger moved
    _dbt(fresh_database, target, "build", "--exclude", "test_type:unit")
    written = next(
        r["adapter_response"]["rows_affected"]
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].endswith(".fct_interactions")
    )
    assert 3 <= written < total_before / 10  # the new and re-sent ones, and the merged contacts' ones

    incremental = _rows(fresh_database, f"select {FCT_COLUMNS} from marts.fct_interactions order by 1")
    survivor = _rows(
        fresh_database,
        "select contact_id from marts.contact_origins where source_system = 'fair' and source_record_id = 'F-1'",
    )
    assert len(survivor) == 1 and survivor[0][0] in (first, second)  # merged into one of the two ids
    by_key = {row[0]: row for row in incremental}
    assert len(incremental) == total_before + 2  # two new; the re-sent one replaced its old version
    assert by_key[resent_key][6] == "email_click" and by_key[resent_key][10] == "security"
    assert by_key["email:NEW-1"][3] == survivor[0][0]
    assert by_key["email:NEW-2"][3] is None  # nobody's: kept, unresolved
    merged_rows = [row for row in incremental if row[3] in (first, second)]
    assert merged_rows and {row[3] for row in merged_rows} == {survivor[0][0]}  # moved with the merge

    _dbt(fresh_database, target, "build", "-s", "fct_interactions", "--full-refresh", "--exclude", "test_type:unit")
    full = _rows(fresh_database, f"select {FCT_COLUMNS} from marts.fct_interactions order by 1")
    assert incremental == full


SCORE_TABLES = {
    "contact_scores": "select * from marts.contact_scores order by contact_id",
    "contact_score_reasons": "select * from marts.contact_score_reasons order by contact_id, rule",
    "lead_stages": "select * from marts.lead_stages order by contact_id",
    "contact_interests": "select * from marts.contact_interests order by contact_id, interest",
    "campaign_attribution": (
        "select * from marts.campaign_attribution order by source_system, opportunity_id, campaign_id, model"
    ),
}


def _score_tables(database: DatabaseUrl) -> dict[str, list[tuple]]:
    return {name: _rows(database, query) for name, query in SCORE_TABLES.items()}


def test_a_backfill_reproduces_that_days_scores_and_stages(fresh_database, tmp_path):
    Generator(150, seed=11).write(tmp_path / "feed", progress=False)  # data up to 2026-11-01
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    days = ['{as_of: "2026-10-01T00:00:00+00:00"}', '{as_of: "2026-11-01T00:00:00+00:00"}']

    _dbt(fresh_database, target, "build", "--exclude", "test_type:unit", "--vars", days[0])
    first_day = _score_tables(fresh_database)
    drop = tmp_path / "drop"
    drop.mkdir()
    write_feed_file(
        drop / "fair__contacts.csv",
        "contacts",
        [
            {"source_system": "fair", "source_record_id": "F-NEW", "updated_at": "2026-10-15T00:00:00Z",
             "email": "newcomer@example.org", "first_name": "Nora", "last_name": "Newcomer", "country": "DE"},
        ],
    )  # fmt: skip
    land_folder(fresh_database, drop)  # a person first seen between the two days
    # a contact with a stage in the history that the last build did not stage (as if not scored then)
    unstaged = _rows(fresh_database, "delete from marts.lead_stages where contact_id = (select min(contact_id)"
                     " from marts.lead_stages) returning contact_id")  # fmt: skip
    _dbt(fresh_database, target, "build", "--exclude", "test_type:unit", "--vars", days[1])
    second_day = _score_tables(fresh_database)
    # the history's ordinary day: each contact's latest stage from the last lead_stages, not all its rows
    history_built = target / "compiled/leadflow/models/marts/scoring/lead_stage_history.sql"
    assert " as last_stages" in history_built.read_text()
    day_two_history = "select * from marts.lead_stage_history where entered_at = '2026-11-01' order by contact_id"
    changes_from_last_stages = _rows(fresh_database, day_two_history)
    _dbt(fresh_database, target, "run", "-s", "lead_stage_history", "--vars", days[1])  # the day again
    assert " as last_stages" not in history_built.read_text()  # a rerun: from all its rows
    assert _rows(fresh_database, day_two_history) == changes_from_last_stages
    assert unstaged[0][0] in {row[0] for row in _rows(fresh_database, "select contact_id from marts.lead_stages")}
    moved = _rows(fresh_database, "select count(*) from marts.lead_stage_history where entered_at = '2026-11-01'")
    # an ordinary day: lead_stages built on its last build (macros/stage_builds.sql), not the history
    built = target / "run/leadflow/models/marts/scoring/lead_stages.sql"
    assert ") as nothing" not in built.read_text()  # what the last build gave was kept
    reached = _rows(
        fresh_database,
        "select count(*) filter (where first_mql_at = '2026-11-01'),"
        " count(*) filter (where first_sql_at = '2026-11-01') from marts.lead_stages"
        " where contact_id in (select contact_id from marts.lead_stage_history where entered_at < '2026-11-01')",
    )[0]
    assert reached[0] > 0 and reached[1] > 0  # contacts of the first day reached MQL and SQL on the second
    newcomer = _rows(
        fresh_database,
        "select stages.entered_at from marts.lead_stages as stages join marts.dim_contacts as contacts"
        " using (contact_id) where contacts.email = 'newcomer@example.org'",
    )
    assert [row[0].date().isoformat() for row in newcomer] == ["2026-11-01"]  # not in the last build: from history

    _dbt(fresh_database, target, "run", "-s", "lead_stages", "--vars", days[1])  # the same day again
    assert ") as nothing" in built.read_text()  # a rerun: nothing kept
    assert _score_tables(fresh_database)["lead_stages"] == second_day["lead_stages"]  # from the whole history

    _dbt(fresh_database, target, "build", "--exclude", "test_type:unit", "--vars", days[0])  # the backfill
    assert _score_tables(fresh_database) == first_day
    assert second_day["contact_scores"] != first_day["contact_scores"]  # a month later scores differ
    assert moved[0][0] > 0  # and some contacts changed stage, kept in the history
    history = _rows(fresh_database, "select count(*) from marts.lead_stage_history where entered_at = '2026-11-01'")
    assert history == moved  # the backfill of an earlier day leaves later history alone
