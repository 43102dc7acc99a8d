"""The `azureml://` tracking URI, for the bridge's modules: the core's (`azuremlcore._tracking.mlflow_uri`).

Building and reading the URI needs no MLflow and is the core's knowledge (`Workspace.get_mlflow_tracking_uri`
and the job runner use it); the bridge reads it from here.
"""
from __future__ import annotations

from azuremlcore._tracking.mlflow_uri import (  # noqa: F401 - re-exported
    EMBEDDED_HOST, MLFLOW_PATH, SCHEME, WorkspaceUri, _default_home, artifact_uri, build, parse)

__all__ = ["EMBEDDED_HOST", "MLFLOW_PATH", "SCHEME", "WorkspaceUri", "artifact_uri", "build", "parse"]
