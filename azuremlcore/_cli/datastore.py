"""`aml datastore list|show|upload|download|set-default` (as `az ml datastore`)."""
from __future__ import annotations

import argparse
import os
from typing import Any

from azuremlcore._cli._base import Subparsers, command, group

SECTION = "Assets"
HELP = "Commands to manage datastores and move files in and out of them."
TOP = {"datastore": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers
TABLE = [("Name", "name"), ("Type", "datastoreType"), ("Account", "accountName"), ("Container", "containerName"),
         ("Default", "isDefault")]


def _row(ds: Any, default_name: str) -> dict[str, Any]:
    # Public attributes only: account keys and SAS tokens are never shown.
    return {"name": ds.name, "datastoreType": ds.datastore_type, "accountName": ds.account_name,
            "containerName": ds.container_name, "protocol": ds.protocol, "endpoint": ds.endpoint,
            "credentialType": ds.credential_type, "isDefault": ds.name == default_name}


def _datastore(args: argparse.Namespace) -> tuple[Any, Any]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.datastore import Datastore

    ws = workspace(args)
    return ws, (Datastore.get(ws, args.name) if args.name else ws.get_default_datastore())


def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.datastore import Datastore

    ws = workspace(args)
    default = ws.get_default_datastore().name
    return [_row(ds, default) for ds in Datastore.list(ws)]


def _show(args: argparse.Namespace) -> dict[str, Any]:
    ws, ds = _datastore(args)
    return _row(ds, ws.get_default_datastore().name)


def _upload(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._progress import transfer_bars

    _, ds = _datastore(args)
    with transfer_bars(args) as shown:
        show = shown and not args.hide_progress
        if os.path.isfile(args.src_path):
            ds.upload_files([args.src_path], target_path=args.target_path, overwrite=args.overwrite,
                            show_progress=show)
        else:
            ds.upload(args.src_path, target_path=args.target_path, overwrite=args.overwrite, show_progress=show)
    return {"datastore": ds.name, "source": os.path.abspath(args.src_path), "targetPath": args.target_path or ""}


def _download(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._progress import transfer_bars

    _, ds = _datastore(args)
    with transfer_bars(args) as shown:
        count = ds.download(args.target_path, prefix=args.prefix, overwrite=args.overwrite,
                            show_progress=shown and not args.hide_progress)
    return {"datastore": ds.name, "prefix": args.prefix or "", "targetPath": os.path.abspath(args.target_path),
            "downloaded": count}


def _set_default(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._workspace import workspace

    ws = workspace(args)
    ws.set_default_datastore(args.name)
    return _row(ws.get_default_datastore(), args.name)


def register(sub: Subparsers) -> None:
    """Add `aml datastore ...` to `aml`."""
    g = group(sub, "datastore", HELP)
    name_opt: dict[str, Any] = {"metavar": "NAME",
                                "help": "datastore name (default: the workspace's default datastore)"}

    command(g, "list", "List datastores.", _list, table=TABLE,
            examples=[("List the datastores.", "aml datastore list")])

    c = command(g, "show", "Show a datastore (never its credentials).", _show, table=TABLE,
                examples=[("Show the default datastore.", "aml datastore show"),
                          ("Show a registered blob container.", "aml datastore show -n mycontainer -o json")])
    c.add_argument("-n", "--name", **name_opt)

    c = command(g, "upload", "Upload a local folder (or file) to a datastore.", _upload,
                table=[("Datastore", "datastore"), ("Source", "source"), ("TargetPath", "targetPath")],
                examples=[("Upload ./data to data/v1 of the default datastore.",
                           "aml datastore upload -p data -u data/v1"),
                          ("Upload one file, replacing what is there.",
                           "aml datastore upload -n mycontainer -p train.csv -u data --overwrite")])
    c.add_argument("-n", "--name", **name_opt)
    c.add_argument("-p", "--src-path", required=True, metavar="PATH", help="local folder or file to upload")
    c.add_argument("-u", "--target-path", metavar="PATH", help="path in the datastore (default: its root)")
    c.add_argument("--overwrite", action="store_true", help="replace files already in the datastore")
    c.add_argument("--hide-progress", action="store_true", help="no progress bar")

    c = command(g, "download", "Download files from a datastore.", _download,
                table=[("Datastore", "datastore"), ("Prefix", "prefix"), ("TargetPath", "targetPath"),
                       ("Downloaded", "downloaded")],
                examples=[("Download data/v1 of the default datastore into ./copy.",
                           "aml datastore download -d copy --prefix data/v1")])
    c.add_argument("-n", "--name", **name_opt)
    c.add_argument("-d", "--target-path", required=True, metavar="DIR", help="local folder to download into")
    c.add_argument("--prefix", metavar="PATH", help="only files under this path of the datastore")
    c.add_argument("--overwrite", action="store_true", help="replace local files already there")
    c.add_argument("--hide-progress", action="store_true", help="no progress bar")

    c = command(g, "set-default", "Make a datastore the workspace's default.", _set_default, table=TABLE,
                examples=[("Make mycontainer the default datastore.", "aml datastore set-default -n mycontainer")])
    c.add_argument("-n", "--name", required=True, metavar="NAME", help="datastore name")
