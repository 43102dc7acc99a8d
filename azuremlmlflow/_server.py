"""A workspace server behind an `azureml://` URI: MLflow's REST stores, and the server's artifacts.

The server answers MLflow's REST API under the workspace path and names artifact locations as
MLflow's own server does, `mlflow-artifacts:/runs/<run id>/...`. MLflow resolves such URIs only
against an http(s) tracking URI, so with an `azureml://` one it could neither log nor load an
artifact or a model. The stores here turn each `mlflow-artifacts:/<path>` location in the server's
answers into `azureml://<server>/.../workspaces/<name>/<path>`, which MLflow hands to this bridge's
artifact repository: `ServerArtifacts` reads and writes the same files through the server's
proxied-artifact API with the bridge's bearer tokens (whatever the process's tracking URI is).
"""
from __future__ import annotations

import os
import posixpath
import socket
import threading
import time
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlsplit

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2

from azuremlmlflow import _auth
from azuremlmlflow._uri import WorkspaceUri, artifact_uri

_PROBE_TIMEOUT_S = 5.0
# How long nothing listening is waited out before saying so: a restart takes about 1 s, and the SDK's own client
# retries for about 6 s.
_WAIT_S = 6.0
_ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
_PROXIED = "mlflow-artifacts:"
# Message fields that hold artifact locations in MLflow's REST answers (runs, experiments, logged
# models, registry versions and download URIs).
_URI_FIELDS = frozenset({"artifact_uri", "artifact_location", "source"})


def check_reachable(endpoint: str) -> None:
    """Fail, with what to do, when nothing listens at the server's address for _WAIT_S seconds (a server
    restarting meanwhile is waited for). Not inside a submitted run (AZUREML_RUN_ID): its endpoint is the one the
    job was submitted through, its metrics go through the run's spool, which rides out an outage, and MLflow's
    own retries cover its other calls (found by hand: a job whose first MLflow call fell in a 4 s server restart
    failed at once here)."""
    from azuremlmlflow._job import job_run_id

    if job_run_id():
        return
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline, pause = time.monotonic() + _WAIT_S, 0.1
    while True:
        try:
            socket.create_connection((parts.hostname or "localhost", port), timeout=_PROBE_TIMEOUT_S).close()
            return
        except OSError as exc:
            if time.monotonic() + pause > deadline:
                raise MlflowException(
                    f"The workspace server at {endpoint} is not reachable ({exc}; tried for {_WAIT_S:.0f} s). Start "
                    "the server, or check 'endpoint' in the workspace config file (remove it to use an embedded "
                    "workspace).") from exc
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


# ---------------------------------------------------------------------- REST stores
def _repeated(field: Any) -> bool:
    # protobuf 7 dropped FieldDescriptor.label for is_repeated; older ones (MLflow 2.x) have only label.
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED


_uri_types: dict[str, bool] = {}


def _carries_uris(descriptor: Any, _stack: tuple[str, ...] = ()) -> bool:
    """Whether messages of this type can hold an artifact location (directly or in a nested message)."""
    name = descriptor.full_name
    if name in _uri_types:
        return _uri_types[name]
    if name in _stack:  # a recursive type: its other fields decide
        return False
    found = any(f.name in _URI_FIELDS or (f.message_type is not None and _carries_uris(f.message_type, _stack + (name,)))
                for f in descriptor.fields)
    if not _stack:  # only a complete answer (not one cut short by a cycle) is remembered
        _uri_types[name] = found
    return found


def localize(message: Any, to_uri: Callable[[str], str]) -> None:
    """Rewrite, in place, every `mlflow-artifacts:/...` location in an MLflow answer with to_uri.

    Only branches whose message types can hold a location are walked (a run's metrics are not).
    """
    for field, value in message.ListFields():
        if field.message_type is None:
            if field.name in _URI_FIELDS and isinstance(value, str) and value.startswith(_PROXIED):
                setattr(message, field.name, to_uri(value))
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is None or not _carries_uris(value_field.message_type):
                continue
            items: Any = value.values()
        elif not _carries_uris(field.message_type):
            continue
        else:
            items = value if _repeated(field) else [value]
        for item in items:
            localize(item, to_uri)


