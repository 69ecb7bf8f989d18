"""int_contact_engagement_points per contact (macros/rebuild_sets.sql, engagement_points_rebuild)
on generated data with real dbt and PostgreSQL: days later, the contacts whose interactions came
(late, new, or dated ahead of the last run), or left the lookback, are computed again, the others'
points only decay — and the scores and reasons equal a full refresh's, also for a backfill."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from leadflow.demo.generator import Generator
from leadflow.settings import DatabaseUrl
from tests.fixtures import dbt_rows_written, land_folder, table_rows, write_feed_file

pytestmark = pytest.mark.integration

DAY_1 = "2026-11-02T00:00:00+00:00"  # the generated data ends on 1 November
DAY_2 = "2026-11-05T06:00:00+00:00"
# what the scores are made of, in a stable order
COMPARED = {
    "marts.contact_score_reasons": "contact_id, rule",
    "marts.contact_scores": "contact_id",
}
ENGAGEMENT = "intermediate.int_contact_engagement_points"
SCORING = ["int_contact_engagement_points", "contact_score_reasons", "contact_scores"]


def _engagement(database: DatabaseUrl, contact_id: str) -> dict[str, int]:
    """A contact's counted interactions per rule."""
    with psycopg.connect(database.url()) as conn:
        return dict(conn.execute(f"select rule, interactions from {ENGAGEMENT} where contact_id = %s", (contact_id,)))


def _land_visits(database: DatabaseUrl, folder: Path, *rows: tuple[str, str, str, str]) -> None:
    """Web interactions (key, occurred_at, type, email), landed as a file drop."""
    folder.mkdir()
    write_feed_file(folder / "web__interactions.csv", "interactions", [
        {"source_system": "web", "source_interaction_id": key, "occurred_at": occurred_at,
         "interaction_type": kind, "email": email}
        for key, occurred_at, kind, email in rows
    ])  # fmt: skip
    land_folder(database, folder)


def _same_as_a_full_refresh(database: DatabaseUrl, target: Path, as_of: str) -> None:
    incremental = {t: table_rows(database, t, o) for t, o in COMPARED.items()}
    dbt_rows_written(database, target, "run", "-s", *SCORING, "--full-refresh", as_of=as_of)
    for table, order in COMPARED.items():
        assert table_rows(database, table, order) == incremental[table], table


def test_engagement_points_redo_the_contacts_whose_interactions_changed(fresh_database, tmp_path):
    Generator(300, seed=7).write(tmp_path / "feed", progress=False)
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    dbt_rows_written(fresh_database, target, "build", as_of=DAY_1)
    with psycopg.connect(fresh_database.url()) as conn:
        (ahead, ahead_email), (late, late_email), (leaving, leaving_email) = conn.execute(
            "select contact_id, email from marts.dim_contacts where email is not null order by contact_id limit 3"
        ).fetchall()

    # the same day again, with a visit dated two days ahead (counted from its day on) and one that
    # is 364 days old (leaves the year's lookback before the next run)
    before = {c: _engagement(fresh_database, c) for c in (ahead, late, leaving)}
    _land_visits(
        fresh_database,
        tmp_path / "drop-1",
        ("AHEAD", "2026-11-03T09:00:00Z", "web_visit", ahead_email),
        ("LEAVING", "2025-11-03T12:00:00Z", "web_visit", leaving_email),
    )
    dbt_rows_written(fresh_database, target, "build", as_of=DAY_1)
    day_1 = {c: _engagement(fresh_database, c) for c in (ahead, late, leaving)}
    assert day_1[ahead] == before[ahead]  # not yet
    assert day_1[leaving].get("web_visit", 0) == before[leaving].get("web_visit", 0) + 1

    # three days later: a late click of June and a new one
    _land_visits(
        fresh_database,
        tmp_path / "drop-2",
        ("LATE", "2026-06-01T10:00:00Z", "email_click", late_email),
        ("NEW", "2026-11-04T10:00:00Z", "email_click", late_email),
    )
    rows = len(table_rows(fresh_database, ENGAGEMENT, "contact_id, rule"))
    written = dbt_rows_written(fresh_database, target, "build", as_of=DAY_2)
    assert 0 < written["int_contact_engagement_points"] < rows / 5, written  # a few contacts, not all
    day_2 = {c: _engagement(fresh_database, c) for c in (ahead, late, leaving)}
    assert day_2[ahead].get("web_visit", 0) == day_1[ahead].get("web_visit", 0) + 1  # its day came
    assert day_2[leaving].get("web_visit", 0) == day_1[leaving].get("web_visit", 0) - 1  # a year old
    assert day_2[late].get("email_click", 0) == day_1[late].get("email_click", 0) + 2
    with psycopg.connect(fresh_database.url()) as conn:
        anchors = conn.execute(f"select count(distinct anchored_at) from {ENGAGEMENT}").fetchone()[0]
    assert anchors == 2  # the others kept their day-1 points, decayed by the reasons
    _same_as_a_full_refresh(fresh_database, target, DAY_2)

    # a backfill of the first day: every contact again, as of that day
    written = dbt_rows_written(fresh_database, target, "run", "-s", *SCORING, as_of=DAY_1)
    everything = len(table_rows(fresh_database, ENGAGEMENT, "contact_id"))
    assert written["int_contact_engagement_points"] == everything, written
    _same_as_a_full_refresh(fresh_database, target, DAY_1)
