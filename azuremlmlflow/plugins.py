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
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.tracking.context.abstract_context import RunContextProvider
from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider

from azuremlmlflow import _auth, _job
from azuremlmlflow._uri import SCHEME, WorkspaceUri, parse

_PROBE_TIMEOUT_S = 5.0


def _check_reachable(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "localhost", port), timeout=_PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise MlflowException(
            f"The workspace server at {endpoint} is not reachable ({exc}). Start the server, or check 'endpoint' "
            "in the workspace config file (remove it to use an embedded workspace).") from exc


def _rest_store(target: WorkspaceUri) -> Any:
    from mlflow.utils.rest_utils import MlflowHostCreds

    _check_reachable(target.endpoint or "")
    base, endpoint = target.rest_base, target.endpoint or ""

    def host_creds() -> MlflowHostCreds:
        # Called for every request: a token is fetched (or refreshed) each time, so expiry never ends a run.
        return MlflowHostCreds(base, token=_auth.token_for(endpoint))

    return _job_aware_rest_store_class()(host_creds)


_rest_store_class: Any = None


def _job_aware_rest_store_class() -> Any:
    """MLflow's RestStore telling `_job` what MLflow does to the job's run (autolog); built on first use
    (importing MLflow's REST store while MLflow loads this plugin module would be a circular import)."""
    global _rest_store_class
    if _rest_store_class is None:
        from mlflow.store.tracking.rest_store import RestStore

        class JobAwareRestStore(RestStore):  # type: ignore[misc, valid-type]
            def update_run_info(self, run_id: str, run_status: Any, end_time: Any, run_name: Any) -> Any:
                info = super().update_run_info(run_id, run_status, end_time, run_name)
                _job.note_run_status(run_id, run_status)
                return info

            def log_batch(self, run_id: str, metrics: Any, params: Any, tags: Any) -> None:
                super().log_batch(run_id, metrics, params, tags)
                if tags:
                    _job.note_run_tags(run_id, [t.key for t in tags])

        _rest_store_class = JobAwareRestStore
    return _rest_store_class


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
    return _rest_store(target)


def AzureMLModelRegistryStore(store_uri: str, tracking_uri: str | None = None) -> Any:  # noqa: N802 - entry point
    """The model registry store for an `azureml://` URI (registered models are the workspace's models)."""
    try:
        target = parse(store_uri)
    except ValueError as exc:
        raise MlflowException(str(exc)) from exc
    if target.embedded:
        from azuremlmlflow._model_registry import EmbeddedModelRegistry

        return EmbeddedModelRegistry(store_uri, tracking_uri)
    from mlflow.store.model_registry.rest_store import RestStore as RegistryRestStore

    return RegistryRestStore(_rest_store(target).get_host_creds)


class AzureMLArtifactRepository(ArtifactRepository):
    """Artifacts under `azureml://<host>/mlflow/v1.0/.../workspaces/<ws>/<container path>`.

    Embedded: `<container path>` is a folder of the workspace's artifact store (e.g.
    `runs/<run id>` or `mlflow-models/<model id>`), read and written in place. Server: MLflow's
    proxied-artifact API under the workspace's MLflow path (`/api/2.0/mlflow-artifacts/artifacts/...`).
    """

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
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
            from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

            self._repo = HttpArtifactRepository(f"{target.rest_base}/api/2.0/mlflow-artifacts/artifacts/{rest}")

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