def _to_azureml(target: WorkspaceUri) -> Callable[[str], str]:
    def convert(uri: str) -> str:
        parts = urlsplit(uri)
        if parts.netloc:  # a location on another server: not ours to rename
            return uri
        return artifact_uri(target, parts.path)
    return convert


_store_classes: dict[type, type] = {}


def _localizing(base: type) -> type:
    """A subclass of MLflow's RestStore `base` whose answers carry azureml:// artifact locations (one per base)."""
    if base not in _store_classes:
        class Store(base):  # type: ignore[misc, valid-type]
            _to_uri: Callable[[str], str]

            def _call_endpoint(self, *args: Any, **kwargs: Any) -> Any:
                # Every REST store method of MLflow 2.10 to 3.x goes through here (the signature varies).
                response = super()._call_endpoint(*args, **kwargs)
                if response is not None and hasattr(response, "ListFields"):
                    localize(response, self._to_uri)
                return response

        Store.__name__ = Store.__qualname__ = f"AzureML{base.__name__}"
        _store_classes[base] = Store
    return _store_classes[base]


def _store(base: type, target: WorkspaceUri) -> Any:
    check_reachable(target.endpoint or "")
    store = _localizing(base)(_host_creds(target))
    store._to_uri = _to_azureml(target)
    return store


def _host_creds(target: WorkspaceUri) -> Callable[[], Any]:
    from mlflow.utils.rest_utils import MlflowHostCreds

    base, endpoint = target.rest_base, target.endpoint or ""

    def host_creds() -> MlflowHostCreds:
        # Called for every request: a token is fetched (or refreshed) each time, so expiry never ends a run.
        return MlflowHostCreds(base, token=_auth.token_for(endpoint))

    return host_creds


_job_aware: type | None = None


def _job_aware_rest_store() -> type:
    """MLflow's tracking RestStore telling `_job` what MLflow does to the job's run (autolog ending it)."""
    global _job_aware
    if _job_aware is None:
        from mlflow.store.tracking.rest_store import RestStore

        from azuremlmlflow import _job, _spool

        class JobAwareRestStore(RestStore):  # type: ignore[misc, valid-type]
            def update_run_info(self, run_id: str, run_status: Any, end_time: Any, run_name: Any) -> Any:
                info = super().update_run_info(run_id, run_status, end_time, run_name)
                _job.note_run_status(run_id, run_status)
                return info

            def log_batch(self, run_id: str, metrics: Any, params: Any, tags: Any) -> None:
                if _spool.applies(run_id):
                    plain, own = _spool.split_tags(tags)
                    if _spool.log(run_id, metrics, params, plain, wait=True):
                        if own:
                            super().log_batch(run_id, [], [], own)
                        if tags:
                            _job.note_run_tags(run_id, [t.key for t in tags])
                        return
                super().log_batch(run_id, metrics, params, tags)
                if tags:
                    _job.note_run_tags(run_id, [t.key for t in tags])

            def log_batch_async(self, run_id: str, metrics: Any, params: Any, tags: Any) -> Any:
                plain, own = _spool.split_tags(tags)
                if not own and _spool.applies(run_id) and _spool.log(run_id, metrics, params, plain, wait=False):
                    from mlflow.utils.async_logging.run_operations import RunOperations

                    return RunOperations([])  # spooled: sent with the calls queued meanwhile
                return super().log_batch_async(run_id, metrics, params, tags)

            # MLflow's RestStore sends these on endpoints of their own; in a job they take the spool's path.
            def log_metric(self, run_id: str, metric: Any) -> None:
                if _spool.applies(run_id):
                    return self.log_batch(run_id, [metric], [], [])
                return super().log_metric(run_id, metric)

            def log_param(self, run_id: str, param: Any) -> None:
                if _spool.applies(run_id):
                    return self.log_batch(run_id, [], [param], [])
                return super().log_param(run_id, param)

            def set_tag(self, run_id: str, tag: Any) -> None:
                if _spool.applies(run_id) and not tag.key.startswith("mlflow."):
                    return self.log_batch(run_id, [], [], [tag])
                return super().set_tag(run_id, tag)

            def log_metric_async(self, run_id: str, metric: Any) -> Any:
                return self.log_batch_async(run_id, [metric], [], [])

            def log_param_async(self, run_id: str, param: Any) -> Any:
                return self.log_batch_async(run_id, [], [param], [])

            def set_tag_async(self, run_id: str, tag: Any) -> Any:
                return self.log_batch_async(run_id, [], [], [tag])

            def flush_async_logging(self) -> None:
                _spool.flush()
                if self._async_logging_queue.is_active():  # calls that did not take the spool's path
                    super().flush_async_logging()

        _job_aware = JobAwareRestStore
    return _job_aware


