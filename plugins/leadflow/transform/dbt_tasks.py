"""The dbt project as Airflow tasks, through astronomer-cosmos.

Parsing a DAG file never runs dbt: cosmos renders the task group from ``target/manifest.json``,
which ``make`` builds with ``dbt parse``. dbt reaches the warehouse through the Airflow connection
(cosmos maps it to a dbt profile), so a deployment changes the connection, not the project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadflow.settings import load_config, project_root

# the run's logical date, so a backfill of a past day reproduces that day
DBT_VARS = {"as_of": "{{ data_interval_end.isoformat() }}"}


def dbt_project_dir() -> Path:
    return project_root() / "dbt_project"


def manifest_path() -> Path:
    return dbt_project_dir() / "target" / "manifest.json"


def dbt_task_group(group_id: str = "dbt", select: list[str] | None = None, **kwargs: Any) -> Any:
    """A cosmos DbtTaskGroup over the project (or a selection), one `dbt build` task per node."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    manifest = manifest_path()
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest} is missing: run `make install` (it runs `leadflow dbt parse`) before parsing DAGs"
        )
    conn_id = load_config().warehouse.conn_id
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=dbt_project_dir(),
            manifest_path=manifest,
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="leadflow",
            target_name="airflow",
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id=conn_id, profile_args={"schema": "public", "threads": 2}
            ),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            # a test of two models (dim_contacts.account_id → dim_accounts) runs in a task of its own
            # after both; inside the first model's `dbt build` the second would not exist yet
            should_detach_multiple_parents_tests=True,
            select=select or [],
            emit_datasets=False,
        ),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        operator_args={"vars": DBT_VARS, "install_deps": False},
        **kwargs,
    )
