"""The per-contact models (macros/contact_changes.sql) on generated data with real dbt and
PostgreSQL: after a day of merges, new record versions, consent events and new interactions, the
incremental build rebuilds only the contacts concerned and gives the rows a full refresh gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.generator import Generator
from leadflow.settings import DatabaseUrl
from leadflow.sources.feed import ENTITIES
from tests.fixtures import bridge_candidates, dbt_rows_written, land_folder, run_dbt, table_rows, write_feed_file

pytestmark = pytest.mark.integration

# the per-contact incremental models, with the order their rows compare in
PER_CONTACT = {
    "intermediate.int_contact_attributes_survived": "contact_id, attribute",
    "intermediate.int_contact_addresses": "contact_id, channel, address_key",
    "marts.dim_contacts": "contact_id",
    "marts.contact_origins": "source_system, source_record_id",
    "intermediate.int_contact_profile_points": "contact_id, criterion",
    "marts.contact_addresses": "contact_id, channel, address",
    "intermediate.int_contact_engagement_points": "contact_id, rule",
    "intermediate.int_contact_interests_weighted": "contact_id, interest",
    "intermediate.int_contact_interest_lists": "contact_id",
    "intermediate.int_contact_accounts": "contact_id",
}
# built whole from them: they must not notice the difference either (the key owners: incremental
# by the keys whose holders changed; compared with their own full refresh)
DOWNSTREAM = {
    "intermediate.int_contact_key_owners": "key_type, key_value",
    "intermediate.int_accounts_consolidated": "account_id",
    "marts.dim_accounts": "account_id",
    "marts.contact_scores": "contact_id",
}


def _dbt(database: DatabaseUrl, target: Path, *args: str) -> dict[str, int]:
    return dbt_rows_written(database, target, *args, as_of="2026-11-02T00:00:00+00:00")


def _name_a_cookie_without_email(feed: Path) -> str:
    """A partner record naming a generated cookie that never filled a form, before the first build:
    the cookie is then an origin of a known contact that supplies no email. Returns the cookie."""
    import csv

    with open(feed / "web__interactions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with_email = {row["cookie_id"] for row in rows if row["email"]}
    cookie = min(row["cookie_id"] for row in rows if row["cookie_id"] not in with_email)
    write_feed_file(
        feed / "partner__contacts.csv",
        "contacts",
        [{"source_system": "partner", "source_record_id": "P-1", "updated_at": "2026-10-01T09:00:00Z",
          "email": "cookie.owner@known.example", "cookie_id": cookie, "first_name": "Cora", "last_name": "Kie"}],
    )  # fmt: skip
    return cookie


def _day_of_changes(conn: psycopg.Connection, drop: Path, named_cookie: str) -> dict[str, str]:
    """Feed files with one of each kind of change; returns the contacts concerned."""
    (merged, merged_email), (merged_other, merged_phone) = bridge_candidates(conn)
    # a CRM record that lands again with a new company and job title
    crm = conn.execute(
        "select o.contact_id, o.source_record_id, c.email from marts.contact_origins o"
        " join marts.dim_contacts c using (contact_id)"
        " where o.source_system = 'crm' and o.origin_type = 'record' and o.contact_id <> %s"
        " order by o.contact_id limit 1",
        (merged,),
    ).fetchone()
    # two contacts' best emails: one unsubscribes, one hard-bounces
    unsubscribed, bounced = conn.execute(
        "select contact_id, email from marts.dim_contacts where email is not null and email_permission <> 'denied'"
        " and contact_id not in (%s, %s) order by contact_id limit 2",
        (merged, crm[0]),
    ).fetchall()
    # a known visitor's cookie, tied to an email by its forms, comes back
    cookie = conn.execute(
        "select o.contact_id, split_part(o.source_record_id, ':', 2) from marts.contact_origins o"
        " join intermediate.int_identity_origins i on i.source_system = o.source_system"
        " and i.source_record_id = o.source_record_id"
        " where o.origin_type = 'cookie' and o.source_system = 'web' and i.email is not null"
        " and o.contact_id not in (%s, %s, %s, %s, %s) order by o.contact_id limit 1",
        (merged, merged_other, crm[0], unsubscribed[0], bounced[0]),
    ).fetchone()
    # an anonymous visitor (a cookie that never filled a form) with recent visits showing
    # interests fills one now: its visits start to count for a golden contact
    anonymous = conn.execute(
        "select f.contact_id, split_part(o.source_record_id, ':', 2) from marts.fct_interactions f"
        " join intermediate.int_contact_origins_current c on c.contact_id = f.contact_id"
        " join intermediate.int_identity_origins o on o.origin_key = c.origin_key"
        " where f.direction = 'inbound' and f.interests is not null and f.occurred_at > '2026-08-01'"
        " and o.origin_type = 'cookie'"
        " and not exists (select from marts.dim_contacts d where d.contact_id = f.contact_id)"
        " order by f.contact_id limit 1"
    ).fetchone()
    # a recent click of somebody else's, re-sent with the email of a second person: it leaves the
    # first (whom nothing else changes) for the second
    left, left_interaction = conn.execute(
        "select contact_id, source_interaction_id from marts.fct_interactions"
        " where source_system = 'email' and resolved_by = 'email' and direction = 'inbound'"
        " and interests is not null and campaign_id is not null and occurred_at > '2026-10-15'"
        " and contact_id not in (%s, %s, %s, %s, %s, %s) order by interaction_key limit 1",
        (merged, merged_other, crm[0], unsubscribed[0], bounced[0], cookie[0]),
    ).fetchone()
    joined = conn.execute(
        "select contact_id, email from marts.dim_contacts where email is not null"
        " and contact_id not in (%s, %s, %s, %s, %s, %s, %s) order by contact_id desc limit 1",
        (merged, merged_other, crm[0], unsubscribed[0], bounced[0], cookie[0], left),
    ).fetchone()
    resent = conn.execute(
        "select * from raw.email__interactions where source_interaction_id = %s order by loaded_at desc limit 1",
        (left_interaction,),
    ).fetchone()
    interaction_columns = [c.name for c in conn.execute("select * from raw.email__interactions limit 0").description]
    resent = {
        c: v for c, v in zip(interaction_columns, resent, strict=True) if c in ENTITIES["interactions"].columns
    } | {"email": joined[1]}
    # a shared address (info@…) whose consent a new record states again, as it stands: its other
    # holders' addresses change in the consent's date only ('restated')
    concerned_so_far = (merged, merged_other, crm[0], unsubscribed[0], bounced[0], cookie[0], left, joined[0])
    shared_address, shared_permission, restated = conn.execute(
        "select a.address, a.permission, min(a.contact_id) from intermediate.int_contact_addresses a"
        " where a.channel = 'email' and a.is_shared and a.permission <> 'unknown' and a.last_bounced_at is null"
        " and a.permission_stated_at < '2026-11-01' and a.contact_id <> all(%s)"
        " group by a.address_key, a.address, a.permission order by count(*) desc, a.address_key limit 1",
        (list(concerned_so_far),),
    ).fetchone()
    record = conn.execute(
        "select * from raw.crm__contacts where source_record_id = %s order by updated_at desc limit 1", (crm[1],)
    ).fetchone()
    columns = [c.name for c in conn.execute("select * from raw.crm__contacts limit 0").description]
    newer = {c: v for c, v in zip(columns, record, strict=True) if c in ENTITIES["contacts"].columns}
    newer |= {"updated_at": "2026-11-01T12:00:00Z", "company": "Brand New Holdings GmbH"}
    newer |= {"job_title": "Chief Data Officer"}
    write_feed_file(drop / "crm__contacts.csv", "contacts", [newer])
    write_feed_file(
        drop / "fair__contacts.csv",
        "contacts",
        [
            # names both contacts: they merge
            {"source_system": "fair", "source_record_id": "F-1", "updated_at": "2026-11-01T09:00:00Z",
             "email": merged_email, "phone": merged_phone, "first_name": "Bridget", "last_name": "Bridge"},
            # somebody new
            {"source_system": "fair", "source_record_id": "F-2", "updated_at": "2026-11-01T10:00:00Z",
             "email": "neu.person@fresh-start.example", "first_name": "Neu", "last_name": "Person",
             "company": "Fresh Start AG", "email_opt_in": "true"},
            # the anonymous visitor's cookie, now with an email
            {"source_system": "fair", "source_record_id": "F-3", "updated_at": "2026-11-01T10:30:00Z",
             "email": "anna.nym@visitor.example", "cookie_id": anonymous[1], "first_name": "Anna",
             "last_name": "Nym", "email_opt_in": "true"},
            # the shared address's consent, stated again unchanged
            {"source_system": "fair", "source_record_id": "F-4", "updated_at": "2026-11-01T13:00:00Z",
             "email": shared_address, "email_opt_in": str(shared_permission == "granted").lower()},
            # the first contact of the lone reader's email domain to name a company
            {"source_system": "fair", "source_record_id": "F-5", "updated_at": "2026-11-01T14:00:00Z",
             "email": "boss@lonely.example", "first_name": "Bo", "last_name": "Ss",
             "company": "Lonely Industries Ltd"},
            # a third company on the trio's domain: it no longer names one company
            {"source_system": "fair", "source_record_id": "F-6", "updated_at": "2026-11-01T14:30:00Z",
             "email": "gil@trio.example", "first_name": "Gil", "last_name": "Three",
             "company": "Gamma Drei GmbH"},
        ],
    )  # fmt: skip
    write_feed_file(
        drop / "email__interactions.csv",
        "interactions",
        [
            {"source_system": "email", "source_interaction_id": "DAY-1", "occurred_at": "2026-11-01T08:00:00Z",
             "interaction_type": "unsubscribe", "email": unsubscribed[1]},
            {"source_system": "email", "source_interaction_id": "DAY-2", "occurred_at": "2026-11-01T08:30:00Z",
             "interaction_type": "hard_bounce", "email": bounced[1]},
            {"source_system": "email", "source_interaction_id": "DAY-3", "occurred_at": "2026-11-01T09:30:00Z",
             "interaction_type": "email_click", "email": crm[2], "campaign_id": "K-0001", "interests": "cloud"},
            resent,
        ],
    )  # fmt: skip
    write_feed_file(
        drop / "web__interactions.csv",
        "interactions",
        [
            {"source_system": "web", "source_interaction_id": "DAY-4", "occurred_at": "2026-11-01T11:00:00Z",
             "interaction_type": "web_visit", "cookie_id": cookie[1], "content_url": "/pricing"},
            # the known contact's cookie without an email visits again: only its timestamps move
            {"source_system": "web", "source_interaction_id": "DAY-5", "occurred_at": "2026-11-01T11:30:00Z",
             "interaction_type": "web_visit", "cookie_id": named_cookie, "content_url": "/pricing"},
            # and a visit of long ago comes in late: the contact was first seen then
            {"source_system": "web", "source_interaction_id": "DAY-6", "occurred_at": "2019-03-01T10:00:00Z",
             "interaction_type": "web_visit", "cookie_id": named_cookie, "content_url": "/"},
        ],
    )  # fmt: skip
    return {
        "merged": merged,
        "merged_other": merged_other,
        "crm": crm[0],
        "unsubscribed": unsubscribed[0],
        "bounced": bounced[0],
        "cookie": cookie[0],
        "cookie_id": cookie[1],
        "left": left,
        "joined": joined[0],
        "moved": f"email:{left_interaction}",
        "anonymous": anonymous[0],
        "named_cookie": f"cookie:{named_cookie}",
        "restated": restated,
        "shared_address": shared_address,
    }


def _logged_after_first_build(conn: psycopg.Connection, contact_id: str) -> list[tuple[str, str]]:
    """The change log's (logged_by, reason) rows of a contact after the first build's."""
    return conn.execute(
        "select logged_by, reason from intermediate.int_contact_changes where contact_id = %s and change_sequence > 1",
        (contact_id,),
    ).fetchall()


def test_per_contact_models_rebuild_the_changed_contacts_as_a_full_refresh_would(fresh_database, tmp_path):
    Generator(300, seed=5).write(tmp_path / "feed", progress=False)
    named_cookie = _name_a_cookie_without_email(tmp_path / "feed")
    # a contact without a company, alone on its email domain: its account is the domain; and one on
    # a domain whose contacts name two companies: its account is the first of them
    write_feed_file(
        tmp_path / "feed" / "solo__contacts.csv",
        "contacts",
        [{"source_system": "solo", "source_record_id": "S-1", "updated_at": "2026-10-01T09:00:00Z",
          "email": "reader@lonely.example", "first_name": "Lone", "last_name": "Reader"},
         {"source_system": "solo", "source_record_id": "S-2", "updated_at": "2026-10-01T09:00:00Z",
          "email": "ada@trio.example", "first_name": "Ada", "last_name": "One", "company": "Alpha Eins AG"},
         {"source_system": "solo", "source_record_id": "S-3", "updated_at": "2026-10-01T09:00:00Z",
          "email": "bea@trio.example", "first_name": "Bea", "last_name": "Two", "company": "Beta Zwei AG"},
         {"source_system": "solo", "source_record_id": "S-4", "updated_at": "2026-10-01T09:00:00Z",
          "email": "cy@trio.example", "first_name": "Cy", "last_name": "Nocompany"}],
    )  # fmt: skip
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    _dbt(fresh_database, target, "build")
    contacts = len(table_rows(fresh_database, "marts.dim_contacts", "contact_id"))
    with psycopg.connect(fresh_database.url()) as conn:
        trio_before = dict(
            conn.execute("select email, account_id from marts.dim_contacts where email like '%@trio.example'")
        )
    assert trio_before["cy@trio.example"] == trio_before["ada@trio.example"] is not None, trio_before

    nothing = _dbt(fresh_database, target, "run", "-s", "tag:per_contact")
    assert all(nothing[name.split(".")[1]] == 0 for name in PER_CONTACT), nothing  # nothing changed

    drop = tmp_path / "drop"
    drop.mkdir()
    with psycopg.connect(fresh_database.url()) as conn:
        concerned = _day_of_changes(conn, drop, named_cookie)
        # scores and interests are the golden contacts': an anonymous visitor has none
        for scored in ("intermediate.int_contact_engagement_points", "marts.contact_interests"):
            rows = conn.execute(f"select count(*) from {scored} where contact_id = %s", (concerned["anonymous"],))
            assert rows.fetchone()[0] == 0, scored
    land_folder(fresh_database, drop)
    written = _dbt(fresh_database, target, "build")
    assert 0 < written["dim_contacts"] < contacts / 5, written  # a few contacts, not all of them
    assert 0 < written["contact_origins"] < contacts / 5, written

    incremental = {t: table_rows(fresh_database, t, o) for t, o in (PER_CONTACT | DOWNSTREAM).items()}
    with psycopg.connect(fresh_database.url()) as conn:
        dim = {
            row[0]: row[1:]
            for row in conn.execute(
                "select contact_id, company, job_title, has_unsubscribed, email_permission from marts.dim_contacts"
            )
        }
        fair = dict(
            conn.execute("select source_record_id, contact_id from marts.contact_origins where source_system = 'fair'")
        )
    assert dim[concerned["crm"]][:2] == ("Brand New Holdings GmbH", "Chief Data Officer")  # the new version
    assert dim[concerned["unsubscribed"]][2:] == (True, "denied")
    assert fair["F-1"] in (concerned["merged"], concerned["merged_other"])  # one of the two
    assert (concerned["merged"] in dim) != (concerned["merged_other"] in dim)  # the other merged into it
    assert dim[fair["F-2"]][0] == "Fresh Start AG"
    with psycopg.connect(fresh_database.url()) as conn:
        # the lone reader, whose records did not change, follows its domain's first company
        accounts = dict(
            conn.execute("select email, account_id from marts.dim_contacts where email like '%@lonely.example'")
        )
    assert accounts["reader@lonely.example"] == accounts["boss@lonely.example"] is not None, accounts
    with psycopg.connect(fresh_database.url()) as conn:
        # the trio's domain names three companies now: its contact without a company has no account
        trio = dict(conn.execute("select email, account_id from marts.dim_contacts where email like '%@trio.example'"))
    assert trio["cy@trio.example"] is None and trio["gil@trio.example"] is not None, trio
    # the accounts redid the contacts concerned, not every contact
    assert 0 < written["int_contact_accounts"] < contacts / 5, written
    with psycopg.connect(fresh_database.url()) as conn:  # the visitor's visits count now
        for scored in ("intermediate.int_contact_engagement_points", "marts.contact_interests"):
            rows = conn.execute(f"select count(*) from {scored} where contact_id = %s", (fair["F-3"],))
            assert rows.fetchone()[0] > 0, scored
    with psycopg.connect(fresh_database.url()) as conn:
        # the cookie that only visited: logged as such, and shown with the visit's time
        owner, updated_at = conn.execute(
            "select contact_id, updated_at from marts.contact_origins where source_record_id = %s",
            (concerned["named_cookie"],),
        ).fetchone()
        reasons = [(reason,) for by, reason in _logged_after_first_build(conn, owner) if by == "int_contact_changes"]
        first_seen, last_interaction = conn.execute(
            "select first_seen_at, last_interaction_at from marts.dim_contacts where contact_id = %s", (owner,)
        ).fetchone()
    assert reasons == [("visited",)], reasons
    assert updated_at == last_interaction == datetime(2026, 11, 1, 11, 30, tzinfo=UTC)
    assert first_seen == datetime(2019, 3, 1, 10, 0, tzinfo=UTC)
    with psycopg.connect(fresh_database.url()) as conn:
        # the cookie that holds an email: 'seen'; its address's last visit moved, which the
        # addresses redo (and log for the best record only if that changed)
        logged = _logged_after_first_build(conn, concerned["cookie"])
        (last_seen,) = conn.execute(
            "select a.last_seen_at from intermediate.int_contact_addresses a join intermediate.int_identity_origins o"
            " on a.channel = 'email' and o.email_key = a.address_key where a.contact_id = %s and o.origin_key = %s",
            (concerned["cookie"], f"web:cookie:{concerned['cookie_id']}"),
        ).fetchone()
    assert ("int_contact_changes", "seen") in logged and ("int_contact_changes", "landed") not in logged, logged
    assert {"restated", "rebuilt"} & {reason for by, reason in logged if by == "int_contact_addresses"}, logged
    assert last_seen >= datetime(2026, 11, 1, 11, 0, tzinfo=UTC)  # the visit's, or a later statement's
    with psycopg.connect(fresh_database.url()) as conn:
        # the shared address's other holder: its consent's date moved, nothing the best record shows,
        # so contact_addresses rebuilds it and dim_contacts and contact_origins do not
        restated = _logged_after_first_build(conn, concerned["restated"])
        stated_at = conn.execute(
            "select permission_stated_at from marts.contact_addresses where contact_id = %s and address = %s",
            (concerned["restated"], concerned["shared_address"]),
        ).fetchone()
    assert ("int_contact_addresses", "restated") in restated and ("int_contact_changes", "landed") not in restated
    assert stated_at == (datetime(2026, 11, 1, 13, 0, tzinfo=UTC),)
    moved = table_rows(fresh_database, "marts.fct_interactions", "interaction_key")
    assert [row[3] for row in moved if row[0] == concerned["moved"]] == [concerned["joined"]]  # re-resolved

    assert 0 < written["int_contact_key_owners"] < len(incremental["intermediate.int_contact_key_owners"]) / 5, written
    _dbt(fresh_database, target, "build", "-s", "tag:per_contact+ int_contact_key_owners", "--full-refresh")
    for table, order in (PER_CONTACT | DOWNSTREAM).items():
        assert table_rows(fresh_database, table, order) == incremental[table], table

    # fct_interactions' incremental run resolved the day's rows as a full refresh does
    resolution = "select interaction_key, contact_id, resolved_by from marts.fct_interactions order by interaction_key"
    with psycopg.connect(fresh_database.url()) as conn:
        resolved = conn.execute(resolution).fetchall()
    assert ("web:DAY-4", concerned["cookie"], "cookie_id") in resolved  # the returning cookie
    _dbt(fresh_database, target, "run", "-s", "fct_interactions", "--full-refresh")
    with psycopg.connect(fresh_database.url()) as conn:
        assert conn.execute(resolution).fetchall() == resolved


def test_the_interaction_and_visit_updates_run_on_incremental_builds_only(fresh_database, tmp_path):
    """dim_contacts' update of first and last interaction and contact_origins' update of visits
    (post-hooks) redo the contacts the log names outside the rebuild set. A first or full build
    computed every row already; there the updates redid every logged contact, dim_contacts' in a
    table without its contact_id index yet (a --full-refresh at 10 k contacts took 180 s)."""
    Generator(100, seed=7).write(tmp_path / "feed", progress=False)
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    day = '{"as_of": "2026-11-02T00:00:00+00:00"}'
    updates = ('"marts"."dim_contacts" as contacts', '"marts"."contact_origins" as shown')

    def statements(*args: str) -> str:  # what dbt sent, from its debug log
        result = run_dbt(fresh_database, target, "--debug", *args, "--exclude", "test_type:unit", "--vars", day)
        assert result.returncode == 0, result.stdout[-3000:]
        return result.stdout

    first = statements("build")
    incremental = statements("run", "-s", "dim_contacts", "contact_origins")
    full = statements("run", "-s", "dim_contacts", "contact_origins", "--full-refresh")

    assert all(update in incremental for update in updates)
    assert not any(update in first or update in full for update in updates)


def test_a_changed_seed_rebuilds_every_contact(fresh_database, tmp_path):
    Generator(200, seed=6).write(tmp_path / "feed", progress=False)
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    _dbt(fresh_database, target, "build")
    before = table_rows(fresh_database, "marts.dim_contacts", "contact_id")

    # marketing ops trusts the event app most from now on (the seed as `dbt seed` would load it)
    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute("update staging.source_priorities set priority = 0 where source_system = 'events'")
        logged_before = conn.execute("select max(change_sequence) from intermediate.int_contact_changes").fetchone()[0]
    written = _dbt(fresh_database, target, "run", "-s", "tag:per_contact")
    # both models of the seed log every contact they redid for dim_contacts, which redoes all but
    # those whose addresses came out as they were and who have no attributes (an email alone)
    with psycopg.connect(fresh_database.url()) as conn:
        rebuilt, restated_only = conn.execute(
            "select count(*) filter (where reasons @> '{rebuilt}'), count(*) filter (where reasons = '{restated}')"
            " from (select contact_id, array_agg(distinct reason) as reasons from intermediate.int_contact_changes"
            " where change_sequence > %s and logged_by in ('int_contact_attributes_survived', 'int_contact_addresses')"
            " and contact_id in (select contact_id from marts.dim_contacts) group by contact_id) as logged",
            (logged_before,),
        ).fetchone()
    assert written["int_contact_attributes_survived"] > 0, written
    assert written["dim_contacts"] == rebuilt == len(before) - restated_only, (written, rebuilt, restated_only)
    changed = {t: table_rows(fresh_database, t, o) for t, o in PER_CONTACT.items()}
    assert changed["marts.dim_contacts"] != before  # the event app's values won somewhere

    _dbt(fresh_database, target, "run", "-s", "tag:per_contact", "--full-refresh")
    for table, order in PER_CONTACT.items():
        assert table_rows(fresh_database, table, order) == changed[table], table

    # a profile rule worth more: every contact's profile points again, nothing else
    profile = "intermediate.int_contact_profile_points"
    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute("update staging.score_profile_rules set points = points + 7 where criterion = 'role'")
    written = _dbt(fresh_database, target, "run", "-s", "tag:per_contact")
    assert written["int_contact_profile_points"] == len(changed[profile]), written
    assert written["dim_contacts"] == 0, written
    rescored = table_rows(fresh_database, profile, PER_CONTACT[profile])
    assert rescored != changed[profile]
    _dbt(fresh_database, target, "run", "-s", "int_contact_profile_points", "--full-refresh")
    assert table_rows(fresh_database, profile, PER_CONTACT[profile]) == rescored


def test_builds_minutes_apart_read_each_load_once(fresh_database, tmp_path):
    """Catch-up runs follow each other within minutes: a later build must not take the bulk load's
    loads for new ones (they finished within the margin of the newest load seen, and the builds
    that read them are long consumed) and rebuild every contact."""
    Generator(300, seed=8).write(tmp_path / "feed", progress=False)
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    _dbt(fresh_database, target, "build")
    contacts = len(table_rows(fresh_database, "marts.dim_contacts", "contact_id"))

    for day in (1, 2, 3):
        drop = tmp_path / f"day-{day}"
        drop.mkdir()
        write_feed_file(
            drop / "fair__contacts.csv",
            "contacts",
            [{"source_system": "fair", "source_record_id": f"F-{day}", "updated_at": f"2026-11-0{day}T09:00:00Z",
              "email": f"new.person.{day}@fresh-start.example", "first_name": "Neu", "last_name": f"Person{day}"}],
        )  # fmt: skip
        land_folder(fresh_database, drop)
        written = _dbt(fresh_database, target, "build")
        assert written["dim_contacts"] == 1, (day, written)  # the one new person, of `contacts`
        assert written["contact_origins"] == 1, (day, written)
    assert contacts > 100
    with psycopg.connect(fresh_database.url()) as conn:
        read = conn.execute(
            "select l.source_system, l.entity from intermediate.int_contact_changes c"
            " join ops.loads l using (load_id)"
            " where c.change_sequence = (select max(change_sequence) from intermediate.int_contact_changes"
            "  where logged_by = 'int_contact_changes')"
        ).fetchall()
    assert read == [("fair", "contacts")]  # the last day's one load, none of the bulk load again


def _analyzes(database: DatabaseUrl) -> dict[str, int]:
    with psycopg.connect(database.url()) as conn:
        rows = conn.execute(
            "select schemaname || '.' || relname, analyze_count from pg_stat_user_tables"
            " where schemaname in ('intermediate', 'marts')"
        ).fetchall()
    return dict(rows)


def test_a_build_that_wrote_nothing_into_a_table_keeps_its_statistics(fresh_database, tmp_path):
    """The layers' analyze (macros/bi_access.sql, analyze_if_written): an incremental model with
    nothing to do leaves its statistics as they are; one that wrote a row, and every table built
    whole, is analyzed again."""
    Generator(200, seed=9).write(tmp_path / "feed", progress=False)
    land_folder(fresh_database, tmp_path / "feed")
    target = tmp_path / "target"
    _dbt(fresh_database, target, "build")
    first = _analyzes(fresh_database)
    assert first["marts.contact_origins"] >= 1 and first["marts.fct_interactions"] >= 1

    written = _dbt(fresh_database, target, "build")  # nothing new landed
    again = _analyzes(fresh_database)
    assert written["contact_origins"] == 0 and written["fct_interactions"] == 0, written
    assert again["marts.contact_origins"] == first["marts.contact_origins"]
    assert again["marts.fct_interactions"] == first["marts.fct_interactions"]
    assert again["intermediate.int_contact_changes"] > first["intermediate.int_contact_changes"]  # always
    assert again["marts.contact_scores"] >= 1  # a new table each build, analyzed

    drop = tmp_path / "day"
    drop.mkdir()
    write_feed_file(
        drop / "fair__contacts.csv",
        "contacts",
        [{"source_system": "fair", "source_record_id": "F-1", "updated_at": "2026-11-01T09:00:00Z",
          "email": "new.person@fresh-start.example", "first_name": "Neu", "last_name": "Person"}],
    )  # fmt: skip
    land_folder(fresh_database, drop)
    written = _dbt(fresh_database, target, "build")
    assert written["contact_origins"] == 1, written
    assert _analyzes(fresh_database)["marts.contact_origins"] == first["marts.contact_origins"] + 1
