"""Transfer DAGs from transfer definitions (config/transfers/*.yml): one DAG per definition.

``check_status`` → ``quality_gate`` → ``deliver`` (select, push, finish). Every task finds the run's
ledger row by its Airflow run id, so retries and reruns continue the same run. A transfer
that is not active skips the run; a closed quality gate or a failed share above the definition's
threshold fails it (the failure callback logs an alert line for schedulers).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from leadflow.settings import load_config
from leadflow.transfer.definitions import TransferDefinition, load_transfers

log = logging.getLogger(__name__)


def alert_on_failure(context: dict[str, Any]) -> None:
    """Failure callback: one clear line for schedulers (ids and counts only)."""
    ti = context.get("task_instance")
    log.error(
        "TRANSFER ALERT: %s failed in task %s of run %s — see ops.transfer_runs and the task log",
        getattr(ti, "dag_id", "?"),
        getattr(ti, "task_id", "?"),
        context.get("run_id"),
    )


def _connection(conn_id: str):  # noqa: ANN202 (an Airflow connection)
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def _warehouse(conn_id: str):  # noqa: ANN202 (a psycopg connection)
    import psycopg

    from leadflow.warehouse import airflow_database_url

    return psycopg.connect(airflow_database_url(conn_id).url())


def build_transfer_dag(definition: TransferDefinition) -> Any:
    warehouse = load_config().warehouse.conn_id
    schedule = definition.schedule

    @dag(
        dag_id=definition.dag_id,
        schedule=schedule.cron,
        start_date=pendulum.datetime(schedule.start.year, schedule.start.month, schedule.start.day, tz="UTC"),
        end_date=pendulum.datetime(schedule.end.year, schedule.end.month, schedule.end.day, tz="UTC")
        if schedule.end
        else None,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=True,  # drafts do not run; `leadflow transfer activate` unpauses
        doc_md=f"### Transfer `{definition.name}`\n\n{definition.description}\n\n"
        f"Marketing area `{definition.marketing_area}`, {definition.adapter} through connection "
        f"`{definition.connection}`, tags {', '.join(definition.tags) or '–'}. Ledger: `ops.transfer_runs`, "
        "`ops.transfer_items`.",
        tags=["leadflow", "transfer", definition.adapter, *definition.tags],
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "on_failure_callback": alert_on_failure},
    )
    def transfer() -> None:
        @task
        def check_status() -> str:
            from airflow.sdk.exceptions import AirflowSkipException

            from leadflow.transfer.lifecycle import current_status

            with _warehouse(warehouse) as conn:
                status = current_status(conn, definition)
            if status != "active":
                raise AirflowSkipException(f"transfer {definition.name} is {status}: nothing is sent")
            return status

        # multiple_outputs=False: the summary is one XCom. A TaskFlow task annotated as returning
        # a dict otherwise also pushes an XCom per key, each a round trip to Airflow's execution
        # API (15-20 ms in-process: 0.15 s of deliver's 9); nothing pulls the keys one by one.
        @task(multiple_outputs=False)
        def quality_gate(run_id: str) -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            from leadflow.transfer.runner import check_gate, start_run

            with _warehouse(warehouse) as conn:
                ledger_run, resumed = start_run(conn, definition, run_id)
                decision = check_gate(conn, definition, ledger_run)
            log.info(decision.message())
            if not decision.allowed:
                raise AirflowFailException(decision.message())
            return {"run_id": ledger_run, "resumed": resumed}

        @task(multiple_outputs=False)
        def deliver(run_id: str) -> dict[str, Any]:
            """Select the run's contacts, push them, finish the run: three steps that each continue
            the run's ledger, so a retry of the task resumes where the last attempt stopped (the
            selection is kept, items recorded as sent or answered are not sent again). One task,
            not three, as no step is worth a retry of its own that the ledger does not give
            already, and each task costs Airflow's own start and end: 60-80 ms in-process, seconds
            with a scheduler and workers."""
            from dataclasses import asdict

            from airflow.sdk.exceptions import AirflowFailException

            from leadflow.transfer.adapters import adapter_for
            from leadflow.transfer.runner import finish_run, push, run_id_of, select_candidates

            with _warehouse(warehouse) as conn:
                ledger_run = run_id_of(conn, definition, run_id)
                select_candidates(conn, definition, ledger_run)
                adapter = adapter_for(definition, _connection(definition.connection))
                try:
                    push(conn, definition, ledger_run, adapter)
                finally:
                    adapter.close()
                status, counts = finish_run(conn, definition, ledger_run)
            if status == "failed":
                raise AirflowFailException(
                    f"transfer {definition.name}: {counts.failed + counts.dead_letter} of "
                    f"{counts.succeeded + counts.failed + counts.dead_letter} leads failed, above the "
                    f"{definition.max_failed_share:.0%} threshold"
                )
            return {"status": status, **asdict(counts)}

        check_status() >> quality_gate() >> deliver()

    return transfer()


def build_transfer_dags() -> dict[str, Any]:
    return {definition.dag_id: build_transfer_dag(definition) for definition in load_transfers()}
