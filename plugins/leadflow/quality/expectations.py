"""Our GX expectations; importing this module registers them with GX (by their class names).

Only where GX's own does more than we ask: a suite names them in its JSON like any other type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from great_expectations.core.result_format import ResultFormat
from great_expectations.expectations import UnexpectedRowsExpectation

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
