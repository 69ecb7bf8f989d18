"""Landing in raw: counts reconcile, quarantine keeps the reason, failed loads leave nothing half-visible,
a re-dropped file lands once, and the fast (COPY + SQL) and line-by-line paths apply the same rules."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from leadflow.settings import project_root
from leadflow.sources import landing
from leadflow.sources.files import FeedFile, find_feed_files, land_feed_file, land_files
from leadflow.sources.landing import land_records

pytestmark = pytest.mark.integration

SAMPLE = project_root() / "examples" / "feed" / "crm__contacts.csv"
FUTURE = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
# (record, expected quarantine reason or None) — one case per rule
CASES = [
    ({"source_record_id": "ok-1", "updated_at": "2026-01-01T10:00:00Z", "email": "a@example.com"}, None),
    ({"source_record_id": "ok-2", "updated_at": "2026-01-01", "email": ""}, None),
    ({"source_record_id": "", "updated_at": "2026-01-01"}, "missing source_record_id"),
    ({"source_record_id": "b-2", "updated_at": ""}, "missing updated_at"),
    ({"source_record_id": "b-3", "updated_at": "yesterday"}, "unparseable timestamp"),
    ({"source_record_id": "b-4", "updated_at": "2026-02-30"}, "unparseable timestamp"),
    ({"source_record_id": "b-5", "updated_at": FUTURE}, "updated_at in the future"),
    (
        {"source_record_id": "b-6", "updated_at": "2026-01-01", "company": "x" * 10_001},
        "field company longer than 10000 characters",
    ),
    (
        {"source_record_id": "b-7", "updated_at": "2026-01-01", "source_system": "events"},
        "source_system does not match the source",
    ),
    # blank: spaces, tabs and line ends, on every path
    ({"source_record_id": " \t", "updated_at": "2026-01-01"}, "missing source_record_id"),
    ({"source_record_id": "ok-3", "updated_at": "2026-01-01", "source_system": "crm\t"}, None),
]
COLUMNS = ["source_system", "source_record_id", "updated_at", "email", "company"]
EXTRA = {"loyalty_tier": "gold"}  # a field beyond the feed's columns: it travels in payload


def _write_feed(path: Path, cases: list = CASES, extra: dict[str, str] = EXTRA) -> Path:
    """The cases' records from source crm, with the extra fields, as CSV or JSON lines (by the suffix)."""
    records = [{"source_system": "crm", **extra, **record} for record, _ in cases]
    with open(path, "w", newline="") as handle:
        if path.suffix == ".jsonl":
            handle.writelines(json.dumps(record) + "\n" for record in records)
        else:
            writer = csv.DictWriter(handle, [*COLUMNS, *extra])
            writer.writeheader()
            writer.writerows(records)
    return path


def _outcome(conn: psycopg.Connection, load_id: str) -> tuple[list, list]:
    landed = conn.execute(
        "select source_record_id, email, payload from raw.crm__contacts where load_id = %s order by 1", (load_id,)
    ).fetchall()
    quarantined = conn.execute(
        "select position, reason from raw.quarantine where load_id = %s order by position", (load_id,)
    ).fetchall()
    return landed, quarantined


def test_sample_feed_lands_or_quarantines_every_record(fresh_database):
    with psycopg.connect(fresh_database.url()) as conn:
        result = land_feed_file(conn, FeedFile.from_path(SAMPLE))
        load = conn.execute(
            "select status, fetched, landed, quarantined, origin from ops.loads where load_id = %s", (result.load_id,)
        ).fetchone()
        _, quarantined = _outcome(conn, result.load_id)

    assert (result.fetched, result.landed, result.quarantined) == (16, 14, 2)
    assert load == ("succeeded", 16, 14, 2, "crm__contacts.csv")
    assert quarantined == [(9, "missing source_record_id"), (10, "unparseable timestamp")]


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "jsonl", "jsonl.gz", "python"])
def test_every_path_applies_the_same_rules(fresh_database, tmp_path, fmt):
    expected_landed = [r["source_record_id"] for r, reason in CASES if reason is None]
    expected_quarantine = [(i, reason) for i, (_, reason) in enumerate(CASES, start=1) if reason]

    with psycopg.connect(fresh_database.url()) as conn:
        if fmt == "python":
            records = [(i, {"source_system": "crm", **EXTRA, **r}) for i, (r, _) in enumerate(CASES, 1)]
            result = land_records(conn, "crm", "contacts", records)
        else:
            path = tmp_path / f"crm__contacts.{fmt}"
            data = _write_feed(tmp_path / f"plain.{fmt.removesuffix('.gz')}").read_bytes()
            path.write_bytes(gzip.compress(data) if fmt.endswith(".gz") else data)
            result = land_feed_file(conn, FeedFile.from_path(path))
        landed, quarantined = _outcome(conn, result.load_id)

    assert [row[0] for row in landed] == sorted(expected_landed)
    assert quarantined == expected_quarantine
    assert landed[1][1] is None  # an empty email is null on every path
    assert landed[0][2] == {"loyalty_tier": "gold"}  # extra fields travel in payload
    assert result.fetched == result.landed + result.quarantined == len(CASES)


