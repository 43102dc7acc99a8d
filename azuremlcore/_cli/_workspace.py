"""Which workspace a command works on, found as the SDK finds it.

`-w NAME [-g RG] [--subscription-id ID]` names it (`Workspace.get`); otherwise the nearest config
file from `--path` up (`Workspace.from_config`), which also says whether it is embedded or on a
server (its `endpoint`). `--endpoint URL` stands for `$AZUREMLCORE_ENDPOINT`; a server's credential is
the one `aml login` saved (or `$AZUREMLCORE_TOKEN`).
"""
from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from azuremlcore._cli._base import CLIError

if TYPE_CHECKING:
    from azuremlcore.experiment import Experiment
    from azuremlcore.workspace import Workspace

# `aml folder attach -e EXP` keeps the default experiment beside the workspace keys in the config file.
EXPERIMENT_KEY = "experiment_name"


def use_endpoint(args: argparse.Namespace) -> None:
    """Make `--endpoint` the SDK's default server for this process (what $AZUREMLCORE_ENDPOINT does)."""
    if getattr(args, "endpoint", None):
        os.environ["AZUREMLCORE_ENDPOINT"] = args.endpoint


def config_file(args: argparse.Namespace) -> Any:
    """The config file `Workspace.from_config(path)` would read, or None when there is none."""
    from azuremlcore._config import find_config
    from azuremlcore.exceptions import UserErrorException

    try:
        return find_config(args.path)
    except UserErrorException:
        return None


def workspace(args: argparse.Namespace) -> "Workspace":
    """The workspace the command's arguments name."""
    from azuremlcore.workspace import Workspace

    from azuremlcore.exceptions import ProjectSystemException

    use_endpoint(args)
    where = f" on {os.environ['AZUREMLCORE_ENDPOINT']}" if os.environ.get("AZUREMLCORE_ENDPOINT") else ""
    if args.workspace_name:
        try:
            return Workspace.get(args.workspace_name, subscription_id=args.subscription_id,
                                 resource_group=args.resource_group)
        except ProjectSystemException:
            rg = f" in resource group '{args.resource_group}'" if args.resource_group else ""
            raise CLIError(f"No workspace '{args.workspace_name}'{rg}{where}: list them with aml workspace list, or "
                           f"create it with aml workspace create -w {args.workspace_name} -g RG.") from None
    file = config_file(args)
    if file is None:
        raise CLIError(f"No workspace: no .azureml/config.json in {os.path.abspath(args.path)} or its parents. "
                       "Pass -w NAME [-g RG], or attach the folder first: aml folder attach -w NAME [-g RG].")
    try:
        return Workspace.from_config(path=str(file))
    except ProjectSystemException:
        raise CLIError(f"The workspace named in {file} does not exist{where}: create it with aml workspace create "
                       "-w NAME -g RG, or attach the folder to another one with aml folder attach -w NAME.") from None


def default_experiment(args: argparse.Namespace) -> str | None:
    """`-e`, else the experiment `aml folder attach -e` recorded, else None."""
    if getattr(args, "experiment_name", None):
        return str(args.experiment_name)
    file = config_file(args)
    if file is not None:
        from azuremlcore._config import read_config

        name = (read_config(file).model_extra or {}).get(EXPERIMENT_KEY)
        if name:
            return str(name)
    return None


def experiment_name(args: argparse.Namespace) -> str:
    """`-e`, else the experiment `aml folder attach -e` recorded; a CLIError when there is neither."""
    name = default_experiment(args)
    if name is None:
        raise CLIError("No experiment: pass -e/--experiment-name NAME (or record one with aml folder attach -e NAME).",
                       code=2)
    return name


def experiment(args: argparse.Namespace, ws: "Workspace") -> "Experiment":
    """The experiment `-e` (or the attached folder) names; it must exist for commands that read it."""
    from azuremlcore.experiment import Experiment

    name = experiment_name(args)
    found = Experiment.list(ws, experiment_name=name, view_type="All")
    if not found:
        raise CLIError(f"No experiment '{name}' in workspace '{ws.name}'. See them with: aml experiment list.")
    return found[0]


def run(args: argparse.Namespace, ws: "Workspace") -> Any:
    """The run `-r ID` names (in any experiment of the workspace)."""
    from azuremlcore._store.errors import NotFoundError

    try:
        return ws.get_run(args.run)
    except NotFoundError:
        raise CLIError(f"No run '{args.run}' in workspace '{ws.name}'. See the runs with: aml run list.") from None
