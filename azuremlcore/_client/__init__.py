"""The SDK's REST backend: the WorkspaceStore protocol and the artifact store over HTTP to `aml server`."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._client.artifacts import RestArtifactStore
    from azuremlcore._client.store import RestWorkspaceStore

_lock = threading.Lock()
_open: dict[tuple[Any, ...], tuple["RestWorkspaceStore", "RestArtifactStore"]] = {}


def open_rest(endpoint: str, auth: Any = None) -> tuple["RestWorkspaceStore", "RestArtifactStore"]:
    """The REST store and artifact store of a server, shared per process, endpoint and credential.

    Without auth: the run's token ($AZUREML_RUN_TOKEN) inside a submitted run, else the saved
    user login (InteractiveLoginAuthentication).
    """
    from azuremlcore._client.artifacts import RestArtifactStore
    from azuremlcore._client.http import HttpClient
    from azuremlcore._client.store import RestWorkspaceStore

    endpoint = endpoint.rstrip("/")
    run_token = os.environ.get("AZUREML_RUN_TOKEN") if auth is None else None
    key = (os.getpid(), endpoint, id(auth) if auth is not None else ("run", run_token))
    with _lock:
        if key not in _open:
            http = HttpClient(endpoint, auth, run_token=run_token)
            store = RestWorkspaceStore(http)
            _open[key] = (store, RestArtifactStore(store))
        return _open[key]