def test_a_file_postgres_cannot_parse_is_read_line_by_line_and_bad_lines_quarantined(fresh_database, tmp_path):
    path = tmp_path / "crm__contacts.csv"
    path.write_text(
        "source_system,source_record_id,updated_at\n"
        "crm,A,2026-01-01\n"
        "crm,B,2026-01-01,surplus\n"
        "crm,C\n"
        "crm,D,2026-01-02\n"
    )

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_feed_file(conn, FeedFile.from_path(path))
        landed, quarantined = _outcome(conn, result.load_id)

    assert [row[0] for row in landed] == ["A", "D"]
    assert quarantined == [(2, "more cells than header columns"), (3, "fewer cells than header columns")]


def test_unparseable_json_lines_are_quarantined_with_their_text(fresh_database, tmp_path):
    path = tmp_path / "crm__campaigns.jsonl"
    path.write_text('{"campaign_id": "K1", "started_at": "2026-01-01"}\n{not json\n\n[1, 2]\n')

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_feed_file(conn, FeedFile.from_path(path))
        rows = conn.execute("select reason, original from raw.quarantine order by position").fetchall()

    assert (result.landed, result.quarantined) == (1, 2)
    assert rows == [("unparseable record", "{not json"), ("unparseable record", "[1, 2]")]


def test_the_same_file_dropped_twice_lands_once(fresh_database, tmp_path):
    first_drop = tmp_path / "monday"
    second_drop = tmp_path / "tuesday"
    first_drop.mkdir()
    second_drop.mkdir()
    shutil.copy(SAMPLE, first_drop / SAMPLE.name)
    shutil.copy(SAMPLE, second_drop / SAMPLE.name)

    with psycopg.connect(fresh_database.url()) as conn:
        first = land_feed_file(conn, FeedFile.from_path(first_drop / SAMPLE.name))
        second = land_feed_file(conn, FeedFile.from_path(second_drop / SAMPLE.name))
        rows = conn.execute("select count(*) from raw.crm__contacts").fetchone()[0]
        statuses = conn.execute("select status, detail from ops.loads order by started_at").fetchall()

    assert first is not None and second is None
    assert rows == 14
    assert statuses == [("succeeded", None), ("skipped", f"same file as load {first.load_id}")]


def test_a_file_of_the_same_size_but_other_content_is_landed(fresh_database, tmp_path):
    header = "source_system,source_record_id,updated_at\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "crm__contacts.csv").write_text(header + "crm,A,2026-01-01\n")
    (tmp_path / "b" / "crm__contacts.csv").write_text(header + "crm,B,2026-01-01\n")

    with psycopg.connect(fresh_database.url()) as conn:
        first = land_feed_file(conn, FeedFile.from_path(tmp_path / "a" / "crm__contacts.csv"))
        second = land_feed_file(conn, FeedFile.from_path(tmp_path / "b" / "crm__contacts.csv"))
        ids = conn.execute("select source_record_id from raw.crm__contacts order by 1").fetchall()

    assert first is not None and second is not None
    assert ids == [("A",), ("B",)]


def test_an_oversized_field_in_a_file_streamed_without_length_checks_is_still_quarantined(fresh_database, tmp_path):
    # no extra columns and valid dates: the COPY path that first lands without length checks
    path = tmp_path / "crm__contacts.csv.gz"
    text = "source_system,source_record_id,updated_at,company\ncrm,A,2026-01-01,Acme\ncrm,B,2026-01-01," + "x" * 10_001
    path.write_bytes(gzip.compress((text + "\ncrm,C,2026-01-02,\n").encode()))

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_feed_file(conn, FeedFile.from_path(path))
        landed, quarantined = _outcome(conn, result.load_id)
        loads = conn.execute("select status, fetched, landed, quarantined from ops.loads").fetchall()
        leftovers = conn.execute("select count(*) from pg_tables where tablename like 'held_back_%'").fetchone()[0]

    assert [row[0] for row in landed] == ["A", "C"]
    assert quarantined == [(2, "field company longer than 10000 characters")]
    assert loads == [("succeeded", 3, 2, 1)]
    assert leftovers == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_rules_in_sql_quarantine_what_the_python_rules_do(fresh_database, tmp_path, fmt):
    # dates PostgreSQL reads (2026-02-30 sends a whole file to the Python rules, as in the test
    # above) and, for CSV, only feed columns: the two parallel COPYs. The first lands what the
    # shape rules pass; rows held back for a timestamp in the future are taken out again.
    fast = [(r, reason) for r, reason in CASES if r["updated_at"] != "2026-02-30"]
    fast.append(
        ({"source_record_id": "b-8", "updated_at": FUTURE, "email": "c@example.com"}, "updated_at in the future")
    )
    path = _write_feed(tmp_path / f"crm__contacts.{fmt}", fast, extra={})

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_feed_file(conn, FeedFile.from_path(path))
        landed, quarantined = _outcome(conn, result.load_id)
        leftovers = conn.execute("select count(*) from pg_tables where tablename like 'held_back_%'").fetchone()[0]

    expected_landed = sorted(r["source_record_id"] for r, reason in fast if reason is None)
    assert [row[0] for row in landed] == expected_landed
    assert quarantined == [(i, reason) for i, (_, reason) in enumerate(fast, start=1) if reason]
    assert (result.fetched, result.landed, result.quarantined) == (
        len(fast),
        len(expected_landed),
        len(fast) - len(expected_landed),
    )
    assert leftovers == 0


