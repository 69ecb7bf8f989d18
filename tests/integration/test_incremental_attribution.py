"""campaign_attribution per opportunity (macros/opportunity_changes.sql) on generated data with real
dbt and PostgreSQL: after a day with a late touch, a touch that leaves for nobody, a touch re-sent
dated after its opportunity's creation, a new version, a new account-level opportunity and a
contact joining that account, the incremental build redoes exactly those opportunities (not one
whose contact only clicked after it was created) and gives the credits a full refresh gives; a
backfill of the day before drops the new one again."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.generator import Generator
from leadflow.settings import DatabaseUrl
from leadflow.sources.feed import ENTITIES
from tests.fixtures import dbt_rows_written, land_folder, write_feed_file

pytestmark = pytest.mark.integration

DAY_1 = "2026-11-01T00:00:00+00:00"
DAY_2 = "2026-11-02T00:00:00+00:00"
ATTRIBUTION = ("int_opportunity_contacts", "campaign_attribution")
# every column but attributed_at (the run's date)
CREDITS = (
    "select source_system, opportunity_id, campaign_id, model, touches, credit, revenue_credit"
    " from marts.campaign_attribution order by 1, 2, 3, 4"
)
LINKS = (
    "select source_system, opportunity_id, contact_id, created_at, amount"
    " from intermediate.int_opportunity_contacts order by 1, 2, 3"
)


def _rows(database: DatabaseUrl, query: str) -> list[tuple]:
    with psycopg.connect(database.url()) as conn:
        return conn.execute(query).fetchall()


def _touches(credits: list[tuple], opportunity: str) -> int:
    return sum(row[4] for row in credits if row[1] == opportunity and row[3] == "linear")


def _day_of_changes(conn: psycopg.Connection, drop: Path) -> dict[str, str]:
    """Feed files with each kind of change; returns the opportunities concerned."""
    # two credited opportunities of CRM contacts: one gets a touch it had not seen (a click that
    # arrives late, a day before it was created), one a new version with another amount
    (late, late_created, late_email), (revised, _, _) = conn.execute(
        "select l.opportunity_id, l.created_at, c.email from intermediate.int_opportunity_contacts l"
        " join marts.dim_contacts c using (contact_id)"
        " where c.email is not null and l.opportunity_id in (select opportunity_id from marts.campaign_attribution)"
        " order by l.opportunity_id limit 2"
    ).fetchall()
    campaign = conn.execute("select min(campaign_id) from marts.campaign_attribution").fetchone()[0]
    # two more, each of one contact who has no other: one of its touches is re-sent with an address
    # nobody has, so it leaves that contact (and nothing else changes for them); another's touch is
    # re-sent dated after the opportunity was created, so it is no touch any more
    (left, left_touch), (moved, moved_touch) = conn.execute(
        "select distinct on (l.opportunity_id) l.opportunity_id, i.source_interaction_id"
        " from intermediate.int_opportunity_contacts l"
        " join marts.fct_interactions i using (contact_id)"
        " where l.opportunity_id not in (%s, %s) and i.source_system = 'email' and i.resolved_by = 'email'"
        " and i.direction = 'inbound' and i.campaign_id is not null"
        " and i.occurred_at <= l.created_at and i.occurred_at > l.created_at - interval '90 days'"
        " and not exists (select from intermediate.int_opportunity_contacts o"
        "  where (o.contact_id = l.contact_id) <> (o.opportunity_id = l.opportunity_id))"
        " and (select sum(a.touches) from marts.campaign_attribution a"
        "  where a.opportunity_id = l.opportunity_id and a.model = 'linear') >= 2"
        " order by 1, 2 limit 2",
        (late, revised),
    ).fetchall()
    # and one more of a contact with an address, who clicks after it was created: not redone
    after, after_email = conn.execute(
        "select l.opportunity_id, c.email from intermediate.int_opportunity_contacts l"
        " join marts.dim_contacts c using (contact_id)"
        " where c.email is not null and l.opportunity_id not in (%s, %s, %s, %s)"
        " and l.opportunity_id in (select opportunity_id from marts.campaign_attribution)"
        " order by l.opportunity_id limit 1",
        (late, revised, left, moved),
    ).fetchone()
    after_click = datetime.fromisoformat(DAY_2) - timedelta(hours=1)
    newest = conn.execute("select max(created_at) from intermediate.int_opportunity_contacts").fetchone()[0]
    assert newest < after_click  # the click comes after every opportunity's creation

    def resent(touch: str, change: dict[str, str]) -> dict[str, str]:
        columns = [c.name for c in conn.execute("select * from raw.email__interactions limit 0").description]
        record = conn.execute(
            "select * from raw.email__interactions where source_interaction_id = %s order by loaded_at desc limit 1",
            (touch,),
        ).fetchone()
        return {c: v for c, v in zip(columns, record, strict=True) if c in ENTITIES["interactions"].columns} | change

    columns = [c.name for c in conn.execute("select * from raw.crm__opportunities limit 0").description]
    record = conn.execute(
        "select * from raw.crm__opportunities where opportunity_id = %s order by loaded_at desc limit 1", (revised,)
    ).fetchone()
    newer = {c: v for c, v in zip(columns, record, strict=True) if c in ENTITIES["opportunities"].columns}
    newer["amount"] = "777000.00"
    # a new opportunity naming only an account (created between the two days), and a new contact
    # of that company who clicked a campaign the day before
    company = conn.execute(
        "select company from marts.dim_contacts where company is not null and account_id is not null"
        " order by contact_id limit 1"
    ).fetchone()[0]
    write_feed_file(
        drop / "crm__opportunities.csv",
        "opportunities",
        [
            newer,
            {"source_system": "crm", "opportunity_id": "O-NEW-1", "account": company,
             "created_at": "2026-11-01T12:00:00Z", "status": "open", "amount": "50000.00"},
        ],
    )  # fmt: skip
    write_feed_file(
        drop / "fair__contacts.csv",
        "contacts",
        [{"source_system": "fair", "source_record_id": "F-NEW-1", "updated_at": "2026-11-01T09:00:00Z",
          "email": "new.colleague@attribution-test.example", "first_name": "Nia", "last_name": "Colleague",
          "company": company, "email_opt_in": "true"}],
    )  # fmt: skip
    write_feed_file(
        drop / "email__interactions.csv",
        "interactions",
        [
            {"source_system": "email", "source_interaction_id": "LATE-1", "interaction_type": "email_click",
             "occurred_at": (late_created - timedelta(days=1)).isoformat(),
             "email": late_email, "campaign_id": campaign},
            {"source_system": "email", "source_interaction_id": "NEW-1", "interaction_type": "email_click",
             "occurred_at": "2026-10-31T10:00:00Z", "email": "new.colleague@attribution-test.example",
             "campaign_id": campaign},
            {"source_system": "email", "source_interaction_id": "AFTER-1", "interaction_type": "email_click",
             "occurred_at": after_click.isoformat(), "email": after_email, "campaign_id": campaign},
            resent(left_touch, {"email": "gone.elsewhere@attribution-test.example"}),
            resent(moved_touch, {"occurred_at": after_click.isoformat()}),
        ],
    )  # fmt: skip
    return {"late": late, "revised": revised, "new": "O-NEW-1", "left": left, "moved": moved}


def test_attribution_redoes_the_changed_opportunities_as_a_full_refresh_would(fresh_database, tmp_path):
    Generator(600, seed=8).write(tmp_path / "feed", progress=False)
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    dbt_rows_written(fresh_database, target, "build", as_of=DAY_1)
    day_1 = _rows(fresh_database, CREDITS)
    credited = {row[1] for row in day_1}
    assert len(credited) >= 5, credited

    nothing = dbt_rows_written(fresh_database, target, "run", "-s", *ATTRIBUTION, as_of=DAY_1)
    assert nothing == {"int_opportunity_contacts": 0, "campaign_attribution": 0}  # nothing changed

    drop = tmp_path / "drop"
    drop.mkdir()
    with psycopg.connect(fresh_database.url()) as conn:
        concerned = _day_of_changes(conn, drop)
    land_folder(fresh_database, drop)
    written = dbt_rows_written(fresh_database, target, "build", as_of=DAY_2)

    # exactly the opportunities concerned were redone; every row is dated as of the run
    day_2 = _rows(fresh_database, CREDITS)
    assert written["campaign_attribution"] == sum(row[1] in concerned.values() for row in day_2), written
    dates = _rows(fresh_database, "select distinct attributed_at from marts.campaign_attribution")
    assert dates == [(datetime.fromisoformat(DAY_2),)]
    assert _touches(day_2, concerned["late"]) == _touches(day_1, concerned["late"]) + 1  # the late click
    assert _touches(day_2, concerned["left"]) == _touches(day_1, concerned["left"]) - 1  # the touch that left
    assert _touches(day_2, concerned["moved"]) == _touches(day_1, concerned["moved"]) - 1  # dated after now
    revised = sum(row[6] for row in day_2 if row[1] == concerned["revised"] and row[3] == "linear")
    assert abs(revised - 777000) < 1  # the new amount (shares rounded to the cent)
    assert {row[1] for row in day_2} == credited | {concerned["new"]}  # the new colleague's click
    links = _rows(fresh_database, LINKS)

    dbt_rows_written(fresh_database, target, "run", "-s", *ATTRIBUTION, "--full-refresh", as_of=DAY_2)
    assert _rows(fresh_database, LINKS) == links
    assert _rows(fresh_database, CREDITS) == day_2

    # a backfill of day 1: the opportunity created since leaves; the rest is as that day's build
    dbt_rows_written(fresh_database, target, "run", "-s", "campaign_attribution", as_of=DAY_1)
    backfilled = _rows(fresh_database, CREDITS)
    assert concerned["new"] not in {row[1] for row in backfilled}
    dbt_rows_written(fresh_database, target, "run", "-s", "campaign_attribution", "--full-refresh", as_of=DAY_1)
    assert _rows(fresh_database, CREDITS) == backfilled
