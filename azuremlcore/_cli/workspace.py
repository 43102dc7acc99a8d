"""`aml workspace show|list|create|delete` (as `az ml workspace`)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from azuremlcore._cli._base import CLIError, Subparsers, command, group, key_values

SECTION = "Workspaces and runs"
HELP = "Commands to manage workspaces."
TOP = {"workspace": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers
TABLE = [("Name", "name"), ("ResourceGroup", "resourceGroup"), ("Subscription", "subscriptionId"),
         ("Location", "location"), ("Created", "creationTime")]


def _row(ws: Any) -> dict[str, Any]:
    # get_details() has Azure's keys; the resource group and subscription are only inside its ARM id.
    return {**ws.get_details(), "resourceGroup": ws.resource_group, "subscriptionId": ws.subscription_id}


def _show(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._workspace import workspace

    return _row(workspace(args))


def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._workspace import use_endpoint
    from azuremlcore.workspace import Workspace

    use_endpoint(args)
    found = Workspace.list(args.subscription_id, resource_group=args.resource_group)
    return [_row(ws) for same_name in found.values() for ws in same_name]


def _create(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._workspace import use_endpoint
    from azuremlcore.workspace import Workspace

    use_endpoint(args)
    ws = Workspace.create(args.workspace_name, subscription_id=args.subscription_id,
                          resource_group=args.resource_group, location=args.location, sku=args.sku,
                          friendly_name=args.friendly_name, tags=key_values(args.tags, "--tags") or None,
                          create_resource_group=True, exist_ok=args.exist_ok, show_output=False)
    return _row(ws)


def _delete(args: argparse.Namespace) -> None:
    from azuremlcore._cli._workspace import workspace

    ws = workspace(args)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CLIError(f"Deleting workspace '{ws.name}' removes all its runs, models and files: pass --yes to "
                           "confirm.", code=2)
        answer = input(f"Delete workspace '{ws.name}' ({ws.resource_group}) with all its runs, models and files? "
                       "[y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise CLIError("Not deleted.")
    ws.delete()
    return None


def register(sub: Subparsers) -> None:
    """Add `aml workspace ...` to `aml`."""
    g = group(sub, "workspace", HELP)
    command(g, "show", "Show a workspace.", _show, table=TABLE,
            examples=[("Show the workspace this folder is attached to.", "aml workspace show"),
                      ("Show a workspace by name, as JSON.", "aml workspace show -w ws1 -g rg -o json")])

    c = command(g, "list", "List workspaces.", _list, workspace=False, table=TABLE,
                examples=[("List the workspaces of resource group rg.", "aml workspace list -g rg"),
                          ("List the names of a server's workspaces.",
                           "aml workspace list --endpoint https://aml.example:5000 --query \"[].name\" -o tsv")])
    c.add_argument("-g", "--resource-group", metavar="RG", help="only this resource group")
    c.add_argument("--subscription-id", metavar="ID", help="only this subscription")
    c.add_argument("--endpoint", metavar="URL", help="a workspace server (default: $AZUREMLCORE_ENDPOINT; "
                   "none: this machine's embedded workspaces)")

    c = command(g, "create", "Create a workspace.", _create, workspace=False, table=TABLE,
                examples=[("Create workspace ws1 in resource group rg (embedded, on this machine).",
                           "aml workspace create -w ws1 -g rg"),
                          ("Create it on a server, or get it when it exists.",
                           "aml workspace create -w ws1 -g rg --endpoint https://aml.example:5000 --exist-ok")])
    c.add_argument("-w", "--workspace-name", required=True, metavar="NAME", help="workspace name")
    c.add_argument("-g", "--resource-group", metavar="RG", help="resource group (default: local)")
    c.add_argument("--subscription-id", metavar="ID", help="subscription id (default: local)")
    c.add_argument("-l", "--location", help="location, recorded (default: local)")
    c.add_argument("--friendly-name", metavar="TEXT", help="display name")
    c.add_argument("--sku", default="basic", help="SKU, recorded (default: basic)")
    c.add_argument("--tags", nargs="+", metavar="KEY=VALUE", help="tags")
    c.add_argument("--exist-ok", action="store_true", help="return the workspace when it already exists")
    c.add_argument("--endpoint", metavar="URL", help="create it on this workspace server (default: "
                   "$AZUREMLCORE_ENDPOINT; none: embedded)")

    c = command(g, "delete", "Delete a workspace with all its experiments, runs, models and files.", _delete,
                examples=[("Delete workspace ws1 without asking.", "aml workspace delete -w ws1 -g rg --yes")])
    c.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
