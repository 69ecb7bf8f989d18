"""Ingest: read source systems and land their records in ``raw``."""
