"""The SDK's client side: a server's stores over HTTP, and opening a workspace by its coordinates.

`open_rest` gives the WorkspaceStore protocol and the artifact store of an `aml server`;
`open_workspace` gives a `WorkspaceHandle`, embedded or on a server.
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._client.artifacts import RestArtifactStore
    from azuremlcore._client.store import RestWorkspaceStore
    from azuremlcore._store.handle import WorkspaceHandle

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


def open_workspace(subscription_id: str, resource_group: str, name: str, endpoint: str | None = None,
                   auth: Any = None) -> "WorkspaceHandle":
    """The workspace of those coordinates, embedded in $AZUREMLCORE_HOME or on the server at `endpoint`.

    For the machinery that runs without the public objects (the runner process); raises the store's
    NotFoundError when there is no such workspace.
    """
    from azuremlcore._store import open_embedded
    from azuremlcore._store.errors import NotFoundError
    from azuremlcore._store.handle import WorkspaceHandle

    store, artifacts = open_rest(endpoint, auth) if endpoint else open_embedded()
    found = store.find_workspace(subscription_id, resource_group, name)
    if not found:
        raise NotFoundError(f"Workspace '{name}' not found in resource group '{resource_group}' of subscription "
                            f"'{subscription_id}'.")
    return WorkspaceHandle(store, artifacts, found[0], endpoint.rstrip("/") if endpoint else None)
