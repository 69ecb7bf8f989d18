"""Great Expectations (GX Core 1.x) checkpoints over warehouse tables; results in ops and Data Docs.

At run time we build an ephemeral GX context from the suite files (nothing to keep in sync on
distributed workers) and validate through SQLAlchemy on PostgreSQL, so expectations run as SQL
aggregates in the warehouse. Validation results are also kept as files and rendered as GX Data
Docs (a static site under ``.leadflow/gx/``; ``make quality-docs`` opens it).

Batches: a table suite validates its whole table; a raw suite validates each load it is given
(``select … where load_id = …``, timestamps typed), so the check of a new load reads only that
load and a failure names it.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql

from leadflow.quality.results import SuiteResult, record_result
from leadflow.quality.suites import SuiteFile, layer_suites
from leadflow.settings import DatabaseUrl, state_dir
from leadflow.sources.feed import ENTITIES, raw_table

log = logging.getLogger(__name__)

DOCS_SITE = "leadflow"
DOCS_KEEP_DAYS = 30
# The Data Docs index lists this many of the newest results. GX rebuilds the index after every
# checking task, reading whole each result file it lists: with 30 days of results (1,147 files on a
# development machine) its docs step took 2.2-3.2 s, 1.5-1.9 s with this limit (what is left: GX
# still lists every kept file). Each result's own page stays for DOCS_KEEP_DAYS, and
# ops.quality_results keeps them all.
DOCS_INDEX_RESULTS = 250
TABLE_LEVEL = ("expect_table_row_count_to_be_between", "expect_table_columns_to_match_set")


# Counts of failing rows (what ops.quality_results keeps), never the rows: GX's default (SUMMARY)
# fetches up to 20 failing values per expectation with one more query over the batch each — as long
# as a scan when nothing fails (half of validate_raw's time at 12M rows), and personal data in the
# Data Docs when something does. The quarantine keeps the records themselves, with their reasons.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}


# Every batch is validated through a view of its own (ops.gx_batch_<id>, dropped afterwards), never
# as a query asset: to learn a custom query's columns GX runs the whole query and fetches every row
# into memory (2.9 GB for a 5M-row load); a view's columns come from the catalog.
BATCH_VIEW_SCHEMA = "ops"


def gx_dir() -> Path:
    return state_dir() / "gx"


def data_docs_index() -> Path:
    return gx_dir() / "data_docs" / "index.html"


@dataclass(frozen=True)
class Batch:
    """What one validation reads: a whole table, or the rows of one load of a raw table."""

    label: str
    query: str | None = None
    schema: str | None = None
    table: str | None = None
    load_id: str | None = None
    empty: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)


def _sqlalchemy_url(database: DatabaseUrl) -> str:
    """GX's connection: psycopg 3, with the batch views' schema first on the search path."""
    url = database.url().replace("postgresql://", "postgresql+psycopg://", 1)
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{BATCH_VIEW_SCHEMA}"


def _observed(result: dict[str, Any]) -> dict[str, Any]:
    """The observed value of a failed expectation, without the rows that failed (no personal data)."""
    keys = ("observed_value", "unexpected_count", "unexpected_percent", "element_count", "missing_count")
    return {key: result[key] for key in keys if key in result}


def _error_message(info: Any) -> str | None:
    """The message of an expectation that raised (GX nests it per metric when a metric failed):
    the first line only — the SQL that follows can hold literal values."""
    if not isinstance(info, dict):
        return None
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for item in infos:
        if item.get("raised_exception"):
            message = str(item.get("exception_message") or "raised")
            return message.splitlines()[0][:300]
    return None


def _safe_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", value)[:120]


def table_batch(conn: psycopg.Connection, suite: SuiteFile) -> Batch | None:
    """The whole table of a table suite; None when the table does not exist."""
    name = f"{suite.schema}.{suite.table}"
    if conn.execute("select to_regclass(%s)", (name,)).fetchone()[0] is None:
        return None
    return Batch(label=name, schema=suite.schema, table=suite.table)


def _row_count_bounds(conn: psycopg.Connection, suite: SuiteFile, load: dict[str, Any]) -> dict[str, Any]:
    """Bounds for the load's row count from the landed counts of the same source and entity's
    recent succeeded non-empty loads (before this one). Without enough history there are no bounds.
    Empty loads are normal for an incremental API with nothing new: they get no lower bound (a
    source that stops delivering shows in dbt source freshness)."""
    settings = suite.setting("row_count", {})
    recent = conn.execute(
        "select landed from ops.loads where source_system = %s and entity = %s and status = 'succeeded'"
        " and landed > 0 and started_at < %s order by started_at desc limit %s",
        (load["source_system"], load["entity"], load["started_at"], int(settings.get("recent_loads", 10))),
    ).fetchall()
    if len(recent) < int(settings.get("min_history", 3)):
        return {"row_count_min": 0, "row_count_max": None}
    median = statistics.median(row[0] for row in recent)
    return {
        "row_count_min": int(median * float(settings.get("min_share", 0.1))),
        "row_count_max": int(median * float(settings.get("max_factor", 10))) + 1,
    }


def load_batches(conn: psycopg.Connection, suite: SuiteFile, load_ids: Iterable[str]) -> Iterator[Batch]:
    """One batch per succeeded load of the suite's entity among ``load_ids``."""
    entity = ENTITIES[suite.entity]
    ids = [str(uuid.UUID(str(value))) for value in load_ids]
    loads = conn.execute(
        "select load_id::text, source_system, entity, started_at, finished_at, landed from ops.loads"
        " where load_id = any(%s::uuid[]) and entity = %s and status = 'succeeded' order by started_at",
        (ids, entity.name),
    ).fetchall()
    for load_id, source_system, entity_name, started_at, finished_at, landed in loads:
        table = raw_table(source_system, entity_name)
        # load_id is a parsed UUID and the table name a checked identifier: safe to inline. The
        # loaded_at range lets the BRIN index skip the rest of the history.
        query = (
            f"select *, {entity.timestamp_field}::timestamptz as typed_timestamp"  # noqa: S608
            f" from raw.{table} where load_id = '{load_id}'"
            f" and loaded_at between '{started_at.isoformat()}' and '{finished_at.isoformat()}'"
        )
        load = {"source_system": source_system, "entity": entity_name, "started_at": started_at}
        yield Batch(
            label=f"raw.{table} load {load_id[:8]}",
            query=query,
            load_id=load_id,
            empty=landed == 0,
            parameters={**_row_count_bounds(conn, suite, load), **({"row_count_min": 0} if landed == 0 else {})},
        )


