"""The per-contact models over a lookback window of interactions, which keep their sums
(macros/window_sums.sql): int_contact_engagement_points (a year of inbound interactions) and
int_contact_interests_weighted (six months of interests), on generated data with real dbt and
PostgreSQL. Days later, the sums of the contacts whose interactions came (late, new, or dated ahead
of the last run) or left the window take them, a contact with a re-sent one is counted whole, the
others' rows only decay — and the sums, scores, reasons and interests equal a full refresh's, also
for a backfill."""

from __future__ import annotations

from datetime import datetime
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
    "marts.contact_interests": "contact_id, interest",
    "intermediate.int_contact_interest_lists": "contact_id",
}
ENGAGEMENT = "intermediate.int_contact_engagement_points"
INTERESTS = "intermediate.int_contact_interests_weighted"
WINDOWED = [
    "int_contact_engagement_points",
    "contact_score_reasons",
    "contact_scores",
    "int_contact_interests_weighted",
    "contact_interests",
    "int_contact_interest_lists",
]


def _engagement(database: DatabaseUrl, contact_id: str) -> dict[str, int]:
    """A contact's counted interactions per rule."""
    with psycopg.connect(database.url()) as conn:
        return dict(conn.execute(f"select rule, interactions from {ENGAGEMENT} where contact_id = %s", (contact_id,)))


def _interests(database: DatabaseUrl, contact_id: str) -> dict[str, int]:
    """A contact's interactions per interest of the six months."""
    with psycopg.connect(database.url()) as conn:
        query = f"select interest, interactions from {INTERESTS} where contact_id = %s"
        return dict(conn.execute(query, (contact_id,)))


def _interest_list(database: DatabaseUrl, contact_id: str) -> list[str]:
    """A contact's interest codes as a transfer sends them, strongest first."""
    with psycopg.connect(database.url()) as conn:
        query = "select interests from intermediate.int_contact_interest_lists where contact_id = %s"
        row = conn.execute(query, (contact_id,)).fetchone()
    return row[0].split("|") if row else []


def _anchored_rules(database: DatabaseUrl, contact_id: str) -> dict[str, datetime]:
    """When each of a contact's engagement rows was last written (the run's logical date)."""
    with psycopg.connect(database.url()) as conn:
        return dict(conn.execute(f"select rule, anchored_at from {ENGAGEMENT} where contact_id = %s", (contact_id,)))


def _interest_rows(database: DatabaseUrl, contact_id: str) -> dict[str, tuple]:
    """A contact's interest rows: (units, interactions, last seen, rank) and when each was written."""
    with psycopg.connect(database.url()) as conn:
        query = (
            f"select interest, weight_units, interactions, last_seen_at, interest_rank, anchored_at"
            f" from {INTERESTS} where contact_id = %s"
        )
        return {row[0]: (row[1:5], row[5]) for row in conn.execute(query, (contact_id,))}


def _anchors(database: DatabaseUrl, table: str) -> int:
    with psycopg.connect(database.url()) as conn:
        return conn.execute(f"select count(distinct anchored_at) from {table}").fetchone()[0]


def _land_visits(database: DatabaseUrl, folder: Path, *rows: tuple[str, ...], contacts: tuple[dict, ...] = ()) -> None:
    """Web interactions (key, occurred_at, type, email, interests[, cookie_id]), and partner
    `contacts`, landed as a file drop."""
    folder.mkdir()
    if contacts:
        write_feed_file(folder / "partner__contacts.csv", "contacts", list(contacts))
    write_feed_file(folder / "web__interactions.csv", "interactions", [
        {"source_system": "web", "source_interaction_id": key, "occurred_at": occurred_at,
         "interaction_type": kind, "email": email, "interests": interests, "cookie_id": cookie}
        for key, occurred_at, kind, email, interests, cookie in (row + ("",) * (6 - len(row)) for row in rows)
    ])  # fmt: skip
    land_folder(database, folder)


