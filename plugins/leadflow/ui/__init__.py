"""The transfer monitor in the Airflow UI: a FastAPI app (pages and JSON API) the plugin mounts."""
