"""Demo: run the pipeline on bundled data and explain what happened."""
