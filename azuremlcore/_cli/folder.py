"""`aml folder attach`: connect a folder to a workspace (as `az ml folder attach`)."""
from __future__ import annotations

import argparse
import os
from typing import Any

from azuremlcore._cli._base import Subparsers, command, group

SECTION = "Workspaces and runs"
HELP = "Attach a folder to a workspace (and an experiment)."
TOP = {"folder": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers


def _attach(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli import _workspace
    from azuremlcore.workspace import Workspace

    _workspace.use_endpoint(args)
    ws = Workspace.get(args.workspace_name, subscription_id=args.subscription_id, resource_group=args.resource_group)
    ws.write_config(path=args.path)
    if args.experiment_name:
        _record_experiment(args.path, args.experiment_name)
    return {"path": os.path.abspath(os.path.join(args.path, ".azureml", "config.json")),
            "workspaceName": ws.name, "resourceGroup": ws.resource_group, "subscriptionId": ws.subscription_id,
            "discoveryUrl": ws.discovery_url, "experimentName": args.experiment_name}


def _record_experiment(path: str, name: str) -> None:
    """Add the default experiment to the config file `write_config` just wrote (the SDK ignores the key)."""
    import json

    from azuremlcore._cli._workspace import EXPERIMENT_KEY
    from azuremlcore.experiment import check_experiment_name

    check_experiment_name(name)
    file = os.path.join(path, ".azureml", "config.json")
    with open(file, encoding="utf-8") as fh:
        data = json.load(fh)
    data[EXPERIMENT_KEY] = name
    with open(file, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=4) + "\n")


def register(sub: Subparsers) -> None:
    """Add `aml folder attach` to `aml`."""
    g = group(sub, "folder", HELP)
    c = command(g, "attach", "Write .azureml/config.json so commands and Workspace.from_config() find the workspace.",
                _attach, workspace=False,
                table=[("Workspace", "workspaceName"), ("ResourceGroup", "resourceGroup"),
                       ("Experiment", "experimentName"), ("Config", "path")],
                examples=[("Attach this folder to workspace ws1 of resource group rg, experiment exp.",
                           "aml folder attach -w ws1 -g rg -e exp"),
                          ("Attach a folder to a workspace of a server (after aml login).",
                           "aml folder attach -w ws1 --endpoint https://aml.example:5000 --path project")])
    c.add_argument("-w", "--workspace-name", required=True, metavar="NAME", help="workspace name")
    c.add_argument("-g", "--resource-group", metavar="RG", help="resource group of the workspace")
    c.add_argument("--subscription-id", metavar="ID", help="subscription id of the workspace")
    c.add_argument("-e", "--experiment-name", metavar="NAME",
                   help="default experiment for the commands run in this folder")
    c.add_argument("--path", default=".", metavar="DIR", help="the folder to attach (default: .)")
    c.add_argument("--endpoint", metavar="URL", help="a workspace server (default: $AZUREMLCORE_ENDPOINT; none: "
                   "embedded); written to the config file")
