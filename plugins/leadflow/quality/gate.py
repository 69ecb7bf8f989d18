"""The transfer circuit breaker: may a transfer push now, given the quality results of its inputs?

A transfer reads the marts and candidates, which are built from the raw loads. It is refused when:
- a table suite (marts, candidates) has never been checked, or its latest result is a critical
  failure — a later pass means the table is good again;
- a raw load failed a critical check since the transfer's last good run (``since``) and has not
  passed a re-check since — its rows stay in raw and flow into the marts, so a newer good load does
  not make up for it. An operator who decides the load is acceptable (or has removed it) says so
  with ``leadflow quality accept RESULT_ID --note …``; accepted failures no longer count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from leadflow.quality.results import ensure_table, failed_name
from leadflow.quality.suites import layer_suites

TABLE_LAYERS = ("marts", "candidates")

BLOCKING_SQL = """
with latest_tables as (
    select distinct on (suite) *
    from ops.quality_results
    where load_id is null and suite = any(%(table_suites)s)
    order by suite, checked_at desc, result_id desc
),
latest_loads as (
    select distinct on (suite, load_id) *
    from ops.quality_results
    where load_id is not null and layer = 'raw'
        and (%(since)s::timestamptz is null or checked_at > %(since)s::timestamptz)
    order by suite, load_id, checked_at desc, result_id desc
)
select result_id, suite, batch, checked_at, failed_expectations
from (select * from latest_tables union all select * from latest_loads) as latest
where not success and severity = 'critical' and accepted_at is null
order by checked_at, result_id
"""


@dataclass(frozen=True)
class Blocker:
    result_id: int
    suite: str
    batch: str | None
    checked_at: datetime
    failed: list[str]

    def describe(self) -> str:
        return (
            f"{self.suite} on {self.batch} failed {', '.join(self.failed)} at {self.checked_at:%Y-%m-%d %H:%M:%S %Z}"
            f" (result {self.result_id})"
        )


@dataclass(frozen=True)
class GateDecision:
    blockers: list[Blocker] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.blockers and not self.unchecked

    def message(self) -> str:
        if self.allowed:
            return "quality gate: open — no critical check of the transfer's inputs failed"
        reasons = [b.describe() for b in self.blockers[:5]]
        if len(self.blockers) > 5:
            reasons.append(f"and {len(self.blockers) - 5} more (leadflow quality status)")
        reasons += [f"{suite} has no result yet" for suite in self.unchecked]
        return "quality gate: CLOSED, nothing will be pushed — " + "; ".join(reasons)


def _failed_names(failed: list[dict[str, Any]]) -> list[str]:
    return [failed_name(f) for f in failed if f.get("severity", "critical") == "critical"]


def transfer_gate(conn: psycopg.Connection, since: datetime | None = None) -> GateDecision:
    """The decision for a transfer whose last good run started at ``since`` (None: never ran)."""
    ensure_table(conn)
    table_suites = [suite.name for layer in TABLE_LAYERS for suite in layer_suites(layer)]
    rows = conn.execute(BLOCKING_SQL, {"table_suites": table_suites, "since": since}).fetchall()
    checked = {
        row[0]
        for row in conn.execute(
            "select distinct suite from ops.quality_results where suite = any(%s)", (table_suites,)
        ).fetchall()
    }
    return GateDecision(
        blockers=[Blocker(r[0], r[1], r[2], r[3], _failed_names(r[4])) for r in rows],
        unchecked=[suite for suite in table_suites if suite not in checked],
    )
