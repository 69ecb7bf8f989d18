"""Our GX expectations; importing this module registers them with GX (by their class names).

Only where GX's own does more than we ask: a suite names them in its JSON like any other type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from great_expectations.compatibility import pydantic
from great_expectations.core.result_format import ResultFormat
from great_expectations.expectations import UnexpectedRowsExpectation

from leadflow.sources.feed import IDENTIFIER

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.validator.validator import ValidationDependencies

TABLE_METRIC = "unexpected_rows_query.table"


class ExpectQueryToReturnNoRows(UnexpectedRowsExpectation):
    """GX's UnexpectedRowsExpectation — the query (with ``{batch}``) names the rows that break a
    rule — run once. GX's asks for two metrics, the rows (up to 200) and their count, and so runs
    the query twice, though a result format short of COMPLETE keeps only the count: when nothing
    fails, both are scans of the whole batch (at 1 M contacts the marts' five such checks took
    2.7 s, half of it for rows nobody kept). Here the rows are fetched for COMPLETE only."""

    def get_validation_dependencies(
        self, execution_engine: Any = None, runtime_configuration: dict | None = None
    ) -> ValidationDependencies:
        dependencies = super().get_validation_dependencies(
            execution_engine=execution_engine, runtime_configuration=runtime_configuration
        )
        if dependencies.result_format.get("result_format") != ResultFormat.COMPLETE:
            dependencies.remove_metric_configuration(TABLE_METRIC)
        return dependencies

    def _validate(
        self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None
    ) -> ExpectationValidationResult | dict:
        # without the rows (not fetched), the parent reports the count alone, as it does for BASIC
        return super()._validate({TABLE_METRIC: None, **metrics}, runtime_configuration, execution_engine)


# One id per row, proved by the table's own unique index when it has a valid one on that column
# alone (PostgreSQL then evaluates the `not exists` once, true, and reads no row), else counted.
# GX's expect_column_values_to_be_unique joins every row to a count per id: 2.4 s of the marts'
# checks at 1 M contacts, for ids dbt's unique index already guarantees.
UNIQUE_BY_INDEX_QUERY = (
    'select "{column}" from {{batch}} where not exists ('
    "select from pg_index as i join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]"
    " where i.indrelid = '{table}'::regclass and a.attname = '{column}'"
    " and i.indisunique and i.indisvalid and i.indnkeyatts = 1 and i.indpred is null"
    ') group by "{column}" having count(*) > 1'
)


class ExpectColumnValuesToBeUniqueByIndex(ExpectQueryToReturnNoRows):
    """No value of ``column`` twice in ``table`` (``schema.table``, the batch's own table: a suite
    file names the column alone, ``load_suite`` adds its ``meta`` table). The query is derived,
    never written by hand, so every suite checks ids the same way."""

    column: str
    table: str
    unexpected_rows_query: str = ""

    @pydantic.root_validator(pre=True)
    def _derive_query(cls, values: dict[str, Any]) -> dict[str, Any]:
        column, table = values.get("column"), values.get("table")
        # both become part of the query: plain lower-case identifiers only (the column quoted too,
        # so that a name such as "user" is the column, not a function)
        if not isinstance(column, str) or not IDENTIFIER.fullmatch(column):
            raise ValueError(f"column must be a plain lower-case identifier, got {column!r}")
        parts = table.split(".") if isinstance(table, str) else []
        if len(parts) != 2 or not all(IDENTIFIER.fullmatch(part) for part in parts):
            raise ValueError(f"table must be schema.table in plain lower-case identifiers, got {table!r}")
        query = UNIQUE_BY_INDEX_QUERY.format(column=column, table=table)
        # a stored suite gives the derived query back (GX keeps it with the kwargs); another one is
        # not this check
        if values.get("unexpected_rows_query") not in (None, "", query):
            raise ValueError("unexpected_rows_query is derived from column and table; leave it out")
        return {**values, "unexpected_rows_query": query}
