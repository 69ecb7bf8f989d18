"""Landing in raw: counts reconcile, quarantine keeps the reason, failed loads leave nothing half-visible."""

from __future__ import annotations

import psycopg
import pytest

from leadflow.settings import project_root
from leadflow.sources.files import FeedFile
from leadflow.sources.landing import land_records

pytestmark = pytest.mark.integration


def test_sample_feed_lands_or_quarantines_every_record(fresh_database):
    feed = FeedFile.from_path(project_root() / "examples" / "feed" / "crm__contacts.csv")

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_records(conn, feed.source_system, feed.entity, feed.records(), batch_size=5)
        load = conn.execute(
            "select status, fetched, landed, quarantined from ops.loads where load_id = %s", (result.load_id,)
        ).fetchone()
        raw_count = conn.execute(
            "select count(*) from raw.crm__contacts where load_id = %s", (result.load_id,)
        )
        reasons = conn.execute(
            "select reason, position from raw.quarantine where load_id = %s order by position",
            (result.load_id,),
        ).fetchall()

    assert (result.fetched, result.landed, result.quarantined) == (16, 14, 2)
    assert load == ("succeeded", 16, 14, 2)
    assert raw_count.fetchone()[0] == 14
    assert reasons == [("missing source_record_id", 9), ("unparseable timestamp", 10)]


def test_unparseable_records_are_quarantined_with_their_original_text(fresh_database):
    records = [(1, {"campaign_id": "K1", "started_at": "2026-01-01"}), (2, "{not json")]

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_records(conn, "crm", "campaigns", iter(records))
        row = conn.execute("select reason, original from raw.quarantine").fetchone()

    assert (result.landed, result.quarantined) == (1, 1)
    assert row == ("unparseable record", "{not json")


def test_a_load_that_fails_midway_leaves_no_rows_and_is_marked_failed(fresh_database):
    def records():
        yield 1, {"source_record_id": "A", "updated_at": "2026-01-01"}
        yield 2, {"source_record_id": "B", "updated_at": "2026-01-01"}
        raise ConnectionError("source went away")

    with psycopg.connect(fresh_database.url()) as conn:
        with pytest.raises(ConnectionError):
            land_records(conn, "crm", "contacts", records(), batch_size=1)
        status, detail = conn.execute("select status, detail from ops.loads").fetchone()
        landed = conn.execute("select count(*) from raw.crm__contacts").fetchone()[0]

    assert (status, detail) == ("failed", "ConnectionError")
    assert landed == 0


def test_a_load_left_running_by_a_crash_is_marked_abandoned_by_the_next(fresh_database):
    with psycopg.connect(fresh_database.url()) as conn:
        land_records(conn, "crm", "contacts", iter([]))
        conn.execute("update ops.loads set status = 'running', finished_at = null")
        conn.commit()

        land_records(conn, "crm", "contacts", iter([]))
        statuses = [r[0] for r in conn.execute("select status from ops.loads order by started_at")]

    assert statuses == ["abandoned", "succeeded"]
