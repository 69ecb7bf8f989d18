"""Ingest DAGs from source definitions (config/sources/*.yml): one DAG per source.

Each run lands what is new since the last good load — for a SQL source the rows changed in the window
ending at the run's data interval end; for a file drop the files not landed before — and publishes
one Airflow Asset per landed raw table. The transform DAG is scheduled on those Assets.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

from leadflow.dagfactory.quality_tasks import validate_raw_task
from leadflow.settings import load_config
from leadflow.sources.config import SourceConfig, load_sources

log = logging.getLogger(__name__)


def raw_asset(source_system: str, entity: str) -> Asset:
    table = f"{source_system}__{entity}"
    return Asset(f"raw.{table}", uri=f"leadflow://warehouse/raw/{table}")


def all_raw_assets() -> list[Asset]:
    return [raw_asset(source.name, entity) for source in load_sources() for entity in source.entity_names]


def land_source_files(source: SourceConfig, conn_id: str, airflow_run_id: str | None) -> list[dict[str, Any]]:
    """Land the source's new files (each file once, by checksum); other sources' files are left alone."""
    import psycopg

    from leadflow.sources.files import FEED_FILE, FeedFile, SecondConnection, land_feed_file
    from leadflow.warehouse import airflow_database_url

    folder = source.folder()
    assert source.files is not None
    paths = sorted(p for p in folder.glob(source.files.pattern) if p.is_file() and FEED_FILE.match(p.name))
    outcomes: list[dict[str, Any]] = []
    with psycopg.connect(airflow_database_url(conn_id).url()) as conn, SecondConnection(conn) as second:
        for path in paths:
            feed = FeedFile.from_path(path)
            if feed.source_system != source.name or feed.entity not in source.entity_names:
                log.warning(
                    "%s: not a file of source %s (%s); left alone",
                    path.name,
                    source.name,
                    ", ".join(source.entity_names),
                )
                continue
            result = land_feed_file(conn, feed, airflow_run_id, second)
            outcomes.append({"file": path.name, **(result.as_xcom() if result else {"skipped": "already landed"})})
    log.info("%s: %d files looked at in %s", source.name, len(outcomes), folder)
    return outcomes


def land_source_table(
    source: SourceConfig, entity: str, conn_id: str, run_id: str | None, interval_end: Any
) -> dict[str, Any]:
    import psycopg

    from leadflow.sources.sql import land_sql_entity
    from leadflow.warehouse import airflow_database_url

    assert source.conn_id is not None
    # runs without a data interval (manual, schedule None) extract up to now
    interval_end = interval_end or pendulum.now("UTC")
    with psycopg.connect(airflow_database_url(conn_id).url()) as conn:
        if source.kind == "rest":
            from leadflow.sources.rest import RestClient, land_rest_entity

            client = RestClient.from_airflow(source.conn_id)
            result = land_rest_entity(conn, client, source, entity, interval_end, run_id)
        else:
            result = land_sql_entity(conn, airflow_database_url(source.conn_id), source, entity, interval_end, run_id)
    return result.as_xcom()


def land_source(source: SourceConfig, conn_id: str, run_id: str | None, interval_end: Any) -> list[dict[str, Any]]:
    """Everything new from one source: its files, or each of its entities in turn."""
    if source.kind == "files":
        return land_source_files(source, conn_id, run_id)
    return [land_source_table(source, entity, conn_id, run_id, interval_end) for entity in source.entity_names]


def build_ingest_dag(source: SourceConfig) -> Any:
    conn_id = load_config().warehouse.conn_id
    assets = {entity: raw_asset(source.name, entity) for entity in source.entity_names}

    @dag(
        dag_id=source.dag_id,
        schedule=source.schedule,
        start_date=pendulum.parse(source.start_date, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        doc_md=f"### Ingest `{source.name}` ({source.kind})\n\n{source.description}\n\n"
        f"Lands {', '.join(f'`raw.{source.name}__{e}`' for e in source.entity_names)}; "
        "rejected records go to `raw.quarantine`, counts to `ops.loads`; then the raw checks "
        "(`expectations/raw/`) validate the new loads and publish the Assets.",
        tags=["leadflow", "ingest", source.kind, *source.tags],
        default_args={"retries": source.retries, "retry_delay": timedelta(seconds=30)},
    )
    def ingest() -> None:
        # the raw check publishes the Assets, so the transform runs on checked loads only
        check = validate_raw_task(conn_id, outlets=list(assets.values()))
        if source.kind == "files":

            @task(task_id="land_files")
            def land_files(run_id: str) -> list[dict[str, Any]]:
                return land_source_files(source, conn_id, run_id)

            land_files() >> check
            return
        for entity in assets:
            # one XCom for the load's counts, not one per key besides (leadflow.dagfactory.transfers)
            @task(task_id=f"land_{entity}", multiple_outputs=False)
            def land_table(run_id: str, data_interval_end: Any, entity: str = entity) -> dict[str, Any]:
                return land_source_table(source, entity, conn_id, run_id, data_interval_end)

            land_table() >> check

    return ingest()


def build_ingest_dags() -> dict[str, Any]:
    return {source.dag_id: build_ingest_dag(source) for source in load_sources()}