def test_a_file_with_a_header_only_lands_nothing(fresh_database, tmp_path):
    path = tmp_path / "crm__contacts.csv"
    path.write_text("source_system,source_record_id,updated_at\n")

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_feed_file(conn, FeedFile.from_path(path))
        load = conn.execute("select status, fetched, landed, quarantined from ops.loads").fetchone()

    assert load == ("succeeded", 0, 0, 0)
    assert (result.fetched, result.landed, result.quarantined) == (0, 0, 0)


@pytest.mark.parametrize("path", ["probed", "one pass"])
def test_records_seen_before_are_counted_as_duplicates(fresh_database, monkeypatch, caplog, path):
    # both ways of counting: a probe of the landed-key index per key (a load small beside its
    # table), one pass over the table (a load about its table's size)
    monkeypatch.setattr(landing, "ROWS_PER_PROBE", 0 if path == "probed" else 10**12)
    caplog.set_level(logging.DEBUG, logger=landing.__name__)
    records = [(1, {"source_record_id": "A", "updated_at": "2026-01-01"})]
    index = "select to_regclass('raw.crm__contacts__landed_key') is not null"

    with psycopg.connect(fresh_database.url()) as conn:
        first = land_records(conn, "crm", "contacts", records)
        indexed_after_first = conn.execute(index).fetchone()[0]
        again = land_records(conn, "crm", "contacts", records)
        # A twice more as it was, A in a newer version, B new twice: only the repeats of A count
        mixed = land_records(
            conn,
            "crm",
            "contacts",
            [
                (1, {"source_record_id": "A", "updated_at": "2026-01-01"}),
                (2, {"source_record_id": "A", "updated_at": "2026-01-01"}),
                (3, {"source_record_id": "A", "updated_at": "2026-02-01"}),
                (4, {"source_record_id": "B", "updated_at": "2026-01-01"}),
                (5, {"source_record_id": "B", "updated_at": "2026-01-01"}),
            ],
        )
        indexed_after_later = conn.execute(index).fetchone()[0]

    assert (first.duplicates, again.duplicates, mixed.duplicates) == (0, 1, 2)
    assert again.fetched == again.landed + again.quarantined == 1
    # a table's first load (often its whole history) is COPYed without the index; the next makes it
    assert (indexed_after_first, indexed_after_later) == (False, True)
    counted = [r.getMessage() for r in caplog.records if "keys of load" in r.getMessage()]
    assert len(counted) == 2 and all(message.endswith(path) for message in counted)


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


def test_the_second_pass_leaves_no_table_behind_whether_the_load_succeeds_or_falls_back(fresh_database, tmp_path):
    good = _write_feed(tmp_path / "crm__contacts.csv")
    odd = tmp_path / "odd" / "crm__contacts.csv"
    odd.parent.mkdir()
    odd.write_text("source_system,source_record_id,updated_at\ncrm,A,2026-02-30\n")  # PostgreSQL cannot read it

    with psycopg.connect(fresh_database.url()) as conn:
        land_feed_file(conn, FeedFile.from_path(good))
        fallback = land_feed_file(conn, FeedFile.from_path(odd))
        left = conn.execute("select tablename from pg_tables where tablename like 'held_back%'").fetchall()

    assert fallback.reasons == {"unparseable timestamp": 1}
    assert left == []


