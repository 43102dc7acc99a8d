"""azuremlmlflow: the MLflow bridge (tracking store, artifacts, auth headers, run context) for azuremlcore."""
