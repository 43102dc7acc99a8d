"""The workspace config file (`config.json`): where it is looked for, what it holds, how it is written.

Search order as in Azure ML v1: from the given path (a file, or a folder) or the current folder
and then each parent, look in `.azureml/`, `aml_config/`, then the folder itself, for
`config.json` then `project.json`. A file may hold the three keys (the portal download) or a
`Scope` ARM id; `endpoint` (optional) names a workspace server, and its absence means embedded.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from azuremlcore.exceptions import UserErrorException

CONFIG_DIRS = (".azureml", "aml_config", "")
CONFIG_NAMES = ("config.json", "project.json")
_SCOPE = re.compile(r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
                    r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)", re.IGNORECASE)


def arm_id(subscription_id: str, resource_group: str, name: str) -> str:
    """The Azure Resource Manager id of a workspace (the key the real SDK's `Scope` holds)."""
    return (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{name}")


class WorkspaceConfig(BaseModel):
    """The contents of a workspace config file."""

    # Built at first use: the server imports this module for `arm_id` alone (10 ms of its start-up).
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    subscription_id: str
    resource_group: str
    workspace_name: str
    endpoint: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_scope(cls, data: object) -> object:
        if isinstance(data, dict) and "Scope" in data and "workspace_name" not in data:
            m = _SCOPE.search(str(data["Scope"]))
            if m:
                data = {**data, "subscription_id": m["sub"], "resource_group": m["rg"], "workspace_name": m["ws"]}
        return data


def find_config(path: str | Path | None = None, file_name: str | None = None) -> Path:
    """The config file that `Workspace.from_config(path)` uses, or a UserErrorException saying where it looked."""
    start = Path(path).expanduser() if path is not None else Path.cwd()
    if start.is_file():
        return start
    names = (file_name,) if file_name else CONFIG_NAMES
    start = start.resolve()
    for folder in (start, *start.parents):
        for sub in CONFIG_DIRS:
            for name in names:
                candidate = folder / sub / name
                if candidate.is_file():
                    return candidate
    raise UserErrorException(
        f"No workspace config file found in {start} or its parents (looked for {', '.join(names)} in "
        "'.azureml/', 'aml_config/' and the folder itself). Create a workspace and write its config with "
        "Workspace.create(name=..., subscription_id=..., resource_group=..., exist_ok=True).write_config(), "
        "or pass path= to the folder that holds it.")


def read_config(file: Path) -> WorkspaceConfig:
    """Parse a config file, with errors that name the file and the missing keys."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserErrorException(f"Workspace config file {file} is not valid JSON: {exc}") from exc
    try:
        return WorkspaceConfig.model_validate(data)
    except ValidationError as exc:
        missing = [".".join(map(str, e["loc"])) for e in exc.errors()]
        raise UserErrorException(
            f"Workspace config file {file} lacks {', '.join(missing)}: it needs subscription_id, "
            "resource_group and workspace_name (or a Scope ARM id).") from exc


def write_config(config: WorkspaceConfig, path: str | Path | None, file_name: str | None) -> Path:
    """Write `<path or .>/.azureml/<file_name or config.json>` and return its path."""
    folder = Path(path) if path is not None else Path.cwd()
    if folder.name != ".azureml":
        folder = folder / ".azureml"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (file_name or "config.json")
    data = config.model_dump(exclude_none=True)
    data["Scope"] = arm_id(config.subscription_id, config.resource_group, config.workspace_name)
    target.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
    return target
