"""`aml experiment list` (as `az ml experiment list`)."""
from __future__ import annotations

import argparse
from typing import Any

from azuremlcore._cli._base import Subparsers, command, group

SECTION = "Workspaces and runs"
HELP = "Commands to manage experiments."
TOP = {"experiment": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers


def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.experiment import Experiment

    ws = workspace(args)
    return [{"name": e.name, "id": e.id, "archivedTime": e.archived_time, "tags": e.tags}
            for e in Experiment.list(ws, view_type=args.view_type)]


def register(sub: Subparsers) -> None:
    """Add `aml experiment list` to `aml`."""
    g = group(sub, "experiment", HELP)
    c = command(g, "list", "List experiments.", _list,
                table=[("Name", "name"), ("Id", "id"), ("Archived", "archivedTime"), ("Tags", "tags")],
                examples=[("List the experiments of the attached workspace.", "aml experiment list"),
                          ("Names only, archived ones too.",
                           "aml experiment list --view-type All --query \"[].name\"")])
    c.add_argument("--view-type", choices=["ActiveOnly", "ArchivedOnly", "All"], default="ActiveOnly",
                   help="which experiments (default: ActiveOnly)")
