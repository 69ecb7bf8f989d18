"""
### leadflow transfers (Airflow DAGs)

One DAG per transfer definition in `config/transfers/*.yml` (`transfer_<name>`): the quality gate,
then the sales-ready contacts of the target group that are new or changed since their last
successful transfer, upserted to the sales system in batches; every contact's outcome in
`ops.transfer_items`. The lifecycle (`leadflow transfer activate|pause|resume|stop NAME`) pauses and
unpauses the DAG.
"""

from leadflow.dagfactory.transfers import build_transfer_dags

globals().update(build_transfer_dags())
