"""`aml sync`: upload offline runs and unsent spools into a workspace (as `wandb sync` does for W&B)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from azuremlcore._cli._base import Subparsers, command

HELP = "Upload offline runs and what runs could not send (their spools) into a workspace."
TOP = {"sync": ("Workspaces and runs", HELP)}  # what `aml --help` lists, without building the parsers

DESCRIPTION = HELP + """

Offline runs are kept in $AZUREML_OFFLINE_DIR by scripts run outside a job; runs logging to a
workspace server keep what the server has not stored yet in $AZUREMLCORE_SPOOL_DIR (default
$AZUREMLCORE_HOME/spool, on the machine the script ran on). Each record is uploaded once: running
aml sync again uploads only what is new. Offline runs become runs of the experiment -e (same run id);
spools of runs on another server, or still being written, are left alone."""


def _sync(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._base import CLIError
    from azuremlcore._cli._workspace import workspace
    from azuremlcore._tracking.spool import OFFLINE_DIR_ENV, spool_root
    from azuremlcore._tracking.spool_sync import no_adopt, sync

    if args.spool_path:
        roots = [Path(p) for p in args.spool_path]
    else:
        roots = [spool_root()] + ([Path(os.environ[OFFLINE_DIR_ENV])] if os.environ.get(OFFLINE_DIR_ENV) else [])
    missing = [str(r) for r in roots if args.spool_path and not r.is_dir()]
    if missing:
        raise CLIError(f"No such folder: {', '.join(missing)}. Pass the folder the runs were kept in "
                       f"(${OFFLINE_DIR_ENV} of the script), e.g. aml sync --path ./offline -w WS -e EXP.")
    args.path = "."  # the workspace config file is looked for from the current folder
    no_adopt()  # opening the workspace must not start replaying the spools this command reports on
    ws = workspace(args)
    experiment = args.experiment_name or _attached_experiment(args)
    return sync(ws._handle, experiment, roots)


def _attached_experiment(args: argparse.Namespace) -> str | None:
    from azuremlcore._cli._workspace import EXPERIMENT_KEY, config_file

    file = config_file(args)
    if file is None:
        return None
    import json

    try:
        return json.loads(Path(file).read_text()).get(EXPERIMENT_KEY)
    except (OSError, ValueError):
        return None


def register(sub: Subparsers) -> None:
    """Add `aml sync` to `aml`."""
    c = command(sub, "sync", HELP, _sync, workspace=False, description=DESCRIPTION,
                table=[("RunId", "runId"), ("Points", "points"), ("Attributes", "attributes"), ("Files", "files"),
                       ("Status", "status"), ("Result", "result")],
                examples=[("Upload the offline runs a script kept in ./offline into experiment exp of workspace ws1.",
                           "aml sync --path ./offline -w ws1 -e exp"),
                          ("Upload what runs on this machine could not send to the attached workspace's server.",
                           "aml sync")])
    g = c.add_argument_group("Workspace Arguments")
    g.add_argument("-w", "--workspace-name", metavar="NAME",
                   help="workspace name (default: the one in .azureml/config.json of this folder or a parent)")
    g.add_argument("-g", "--resource-group", metavar="RG", help="resource group of the workspace")
    g.add_argument("--subscription-id", metavar="ID", help="subscription id of the workspace")
    g.add_argument("--endpoint", metavar="URL",
                   help="a workspace server (default: the config file's, else $AZUREMLCORE_ENDPOINT; none: embedded)")
    c.add_argument("--path", dest="spool_path", action="append", metavar="DIR",
                   help="a folder of offline runs or spools (repeatable; default: the spool folder and "
                        "$AZUREML_OFFLINE_DIR)")
    c.add_argument("-e", "--experiment-name", metavar="NAME",
                   help="experiment that offline runs go into (default: the attached folder's)")