def _kept_sums(database: DatabaseUrl) -> dict[str, list[tuple]]:
    """The kept sums of every contact's interests and engagement, exact (the decayed values and
    anchored_at say when a row was last written, which differs between a day's build and a full
    refresh)."""
    with psycopg.connect(database.url()) as conn:
        return {
            INTERESTS: conn.execute(
                f"select contact_id, interest, weight_units, interactions, last_seen_at, interest_rank"
                f" from {INTERESTS} order by contact_id, interest"
            ).fetchall(),
            ENGAGEMENT: conn.execute(
                f"select contact_id, rule, points_units, interactions, points_before_decay"
                f" from {ENGAGEMENT} order by contact_id, rule"
            ).fetchall(),
        }


def _logged_by_interactions(database: DatabaseUrl, contact_id: str) -> set[str]:
    """Why fct_interactions' last build logged a contact."""
    with psycopg.connect(database.url()) as conn:
        return {row[0] for row in conn.execute(
            "select reason from intermediate.int_contact_changes where logged_by = 'fct_interactions'"
            " and contact_id = %s and change_sequence = (select max(change_sequence)"
            " from intermediate.int_contact_changes where logged_by = 'fct_interactions')",
            (contact_id,),
        )}  # fmt: skip


def _same_as_a_full_refresh(database: DatabaseUrl, target: Path, as_of: str) -> None:
    incremental = {t: table_rows(database, t, o) for t, o in COMPARED.items()}
    sums = _kept_sums(database)
    dbt_rows_written(database, target, "run", "-s", *WINDOWED, "--full-refresh", as_of=as_of)
    for table, order in COMPARED.items():
        assert table_rows(database, table, order) == incremental[table], table
    assert _kept_sums(database) == sums


