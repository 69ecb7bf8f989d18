"""Data-quality checks as Airflow tasks: GX suites of a layer right after what they check."""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task


def validate(layers: list[str], conn_id: str, airflow_run_id: str | None) -> list[dict[str, Any]]:
    """Run the layers' GX suites (raw: the loads of this Airflow run); a failed critical expectation
    fails the task, so nothing downstream runs and the transfer gate stays closed."""
    from airflow.sdk.exceptions import AirflowFailException

    from leadflow.quality.checkpoints import validate_layers
    from leadflow.warehouse import airflow_database_url

    results = validate_layers(airflow_database_url(conn_id), layers, airflow_run_id)
    blocking = [f"{r.suite} on {r.batch} ({', '.join(r.summary()['failed'])})" for r in results if r.blocks_transfers]
    if blocking:
        raise AirflowFailException(f"critical data-quality checks failed: {'; '.join(blocking)}")
    return [r.summary() for r in results]


def validate_raw_task(conn_id: str, outlets: list[Any] | None = None, trigger_rule: TriggerRule | None = None) -> Any:
    """The raw layer's checks on the loads this run landed, as a task (the Assets are published
    here, after the check, so a bad load does not trigger the transform). `trigger_rule`: after
    tasks that may be skipped (the pipeline's ingest branch); otherwise Airflow's default."""
    rule = {"trigger_rule": trigger_rule} if trigger_rule else {}

    @task(task_id="validate_raw", outlets=outlets or [], **rule)
    def validate_raw(run_id: str) -> list[dict[str, Any]]:
        return validate(["raw"], conn_id, run_id)

    return validate_raw()
