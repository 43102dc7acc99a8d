"""The tables notebooks show for Workspace, Experiment, Run, Model and Environment (their `_repr_html_`).

Shaped like the real SDK's notebook display: one header row, one row of values, links to the
object's page and to its documentation. Every value is HTML-escaped.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore.environment import Environment
    from azuremlcore.experiment import Experiment
    from azuremlcore.model import Model
    from azuremlcore.run import Run
    from azuremlcore.workspace import Workspace

DOCS = "https://github.com/azuremlcore/azuremlcore/blob/main/docs/"


class Link:
    """A cell holding a link (its URL and text are escaped when drawn)."""

    def __init__(self, url: str, text: str) -> None:
        self.url, self.text = url, text

    def html(self) -> str:
        """The anchor, opening in a new tab."""
        return (f'<a href="{html.escape(self.url, quote=True)}" target="_blank" rel="noopener">'
                f'{html.escape(self.text)}</a>')


def table(columns: dict[str, Any]) -> str:
    """A one-row table: the keys as headers, the values (text or `Link`) as cells."""
    head = "".join(f"<th>{html.escape(k)}</th>" for k in columns)
    cells = "".join(f"<td>{v.html() if isinstance(v, Link) else html.escape('' if v is None else str(v))}</td>"
                    for v in columns.values())
    return f'<table style="width:100%"><tr>{head}</tr><tr>{cells}</tr></table>'


def workspace_url(ws: "Workspace") -> str:
    """The workspace's page in the web view (its server, or `aml studio` for an embedded workspace)."""
    return f"{ws._web_base()}/ui/workspaces/{ws._ws_id}"


def model_url(model: "Model") -> str:
    """The workspace's models page in the web view."""
    return workspace_url(model.workspace) + "/models"


def workspace_html(ws: "Workspace") -> str:
    """Name, subscription, resource group, location, where its store is and a link to its page."""
    return table({"Name": ws.name, "Subscription id": ws.subscription_id, "Resource group": ws.resource_group,
                  "Location": ws.location, "Store": ws._endpoint or "embedded",
                  "Workspace Page": Link(workspace_url(ws), "Link to workspace"),
                  "Docs Page": Link(DOCS + "api.md#workspace", "Link to Documentation")})


def experiment_html(exp: "Experiment") -> str:
    """Name, workspace, and links to the experiment's runs and to the documentation."""
    return table({"Name": exp.name, "Workspace": exp.workspace.name,
                  "Report Page": Link(exp.get_portal_url(), "Link to experiment runs"),
                  "Docs Page": Link(exp.get_docs_url(), "Link to Documentation")})


def run_html(run: "Run") -> str:
    """Experiment, id, type, current status and links to the run's page and the documentation."""
    try:
        status = run.get_status()
    except Exception:  # noqa: BLE001 - a display must not fail because the server is out of reach
        status = run.status + " (as last read)"
    return table({"Experiment": run.experiment.name, "Id": run.id, "Type": run.type, "Status": status,
                  "Details Page": Link(run.get_portal_url(), "Link to run details"),
                  "Docs Page": Link(run.get_docs_url(), "Link to Documentation")})


def model_html(model: "Model") -> str:
    """Name, version, framework, the run it came from and links to its page and the documentation."""
    return table({"Name": model.name, "Version": model.version, "Framework": model.model_framework,
                  "Run": model.run_id, "Created": model.created_time.strftime("%Y-%m-%d %H:%M:%S UTC"),
                  "Details Page": Link(model_url(model), "Link to model"),
                  "Docs Page": Link(DOCS + "data-and-models.md#models", "Link to Documentation")})


def environment_html(env: "Environment") -> str:
    """Name, version, how its Python is provided and its base image."""
    python = ("user-managed: " + env.python.interpreter_path if env.python.user_managed_dependencies
              else "built from conda_dependencies")
    return table({"Name": env.name, "Version": env.version, "Python": python, "Base image": env.docker.base_image,
                  "Docs Page": Link(DOCS + "jobs.md#environments", "Link to Documentation")})
