"""Registers leadflow with Airflow (plugins folder). The UI pages are added by leadflow.ui later;
importing this module stays cheap: nothing heavy at import time."""

from airflow.plugins_manager import AirflowPlugin


class LeadflowPlugin(AirflowPlugin):
    name = "leadflow"
