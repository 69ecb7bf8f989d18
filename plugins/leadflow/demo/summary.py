"""The printed summary of a pipeline run: counts from ops and the marts, and where to look next."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from leadflow.quality.gate import transfer_gate
from leadflow.quality.report import quarantine_summary
from leadflow.quality.results import failed_name
from leadflow.settings import DatabaseUrl


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def collect(conn: psycopg.Connection, since: datetime) -> dict[str, Any]:
    """What the run did, read back from the warehouse (counts, contact ids and rule names; no personal data)."""
    facts: dict[str, Any] = {"loads": [], "quarantine": [], "quality": [], "marts": {}}
    if _table_exists(conn, "ops.loads"):
        facts["loads"] = conn.execute(
            "select source_system, entity, status, fetched, landed, quarantined from ops.loads"
            " where started_at >= %s order by source_system, entity, started_at",
            (since,),
        ).fetchall()
        facts["quarantine"] = quarantine_summary(conn, since)
    if _table_exists(conn, "ops.quality_results"):
        facts["quality"] = conn.execute(
            "select layer, suite, coalesce(batch, suite), success, severity, evaluated_rows, evaluated_expectations,"
            " failed_expectations from ops.quality_results where checked_at >= %s order by layer, suite, batch",
            (since,),
        ).fetchall()
        facts["gate"] = transfer_gate(conn).message()
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
    facts["leads"] = collect_leads(conn)
    return facts


def collect_leads(conn: psycopg.Connection, top: int = 5, reasons: int = 3) -> dict[str, Any]:
    """Stages, ratings, the best-rated leads with their main reasons and the attributed revenue —
    ids, counts and rule names only. A mart that does not exist (an older warehouse) is left out."""
    leads: dict[str, Any] = {}
    if _table_exists(conn, "marts.lead_stages"):
        leads["stages"] = conn.execute(
            "select stage, count(*) from marts.lead_stages group by stage, stage_order order by stage_order, stage"
        ).fetchall()
    if _table_exists(conn, "marts.contact_scores"):
        leads["ratings"] = conn.execute(
            "select rating, count(*) from marts.contact_scores group by 1 order by 1"
        ).fetchall()
        if _table_exists(conn, "marts.lead_stages") and _table_exists(conn, "marts.contact_score_reasons"):
            rows = conn.execute(
                "with top_leads as ("
                "  select scores.contact_id, scores.rating, scores.lead_score, stages.stage"
                "  from marts.contact_scores as scores"
                "  left join marts.lead_stages as stages on scores.contact_id = stages.contact_id"
                "  order by scores.lead_score desc nulls last, scores.contact_id limit %s"
                ")"
                " select top_leads.contact_id, top_leads.rating, top_leads.lead_score, top_leads.stage,"
                " reasons.rule, reasons.points"
                " from top_leads left join lateral ("
                "  select rule, points from marts.contact_score_reasons"
                "  where contact_score_reasons.contact_id = top_leads.contact_id"
                "  order by abs(points) desc, rule limit %s"
                " ) as reasons on true"
                " order by top_leads.lead_score desc nulls last, top_leads.contact_id, abs(reasons.points) desc,"
                " reasons.rule",
                (top, reasons),
            ).fetchall()
            top_leads: dict[str, dict[str, Any]] = {}
            for contact_id, rating, lead_score, stage, rule, points in rows:
                lead = top_leads.setdefault(
                    contact_id, {"rating": rating, "lead_score": lead_score, "stage": stage, "reasons": []}
                )
                if rule is not None:
                    lead["reasons"].append((rule, points))
            leads["top"] = top_leads
    if _table_exists(conn, "marts.campaign_attribution"):
        leads["attribution"] = conn.execute(
            "select count(distinct (source_system, opportunity_id)),"
            " coalesce(sum(revenue_credit) filter (where model = 'linear'), 0) from marts.campaign_attribution"
        ).fetchone()
    return leads


def lead_lines(leads: dict[str, Any]) -> list[str]:
    """The lead section of the summary (empty when the scoring marts do not exist)."""
    lines: list[str] = []
    if leads.get("stages"):
        stages = " · ".join(f"{stage} {count}" for stage, count in leads["stages"])
        lines.append(f"  lead stages: {stages} (marts.lead_stages)")
    if leads.get("ratings"):
        ratings = " · ".join(f"{rating} {count}" for rating, count in leads["ratings"] if count)
        lines.append(f"  ratings: {ratings} (marts.contact_scores)")
    if leads.get("top"):
        lines.append(f"  top {len(leads['top'])} rated leads (reasons from marts.contact_score_reasons):")
        for contact_id, lead in leads["top"].items():
            reasons = ", ".join(f"{rule} {points:+.2f}" for rule, points in lead["reasons"]) or "no reasons"
            score = "—" if lead["lead_score"] is None else f"{lead['lead_score']:.2f}"
            lines.append(
                f"    {contact_id}  {lead['rating'] or '—'}  lead score {score}"
                f"  {lead['stage'] or 'no stage'}  — {reasons}"
            )
    if leads.get("attribution"):
        opportunities, revenue = leads["attribution"]
        lines.append(
            f"  campaign attribution: {opportunities} opportunities, revenue credited by linear model: {revenue:,.2f}"
            " (marts.campaign_attribution)"
        )
    return lines


def quality_lines(rows: list[tuple]) -> list[str]:
    """Raw loads and fresh sources as counts, table suites one by one, every failure by name."""
    lines = []
    raw = [r for r in rows if r[0] == "raw"]
    if raw:
        passed = sum(r[3] for r in raw)
        suites = len({r[1] for r in raw})
        lines.append(f"  raw: {len(raw)} loads checked by {suites} suites, {passed} passed")
    order = {"raw": 0, "marts": 1, "candidates": 2, "freshness": 3}
    for layer, suite, batch, success, severity, evaluated_rows, checked, failed in sorted(
        rows, key=lambda r: (order.get(r[0], 9), r[1], r[2])
    ):
        names = ", ".join(failed_name(f) for f in failed)
        if layer in ("marts", "candidates"):
            verdict = "passed" if success else f"FAILED {severity}: {names}"
            lines.append(f"  {suite}: {verdict} — {checked} expectations over {evaluated_rows} rows")
        elif not success:
            lines.append(f"  {batch}: {'STALE' if layer == 'freshness' else 'FAILED ' + severity}: {names}")
    fresh = [r for r in rows if r[0] == "freshness"]
    if fresh:
        lines.append(f"  freshness: {sum(r[3] for r in fresh)} of {len(fresh)} raw tables fresh (dbt source freshness)")
    return lines


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
        print("  quarantined records per load and reason (ops.quarantine_summary; the records: raw.quarantine):")
        for source, entity, load_id, _, fetched, reason, count in facts["quarantine"]:
            print(f"    {source}/{entity} load {load_id[:8]}: {count} of {fetched} × {reason}")
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
    if lines := lead_lines(facts["leads"]):
        print("\nLeads")
        print("\n".join(lines))
    print("\nData quality (ops.quality_results; `leadflow quality status`, Data Docs: `make quality-docs`)")
    print("\n".join(quality_lines(facts["quality"])) or "  no suite ran")
    if facts.get("gate"):
        print(f"  {facts['gate']}")
    print("\nWhere to look")
    print(f"  full run log:     {log_path}")
    print('  warehouse:        .venv/bin/leadflow db url   (psql "$(.venv/bin/leadflow db url)")')
    print('  Airflow UI:       make airflow   ("Lead transfers": transfers, runs, contact 360)')


def print_transfers(
    database: DatabaseUrl, since: datetime, sandbox_stats: dict[str, Any] | None, sandbox_leads: list[dict] | None
) -> None:
    """What the transfer runs did (ops.transfer_runs), and what the sandbox received."""
    with psycopg.connect(database.url(), connect_timeout=10) as conn:
        runs = conn.execute(
            "select transfer_name, status, selected, unchanged, invalid, sent, succeeded, failed, dead_letter, detail"
            " from ops.transfer_runs where started_at >= %s order by started_at",
            (since,),
        ).fetchall()
        errors = conn.execute(
            "select error_code, count(*) from ops.transfer_items items join ops.transfer_runs runs using (run_id)"
            " where runs.started_at >= %s and items.error_code is not null group by 1 order by 2 desc",
            (since,),
        ).fetchall()
    print("\nTransfers (ops.transfer_runs, ops.transfer_items)")
    for name, status, selected, unchanged, invalid, sent, succeeded, failed, dead, detail in runs:
        print(
            f"  {name}: {status} — {selected} in the target group, {unchanged} unchanged, {invalid} invalid (not sent),"
            f" {sent} sent: {succeeded} succeeded, {failed} failed, {dead} dead letters"
        )
        if status == "blocked" and detail:
            print(f"    {detail}")
    if errors:
        print("  item errors: " + ", ".join(f"{count} × {code}" for code, count in errors))
    if sandbox_stats is not None and sandbox_leads is not None:
        print(
            f"  sales sandbox: {len(sandbox_leads)} leads held ({sandbox_stats['created']} created and"
            f" {sandbox_stats['updated']} updated in this run), {sandbox_stats['api_requests']} API requests,"
            f" {sandbox_stats['faults']} faults and {sandbox_stats['dropped']} dropped answers served"
        )
