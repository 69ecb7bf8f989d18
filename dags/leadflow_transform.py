"""
### leadflow transform (Airflow DAG)

Runs whenever an ingest DAG publishes one of its raw Assets: builds the dbt models through
astronomer-cosmos (each model with its tests), then validates the marts with Great Expectations
(`ops.quality_results`; a failed critical check fails the run).
"""

from leadflow.dagfactory.pipeline import build_transform_dag

dag = build_transform_dag(doc_md=__doc__)
