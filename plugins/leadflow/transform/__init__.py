"""Transform: running the dbt project from Airflow (astronomer-cosmos) and from the CLI."""
