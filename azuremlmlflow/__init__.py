"""The MLflow bridge: MLflow clients log into azuremlcore workspaces, embedded or on a server.

    import mlflow
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())

The `azureml://` URI selects this package's MLflow plugins (registered as entry points): an
in-process store over an embedded workspace, or MLflow's REST client with fresh bearer tokens for
a workspace server. An MLflow run *is* an azuremlcore run (same id); see docs/mlflow.md.
Importing this package does not import mlflow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azuremlmlflow._auth import register_token_provider

if TYPE_CHECKING:
    from azuremlcore.workspace import Workspace

__all__ = ["get_mlflow_tracking_uri", "register_token_provider"]


def get_mlflow_tracking_uri(workspace: "Workspace", _with_auth: bool = False) -> str:
    """The `azureml://` URI that makes MLflow log into `workspace` (pass it to `mlflow.set_tracking_uri`).

    Embedded workspaces resolve in-process with no server (the URI carries the home folder when it
    is not the default). For a server workspace, the workspace's `auth` (if any) is registered in
    this process so that every MLflow request carries a fresh token; without one, MLflow uses the
    SDK's own login for the server (`aml login`, $AZUREMLCORE_TOKEN, a cached sign-in), in this
    process or any other. MLflow never starts an interactive sign-in. `_with_auth` is accepted for
    compatibility and changes nothing (tokens never go into the URI).
    """
    from azuremlmlflow import _auth, _uri

    endpoint = getattr(workspace, "_endpoint", None)
    if endpoint:
        auth = getattr(workspace, "_auth", None)
        if auth is not None:
            register_token_provider(endpoint, _auth.silently(auth))
        return _uri.build(workspace.subscription_id, workspace.resource_group, workspace.name, endpoint=endpoint)
    return _uri.build(workspace.subscription_id, workspace.resource_group, workspace.name,
                      home=workspace._artifacts.root.parent)


def __getattr__(name: str) -> Any:
    # The plugin classes import mlflow; load them only when asked for.
    if name in ("AzureMLTrackingStore", "AzureMLArtifactRepository", "AzureMLRequestHeaderProvider",
                "AzureMLRunContextProvider"):
        from azuremlmlflow import plugins

        return getattr(plugins, name)
    raise AttributeError(f"module 'azuremlmlflow' has no attribute {name!r}")
