"""Data quality: GX suites from expectations/, checkpoints, ops.quality_results."""
