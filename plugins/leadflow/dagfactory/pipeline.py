"""DAGs that build and check the warehouse: the end-to-end pipeline and the asset-driven transform.

``leadflow_pipeline`` runs everything once, in order, on demand (the demo, ``leadflow run --feed``,
a full rerun): every configured source and/or a folder of feed files → dbt → quality gate.
Day to day, each source has its own ingest DAG and ``leadflow_transform`` runs on their Assets.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, TriggerRule, dag, task

from leadflow.dagfactory.quality_tasks import validate, validate_raw_task
from leadflow.settings import load_config, project_root

log = logging.getLogger(__name__)

DAG_ID = "leadflow_pipeline"
RAW_ASSET = Asset("leadflow_raw", uri="leadflow://warehouse/raw")
MARTS_ASSET = Asset("leadflow_marts", uri="leadflow://warehouse/marts")


def _feed_dir(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else project_root() / path


def land_feed_folder(feed_dir: str, conn_id: str, airflow_run_id: str | None) -> list[dict[str, Any]]:
    """Land every feed file of a folder; return counts per file (no record data)."""
    import psycopg

    from leadflow.sources.files import find_feed_files, land_files
    from leadflow.warehouse import airflow_database_url

    folder = _feed_dir(feed_dir)
    files = find_feed_files(folder)
    if not files:
        raise FileNotFoundError(f"no feed files (<source_system>__<entity>.csv|.jsonl[.gz]) in {folder}")
    with psycopg.connect(airflow_database_url(conn_id).url()) as conn:
        return land_files(conn, files, airflow_run_id)


def transform_and_validate(conn_id: str) -> list[Any]:
    """The dbt task group (cosmos) followed by the marts' and candidates' quality checks and the BI
    access (roles, grants, row-level security), and the raw sources' freshness beside it; returns
    the first tasks, to chain on."""
    from leadflow.transform.dbt_tasks import dbt_tasks

    @task(outlets=[MARTS_ASSET])
    def validate_marts(run_id: str) -> list[dict[str, Any]]:
        return validate(["marts", "candidates"], conn_id, run_id)

    # one XCom for each summary, not one per key besides (see leadflow.dagfactory.transfers)
    @task(multiple_outputs=False)
    def source_freshness(run_id: str) -> dict[str, Any]:
        """dbt source freshness of the raw tables: stale ones warn, never fail the run."""
        from leadflow.transform.freshness import check_freshness
        from leadflow.warehouse import airflow_database_url

        results = check_freshness(airflow_database_url(conn_id), run_id)
        return {"checked": len(results), "stale": [r.batch for r in results if not r.success]}

    @task(multiple_outputs=False)
    def bi_access() -> dict[str, Any]:
        """Re-apply BI roles, grants and row-level security to the marts dbt just rebuilt."""
        import psycopg

        from leadflow.access import apply_access
        from leadflow.warehouse import airflow_database_url

        with psycopg.connect(airflow_database_url(conn_id).url()) as conn:
            report = apply_access(conn, load_config().access)
        return {
            "roles": len(report.roles),
            "tables": len(report.tables),
            "all_areas_only": report.closed_to_areas,
            "self_filtering_views": report.self_filtering_views,
        }

    dbt = dbt_tasks("dbt")
    dbt >> [validate_marts(), bi_access()]
    return [dbt, source_freshness()]


def build_transform_dag(doc_md: str | None = None) -> Any:
    """dbt + quality, scheduled on the raw Assets the ingest DAGs publish (any of them)."""
    from airflow.sdk import AssetAny

    from leadflow.dagfactory.ingest import all_raw_assets

    cfg = load_config()
    assets = all_raw_assets()

    @dag(
        dag_id="leadflow_transform",
        schedule=AssetAny(*assets) if assets else None,
        start_date=pendulum.parse(cfg.pipeline.start_date, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        doc_md=doc_md,
        tags=["leadflow", "dbt", "quality"],
        default_args={"retries": cfg.pipeline.retries, "retry_delay": timedelta(seconds=30)},
    )
    def transform() -> None:
        transform_and_validate(cfg.warehouse.conn_id)

    return transform()


def build_pipeline_dag(doc_md: str | None = None) -> Any:
    from leadflow.dagfactory.ingest import land_source
    from leadflow.sources.config import load_sources

    cfg = load_config()
    conn_id = cfg.warehouse.conn_id
    sources = load_sources()

    @dag(
        dag_id=DAG_ID,
        schedule=None,
        start_date=pendulum.parse(cfg.pipeline.start_date, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        doc_md=doc_md or __doc__,
        tags=["leadflow", "ingest", "dbt", "quality"],
        default_args={"retries": cfg.pipeline.retries, "retry_delay": timedelta(seconds=30)},
        params={
            "feed_dir": Param(
                cfg.pipeline.demo_feed_dir,
                type="string",
                description="Folder of feed files (relative to the leadflow home or absolute); empty = none",
            ),
            "include_sources": Param(
                False, type="boolean", description="Also ingest every source defined in config/sources/"
            ),
        },
    )
    def pipeline() -> None:
        @task.branch
        def choose_ingest(params: dict[str, Any]) -> list[str]:
            """What this run lands: the feed folder (params.feed_dir), the sources
            (params.include_sources). The other ingest tasks are skipped, not run to do nothing:
            each task costs Airflow 60-80 ms even then (five sources: 0.3 s of every run)."""
            chosen = ["land"] if params["feed_dir"] else []
            if params["include_sources"]:
                chosen += [f"ingest_{source.name}" for source in sources]
            log.info("this run lands: %s", ", ".join(chosen) or "nothing (dbt and the checks run all the same)")
            return chosen

        @task
        def land(params: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
            return land_feed_folder(params["feed_dir"], conn_id, run_id)

        landing = [land()]
        for source in sources:

            @task(task_id=f"ingest_{source.name}")
            def ingest(run_id: str, data_interval_end: Any, source: Any = source) -> list[dict[str, Any]]:
                return land_source(source, conn_id, run_id, data_interval_end)

            landing.append(ingest())
        # the raw checks run after whichever ingest tasks ran (none_failed: skipped ones do not count)
        checks = validate_raw_task(conn_id, outlets=[RAW_ASSET], trigger_rule=TriggerRule.NONE_FAILED)
        choose_ingest() >> landing >> checks >> transform_and_validate(conn_id)

    return pipeline()
