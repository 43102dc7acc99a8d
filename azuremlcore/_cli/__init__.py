"""The `aml` console script."""
