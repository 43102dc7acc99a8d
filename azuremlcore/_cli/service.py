"""`aml service list|show|delete`: the local web services `aml model deploy` starts (as `az ml service`)."""
from __future__ import annotations

import argparse
from typing import Any

from azuremlcore._cli._base import Subparsers, command, group

SECTION = "Assets"
HELP = "Commands to manage local web services (made by aml model deploy)."
TOP = {"service": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers
TABLE = [("Name", "name"), ("State", "state"), ("ScoringUri", "scoringUri"), ("Models", "modelIds")]


def _service(args: argparse.Namespace) -> Any:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.webservice import Webservice

    return Webservice(workspace(args), args.name)


def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.webservice import Webservice

    return [s.serialize() for s in Webservice.list(workspace(args), model_name=args.model_name)]


def _show(args: argparse.Namespace) -> dict[str, Any]:
    return _service(args).serialize()


def _delete(args: argparse.Namespace) -> None:
    _service(args).delete()


def register(sub: Subparsers) -> None:
    """Add `aml service ...` to `aml`."""
    g = group(sub, "service", HELP)
    c = command(g, "list", "List web services.", _list, table=TABLE,
                examples=[("List the services.", "aml service list")])
    c.add_argument("--model-name", metavar="NAME", help="only services serving this model")
    c = command(g, "show", "Show a web service.", _show, table=TABLE,
                examples=[("Its scoring URI.", "aml service show -n demo-svc --query scoringUri -o tsv")])
    c.add_argument("-n", "--name", required=True, metavar="NAME", help="service name")
    c = command(g, "delete", "Stop and delete a web service.", _delete,
                examples=[("Delete a service.", "aml service delete -n demo-svc")])
    c.add_argument("-n", "--name", required=True, metavar="NAME", help="service name")
