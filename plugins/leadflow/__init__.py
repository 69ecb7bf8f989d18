"""leadflow: lead-management data pipeline on Airflow 3, dbt (PostgreSQL) and Great Expectations."""

__version__ = "0.1.0"
