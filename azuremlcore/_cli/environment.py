"""`aml environment list|show|register|download|scaffold` (as `az ml environment`).

An environment on disk is the folder `Environment.save_to_directory` writes: `azureml_environment.json`
and `conda_dependencies.yml` (edit the YAML, then register the folder).
"""
from __future__ import annotations

import argparse
import os
from typing import Any

from azuremlcore._cli._base import Subparsers, command, group

SECTION = "Assets"
HELP = "Commands to manage environments (the Python packages a run gets)."
TOP = {"environment": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers
TABLE = [("Name", "name"), ("Version", "version"), ("UserManaged", "python.userManagedDependencies")]


def _get(args: argparse.Namespace) -> Any:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.environment import Environment

    return Environment.get(workspace(args), args.name, version=args.version)


def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.environment import Environment

    return [env.serialize() for env in Environment.list(workspace(args)).values()]


def _show(args: argparse.Namespace) -> dict[str, Any]:
    return _get(args).serialize()


def _register(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.environment import Environment

    return Environment.load_from_directory(args.directory).register(workspace(args)).serialize()


def _download(args: argparse.Namespace) -> dict[str, Any]:
    env = _get(args)
    env.save_to_directory(args.directory, overwrite=args.overwrite)
    return {"name": env.name, "version": env.version, "directory": os.path.abspath(args.directory)}


def _scaffold(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore.environment import Environment

    Environment(args.name).save_to_directory(args.directory, overwrite=args.overwrite)
    return {"name": args.name, "version": None, "directory": os.path.abspath(args.directory)}


def register(sub: Subparsers) -> None:
    """Add `aml environment ...` to `aml`."""
    g = group(sub, "environment", HELP)
    name_arg: dict[str, Any] = {"metavar": "NAME", "required": True, "help": "environment name"}
    dir_table = [("Name", "name"), ("Version", "version"), ("Directory", "directory")]

    command(g, "list", "List environments: the registered ones (latest version) and the curated names.", _list,
            table=TABLE, examples=[("Names of the registered and curated environments.",
                                    "aml environment list --query \"[].name\" -o tsv")])

    c = command(g, "show", "Show an environment's definition.", _show, table=TABLE,
                examples=[("Show version 2 of environment sklearn-env.",
                           "aml environment show -n sklearn-env -v 2 -o yaml")])
    c.add_argument("-n", "--name", **name_arg)
    c.add_argument("-v", "--version", metavar="VERSION", help="a version (default: the latest)")

    c = command(g, "register", "Register the environment saved in a folder (a new version when it changed).",
                _register, table=TABLE,
                examples=[("Register the environment in folder my-env.", "aml environment register -d my-env")])
    c.add_argument("-d", "--directory", required=True, metavar="DIR",
                   help="folder with azureml_environment.json and conda_dependencies.yml")

    c = command(g, "download", "Write a registered environment into a folder (to edit and register again).",
                _download, table=dir_table,
                examples=[("Download sklearn-env into folder my-env.",
                           "aml environment download -n sklearn-env -d my-env")])
    c.add_argument("-n", "--name", **name_arg)
    c.add_argument("-v", "--version", metavar="VERSION", help="a version (default: the latest)")
    c.add_argument("-d", "--directory", required=True, metavar="DIR", help="folder to write it into")
    c.add_argument("--overwrite", action="store_true", help="replace environment files already there")

    c = command(g, "scaffold", "Write a new environment's files into a folder, to edit and register.", _scaffold,
                workspace=False, table=dir_table,
                examples=[("Start environment my-env in folder my-env.",
                           "aml environment scaffold -n my-env -d my-env")])
    c.add_argument("-n", "--name", **name_arg)
    c.add_argument("-d", "--directory", required=True, metavar="DIR", help="folder to write it into")
    c.add_argument("--overwrite", action="store_true", help="replace environment files already there")
