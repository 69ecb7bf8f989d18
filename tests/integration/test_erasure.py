"""`leadflow forget`: a person erased from raw, marts and the ledger, with an audit row that holds no
personal data; their old records dropped again later are suppressed, so they come back neither to
the marts nor to a transfer."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.sales_sandbox import SalesSandbox
from leadflow.erasure import ERASURE_LOCK, SUPPRESSED, ErasureError, forget
from leadflow.sources.files import find_feed_files, land_files
from leadflow.transfer.adapters.base import RecordOutcome
from leadflow.transfer.definitions import load_transfer
from leadflow.transfer.runner import push, select_candidates, start_run
from tests.fixtures import ROOT, build_marts, dbt_build, run_dbt, run_transfer

pytestmark = pytest.mark.integration


def _transfer(database, sandbox: SalesSandbox, tmp_path: Path, run: str) -> None:
    definition_file = tmp_path / "emea.yml"
    definition_file.write_text((ROOT / "config" / "transfers" / "emea_sales_ready.yml").read_text())
    run_transfer(database, load_transfer(definition_file), sandbox, run)


def _rows_mentioning(conn: psycopg.Connection, schemas: tuple[str, ...], needles: list[str]) -> dict[str, int]:
    """Rows of every table in the schemas whose text contains one of the needles."""
    found = {}
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema = any(%s) and table_type = 'BASE TABLE'",
        (list(schemas),),
    ).fetchall()
    for schema, table in tables:
        count = conn.execute(
            f'select count(*) from "{schema}"."{table}" t where t::text ilike any(%s)',
            ([f"%{n}%" for n in needles],),
        ).fetchone()[0]
        if count:
            found[f"{schema}.{table}"] = count
    return found


def test_forget_erases_everywhere_audits_without_data_and_a_reingest_stays_suppressed(fresh_database, tmp_path):
    build_marts(fresh_database, tmp_path, people=400, seed=5)
    sandbox = SalesSandbox(seed=2).start()
    try:
        _transfer(fresh_database, sandbox, tmp_path, "run-1")
        with psycopg.connect(fresh_database.url()) as conn:
            contact_id, email = conn.execute(
                "select d.contact_id, d.email from marts.dim_contacts d join ops.transfer_items i using (contact_id)"
                " where i.status = 'succeeded' order by d.number_of_origins desc, d.contact_id limit 1"
            ).fetchone()
            origins = conn.execute(
                "select source_system, source_record_id from marts.contact_origins where contact_id = %s", (contact_id,)
            ).fetchall()
            items_before = conn.execute("select count(*) from ops.transfer_items").fetchone()[0]
            contacts_before = conn.execute("select count(*) from marts.dim_contacts").fetchone()[0]
            with pytest.raises(ErasureError):
                forget(conn, "ctc_nobody", "test")
            # somebody else's interaction that named them before it was re-resolved
            (moved,) = conn.execute(
                "update marts.fct_interactions set previous_contact_id = %s where interaction_key ="
                " (select min(interaction_key) from marts.fct_interactions where contact_id <> %s)"
                " returning interaction_key",
                (contact_id, contact_id),
            ).fetchone()
            conn.commit()

            report = forget(conn, f"  {email.upper()} ", "dpo@example.com")

            assert report.contacts[0] == contact_id and report.keys >= 3
            assert len(report.sales_records) == 1 and report.sales_records[0].startswith(f"{contact_id} (")
            assert report.rows_deleted["marts.dim_contacts"] == 1
            assert report.rows_deleted["marts.fct_interactions (previous_contact_id cleared)"] == 1
            assert conn.execute(
                "select previous_contact_id from marts.fct_interactions where interaction_key = %s", (moved,)
            ).fetchall() == [(None,)]  # kept, without their id
            # nothing about them left in raw, intermediate or marts, by email or by id
            assert _rows_mentioning(conn, ("raw", "intermediate", "marts"), [email, *report.contacts]) == {}
            assert conn.execute("select count(*) from marts.dim_contacts").fetchone()[0] == contacts_before - 1
            # the ledger keeps its counts under an anonymous token
            assert _rows_mentioning(conn, ("ops",), [email, *report.contacts]) == {}
            assert conn.execute("select count(*) from ops.transfer_items").fetchone()[0] == items_before
            assert (
                conn.execute(
                    "select count(*) from ops.transfer_items where contact_id like %s", (f"{report.ledger_token}%",)
                ).fetchone()[0]
                >= 1
            )
            # the audit row and the suppression list hold hashes and counts, not the person
            audit = conn.execute("select requested_by, keys, rows_deleted from ops.erasures").fetchall()
            assert [(a[0], a[1]) for a in audit] == [("dpo@example.com", report.keys)]
            email_key = hashlib.sha256(f"email:{email}".encode()).hexdigest()
            assert (
                conn.execute("select count(*) from ops.suppression where key_hash = %s", (email_key,)).fetchone()[0]
                == 1
            )
            others = conn.execute("select count(*) from marts.dim_contacts where email is not null").fetchone()[0]
            assert others > 100  # nobody else went with them
            # attribution redoes every opportunity next run (their touches may have counted for an account)
            assert conn.execute(
                "select count(*) from intermediate.contact_change_watermarks where model = 'campaign_attribution'"
            ).fetchone() == (0,)

        # their old records dropped again, beside someone new
        again = tmp_path / "again"
        again.mkdir()
        records = {f"{s}:{r}" for s, r in origins}
        resent, newcomer = 0, {"source_record_id": "NEW-1", "email": "new.person@example.org"}
        for path in sorted((tmp_path / "feed").glob("*__*.csv")):
            if path.stem.split("__")[1] not in ("contacts", "interactions"):
                continue
            with open(path, newline="") as handle:
                reader = csv.DictReader(handle)
                rows = [
                    row for row in reader
                    if (row.get("email") or "").strip().lower() == email
                    or f"{row['source_system']}:{row.get('source_record_id', '')}" in records
                ]  # fmt: skip
                fields = reader.fieldnames
            if not rows:
                continue
            resent += len(rows)
            if path.stem.endswith("__contacts") and newcomer:
                blank = dict.fromkeys(("crm_id", "cookie_id", "phone"), "")
                rows.append({**rows[0], **blank, **newcomer})
                newcomer = {}
            with open(again / path.name, "w", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        assert resent >= 2
        with psycopg.connect(fresh_database.url()) as conn:
            results = land_files(conn, find_feed_files(again), None)
            suppressed = conn.execute(
                "select count(*) from raw.quarantine where reason = %s", (SUPPRESSED,)
            ).fetchone()[0]
            assert suppressed == resent
            assert sum(r["landed"] for r in results) == 1  # the new person only
            assert _rows_mentioning(conn, ("raw",), [email]) == {}
        dbt_build(fresh_database, tmp_path / "target2")
        with psycopg.connect(fresh_database.url()) as conn:
            assert _rows_mentioning(conn, ("raw", "intermediate", "marts"), [email]) == {}
            assert (
                conn.execute(
                    "select count(*) from marts.dim_contacts where email = 'new.person@example.org'"
                ).fetchone()[0]
                == 1
            )
        sent_before = {lead["external_id"] for lead in sandbox.leads()}
        _transfer(fresh_database, sandbox, tmp_path, "run-2")
        new_leads = [lead for lead in sandbox.leads() if lead["external_id"] not in sent_before]
        assert all(email not in json.dumps(lead).lower() for lead in new_leads)
    finally:
        sandbox.stop()


def _wait_for_a_waiting_lock(conn: psycopg.Connection, what: str) -> None:
    """Until some session waits for an advisory lock (a minute at most)."""
    deadline = time.monotonic() + 60
    while not conn.execute(
        "select exists (select from pg_locks where locktype = 'advisory' and not granted)"
    ).fetchone()[0]:
        assert time.monotonic() < deadline, f"{what} did not wait"
        time.sleep(0.05)


def test_an_erasure_and_the_builds_wait_for_each_other(fresh_database, tmp_path):
    build_marts(fresh_database, tmp_path, people=80, seed=3)
    url = fresh_database.url()
    with psycopg.connect(url, autocommit=True) as watcher:
        contact_id, email = watcher.execute(
            "select contact_id, email from marts.dim_contacts where email is not null order by contact_id limit 1"
        ).fetchone()
        guard = json.loads((tmp_path / "target" / "manifest.json").read_text())["macros"][
            "macro.leadflow.erasure_guard"
        ]["macro_sql"]
        lock = re.search(r"select pg_advisory_xact_lock_shared\(.*\)", guard)[0]

        # a model's build in progress: it holds the guard, has read the person, and writes them back
        # (delete+insert) after an erasure has started; the erasure waits for it, then erases
        with psycopg.connect(url) as build:
            build.execute(lock)
            build.execute(
                "create temporary table rebuilt as select * from marts.dim_contacts where contact_id = %s",
                (contact_id,),
            )
            with ThreadPoolExecutor(1) as pool:
                erasure = pool.submit(_forget_in_own_connection, url, email)
                _wait_for_a_waiting_lock(watcher, "the erasure")
                build.execute("delete from marts.dim_contacts where contact_id = %s", (contact_id,))
                build.execute("insert into marts.dim_contacts select * from rebuilt")
                build.commit()
                assert erasure.result(timeout=120).contacts == [contact_id]
        assert watcher.execute(
            "select count(*) from marts.dim_contacts where contact_id = %s", (contact_id,)
        ).fetchone() == (0,)

        # an erasure in progress: a dbt build waits for it (every model's pre-hook takes the guard; the
        # origins are built again after an erasure)
        with psycopg.connect(url) as erasing:
            erasing.execute("select pg_advisory_xact_lock(hashtext(%s))", (ERASURE_LOCK,))
            with ThreadPoolExecutor(1) as pool:
                dbt = pool.submit(run_dbt, fresh_database, tmp_path / "target", "run", "-s", "int_identity_origins")
                _wait_for_a_waiting_lock(watcher, "dbt")
                assert not dbt.done()
                erasing.commit()
                ran = dbt.result(timeout=300)
                assert ran.returncode == 0, ran.stdout[-3000:]

        # and so does a load, before it takes out the records of erased people (they are its last
        # steps: an erasure committing after them would not see its rows)
        drop = tmp_path / "drop"
        drop.mkdir()
        (drop / "web__interactions.csv").write_text(
            "source_system,source_interaction_id,occurred_at,interaction_type,cookie_id\n"
            "web,LOCK-1,2026-11-01T10:00:00Z,web_visit,ck-lock-test\n"
        )
        with psycopg.connect(url) as erasing:
            erasing.execute("select pg_advisory_xact_lock(hashtext(%s))", (ERASURE_LOCK,))
            with ThreadPoolExecutor(1) as pool:
                load = pool.submit(_land_in_own_connection, url, drop)
                _wait_for_a_waiting_lock(watcher, "the load")
                erasing.commit()
                assert [r["landed"] for r in load.result(timeout=120)] == [1]


def _land_in_own_connection(url: str, folder: Path) -> list[dict]:
    with psycopg.connect(url) as conn:
        return land_files(conn, find_feed_files(folder), None)


def _forget_in_own_connection(url: str, email: str):
    with psycopg.connect(url) as conn:
        return forget(conn, email, "test")


class _SlowSalesSystem:
    """A sales system that, while the person's batch is in flight, has an erasure of them begin
    (and checks it waits), then accepts every record."""

    name = "slow"
    max_batch = 50

    def __init__(self, url: str, person: str, pool: ThreadPoolExecutor) -> None:
        self.url, self.person, self.pool = url, person, pool
        self.erasure: Future | None = None

    def push(self, records):
        if any(record.external_id == self.person for record in records):
            self.erasure = self.pool.submit(_forget_in_own_connection, self.url, self.person)
            with psycopg.connect(self.url, autocommit=True) as watcher:
                _wait_for_a_waiting_lock(watcher, "the erasure")
        return [RecordOutcome(r.external_id, True, sales_record_id=f"00Q{i:012d}") for i, r in enumerate(records)]

    def close(self) -> None:
        pass


def test_an_erasure_waits_for_the_transfer_batch_in_flight(fresh_database, tmp_path):
    build_marts(fresh_database, tmp_path, people=200, seed=5)
    definition_file = tmp_path / "emea.yml"
    definition_file.write_text((ROOT / "config" / "transfers" / "emea_sales_ready.yml").read_text())
    definition = load_transfer(definition_file)
    url = fresh_database.url()
    with psycopg.connect(url) as conn, ThreadPoolExecutor(1) as pool:
        run_id, _ = start_run(conn, definition, "erasure-during-a-batch")
        select_candidates(conn, definition, run_id)
        (person,) = conn.execute(
            "select min(contact_id) from ops.transfer_items where run_id = %s and status = 'pending'", (run_id,)
        ).fetchone()
        conn.commit()
        sales = _SlowSalesSystem(url, person, pool)
        push(conn, definition, run_id, sales)
        report = sales.erasure.result(timeout=120)

        # the erasure came after the batch was written: it anonymised the ledger rows of the lead it
        # sent, and names that lead for deletion in the sales system
        assert report.contacts == [person]
        assert conn.execute("select count(*) from ops.transfer_items where contact_id = %s", (person,)).fetchone() == (
            0,
        )
        assert [record.split(" ")[0] for record in report.sales_records] == [person]
