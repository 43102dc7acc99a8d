"""Names of the environment variables that tell a process which run it belongs to.

The local runner sets these for a submitted script; `Run.get_context()` reads them. The names
are Azure ML's where Azure ML has one, so scripts that read them directly keep working.
"""
from __future__ import annotations

RUN_ID = "AZUREML_RUN_ID"
SUBSCRIPTION = "AZUREML_ARM_SUBSCRIPTION"
RESOURCE_GROUP = "AZUREML_ARM_RESOURCEGROUP"
WORKSPACE_NAME = "AZUREML_ARM_WORKSPACE_NAME"
EXPERIMENT_NAME = "AZUREML_ARM_PROJECT_NAME"
EXPERIMENT_ID = "AZUREML_EXPERIMENT_ID"
HOME = "AZUREMLCORE_HOME"
SERVICE_ENDPOINT = "AZUREML_SERVICE_ENDPOINT"
RUN_TOKEN = "AZUREML_RUN_TOKEN"
RUN_TOKEN_FILE = "AZUREML_RUN_TOKEN_FILE"  # a file holding the current run token (rewritten as it is renewed)
