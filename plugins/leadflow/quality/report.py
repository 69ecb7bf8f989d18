"""What the quality checks found, for people: latest results, quarantine per load, the gate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from leadflow.quality.gate import GateDecision, transfer_gate
from leadflow.quality.results import ensure_table, failed_name

# the latest result per suite and checked relation (a raw suite: per source table, its newest load)
LATEST_SQL = """
select distinct on (suite, split_part(coalesce(batch, suite), ' load ', 1))
    result_id, suite, layer, coalesce(batch, suite), checked_at, success, severity,
    evaluated_rows, failed_expectations, accepted_at, docs_page
from ops.quality_results
order by suite, split_part(coalesce(batch, suite), ' load ', 1), checked_at desc, result_id desc
"""

# ops.quarantine_summary: records kept out of raw, per load, source, entity and reason
QUARANTINE_VIEW = """
create or replace view ops.quarantine_summary as
select
    loads.load_id,
    loads.source_system,
    loads.entity,
    loads.started_at,
    loads.fetched,
    loads.quarantined as load_quarantined,
    quarantine.reason,
    count(*) as records
from raw.quarantine as quarantine
inner join ops.loads as loads on quarantine.load_id = loads.load_id
group by loads.load_id, loads.source_system, loads.entity, loads.started_at, loads.fetched, loads.quarantined,
    quarantine.reason
"""


def latest_results(conn: psycopg.Connection) -> list[dict[str, Any]]:
    ensure_table(conn)
    keys = (
        "result_id",
        "suite",
        "layer",
        "batch",
        "checked_at",
        "success",
        "severity",
        "rows",
        "failed",
        "accepted_at",
        "docs_page",
    )
    rows = [dict(zip(keys, row, strict=True)) for row in conn.execute(LATEST_SQL).fetchall()]
    return sorted(
        rows,
        key=lambda r: (
            ("raw", "marts", "candidates", "freshness").index(r["layer"])
            if r["layer"] in ("raw", "marts", "candidates", "freshness")
            else 9,
            r["batch"],
        ),
    )


def quarantine_summary(conn: psycopg.Connection, since: datetime | None = None) -> list[tuple]:
    """Quarantined records per load, source, entity and reason (counts only, no record text)."""
    if conn.execute("select to_regclass('raw.quarantine') is null or to_regclass('ops.loads') is null").fetchone()[0]:
        return []
    if conn.execute("select to_regclass('ops.quarantine_summary') is null").fetchone()[0]:
        conn.execute(QUARANTINE_VIEW)  # once: replacing a view takes a lock every reader would wait on
        conn.commit()
    return conn.execute(
        "select source_system, entity, load_id::text, started_at, fetched, reason, records"
        " from ops.quarantine_summary where %(since)s::timestamptz is null or started_at >= %(since)s::timestamptz"
        " order by started_at desc, source_system, entity, records desc, reason",
        {"since": since},
    ).fetchall()


def format_status(conn: psycopg.Connection, since: datetime | None = None) -> tuple[str, GateDecision]:
    lines = ["Latest quality results (ops.quality_results)"]
    results = latest_results(conn)
    if not results:
        lines.append("  none yet: run the pipeline (make demo) or `leadflow quality check`")
    for r in results:
        if r["success"]:
            verdict = "passed"
        else:
            verdict = f"FAILED {r['severity']}: {', '.join(failed_name(f) for f in r['failed'])}"
            if r["accepted_at"]:
                verdict += f" (accepted {r['accepted_at']:%Y-%m-%d})"
        rows = "" if r["rows"] is None else f"{r['rows']:>9,} rows  "
        lines.append(f"  #{r['result_id']:<6} {r['batch']:<44} {r['checked_at']:%Y-%m-%d %H:%M}  {rows}{verdict}")
    quarantine = quarantine_summary(conn, since)
    if quarantine:
        lines.append("\nQuarantined records per load (ops.quarantine_summary)")
        for source, entity, load_id, started, fetched, reason, records in quarantine[:30]:
            when = f"{started:%Y-%m-%d %H:%M}"
            lines.append(f"  {source}/{entity} load {load_id[:8]} {when}: {records:,} of {fetched:,} × {reason}")
    decision = transfer_gate(conn, since)
    lines.append("")
    lines.append(decision.message())
    return "\n".join(lines), decision