def test_files_landed_together_share_one_second_connection_that_a_fallback_does_not_spoil(
    fresh_database, tmp_path, monkeypatch
):
    """The second passes of one landing's files run on one connection: a file PostgreSQL cannot
    parse (its second pass fails and rolls back) leaves it usable for the next file, which lands
    the fast way and reconciles as if alone."""
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "crm__campaigns.csv").write_text(
        "source_system,campaign_id,name,started_at\ncrm,C1,Spring,2026-02-30\n"  # falls back
    )
    # the fast way in one attempt: no extra columns, no date PostgreSQL cannot read, no line too long
    parseable = [(r, why) for r, why in CASES if r["updated_at"] != "2026-02-30" and len(r.get("company", "")) < 100]
    _write_feed(folder / "crm__contacts.csv", parseable, extra={})
    opened: list[int] = []
    connect = psycopg.connect

    def counting(*args, **kwargs):
        conn = connect(*args, **kwargs)
        opened.append(conn.info.backend_pid)
        return conn

    with psycopg.connect(fresh_database.url()) as conn:
        monkeypatch.setattr(psycopg, "connect", counting)
        campaigns, contacts = land_files(conn, find_feed_files(folder), None)
        monkeypatch.undo()
        landed, quarantined = _outcome(conn, contacts["load_id"])
        left = conn.execute("select tablename from pg_tables where tablename like 'held_back%'").fetchall()

    assert campaigns["reasons"] == {"unparseable timestamp": 1}
    assert contacts["fetched"] == len(parseable) and contacts["landed"] == len(landed)
    assert [reason for _, reason in quarantined] == [reason for _, reason in parseable if reason]
    # one second connection, for both files' second passes and the fallback's clean-up
    assert len(opened) == 1
    assert left == []


def test_the_load_id_literal_never_outlives_its_load(fresh_database, tmp_path):
    """The fast path makes the load's id the raw table's default while its COPY runs; afterwards,
    whether the load succeeded or fell back to reading line by line, the default is the setting again
    (a literal left behind would stamp later rows with an old load's id)."""
    good = _write_feed(tmp_path / "crm__contacts.csv")
    odd = tmp_path / "odd" / "crm__contacts.csv"
    odd.parent.mkdir()
    odd.write_text("source_system,source_record_id,updated_at\ncrm,A,2026-02-30\n")  # falls back

    def default(conn: psycopg.Connection) -> str:
        return conn.execute(
            "select column_default from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'crm__contacts' and column_name = 'load_id'"
        ).fetchone()[0]

    with psycopg.connect(fresh_database.url()) as conn:
        first = land_feed_file(conn, FeedFile.from_path(good))
        after_success = default(conn)
        land_feed_file(conn, FeedFile.from_path(odd))
        after_fallback = default(conn)
        stamped = conn.execute("select count(*) from raw.crm__contacts where load_id = %s", (first.load_id,)).fetchone()

    assert "current_setting('leadflow.load_id'" in after_success
    assert after_fallback == after_success
    assert stamped == (first.landed,)


def test_a_load_starts_while_another_source_is_landing(fresh_database, tmp_path):
    """A load holds row locks on ops.loads, raw.quarantine and ops.files until it commits; another
    source's load starting meanwhile must not wait for it (its DDL takes no table lock when the
    objects exist: CREATE INDEX IF NOT EXISTS would, and could deadlock with the open load)."""
    first = _write_feed(tmp_path / "crm__contacts.csv")
    other = tmp_path / "web__interactions.csv"
    other.write_text(
        "source_system,source_interaction_id,occurred_at,interaction_type,cookie_id\n"
        "web,W1,2026-01-01T10:00:00Z,web_visit,c-1\n"
    )
    with psycopg.connect(fresh_database.url()) as landing, psycopg.connect(fresh_database.url()) as starting:
        land_feed_file(landing, FeedFile.from_path(first))
        landing.execute("lock table ops.loads, ops.files, raw.quarantine in row exclusive mode")  # a load's locks
        starting.execute("set lock_timeout = '2s'")
        result = land_feed_file(starting, FeedFile.from_path(other))
        landing.rollback()

    assert (result.fetched, result.landed) == (1, 1)


def test_first_loads_started_side_by_side_create_the_schemas_once(fresh_database, tmp_path):
    """Two sources landing at once into an empty database both create the landing's schemas,
    tables and helper function; neither fails on the other's catalog rows."""
    crm = _write_feed(tmp_path / "crm__contacts.csv")
    web = tmp_path / "web__interactions.csv"
    web.write_text(
        "source_system,source_interaction_id,occurred_at,interaction_type,cookie_id\n"
        "web,W1,2026-01-01T10:00:00Z,web_visit,c-1\n"
    )
    for _ in range(3):
        with psycopg.connect(fresh_database.url(), autocommit=True) as conn:
            conn.execute("drop schema if exists raw, ops cascade")
        ready = threading.Barrier(2)

        def land(path: Path, ready: threading.Barrier = ready) -> int:
            with psycopg.connect(fresh_database.url()) as conn:
                ready.wait()
                return land_feed_file(conn, FeedFile.from_path(path)).fetched

        with ThreadPoolExecutor(2) as pool:
            fetched = list(pool.map(land, [crm, web]))

        assert fetched == [len(CASES), 1]
