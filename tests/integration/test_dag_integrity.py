"""Every DAG file imports without errors and every DAG carries tags, docs and retries."""

from __future__ import annotations

import pytest

from leadflow.settings import project_root

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


def test_the_pipeline_runs_landing_then_dbt_then_quality(dagbag):
    dag = dagbag.dags["leadflow_pipeline"]
    dbt_tasks = [t for t in dag.task_ids if t.startswith("dbt.")]

    assert "land" in dag.task_ids and "validate_marts" in dag.task_ids
    staging = {"dbt.base_feed__contacts_model_build", "dbt.stg_feed__contacts_model_build"}
    identity = {"dbt.int_identity_clusters_model_build", "dbt.int_contact_id_ledger_model_build"}
    marts = {f"dbt.{name}_model_build" for name in ("dim_contacts", "contact_origins", "dim_accounts")}
    assert staging | identity | marts <= set(dbt_tasks)
    # a test of two models runs in its own task, after both
    detached = dag.get_task("dbt.relationships_dim_contacts_account_id__account_id__ref_dim_accounts__test")
    assert {"dbt.dim_contacts_model_build", "dbt.dim_accounts_model_build"} <= detached.upstream_task_ids
    from leadflow.sources.config import load_sources

    ingest = {"land"} | {f"ingest_{source.name}" for source in load_sources()}
    assert dag.get_task("dbt.base_feed__contacts_model_build").upstream_task_ids == ingest
    leaves = {t for t in dbt_tasks if not any(d.startswith("dbt.") for d in dag.get_task(t).downstream_task_ids)}
    assert dag.get_task("validate_marts").upstream_task_ids == leaves
