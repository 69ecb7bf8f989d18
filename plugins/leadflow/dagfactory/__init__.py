"""Builds leadflow's DAGs from configuration; the files in dags/ call these."""
