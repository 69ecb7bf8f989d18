"""
### leadflow pipeline (Airflow DAG)

Lands the feed files of `params.feed_dir` in `raw` (bad records go to `raw.quarantine` with the
reason, counts to `ops.loads`), builds the dbt models through astronomer-cosmos (staging → marts,
each model with its tests), then validates the marts with Great Expectations
(results in `ops.quality_results`). A failed critical check fails the run.
"""

from leadflow.dagfactory.pipeline import build_pipeline_dag

dag = build_pipeline_dag(doc_md=__doc__)
