"""Identity resolution on generated data with real dbt and PostgreSQL: accuracy against the
generator's ground truth, ids that survive reruns, and merges and splits recorded as they happen."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.generator import Generator
from leadflow.settings import DatabaseUrl
from leadflow.transform.identity_evaluation import evaluate_identity
from tests.fixtures import bridge_candidates, land_folder, run_dbt, table_rows

pytestmark = pytest.mark.integration

CONTACT_COLUMNS = ["source_system", "source_record_id", "updated_at", "email", "phone", "first_name", "last_name"]


def _build(database: DatabaseUrl, target: Path, fuzzy: bool = False) -> None:
    os.environ["LEADFLOW_IDENTITY_FUZZY_MATCH"] = "true" if fuzzy else "false"
    try:
        result = run_dbt(database, target, "build", "--exclude", "test_type:unit")
    finally:
        del os.environ["LEADFLOW_IDENTITY_FUZZY_MATCH"]
    assert result.returncode == 0, result.stdout[-3000:]


def _contact_ids(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("select source_system || ':' || source_record_id, contact_id from marts.contact_origins"))


def _write_contacts(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, CONTACT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_demo_sized_data_meets_the_accuracy_targets_with_and_without_the_fuzzy_rule(fresh_database, tmp_path):
    feed = tmp_path / "feed"
    Generator(500, seed=42).write(feed, progress=False)  # the demo's data
    land_folder(fresh_database, feed)

    _build(fresh_database, tmp_path / "target")
    with psycopg.connect(fresh_database.url()) as conn:
        strict = evaluate_identity(conn, feed / "ground_truth.csv")
    _build(fresh_database, tmp_path / "target", fuzzy=True)
    with psycopg.connect(fresh_database.url()) as conn:
        fuzzy = evaluate_identity(conn, feed / "ground_truth.csv")
        merged_by_fuzzy = conn.execute("select count(*) from marts.contact_origins where matched_on = 'fuzzy_name'")

        assert merged_by_fuzzy.fetchone()[0] > 0
    assert strict.matched_origins == strict.truth_origins  # every labelled origin is in contact_origins
    assert strict.precision >= 0.995 and strict.recall >= 0.97
    assert fuzzy.precision >= 0.995 and fuzzy.recall >= 0.98
    assert fuzzy.recall > strict.recall


def test_ids_survive_a_rerun_and_merges_and_splits_are_recorded(fresh_database, tmp_path):
    feed = tmp_path / "feed"
    Generator(150, seed=11).write(feed, progress=False)
    land_folder(fresh_database, feed)
    _build(fresh_database, tmp_path / "target")
    with psycopg.connect(fresh_database.url()) as conn:
        before = _contact_ids(conn)
        ledger_rows = conn.execute("select count(*) from intermediate.int_contact_id_ledger").fetchone()[0]
        # two single-origin contacts, one with an email, one with a phone
        (email_contact, email), (phone_contact, phone) = bridge_candidates(conn)
        # a contact of two origins joined by one email only
        pair_contact, pair_email = conn.execute(
            "select d.contact_id, d.email from marts.dim_contacts d where d.number_of_origins = 2 and d.phone is null"
            " and not exists (select 1 from marts.contact_origins o where o.contact_id = d.contact_id"
            " and o.matched_on <> 'email') order by d.contact_id limit 1"
        ).fetchone()

    # a rerun on unchanged data changes nothing
    _build(fresh_database, tmp_path / "target")
    with psycopg.connect(fresh_database.url()) as conn:
        assert _contact_ids(conn) == before
        assert conn.execute("select count(*) from intermediate.int_contact_id_ledger").fetchone()[0] == ledger_rows

    # a trade-fair scan bridges the two contacts; three strangers share the pair's email (a team mailbox)
    drop = tmp_path / "drop"
    drop.mkdir()
    _write_contacts(
        drop / "fair__contacts.csv",
        [
            {"source_system": "fair", "source_record_id": "F-1", "updated_at": "2026-10-01", "email": email,
             "phone": phone, "first_name": "Bridget", "last_name": "Bridge"},
            {"source_system": "fair", "source_record_id": "F-2", "updated_at": "2026-10-01", "email": pair_email,
             "first_name": "Zed", "last_name": "Quux"},
            {"source_system": "fair", "source_record_id": "F-3", "updated_at": "2026-10-01", "email": pair_email,
             "first_name": "Ygg", "last_name": "Drasil"},
        ],
    )  # fmt: skip
    land_folder(fresh_database, drop)
    _build(fresh_database, tmp_path / "target")

    with psycopg.connect(fresh_database.url()) as conn:
        after = _contact_ids(conn)
        history = conn.execute(
            "select contact_id, event, other_contact_id from marts.contact_id_history where event <> 'created'"
        ).fetchall()
        blocked = conn.execute(
            "select block_rule from intermediate.int_identity_keys_blocked where key_value = %s", (pair_email,)
        ).fetchone()

    survivor, retired = sorted([email_contact, phone_contact])  # equally old: the smaller id survives
    assert after["fair:F-1"] == survivor
    assert {after[o] for o, c in before.items() if c in (email_contact, phone_contact)} == {survivor}
    assert (retired, "merged_into", survivor) in history
    pair_origins = [o for o, c in before.items() if c == pair_contact]
    assert blocked == ("shared",)
    assert len({after[o] for o in pair_origins}) == 2  # the pair split: one part keeps the id
    assert pair_contact in {after[o] for o in pair_origins}
    assert any(c == pair_contact and e == "split_to" for c, e, _ in history)
    untouched = {o: c for o, c in before.items() if c not in (email_contact, phone_contact, pair_contact)}
    assert {o: after[o] for o in untouched} == untouched  # every other contact keeps its id

    # the ledger's readers took its new run only, and hold what reading the whole ledger gives
    written = {
        r["unique_id"].rsplit(".", 1)[-1]: r["adapter_response"].get("rows_affected")
        for r in json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    }
    with psycopg.connect(fresh_database.url()) as conn:
        (moved,) = conn.execute(
            "select count(*) from intermediate.int_contact_id_ledger"
            " where run_sequence = (select max(run_sequence) from intermediate.int_contact_id_ledger)"
        ).fetchone()
    assert 0 < written["int_contact_origins_current"] == moved, written
    assert 0 < written["contact_id_history"] < 10, written
    readers = {
        "marts.contact_id_history": "run_sequence, contact_id, event, other_contact_id",
        "intermediate.int_contact_origins_current": "origin_key",
        "intermediate.int_contact_key_owners": "key_type, key_value",
    }
    incremental = {table: table_rows(fresh_database, table, order) for table, order in readers.items()}
    result = run_dbt(
        fresh_database,
        tmp_path / "target",
        "run",
        "-s",
        "contact_id_history int_contact_origins_current int_contact_key_owners",
        "--full-refresh",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    for table, order in readers.items():
        assert table_rows(fresh_database, table, order) == incremental[table], table

    # the ledger read only the components clustering rewrote; reading every one appends the same rows
    compiled = next((tmp_path / "target" / "compiled").rglob("int_contact_id_ledger.sql")).read_text()
    assert "where cluster_build >" in compiled  # the merge build took the narrow path
    last_run = (
        "select origin_key, source_system, source_record_id, contact_id, previous_contact_id, change, run_sequence"
        " from intermediate.int_contact_id_ledger where run_sequence = %s order by origin_key"
    )
    with psycopg.connect(fresh_database.url()) as conn:
        (run,) = conn.execute("select max(run_sequence) from intermediate.int_contact_id_ledger").fetchone()
        narrow = conn.execute(last_run, (run,)).fetchall()
        conn.execute("delete from intermediate.int_contact_id_ledger where run_sequence = %s", (run,))
        conn.execute("delete from intermediate.identity_watermarks where model = 'int_contact_id_ledger'")
    result = run_dbt(fresh_database, tmp_path / "target", "run", "-s", "int_contact_id_ledger")
    assert result.returncode == 0, result.stdout[-3000:]
    compiled = next((tmp_path / "target" / "compiled").rglob("int_contact_id_ledger.sql")).read_text()
    assert "where cluster_build >" not in compiled  # every component this time
    with psycopg.connect(fresh_database.url()) as conn:
        assert conn.execute(last_run, (run,)).fetchall() == narrow
