"""The SDK's client side: a server's stores over HTTP, and opening a workspace by its coordinates.

`open_rest` gives the WorkspaceStore protocol and the artifact store of an `aml server`;
`open_workspace` gives a `WorkspaceHandle`, embedded or on a server.
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from azuremlcore._client.artifacts import RestArtifactStore
    from azuremlcore._client.store import RestWorkspaceStore
    from azuremlcore._store.handle import WorkspaceHandle

_lock = threading.Lock()
_open: dict[tuple[Any, ...], tuple["RestWorkspaceStore", "RestArtifactStore"]] = {}
# (endpoint, the run's token or None) -> the credential of a client made without auth.
DefaultAuth = Callable[[str, "str | None"], Any]


def open_rest(endpoint: str, auth: Any = None,
              default_auth: DefaultAuth | None = None) -> tuple["RestWorkspaceStore", "RestArtifactStore"]:
    """The REST store and artifact store of a server, shared per process, endpoint and credential.

    Without auth, `default_auth(endpoint, run token)` makes the credential (once per process, endpoint
    and run token): the public layer passes `authentication.client_credential`, the run's token
    ($AZUREML_RUN_TOKEN) inside a submitted run, else the user's login.
    """
    from azuremlcore._client.artifacts import RestArtifactStore
    from azuremlcore._client.http import HttpClient
    from azuremlcore._client.store import RestWorkspaceStore

    endpoint = endpoint.rstrip("/")
    run_token = os.environ.get("AZUREML_RUN_TOKEN") if auth is None else None
    key = (os.getpid(), endpoint, id(auth) if auth is not None else ("run", run_token))
    with _lock:
        if key not in _open:
            credential = auth
            if credential is None:
                if default_auth is None:
                    raise ValueError(f"A credential is needed for the workspace server at {endpoint}: pass auth.")
                credential = default_auth(endpoint, run_token)
            http = HttpClient(endpoint, credential)
            store = RestWorkspaceStore(http)
            _open[key] = (store, RestArtifactStore(store))
        return _open[key]


def open_workspace(subscription_id: str, resource_group: str, name: str, endpoint: str | None = None,
                   auth: Any = None, default_auth: DefaultAuth | None = None) -> "WorkspaceHandle":
    """The workspace of those coordinates, embedded in $AZUREMLCORE_HOME or on the server at `endpoint`.

    For the machinery that runs without the public objects (the runner process); raises the store's
    NotFoundError when there is no such workspace. A server needs `auth` or `default_auth` (see `open_rest`).
    """
    from azuremlcore._store import open_embedded
    from azuremlcore._store.errors import NotFoundError
    from azuremlcore._store.handle import WorkspaceHandle

    store, artifacts = open_rest(endpoint, auth, default_auth) if endpoint else open_embedded()
    found = store.find_workspace(subscription_id, resource_group, name)
    if not found:
        raise NotFoundError(f"Workspace '{name}' not found in resource group '{resource_group}' of subscription "
                            f"'{subscription_id}'.")
    return WorkspaceHandle(store, artifacts, found[0], endpoint.rstrip("/") if endpoint else None)
