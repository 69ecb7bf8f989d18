"""Great Expectations (GX Core 1.x) checkpoints over warehouse tables, results kept in ops.

Suites are reviewed JSON files under ``expectations/<layer>/<table>.json``. At run time we build an
ephemeral GX context from them (nothing to keep in sync on distributed workers), validate the table
through SQLAlchemy on PostgreSQL and write one ``ops.quality_results`` row per suite.

Each expectation carries ``meta.severity``: ``critical`` (blocks transfers) or ``warning`` (reported).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from leadflow.settings import DatabaseUrl, project_root

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "warning")

QUALITY_DDL = """
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
create index if not exists quality_results_suite_checked_at on ops.quality_results (suite, checked_at desc);
"""


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class SuiteFile:
    path: Path
    name: str
    layer: str
    schema: str
    table: str
    expectations: list[dict[str, Any]]

    @property
    def severity(self) -> str:
        """The highest severity the suite checks."""
        found = {e.get("meta", {}).get("severity") for e in self.expectations}
        return "critical" if "critical" in found else "warning"


def expectations_dir() -> Path:
    return project_root() / "expectations"


def load_suite(path: Path) -> SuiteFile:
    """Read and check a suite file: its table, and a severity on every expectation."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read suite: {exc}") from exc
    meta = data.get("meta", {})
    for key in ("layer", "schema", "table"):
        if not meta.get(key):
            raise SuiteError(f"{path}: meta.{key} is required")
    expectations = data.get("expectations") or []
    if not expectations:
        raise SuiteError(f"{path}: no expectations")
    for index, expectation in enumerate(expectations):
        severity = expectation.get("meta", {}).get("severity")
        if severity not in SEVERITIES:
            raise SuiteError(
                f"{path}: expectations[{index}] ({expectation.get('type')}): meta.severity must be one of "
                f"{', '.join(SEVERITIES)}, got {severity!r}"
            )
    return SuiteFile(path, data.get("name") or path.stem, meta["layer"], meta["schema"], meta["table"], expectations)


@dataclass
class SuiteResult:
    suite: str
    layer: str
    success: bool
    severity: str
    evaluated_rows: int | None
    evaluated_expectations: int
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocks_transfers(self) -> bool:
        return not self.success and self.severity == "critical"

    def summary(self) -> dict[str, Any]:
        """For logs and XComs: names, counts and observed values only, no row data."""
        return {
            "suite": self.suite,
            "success": self.success,
            "severity": self.severity,
            "evaluated_rows": self.evaluated_rows,
            "evaluated_expectations": self.evaluated_expectations,
            "failed": [f["expectation"] for f in self.failed],
        }


def _sqlalchemy_url(database: DatabaseUrl, schema: str) -> str:
    # the schema goes into the search path: GX 1.x deprecated schema_name on table assets
    base = database.url().replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}?options=-csearch_path%3D{schema}"


def _observed(result: dict[str, Any]) -> Any:
    """The observed value of a failed expectation, without the rows that failed (no personal data)."""
    keys = ("observed_value", "unexpected_count", "unexpected_percent", "element_count", "missing_count")
    return {key: result[key] for key in keys if key in result}


def run_suite(database: DatabaseUrl, suite_file: SuiteFile) -> SuiteResult:
    """Validate one table with its suite through a GX checkpoint."""
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_postgres(
        name=f"leadflow_{suite_file.schema}", connection_string=_sqlalchemy_url(database, suite_file.schema)
    )
    asset = source.add_table_asset(name=suite_file.table, table_name=suite_file.table)
    batch = asset.add_batch_definition_whole_table(name=f"{suite_file.table}_whole_table")

    suite = ExpectationSuite(name=suite_file.name, expectations=suite_file.expectations)
    if len(suite.expectations) != len(suite_file.expectations):
        # GX logs and skips invalid expectations; a silently shorter suite would pass too easily
        raise SuiteError(f"{suite_file.path}: GX rejected some expectations (see the log above)")
    suite = context.suites.add(suite)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_file.name}_validation", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=f"{suite_file.name}_checkpoint", validation_definitions=[validation])
    )
    run = checkpoint.run()
    validation_result = next(iter(run.run_results.values()))

    failed: list[dict[str, Any]] = []
    evaluated_rows: int | None = None
    for outcome in validation_result.results:
        config = outcome.expectation_config
        result = outcome.result or {}
        if evaluated_rows is None and "element_count" in result:
            evaluated_rows = int(result["element_count"])
        if config.type == "expect_table_row_count_to_be_between" and evaluated_rows is None:
            evaluated_rows = int(result.get("observed_value") or 0)
        if not outcome.success:
            failed.append(
                {
                    "expectation": config.type,
                    "column": config.kwargs.get("column"),
                    "severity": (config.meta or {}).get("severity", "critical"),
                    "observed": _observed(result),
                }
            )
    severity = (
        "critical"
        if any(f["severity"] == "critical" for f in failed)
        else ("warning" if failed else suite_file.severity)
    )
    return SuiteResult(
        suite=suite_file.name,
        layer=suite_file.layer,
        success=not failed,
        severity=severity,
        evaluated_rows=evaluated_rows,
        evaluated_expectations=len(validation_result.results),
        failed=failed,
    )


def record_result(conn: psycopg.Connection, result: SuiteResult, run_id: str | None) -> None:
    conn.execute(QUALITY_DDL)
    conn.execute(
        "insert into ops.quality_results (suite, layer, run_id, checked_at, success, severity,"
        " evaluated_rows, evaluated_expectations, failed_expectations)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        ),
    )
    conn.commit()


def validate_layer(database: DatabaseUrl, layer: str, run_id: str | None) -> list[SuiteResult]:
    """Run every suite of a layer, record each result, and return them."""
    results = []
    suite_paths = sorted((expectations_dir() / layer).glob("*.json"))
    if not suite_paths:
        raise SuiteError(f"no suites in {expectations_dir() / layer}")
    with psycopg.connect(database.url()) as conn:
        for path in suite_paths:
            result = run_suite(database, load_suite(path))
            record_result(conn, result, run_id)
            log.info("quality %s: %s", result.suite, json.dumps(result.summary(), default=str))
            results.append(result)
    return results
