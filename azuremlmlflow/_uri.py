"""The `azureml://` tracking URI: building it from a workspace and reading it back (no mlflow import).

Format (as in Azure ML): ``azureml://<host>/mlflow/v1.0/subscriptions/<sub>/resourceGroups/<rg>/
providers/Microsoft.MachineLearningServices/workspaces/<name>``. An embedded workspace has the host
``local`` and, when its home folder is not the default, ``?home=<folder>`` so that a process with
another environment still opens the same store. A server workspace has the server's host (and
path prefix); ``?scheme=http`` marks a server that does not use https. Artifact URIs of a server
workspace put the artifact path after the workspace (``.../workspaces/<name>/runs/<run id>``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

SCHEME = "azureml"
EMBEDDED_HOST = "local"
MLFLOW_PATH = "/mlflow/v1.0"
_WS_PATH = re.compile(
    r"^(?P<prefix>.*?)/mlflow/v1\.0/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)(?P<rest>/.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class WorkspaceUri:
    """What an azureml:// URI names: a workspace, embedded (home folder) or on a server (endpoint)."""

    subscription_id: str
    resource_group: str
    workspace_name: str
    home: str | None = None  # embedded: the home folder (None = this process's default)
    endpoint: str | None = None  # server: e.g. "https://host:port/prefix"
    rest: str = ""  # what follows the workspace part (artifact URIs)

    @property
    def embedded(self) -> bool:
        """Whether the workspace lives in a local home folder (no server)."""
        return self.endpoint is None

    @property
    def workspace_path(self) -> str:
        """`/mlflow/v1.0/subscriptions/.../workspaces/<name>`: the MLflow API root under the endpoint."""
        return (f"{MLFLOW_PATH}/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.MachineLearningServices/workspaces/{self.workspace_name}")

    @property
    def rest_base(self) -> str:
        """The base URL MLflow's REST client calls (`<endpoint><workspace path>`); servers only."""
        if self.endpoint is None:
            raise ValueError("An embedded workspace has no REST endpoint.")
        return self.endpoint.rstrip("/") + self.workspace_path


def _default_home() -> Path:
    return (Path.home() / ".azuremlcore").expanduser().resolve()


def build(subscription_id: str, resource_group: str, workspace_name: str, *, home: str | Path | None = None,
          endpoint: str | None = None) -> str:
    """The azureml:// URI of a workspace (embedded in `home`, or on the server at `endpoint`)."""
    ws_path = WorkspaceUri(subscription_id, resource_group, workspace_name).workspace_path
    query: dict[str, str] = {}
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Workspace endpoint {endpoint!r} is not an http(s) URL.")
        if parts.scheme != "https":
            query["scheme"] = parts.scheme
        host, prefix = parts.netloc, parts.path.rstrip("/")
    else:
        host, prefix = EMBEDDED_HOST, ""
        if home is not None and Path(home).expanduser().resolve() != _default_home():
            query["home"] = str(Path(home).expanduser().resolve())
    uri = f"{SCHEME}://{host}{quote(prefix)}{ws_path}"
    return uri + ("?" + urlencode(query) if query else "")


def parse(uri: str) -> WorkspaceUri:
    """Read an azureml:// URI; ValueError with the expected shape when it is not one."""
    parts = urlsplit(uri)
    m = _WS_PATH.match(parts.path)
    if parts.scheme != SCHEME or not parts.netloc or m is None:
        raise ValueError(
            f"{uri!r} is not an azureml tracking URI: expected azureml://<host>/mlflow/v1.0/subscriptions/<sub>/"
            "resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<name>. "
            "Get one with Workspace.get_mlflow_tracking_uri().")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.netloc == EMBEDDED_HOST:
        return WorkspaceUri(m["sub"], m["rg"], m["ws"], home=query.get("home"), rest=m["rest"] or "")
    endpoint = f"{query.get('scheme', 'https')}://{parts.netloc}{m['prefix']}"
    return WorkspaceUri(m["sub"], m["rg"], m["ws"], endpoint=endpoint, rest=m["rest"] or "")


def artifact_uri(target: WorkspaceUri, path: str) -> str:
    """The azureml:// URI of `path` inside the workspace's artifacts (e.g. ``runs/<run id>/model``) on its server."""
    if target.endpoint is None:
        raise ValueError("Artifact URIs of this form name files on a workspace server.")
    base = build(target.subscription_id, target.resource_group, target.workspace_name, endpoint=target.endpoint)
    head, sep, query = base.partition("?")
    path = quote(path.strip("/"), safe="/")
    return f"{head}/{path}{sep}{query}" if path else base
