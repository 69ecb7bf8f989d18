"""`leadflow forget`: a person erased from raw, marts and the ledger, with an audit row that holds no
personal data; their old records dropped again later are suppressed, so they come back neither to
the marts nor to a transfer."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.sales_sandbox import SalesSandbox
from leadflow.erasure import SUPPRESSED, ErasureError, forget
from leadflow.sources.files import find_feed_files, land_files
from leadflow.transfer.definitions import load_transfer
from tests.fixtures import ROOT, build_marts, dbt_build, run_transfer

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

            report = forget(conn, f"  {email.upper()} ", "dpo@example.com")

            assert report.contacts[0] == contact_id and report.keys >= 3
            assert len(report.sales_records) == 1 and report.sales_records[0].startswith(f"{contact_id} (")
            assert report.rows_deleted["marts.dim_contacts"] == 1
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
