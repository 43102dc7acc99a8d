"""MLflow's plugin entry points for the `azureml` scheme (imports mlflow: loaded by MLflow, not by azuremlcore).

- `AzureMLTrackingStore(store_uri, artifact_uri)`: the tracking store: in-process over an embedded
  workspace, MLflow's RestStore (with a fresh bearer token per request) for a workspace server.
- `AzureMLModelRegistryStore(store_uri, tracking_uri)`: the model registry: the workspace's models
  in-process for an embedded workspace, MLflow's registry RestStore for a workspace server.
- `AzureMLArtifactRepository`: artifacts addressed by `azureml://` URIs.
- `AzureMLRequestHeaderProvider`: `Authorization: Bearer <fresh token>` on requests to a workspace server.
- `AzureMLRunContextProvider`: tags for runs MLflow creates inside a submitted run.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.tracking.context.abstract_context import RunContextProvider
from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider

from azuremlmlflow import _auth, _compat, _job, _server
from azuremlmlflow._uri import SCHEME, WorkspaceUri, parse


def AzureMLTrackingStore(store_uri: str, artifact_uri: str | None = None) -> Any:  # noqa: N802 - entry point name
    """The tracking store for an `azureml://` URI (MLflow calls this with the tracking URI)."""
    try:
        target = parse(store_uri)
    except ValueError as exc:
        raise MlflowException(str(exc)) from exc
    # In a job: SIGTERM lets exit handlers run, MLflow's async queue is drained before thread pools stop.
    _job.prepare_process()
    if target.embedded:
        from azuremlmlflow._embedded_store import EmbeddedMlflowStore

        return EmbeddedMlflowStore(store_uri, artifact_uri)
    return _server.tracking_store(target)


def AzureMLModelRegistryStore(store_uri: str, tracking_uri: str | None = None) -> Any:  # noqa: N802 - entry point
    """The model registry store for an `azureml://` URI (registered models are the workspace's models)."""
    try:
        target = parse(store_uri)
    except ValueError as exc:
        raise MlflowException(str(exc)) from exc
    if target.embedded:
        from azuremlmlflow._model_registry import EmbeddedModelRegistry

        return EmbeddedModelRegistry(store_uri, tracking_uri)
    return _server.registry_store(target)


class AzureMLArtifactRepository(ArtifactRepository):
    """Artifacts under `azureml://<host>/mlflow/v1.0/.../workspaces/<ws>/<container path>`.

    Embedded: `<container path>` is a folder of the workspace's artifact store (e.g.
    `runs/<run id>` or `mlflow-models/<model id>`), read and written in place. Server: the server's
    proxied-artifact API under the workspace's MLflow path (`/api/2.0/mlflow-artifacts/artifacts/...`),
    with the bridge's bearer token, whatever the tracking URI of the process is.
    """

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None,
                 **kwargs: Any) -> None:
        # MLflow 2 (and early 3.x) repositories take only the URI; later 3.x also the tracking and registry URIs.
        if _compat.ARTIFACT_REPO_TAKES_URIS:
            super().__init__(artifact_uri, tracking_uri, registry_uri)
        else:
            super().__init__(artifact_uri)
        target = parse(artifact_uri)
        rest = target.rest.strip("/")
        if target.embedded:
            from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

            from azuremlcore._store import open_embedded

            _, artifacts = open_embedded(Path(target.home) if target.home else None)
            store = _find_ws_id(target)
            folder = artifacts.root / store / rest if rest else artifacts.root / store
            self._repo: ArtifactRepository = LocalArtifactRepository(folder.as_uri())
        else:
            self._repo = _server.ServerArtifacts(target, rest)  # type: ignore[assignment]

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Store one local file (under artifact_path)."""
        self._repo.log_artifact(local_file, artifact_path)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Store every file of a local folder (under artifact_path)."""
        self._repo.log_artifacts(local_dir, artifact_path)

    def list_artifacts(self, path: str | None = None) -> list:
        """Files and folders directly under path."""
        return self._repo.list_artifacts(path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        self._repo._download_file(remote_file_path, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or folder."""
        self._repo.delete_artifacts(artifact_path)


def _find_ws_id(target: WorkspaceUri) -> str:
    from azuremlcore._store import open_embedded

    store, _ = open_embedded(Path(target.home) if target.home else None)
    found = store.find_workspace(target.subscription_id, target.resource_group, target.workspace_name)
    if not found:
        raise MlflowException(f"Workspace '{target.workspace_name}' does not exist on this machine.")
    return found[0].id


def _server_endpoint() -> str | None:
    import mlflow

    uri = mlflow.get_tracking_uri()
    if not uri.startswith(f"{SCHEME}://"):
        return None
    try:
        return parse(uri).endpoint
    except ValueError:
        return None


class AzureMLRequestHeaderProvider(RequestHeaderProvider):
    """`Authorization: Bearer <token>` on MLflow's requests while the tracking URI names a workspace server.

    The token comes from the workspace's auth (registered by `get_mlflow_tracking_uri`), else
    $AZUREML_RUN_TOKEN (set for submitted runs); it is fetched per request and refreshed before it
    expires. Embedded workspaces send no requests, so nothing is added for them.
    """

    def in_context(self) -> bool:
        """Whether the current tracking URI is a workspace server."""
        return _server_endpoint() is not None

    def request_headers(self) -> dict[str, str]:
        """The Authorization header with a token that is not about to expire (empty when there is no token)."""
        endpoint = _server_endpoint()
        token = _auth.token_for(endpoint) if endpoint else None
        return {"Authorization": f"Bearer {token}"} if token else {}


class AzureMLRunContextProvider(RunContextProvider):
    """Inside a submitted run (AZUREML_RUN_ID set): runs MLflow creates are tagged as the job's children."""

    def in_context(self) -> bool:
        """Whether this process runs a submitted azuremlcore run."""
        return bool(os.environ.get("AZUREML_RUN_ID"))

    def tags(self) -> dict[str, str]:
        """The job's run as parent, with MLflow's source tags for a job."""
        run_id = os.environ["AZUREML_RUN_ID"]
        tags = {"mlflow.source.type": "JOB", "azureml.runId": run_id,
                "mlflow.source.name": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "script"}
        if os.environ.get("MLFLOW_RUN_ID", run_id) == run_id:
            tags["mlflow.parentRunId"] = run_id
        return tags