def test_windowed_models_redo_the_contacts_whose_interactions_changed(fresh_database, tmp_path):
    Generator(300, seed=7).write(tmp_path / "feed", progress=False)
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    dbt_rows_written(fresh_database, target, "build", as_of=DAY_1)
    with psycopg.connect(fresh_database.url()) as conn:
        (ahead, ahead_email), (late, late_email), (leaving, leaving_email) = conn.execute(
            # (each with a code of the taxonomy it has no interest in yet)
            f"select contact_id, email from marts.dim_contacts as c where email is not null"
            f" and (select count(*) from {INTERESTS} as w where w.contact_id = c.contact_id)"
            f" < (select count(*) from staging.interest_taxonomy) order by contact_id limit 3"
        ).fetchall()
        # a golden contact without a counted interaction (no rows kept in either model)
        quiet, quiet_email = conn.execute(
            f"select contact_id, email from marts.dim_contacts as c where email is not null and not exists"
            f" (select from {ENGAGEMENT} as e where e.contact_id = c.contact_id) and not exists"
            f" (select from {INTERESTS} as w where w.contact_id = c.contact_id) order by contact_id limit 1"
        ).fetchone()
        # an anonymous visitor (a cookie that never named an email: no golden contact, no scores)
        visitor, cookie = conn.execute(
            "select i.contact_id, i.cookie_id from marts.fct_interactions as i where i.cookie_id is not null"
            " and not exists (select from marts.dim_contacts as c where c.contact_id = i.contact_id)"
            " order by i.contact_id limit 1"
        ).fetchone()

    # the same day again, with a visit dated two days ahead (counted from its day on), one that is
    # 364 days old (leaves the year's lookback before the next run) and one 182 days old (leaves
    # the six months of interests)
    contacts = (ahead, late, leaving)
    before = {c: _engagement(fresh_database, c) for c in contacts}
    interests_before = {c: _interests(fresh_database, c) for c in contacts}
    with psycopg.connect(fresh_database.url()) as conn:
        codes = [row[0] for row in conn.execute("select interest from staging.interest_taxonomy order by interest")]
    fading = next(code for code in codes if code not in interests_before[leaving])  # new to it
    _land_visits(
        fresh_database,
        tmp_path / "drop-1",
        ("AHEAD", "2026-11-03T09:00:00Z", "web_visit", ahead_email, "security"),
        ("LEAVING", "2025-11-03T12:00:00Z", "web_visit", leaving_email, ""),
        ("FADING", "2026-05-04T12:00:00Z", "web_visit", leaving_email, fading),
        # re-sent on the next day with another interest
        ("RESENT", "2026-10-20T10:00:00Z", "web_visit", late_email, "security"),
        # a click of a week that late clicks fill beyond its cap on the next day
        ("WEEK-0", "2026-10-27T08:00:00Z", "email_click", leaving_email, ""),
        # a new contact whose only interest leaves the six months: its list goes with it
        ("LONE", "2026-05-04T12:00:00Z", "web_visit", "lone.reader@example.org", fading),
        contacts=(
            {
                "source_system": "partner",
                "source_record_id": "P-LONE",
                "updated_at": "2026-05-01T09:00:00Z",
                "email": "lone.reader@example.org",
                "first_name": "Lone",
                "last_name": "Reader",
            },
        ),
    )
    dbt_rows_written(fresh_database, target, "build", as_of=DAY_1)
    day_1 = {c: _engagement(fresh_database, c) for c in contacts}
    interests_1 = {c: _interests(fresh_database, c) for c in contacts}
    rows_1 = {c: _interest_rows(fresh_database, c) for c in contacts}
    assert day_1[ahead] == before[ahead] and interests_1[ahead] == interests_before[ahead]  # not yet
    assert day_1[leaving].get("web_visit", 0) == before[leaving].get("web_visit", 0) + 2
    assert interests_1[leaving].get(fading) == 1 and fading in _interest_list(fresh_database, leaving)
    with psycopg.connect(fresh_database.url()) as conn:
        lone = conn.execute(
            "select contact_id from marts.dim_contacts where email = 'lone.reader@example.org'"
        ).fetchone()[0]
    assert _interest_list(fresh_database, lone) == [fading]

    # three days later: a late click of June and a new one, a visit re-sent with another interest,
    # late clicks past a week's cap, and a new click of the contact whose visit dated ahead comes
    # into the window
    _land_visits(
        fresh_database,
        tmp_path / "drop-2",
        ("LATE", "2026-06-01T10:00:00Z", "email_click", late_email, "security"),
        ("NEW", "2026-11-04T10:00:00Z", "email_click", late_email, "security"),
        ("RESENT", "2026-10-20T10:00:00Z", "web_visit", late_email, "cloud"),
        ("FRESH", "2026-11-04T11:00:00Z", "email_click", ahead_email, "security"),
        *[(f"WEEK-{i}", f"2026-10-28T08:0{i}:00Z", "email_click", leaving_email, "") for i in range(1, 6)],
        # the quiet contact's first visit of the year counts; the anonymous visitor's for no one
        ("QUIET", "2026-11-04T09:00:00Z", "web_visit", quiet_email, "security"),
        ("VISITOR", "2026-11-04T12:00:00Z", "web_visit", "", "security", cookie),
    )
    rows = {table: len(table_rows(fresh_database, table, "contact_id")) for table in (ENGAGEMENT, INTERESTS)}
    written = dbt_rows_written(fresh_database, target, "build", as_of=DAY_2)
    # a few contacts, not all
    assert 0 < written["int_contact_engagement_points"] < rows[ENGAGEMENT] / 5, written
    assert 0 < written["int_contact_interests_weighted"] < rows[INTERESTS] / 5, written
    assert 0 < written["int_contact_interest_lists"] <= written["int_contact_interests_weighted"], written
    day_2 = {c: _engagement(fresh_database, c) for c in contacts}
    interests_2 = {c: _interests(fresh_database, c) for c in contacts}
    assert day_2[ahead].get("web_visit", 0) == day_1[ahead].get("web_visit", 0) + 1  # its day came
    assert interests_2[ahead].get("security", 0) == interests_1[ahead].get("security", 0) + 2  # and FRESH
    assert day_2[leaving].get("web_visit", 0) == day_1[leaving].get("web_visit", 0) - 1  # a year old
    assert fading not in interests_2[leaving]  # six months old: out of the weights and of the list
    assert fading not in _interest_list(fresh_database, leaving)
    assert _interests(fresh_database, lone) == {} and _interest_list(fresh_database, lone) == []
    assert day_2[late].get("email_click", 0) == day_1[late].get("email_click", 0) + 2
    assert day_2[leaving].get("email_click", 0) == day_1[leaving].get("email_click", 0) + 5
    assert interests_2[late].get("security", 0) == interests_1[late].get("security", 0) + 2 - 1  # RESENT
    assert interests_2[late].get("cloud", 0) == interests_1[late].get("cloud", 0) + 1
    # only new interactions: added to the kept sums; a re-sent one: the contact counted again
    assert _logged_by_interactions(fresh_database, ahead) == {"appended"}
    assert _logged_by_interactions(fresh_database, leaving) == {"appended"}
    assert _logged_by_interactions(fresh_database, late) == {"rebuilt"}
    # new visits are news (not counted whole again): of a golden contact with no rows yet, counted;
    # of a contact that is not golden, not
    assert _logged_by_interactions(fresh_database, quiet) == {"appended"}
    assert _engagement(fresh_database, quiet) == {"web_visit": 1}
    assert _interests(fresh_database, quiet) == {"security": 1}
    assert _logged_by_interactions(fresh_database, visitor) == {"appended"}
    assert _engagement(fresh_database, visitor) == {} and _interests(fresh_database, visitor) == {}
    # a contact with only new interactions has the rows of the rules with news written again, and
    # keeps the others (ahead: a visit came into the year and a new click; leaving: a visit left
    # it and clicks came): a few of a contact's rows, not all
    rewritten = {
        c: {rule for rule, at in _anchored_rules(fresh_database, c).items() if at == datetime.fromisoformat(DAY_2)}
        for c in (ahead, leaving)
    }
    assert rewritten == {ahead: {"web_visit", "email_click"}, leaving: {"web_visit", "email_click"}}
    assert any(len(_anchored_rules(fresh_database, c)) > 2 for c in (ahead, leaving))  # rows kept
    # and of its interests, those whose sums or rank moved (or that are new) are written again
    rows_2 = {c: _interest_rows(fresh_database, c) for c in (ahead, leaving)}
    for c, rows in rows_2.items():
        moved = {i for i, (values, _) in rows.items() if i not in rows_1[c] or rows_1[c][i][0] != values}
        assert {i for i, (_, at) in rows.items() if at == datetime.fromisoformat(DAY_2)} == moved, c
    assert any(at != datetime.fromisoformat(DAY_2) for rows in rows_2.values() for _, at in rows.values())
    # the others kept their day-1 rows, decayed by contact_score_reasons and contact_interests
    assert _anchors(fresh_database, ENGAGEMENT) == 2 and _anchors(fresh_database, INTERESTS) == 2
    _same_as_a_full_refresh(fresh_database, target, DAY_2)

    # a backfill of the first day: every contact again, as of that day
    written = dbt_rows_written(fresh_database, target, "run", "-s", *WINDOWED, as_of=DAY_1)
    everything = {table: len(table_rows(fresh_database, table, "contact_id")) for table in (ENGAGEMENT, INTERESTS)}
    assert written["int_contact_engagement_points"] == everything[ENGAGEMENT], written
    assert written["int_contact_interests_weighted"] == everything[INTERESTS], written
    _same_as_a_full_refresh(fresh_database, target, DAY_1)
