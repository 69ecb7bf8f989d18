"""``ops.quality_results``: one row per suite and batch validated (DESIGN.md, ops contract).

Rows hold names, counts and observed values only — never the rows that failed (personal data).
A critical failure can be *accepted* by an operator (``leadflow quality accept``): the row stays,
with who accepted it, when and why, and the transfer gate no longer counts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

QUALITY_DDL = """
-- tasks validating at the same time must not race on the catalog
select pg_advisory_xact_lock(hashtext('leadflow.quality_results_ddl'));
create schema if not exists ops;
create table if not exists ops.quality_results (
    result_id bigint generated always as identity primary key,
    suite text not null,
    layer text not null,
    run_id text,
    checked_at timestamptz not null,
    success boolean not null,
    severity text not null check (severity in ('critical', 'warning')),
    evaluated_rows bigint,
    evaluated_expectations integer not null,
    failed_expectations jsonb not null default '[]'
);
-- added after the first release: what was validated (a table, or one load of a raw table),
-- the Data Docs page of the result, and an operator's acceptance of a failure
alter table ops.quality_results add column if not exists batch text;
alter table ops.quality_results add column if not exists load_id uuid;
alter table ops.quality_results add column if not exists docs_page text;
alter table ops.quality_results add column if not exists accepted_at timestamptz;
alter table ops.quality_results add column if not exists accepted_by text;
alter table ops.quality_results add column if not exists accepted_note text;
create index if not exists quality_results_suite_checked_at on ops.quality_results (suite, checked_at desc);
"""


def failed_name(failure: dict[str, Any]) -> str:
    """How a failed expectation is named in logs, messages and summaries: type(column)."""
    return failure["expectation"] + (f"({failure['column']})" if failure.get("column") else "")


@dataclass
class SuiteResult:
    suite: str
    layer: str
    success: bool
    severity: str
    evaluated_rows: int | None
    evaluated_expectations: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    batch: str | None = None
    load_id: str | None = None
    docs_page: str | None = None

    @property
    def blocks_transfers(self) -> bool:
        return not self.success and self.severity == "critical"

    def summary(self) -> dict[str, Any]:
        """For logs and XComs: names, counts and observed values only, no row data."""
        return {
            "suite": self.suite,
            "batch": self.batch,
            "success": self.success,
            "severity": self.severity,
            "evaluated_rows": self.evaluated_rows,
            "evaluated_expectations": self.evaluated_expectations,
            "failed": [failed_name(f) for f in self.failed],
        }


def ensure_table(conn: psycopg.Connection) -> None:
    """Create or upgrade the table when needed: ALTER TABLE takes an exclusive lock even when the
    column exists, so the DDL runs only when the newest column is missing."""
    current = conn.execute(
        "select 1 from information_schema.columns where table_schema = 'ops'"
        " and table_name = 'quality_results' and column_name = 'accepted_note'"
    ).fetchone()
    if current is None:
        conn.execute(QUALITY_DDL)
    conn.commit()


def record_result(conn: psycopg.Connection, result: SuiteResult, run_id: str | None) -> int:
    """Insert one result row and commit; returns its result_id."""
    ensure_table(conn)
    result_id = conn.execute(
        "insert into ops.quality_results (suite, layer, run_id, checked_at, success, severity,"
        " evaluated_rows, evaluated_expectations, failed_expectations, batch, load_id, docs_page)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning result_id",
        (
            result.suite,
            result.layer,
            run_id,
            datetime.now(UTC),
            result.success,
            result.severity,
            result.evaluated_rows,
            result.evaluated_expectations,
            json.dumps(result.failed, default=str),
            result.batch,
            result.load_id,
            result.docs_page,
        ),
    ).fetchone()[0]
    conn.commit()
    return result_id


def accept_failure(conn: psycopg.Connection, result_id: int, accepted_by: str, note: str) -> None:
    """Mark a failed result as accepted by an operator (it stays in the table, with the reason)."""
    ensure_table(conn)
    row = conn.execute(
        "update ops.quality_results set accepted_at = now(), accepted_by = %s, accepted_note = %s"
        " where result_id = %s and not success returning suite",
        (accepted_by, note, result_id),
    ).fetchone()
    if row is None:
        raise LookupError(f"no failed quality result with id {result_id}")
    conn.commit()
