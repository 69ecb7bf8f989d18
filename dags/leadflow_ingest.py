"""
### leadflow ingest (Airflow DAGs)

One DAG per source definition in `config/sources/*.yml` (`ingest_<name>`): adding a source is adding
a YAML file. Each run lands what is new in `raw.<source>__<entity>` and publishes an Asset per table;
`leadflow_transform` runs on those Assets.
"""

from leadflow.dagfactory.ingest import build_ingest_dags

globals().update(build_ingest_dags())