def tracking_store(target: WorkspaceUri) -> Any:
    """MLflow's tracking RestStore for a server workspace (azureml:// artifact locations, fresh tokens)."""
    return _store(_job_aware_rest_store(), target)


def registry_store(target: WorkspaceUri) -> Any:
    """MLflow's model-registry RestStore for a server workspace (download URIs become azureml:// URIs)."""
    from mlflow.store.model_registry.rest_store import RestStore

    return _store(RestStore, target)


# ---------------------------------------------------------------------- artifacts
class _BridgeAuth:
    """The SDK HTTP client's credential: the bridge's token for the server (None: no header)."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint

    def get_authentication_header(self) -> dict[str, str]:
        token = _auth.token_for(self._endpoint)
        return {"Authorization": f"Bearer {token}"} if token else {}


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _client(endpoint: str) -> Any:
    # One pooled HTTP session per server and process (retries, timeouts and error mapping are the SDK's).
    from azuremlcore._client.http import HttpClient

    key = f"{os.getpid()}:{endpoint}"
    with _clients_lock:
        if key not in _clients:
            _clients[key] = HttpClient(endpoint, _BridgeAuth(endpoint))
        return _clients[key]


def _mlflow_error(exc: Exception) -> MlflowException:
    code = getattr(exc, "error_code", "") or "INTERNAL_ERROR"
    try:
        value = databricks_pb2.ErrorCode.Value(code)
    except ValueError:
        value = databricks_pb2.INTERNAL_ERROR
    return MlflowException(str(exc), error_code=value)


class ServerArtifacts:
    """The files under one artifact location of a server workspace (`rest` = e.g. `runs/<run id>`)."""

    def __init__(self, target: WorkspaceUri, rest: str) -> None:
        self._endpoint = target.endpoint or ""
        self._api = target.workspace_path + _ARTIFACTS_API
        self._root = rest.strip("/")

    def _path(self, artifact_path: str | None) -> str:
        return posixpath.join(self._root, artifact_path.strip("/")) if artifact_path else self._root

    def _call(self, method: str, path: str | None, **kwargs: Any) -> Any:
        from azuremlcore._store.errors import StoreError

        url = self._api + ("/" + quote(path, safe="/") if path is not None else "")
        try:
            return _client(self._endpoint).request(method, url, **kwargs)
        except StoreError as exc:
            raise _mlflow_error(exc) from exc

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload one local file into artifact_path."""
        with open(local_file, "rb") as f:
            self._call("PUT", self._path(posixpath.join(artifact_path or "", os.path.basename(local_file))), data=f)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload every file under local_dir, keeping its layout, into artifact_path."""
        for path, rel in _files(local_dir):
            with open(path, "rb") as f:
                self._call("PUT", self._path(posixpath.join(artifact_path or "", rel)), data=f)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under path (paths relative to this location, as MLflow expects)."""
        resp = self._call("GET", None, params={"path": self._path(path)})
        files = resp.json().get("files", []) if resp.content else []
        prefix = (path or "").strip("/")
        return [FileInfo(posixpath.join(prefix, f["path"]) if prefix else f["path"], bool(f.get("is_dir")),
                         f.get("file_size")) for f in files]

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        resp = self._call("GET", self._path(remote_file_path), stream=True)
        with open(local_path, "wb") as f:
            for chunk in resp.iter_content(chunk_size=1 << 20):
                f.write(chunk)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or folder."""
        self._call("DELETE", self._path(artifact_path))


def _files(local_dir: str) -> Iterator[tuple[str, str]]:
    for root, _dirs, names in os.walk(local_dir):
        for name in sorted(names):
            full = os.path.join(root, name)
            yield full, os.path.relpath(full, local_dir).replace(os.sep, "/")
