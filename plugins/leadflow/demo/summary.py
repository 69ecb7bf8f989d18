"""The printed summary of a pipeline run: counts from ops and the marts, and where to look next."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from leadflow.settings import DatabaseUrl


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def collect(conn: psycopg.Connection, since: datetime) -> dict[str, Any]:
    """What the run did, read back from the warehouse (counts only, no personal data)."""
    facts: dict[str, Any] = {"loads": [], "quarantine": [], "quality": [], "marts": {}}
    if _table_exists(conn, "ops.loads"):
        facts["loads"] = conn.execute(
            "select source_system, entity, status, fetched, landed, quarantined from ops.loads"
            " where started_at >= %s order by source_system, entity, started_at",
            (since,),
        ).fetchall()
        facts["quarantine"] = conn.execute(
            "select q.source_system, q.entity, q.reason, count(*) from raw.quarantine q"
            " join ops.loads l using (load_id) where l.started_at >= %s"
            " group by 1, 2, 3 order by 4 desc, 3",
            (since,),
        ).fetchall()
    if _table_exists(conn, "ops.quality_results"):
        facts["quality"] = conn.execute(
            "select suite, success, severity, evaluated_rows, evaluated_expectations,"
            " jsonb_array_length(failed_expectations) from ops.quality_results"
            " where checked_at >= %s order by suite",
            (since,),
        ).fetchall()
    if _table_exists(conn, "marts.dim_contacts"):
        facts["marts"]["dim_contacts"] = conn.execute("select count(*) from marts.dim_contacts").fetchone()[0]
        facts["permissions"] = conn.execute(
            "select email_permission, count(*) from marts.dim_contacts group by 1 order by 1"
        ).fetchall()
    for table in ("contact_origins", "dim_accounts"):
        if _table_exists(conn, f"marts.{table}"):
            facts["marts"][table] = conn.execute(f"select count(*) from marts.{table}").fetchone()[0]  # noqa: S608
    if _table_exists(conn, "marts.contact_id_history"):
        # what the latest id-ledger build that changed anything did (a build without changes adds nothing)
        facts["id_events"] = conn.execute(
            "select run_sequence, event, count(*) from marts.contact_id_history"
            " where run_sequence = (select max(run_sequence) from marts.contact_id_history) group by 1, 2 order by 2"
        ).fetchall()
    if _table_exists(conn, "intermediate.int_identity_keys_blocked"):
        facts["blocked_keys"] = conn.execute(
            "select key_type, block_rule, count(*) from intermediate.int_identity_keys_blocked"
            " group by 1, 2 order by 1, 2"
        ).fetchall()
    return facts


def print_summary(
    database: DatabaseUrl, since: datetime, run_id: str, state: str, elapsed_s: float, log_path: Path
) -> None:
    with psycopg.connect(database.url(), connect_timeout=10) as conn:
        facts = collect(conn, since)
    print()
    print(f"Run {run_id or '(no run id)'}: {state} in {elapsed_s:.0f}s")
    print("\nIngest (ops.loads)")
    print(f"  {'source':<12} {'entity':<14} {'status':<10} {'fetched':>8} {'landed':>8} {'quarantined':>12}")
    for source, entity, status, fetched, landed, quarantined in facts["loads"]:
        print(f"  {source:<12} {entity:<14} {status:<10} {fetched:>8} {landed:>8} {quarantined:>12}")
    if facts["quarantine"]:
        print("  quarantined records by reason (raw.quarantine):")
        for source, entity, reason, count in facts["quarantine"]:
            print(f"    {source}/{entity}: {count} × {reason}")
    if facts["marts"]:
        print("\nMarts")
        for table, count in facts["marts"].items():
            print(f"  marts.{table}: {count} rows")
        if facts.get("permissions"):
            shares = ", ".join(f"{count} {permission}" for permission, count in facts["permissions"])
            print(f"  email permission: {shares}")
        if facts.get("id_events"):
            events = ", ".join(f"{count} {event}" for _, event, count in facts["id_events"])
            build = facts["id_events"][0][0]
            print(f"  latest contact-id changes (ledger build {build}): {events} (marts.contact_id_history)")
        if facts.get("blocked_keys"):
            blocked = ", ".join(f"{count} {key_type} ({rule})" for key_type, rule, count in facts["blocked_keys"])
            print(f"  keys kept from linking: {blocked} (intermediate.int_identity_keys_blocked)")
    print("\nData quality (ops.quality_results)")
    for suite, success, severity, rows, checked, failed in facts["quality"]:
        verdict = "passed" if success else f"FAILED ({failed} {severity})"
        print(f"  {suite}: {verdict} — {checked} expectations over {rows} rows")
    if not facts["quality"]:
        print("  no suite ran")
    print("\nWhere to look")
    print(f"  full run log:     {log_path}")
    print('  warehouse:        .venv/bin/leadflow db url   (psql "$(.venv/bin/leadflow db url)")')
    print("  Airflow UI:       make airflow")
