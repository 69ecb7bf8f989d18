"""The dbt project as Airflow tasks, through astronomer-cosmos.

Two shapes (``transform.tasks`` in config/leadflow.yml):
- ``per_group`` (default): one cosmos ``DbtBuildLocalOperator`` per configured group (dbt selection
  syntax), chained in order — one dbt start-up per group, dbt's threads inside it;
- ``per_model``: a cosmos ``DbtTaskGroup``, one task per model/seed, rendered from
  ``target/manifest.json`` (which ``make`` builds with ``dbt parse``) — parsing never runs dbt.
Either way dbt reaches the warehouse through the Airflow connection (cosmos maps it to a dbt
profile), so a deployment changes the connection, not the project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadflow.settings import load_config, project_root

# the run's logical date, so a backfill of a past day reproduces that day; an environment variable
# (read by the as_of() macro), not a --vars value: dbt re-parses the whole project whenever its
# --vars differ from the last parse's, which a new date each day would cause in every task
DBT_ENV = {"LEADFLOW_AS_OF": "{{ data_interval_end.isoformat() }}"}
# dbt writes its file log (debug level: every statement) into cosmos' temporary copy of the project,
# deleted with it after the task; the task log keeps dbt's info lines. Not writing it saves about
# 0.4 s of a day's build at 10 k contacts (8.6-8.9 s → 8.1-8.4 s, four builds each), where dbt's
# threads waited on the file handler's lock.
DBT_GLOBAL_FLAGS = ["--log-level-file", "none"]


def dbt_project_dir() -> Path:
    return project_root() / "dbt_project"


def manifest_path() -> Path:
    return dbt_project_dir() / "target" / "manifest.json"


def _profile_config() -> Any:
    from cosmos import ProfileConfig
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    config = load_config()
    return ProfileConfig(
        profile_name="leadflow",
        target_name="airflow",
        profile_mapping=PostgresUserPasswordProfileMapping(
            conn_id=config.warehouse.conn_id, profile_args={"schema": "public", "threads": config.transform.threads}
        ),
    )


def partial_parse_cache(name: str = "leadflow_dbt_groups") -> Path:
    """A folder, under cosmos' cache, for dbt's partial-parse state kept between invocations."""
    from cosmos import settings

    return Path(settings.cache_dir) / name


def _manifest() -> Path:
    manifest = manifest_path()
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest} is missing: run `make install` (it runs `leadflow dbt parse`) before parsing DAGs"
        )
    return manifest


def dbt_tasks(group_id: str = "dbt") -> Any:
    """The project as a task group of the configured shape; returns it to chain on."""
    if load_config().transform.tasks == "per_model":
        return dbt_task_group(group_id)
    return dbt_build_groups(group_id)


def dbt_build_groups(group_id: str = "dbt") -> Any:
    """One cosmos `dbt build` task per configured group (transform.groups), chained in order."""
    from airflow.sdk import TaskGroup
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtBuildLocalOperator

    manifest = _manifest()
    with TaskGroup(group_id=group_id, tooltip="dbt build, one task per group of models") as group:
        previous = None
        for spec in load_config().transform.groups:
            task = DbtBuildLocalOperator(
                task_id=spec.name,
                doc_md=f"`dbt build --select {spec.select}` (transform.groups in config/leadflow.yml)",
                project_dir=str(dbt_project_dir()),
                manifest_filepath=str(manifest),
                profile_config=_profile_config(),
                select=spec.select,
                # dbt unit tests check the SQL's logic, not the data: they belong to development and
                # CI (`make test` runs them), not to every production run (dbt's own advice)
                exclude="test_type:unit",
                # a test runs in the group where its last parent is built (a test of a seed and a
                # mart runs with the marts, not with the seeds, when the mart does not exist yet)
                indirect_selection="buildable",
                env=DBT_ENV,
                dbt_cmd_global_flags=DBT_GLOBAL_FLAGS,
                install_deps=False,
                invocation_mode=InvocationMode.DBT_RUNNER,
                emit_datasets=False,
                # dbt's partial-parse state, kept between tasks: without it every group re-parses
                # the whole project (4-7 s each); a standalone cosmos operator has no cache of its own
                cache_dir=partial_parse_cache(),
            )
            if previous is not None:
                previous >> task
            previous = task
    return group


def dbt_task_group(group_id: str = "dbt", select: list[str] | None = None, **kwargs: Any) -> Any:
    """A cosmos DbtTaskGroup over the project (or a selection), one `dbt build` task per node."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=dbt_project_dir(),
            manifest_path=_manifest(),
            install_dbt_deps=False,
        ),
        profile_config=_profile_config(),
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
        operator_args={"env": DBT_ENV, "dbt_cmd_global_flags": DBT_GLOBAL_FLAGS, "install_deps": False},
        **kwargs,
    )