class Validator:
    """One ephemeral GX context for a run of several suites and batches."""

    def __init__(self, database: DatabaseUrl, run_name: str | None = None):
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import ProgressBarsConfig

        import leadflow.quality.expectations  # noqa: F401  (registers our expectation types with GX)

        self.gx = gx
        self.database = database
        self.run_identifier = RunIdentifier(run_name=_safe_name(run_name or "manual"), run_time=datetime.now(UTC))
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        # validation results kept as files, so the Data Docs index lists every run, not just this one
        self.context.add_store(
            "leadflow_validation_results",
            {
                "class_name": "ValidationResultsStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(gx_dir() / "validations"),
                },
            },
        )
        self.context.variables.validation_results_store_name = "leadflow_validation_results"
        self.context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_index().parent),
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": DOCS_INDEX_RESULTS,
                },
            },
        )
        self.source = self.context.data_sources.add_postgres(
            name="leadflow_warehouse", connection_string=_sqlalchemy_url(database)
        )
        self._count = 0
        self.keys: list[Any] = []

    def finish(self, keep_days: int = DOCS_KEEP_DAYS) -> None:
        """Render this run's validation pages and the Data Docs index. Result files older than
        ``keep_days`` are dropped first, so the index (rebuilt from every kept file) stays quick;
        ops.quality_results keeps the whole history."""
        cutoff = time.time() - keep_days * 86400
        for root in (gx_dir() / "validations", data_docs_index().parent / "validations"):
            for path in root.rglob("*") if root.exists() else []:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
        if self.keys:
            self.context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=self.keys)

    def run(self, suite_file: SuiteFile, batch: Batch) -> SuiteResult:
        self._count += 1
        asset_name = _safe_name(f"{batch.label}_{self._count}")
        # checked identifiers only, see load_batches and table_batch
        query = batch.query or f"select * from {batch.schema}.{batch.table}"  # noqa: S608
        with self._batch_view(query) as view:
            # a table asset on the view, found through the search path (GX 1.x deprecated schema_name)
            asset = self.source.add_table_asset(name=asset_name, table_name=view)
            batch_definition = asset.add_batch_definition_whole_table(name="whole")
            return self._validate(suite_file, batch, asset_name, batch_definition)

    @contextmanager
    def _batch_view(self, query: str) -> Iterator[str]:
        name = f"gx_batch_{uuid.uuid4().hex}"
        view = psycopg.sql.Identifier(BATCH_VIEW_SCHEMA, name)
        with psycopg.connect(self.database.url(), autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("create schema if not exists {}").format(psycopg.sql.Identifier(BATCH_VIEW_SCHEMA))
            )
            conn.execute(psycopg.sql.SQL("create view {} as {}").format(view, psycopg.sql.SQL(query)))  # type: ignore[arg-type]
        try:
            yield name
        finally:
            with psycopg.connect(self.database.url(), autocommit=True) as conn:
                conn.execute(psycopg.sql.SQL("drop view if exists {}").format(view))

    def _validate(self, suite_file: SuiteFile, batch: Batch, asset_name: str, batch_definition: Any) -> SuiteResult:
        gx = self.gx

        from great_expectations.core.expectation_suite import ExpectationSuite

        # an empty load (an incremental pull with nothing new) is checked for its size and shape only:
        # column expectations such as a maximum have nothing to measure and would fail
        expectations = suite_file.expectations
        suite_name = suite_file.name
        if batch.empty:
            expectations = [e for e in expectations if e["type"] in TABLE_LEVEL]
            suite_name = f"{suite_file.name} (empty load)"
        if suite_name not in {s.name for s in self.context.suites.all()}:
            suite = ExpectationSuite(name=suite_name, expectations=expectations)
            if len(suite.expectations) != len(expectations):
                # GX logs and skips invalid expectations; a silently shorter suite would pass too easily
                raise ValueError(f"{suite_file.path}: GX rejected some expectations (see the log above)")
            self.context.suites.add(suite)
        suite = self.context.suites.get(suite_name)
        validation = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{asset_name}_validation", data=batch_definition, suite=suite)
        )
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=f"{asset_name}_checkpoint",
                validation_definitions=[validation],
                # Data Docs are built once per task (finish()), not after every checkpoint
                result_format=RESULT_FORMAT,
            )
        )
        parameters = {
            "future_limit": (
                datetime.now(UTC) + timedelta(hours=float(suite_file.setting("future_tolerance_hours", 24)))
            ).isoformat(),
            "row_count_min": 0,
            "row_count_max": None,
            **batch.parameters,
        }
        run = checkpoint.run(expectation_parameters=parameters, run_id=self.run_identifier)
        key, validation_result = next(iter(run.run_results.items()))
        self.keys.append(key)
        return self._result(suite_file, batch, validation_result, "validations/" + "/".join(key.to_tuple()) + ".html")

    @staticmethod
    def _result(suite_file: SuiteFile, batch: Batch, validation_result: Any, docs_page: str) -> SuiteResult:
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
                observed = _observed(result)
                error = _error_message(outcome.exception_info)
                if error:
                    observed["error"] = error
                failed.append(
                    {
                        "expectation": config.type,
                        # a query check names the column it checks in its meta
                        "column": config.kwargs.get("column") or (config.meta or {}).get("column"),
                        "description": config.description,
                        "severity": str(getattr(config.severity, "value", config.severity)),
                        "observed": observed,
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
            batch=batch.label,
            load_id=batch.load_id,
            docs_page=docs_page,
        )


def missing_table_result(suite: SuiteFile) -> SuiteResult:
    """A table suite whose table does not exist fails critically (a gate must not pass on nothing)."""
    return SuiteResult(
        suite=suite.name,
        layer=suite.layer,
        success=False,
        severity="critical",
        evaluated_rows=None,
        evaluated_expectations=0,
        failed=[
            {
                "expectation": "table_exists",
                "column": None,
                "description": "the table the suite validates exists",
                "severity": "critical",
                "observed": {"observed_value": False},
            }
        ],
        batch=f"{suite.schema}.{suite.table}",
    )


def run_loads(conn: psycopg.Connection, airflow_run_id: str | None) -> list[str]:
    """The succeeded loads an Airflow run landed (what its raw check validates)."""
    if conn.execute("select to_regclass('ops.loads')").fetchone()[0] is None:
        return []
    rows = conn.execute(
        "select load_id::text from ops.loads where airflow_run_id = %s and status = 'succeeded' order by started_at",
        (airflow_run_id,),
    ).fetchall()
    return [row[0] for row in rows]


def validate_layers(
    database: DatabaseUrl, layers: Iterable[str], run_id: str | None, load_ids: Iterable[str] | None = None
) -> list[SuiteResult]:
    """Run every suite of the layers, record each result in ops.quality_results, and return them.

    Raw suites validate ``load_ids`` (default: the loads of Airflow run ``run_id``), one result per
    load; table suites validate their whole table. One GX context serves them all (importing GX
    alone takes seconds).
    """
    layers = list(layers)
    suites = [suite for layer in layers for suite in layer_suites(layer)]
    results: list[SuiteResult] = []
    validator: Validator | None = None
    with psycopg.connect(database.url()) as conn:
        per_load = any(suite.per_load for suite in suites)
        loads = list(load_ids) if load_ids is not None else run_loads(conn, run_id) if per_load else []
        for suite in suites:
            if suite.per_load:
                batches: list[Batch | None] = list(load_batches(conn, suite, loads))
            else:
                batches = [table_batch(conn, suite)]
            for batch in batches:
                if batch is None:
                    result = missing_table_result(suite)
                else:
                    validator = validator or Validator(database, run_id)
                    result = validator.run(suite, batch)
                record_result(conn, result, run_id)
                log_result(result)
                results.append(result)
    if validator is not None:
        validator.finish()
    failed = sum(not r.success for r in results)
    log.info("quality %s: %d batch(es) validated, %d failed", "+".join(layers), len(results), failed)
    return results


def log_result(result: SuiteResult) -> None:
    status = "passed" if result.success else f"FAILED ({result.severity})"
    log.info(
        "quality %s on %s: %s — %d expectations over %s rows%s",
        result.suite,
        result.batch,
        status,
        result.evaluated_expectations,
        result.evaluated_rows,
        "; failed: " + ", ".join(result.summary()["failed"]) if result.failed else "",
    )
