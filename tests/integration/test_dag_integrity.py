"""Every DAG file imports without errors and every DAG carries tags, docs and retries."""

from __future__ import annotations

import pytest

from leadflow.settings import load_config, project_root

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(project_root() / "dags"))


def test_dag_files_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG found in dags/"


def test_every_dag_has_tags_docs_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and dag.doc_md.strip(), f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_every_task_returns_its_summary_as_one_xcom(dagbag):
    """A TaskFlow task annotated as returning a dict pushes an XCom per key besides, unless told not
    to: each one a round trip to the execution API that nothing reads."""
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert not getattr(task, "multiple_outputs", False), f"{dag_id}.{task.task_id} pushes an XCom per key"


def _ingest_task_ids() -> set[str]:
    from leadflow.sources.config import load_sources

    return {"land"} | {f"ingest_{source.name}" for source in load_sources()}


def test_the_pipeline_runs_landing_then_raw_checks_then_dbt_groups_then_quality(dagbag):
    dag = dagbag.dags["leadflow_pipeline"]
    groups = [f"dbt.{group.name}" for group in load_config().transform.groups]

    assert [t for t in dag.task_ids if t.startswith("dbt.")] == groups
    for ingest in _ingest_task_ids():
        assert dag.get_task(ingest).upstream_task_ids == {"choose_ingest"}
    assert dag.get_task("validate_raw").upstream_task_ids == _ingest_task_ids()
    assert dag.get_task("validate_raw").trigger_rule == "none_failed"  # after the skipped ones too
    assert dag.get_task(groups[0]).upstream_task_ids == {"validate_raw"}
    assert dag.get_task("source_freshness").upstream_task_ids == {"validate_raw"}
    for before, after in zip(groups, groups[1:], strict=False):
        assert dag.get_task(after).upstream_task_ids == {before}
    assert dag.get_task("validate_marts").upstream_task_ids == {groups[-1]}
    assert dag.get_task("bi_access").upstream_task_ids == {groups[-1]}
    assert "path:models/staging" in dag.get_task(groups[0]).select
    # dbt's file log would go to cosmos' temporary copy of the project, deleted after the task
    assert dag.get_task(groups[0]).dbt_cmd_global_flags == ["--log-level-file", "none"]


@pytest.mark.parametrize(
    ("feed_dir", "include_sources", "chosen"),
    [
        ("feed", False, {"land"}),
        ("", True, {"sources"}),
        ("feed", True, {"land", "sources"}),
        ("", False, set()),
    ],
)
def test_the_pipeline_runs_only_the_ingest_tasks_its_params_ask_for(dagbag, feed_dir, include_sources, chosen):
    branch = dagbag.dags["leadflow_pipeline"].get_task("choose_ingest")
    sources = _ingest_task_ids() - {"land"}

    picked = set(branch.python_callable(params={"feed_dir": feed_dir, "include_sources": include_sources}))

    expected = ({"land"} if "land" in chosen else set()) | (sources if "sources" in chosen else set())
    assert picked == expected
    assert picked <= branch.downstream_task_ids  # names of tasks it can follow, nothing else


def test_the_dbt_groups_cover_every_model_and_seed_once(tmp_path):
    from dbt.cli.main import dbtRunner

    project = project_root() / "dbt_project"
    common = ["--project-dir", str(project), "--profiles-dir", str(project), "--target-path", str(tmp_path), "-q"]
    listed: dict[str, list[str]] = {}
    for group in load_config().transform.groups:
        result = dbtRunner().invoke(
            ["ls", *common, "--resource-types", "model", "seed", "--output", "name", "--select", *group.select.split()]
        )
        assert result.success, result.exception
        listed[group.name] = list(result.result)
    every = dbtRunner().invoke(["ls", *common, "--resource-types", "model", "seed", "--output", "name"])
    in_groups = [name for names in listed.values() for name in names]
    assert sorted(in_groups) == sorted(every.result)  # each node in exactly one group


def test_per_model_tasks_render_each_model_with_multi_parent_tests_detached(tmp_path, monkeypatch):
    from leadflow.dagfactory.pipeline import build_pipeline_dag

    config = tmp_path / "leadflow.yml"
    config.write_text(
        (project_root() / "config" / "leadflow.yml").read_text().replace("tasks: per_group", "tasks: per_model")
    )
    monkeypatch.setenv("LEADFLOW_CONFIG", str(config))
    load_config.cache_clear()
    try:
        dag = build_pipeline_dag()
    finally:
        monkeypatch.delenv("LEADFLOW_CONFIG")
        load_config.cache_clear()
    dbt_tasks = [t for t in dag.task_ids if t.startswith("dbt.")]
    staging = {"dbt.base_feed__contacts_model_build", "dbt.stg_feed__contacts_model_build"}
    identity = {"dbt.int_identity_clusters_model_build", "dbt.int_contact_id_ledger_model_build"}
    marts = {f"dbt.{name}_model_build" for name in ("dim_contacts", "fct_interactions", "contact_scores")}
    assert staging | identity | marts <= set(dbt_tasks)
    # a test of two models runs in its own task, after both
    detached = dag.get_task("dbt.relationships_dim_contacts_account_id__account_id__ref_dim_accounts__test")
    assert {"dbt.dim_contacts_model_build", "dbt.dim_accounts_model_build"} <= detached.upstream_task_ids
    assert dag.get_task("dbt.base_feed__contacts_model_build").upstream_task_ids == {"validate_raw"}
    leaves = {t for t in dbt_tasks if not any(d.startswith("dbt.") for d in dag.get_task(t).downstream_task_ids)}
    assert dag.get_task("validate_marts").upstream_task_ids == leaves
    assert dag.get_task("bi_access").upstream_task_ids == leaves


def test_configured_dbt_groups_run_in_their_order(tmp_path, monkeypatch):
    import pendulum
    import yaml
    from airflow.sdk import DAG

    from leadflow.transform.dbt_tasks import dbt_build_groups

    config = yaml.safe_load((project_root() / "config" / "leadflow.yml").read_text())
    config["transform"]["groups"] = [
        {"name": "staging", "select": "path:seeds path:models/staging"},
        {"name": "identity", "select": "path:models/intermediate/identity"},
        {
            "name": "rest",
            "select": "path:models/intermediate/scoring path:models/intermediate/interests"
            " path:models/intermediate/attribution path:models/marts",
        },
    ]
    (tmp_path / "leadflow.yml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("LEADFLOW_CONFIG", str(tmp_path / "leadflow.yml"))
    load_config.cache_clear()
    try:
        with DAG("groups", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            dbt_build_groups("dbt")
    finally:
        load_config.cache_clear()

    assert dag.task_ids == ["dbt.staging", "dbt.identity", "dbt.rest"]
    assert dag.get_task("dbt.identity").upstream_task_ids == {"dbt.staging"}
    assert dag.get_task("dbt.rest").upstream_task_ids == {"dbt.identity"}
    assert "path:models/intermediate/identity" in dag.get_task("dbt.identity").select
