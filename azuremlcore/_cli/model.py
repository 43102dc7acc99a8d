"""`aml model list|show|register|download|delete|deploy` (as `az ml model`).

A model is named by its id `NAME:VERSION` (`-i`), or by `-n NAME` (latest version).
`deploy` starts a local web service (`LocalWebservice`); see `aml service` to list and delete them.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any

from azuremlcore._cli._base import CLIError, Subparsers, command, group, key_values

SECTION = "Assets"
HELP = "Commands to manage registered models."
TOP = {"model": (SECTION, HELP)}  # what `aml --help` lists, without building the parsers
TABLE = [("Name", "name"), ("Version", "version"), ("Framework", "framework"), ("RunId", "runId"),
         ("Created", "createdTime")]


def _filter(pairs: list[str] | None, option: str) -> list[Any] | None:
    """Model.list's tag/property filter: ['key'] or [['key', 'value']]."""
    if not pairs:
        return None
    out: list[Any] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise CLIError(f"{option} {pair!r}: use KEY or KEY=VALUE.", code=2)
        out.append([key, value] if sep else key)
    return out


def _model(args: argparse.Namespace, ws: Any = None) -> Any:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.model import Model

    from azuremlcore.exceptions import ModelNotFoundException

    if not args.model_id and not args.model_name:
        raise CLIError("Name the model: -i NAME:VERSION, or -n NAME [-v VERSION].", code=2)
    ws = ws or workspace(args)
    try:
        if args.model_id:
            return Model(ws, id=args.model_id)
        return Model(ws, name=args.model_name, version=args.version)
    except ModelNotFoundException:
        what = args.model_id or args.model_name + (f" version {args.version}" if args.version else "")
        raise CLIError(f"No model {what} in workspace '{ws.name}': see them with aml model list.") from None


def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.model import Model

    models = Model.list(workspace(args), name=args.model_name, tags=_filter(args.tag, "--tag"),
                        properties=_filter(args.property, "--property"), run_id=args.run_id, latest=args.latest)
    return [m.serialize() for m in models]


def _show(args: argparse.Namespace) -> dict[str, Any]:
    return _model(args).serialize()


def _register(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli import _workspace
    from azuremlcore.model import Model

    if bool(args.model_path) == bool(args.asset_path):
        raise CLIError("Say what to register: -p/--model-path LOCAL-PATH, or --asset-path RUN-FILE with -r RUN-ID "
                       "(or -f a metadata file from aml run submit-script -t).", code=2)
    ws = _workspace.workspace(args)
    common = {"tags": key_values(args.tag, "--tag") or None, "properties": key_values(args.property, "--property")
              or None, "description": args.description, "model_framework": args.model_framework,
              "model_framework_version": args.model_framework_version}
    if args.model_path:
        return Model.register(ws, model_path=args.model_path, model_name=args.name, **common).serialize()
    run_id = args.run_id
    if not run_id and args.run_metadata_file:
        with open(args.run_metadata_file, encoding="utf-8") as fh:
            run_id = json.load(fh).get("runId")
    if not run_id:
        raise CLIError("--asset-path is a file of a run: pass -r RUN-ID (or -f FILE written by aml run submit-script "
                       "-t FILE).", code=2)
    args.run = run_id
    run = _workspace.run(args, ws)
    return run.register_model(model_name=args.name, model_path=args.asset_path, **common).serialize()


def _download(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._progress import spinner

    model = _model(args)
    with spinner(args, f"Downloading model {model.id}"):
        path = model.download(target_dir=args.target_dir, exist_ok=args.overwrite)
    return {"id": model.id, "path": os.path.abspath(path)}


def _delete(args: argparse.Namespace) -> None:
    _model(args).delete()


def _config_file(path: str) -> dict[str, Any]:
    """An inference or deployment configuration file (JSON or YAML), as `az ml model deploy` took them."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)  # JSON is YAML too
    except (OSError, yaml.YAMLError) as exc:
        raise CLIError(f"Cannot read configuration file {path}: {' '.join(str(exc).split())}", code=2) from None
    if not isinstance(data, dict):
        raise CLIError(f"Configuration file {path} must hold a mapping of settings.", code=2)
    return data


def _deploy(args: argparse.Namespace) -> dict[str, Any]:
    from azuremlcore._cli._progress import spinner
    from azuremlcore._cli._workspace import workspace
    from azuremlcore.environment import Environment
    from azuremlcore.model import InferenceConfig, Model
    from azuremlcore.webservice import LocalWebservice

    inference = _config_file(args.inference_config_file) if args.inference_config_file else {}
    deployment = _config_file(args.deploy_config_file) if args.deploy_config_file else {}
    if str(deployment.get("computeType", "local")).lower() != "local":
        raise CLIError(f"Deployment computeType {deployment['computeType']!r} is not available here: only local "
                       "services (computeType: local, port: N).", code=2)
    entry_script = args.entry_script or inference.get("entryScript")
    if not entry_script:
        raise CLIError("Name the scoring script: --entry-script FILE (or entryScript in --ic FILE).", code=2)
    ws = workspace(args)
    env_ref = inference.get("environment") or {}
    env_name = args.environment_name or env_ref.get("name")
    env_version = args.environment_version or env_ref.get("version")
    environment = Environment.get(ws, env_name, version=env_version) if env_name else None
    config = InferenceConfig(entry_script=entry_script, environment=environment,
                             source_directory=args.source_directory or inference.get("sourceDirectory"))
    models = [Model(ws, id=m) if ":" in m else Model(ws, name=m) for m in args.model]
    port = args.port if args.port is not None else deployment.get("port")
    with spinner(args, f"Deploying service {args.name}"):
        service: Any = Model.deploy(ws, args.name, models, config, LocalWebservice.deploy_configuration(port=port),
                               overwrite=args.overwrite)
    return service.serialize()


def _add_model_ref(c: argparse.ArgumentParser) -> None:
    c.add_argument("-i", "--model-id", metavar="NAME:VERSION", help="the model's id")
    c.add_argument("-n", "--model-name", metavar="NAME", help="the model's name (latest version unless -v)")
    c.add_argument("-v", "--version", type=int, metavar="N", help="with -n: this version")


def register(sub: Subparsers) -> None:
    """Add `aml model ...` to `aml`."""
    g = group(sub, "model", HELP)

    c = command(g, "list", "List registered models, newest first.", _list, table=TABLE,
                examples=[("The latest version of each model.", "aml model list --latest"),
                          ("Versions of model demo-model tagged stage=prod.",
                           "aml model list -n demo-model --tag stage=prod")])
    c.add_argument("-n", "--model-name", metavar="NAME", help="only this model")
    c.add_argument("--tag", action="append", metavar="KEY[=VALUE]", help="only models with this tag (repeatable)")
    c.add_argument("--property", action="append", metavar="KEY[=VALUE]", help="only models with this property")
    c.add_argument("-r", "--run-id", metavar="ID", help="only models registered from this run")
    c.add_argument("-l", "--latest", action="store_true", help="only the latest version of each model")

    c = command(g, "show", "Show a registered model.", _show, table=TABLE,
                examples=[("Show version 2 of demo-model.", "aml model show -i demo-model:2"),
                          ("The latest version's number.", "aml model show -n demo-model --query version -o tsv")])
    _add_model_ref(c)

    c = command(g, "register", "Register a model: a local file or folder, or a file of a run.", _register,
                table=TABLE,
                examples=[("Register a run's file.", "aml model register -n demo-model --asset-path outputs/model.pkl "
                                                     "-r exp_1700000000_0a1b2c3d"),
                          ("Register a local file with tags.",
                           "aml model register -n demo-model -p model.pkl --tag stage=dev --model-framework "
                           "ScikitLearn")])
    c.add_argument("-n", "--name", required=True, metavar="NAME", help="model name (a new version if it exists)")
    c.add_argument("-p", "--model-path", metavar="PATH", help="a local file or folder")
    c.add_argument("--asset-path", metavar="RUN-PATH", help="a file or folder of the run, e.g. outputs/model.pkl")
    c.add_argument("-r", "--run-id", metavar="ID", help="with --asset-path: the run")
    c.add_argument("-f", "--run-metadata-file", metavar="FILE",
                   help="with --asset-path: the run named in this file (aml run submit-script -t FILE)")
    c.add_argument("-d", "--description", metavar="TEXT", help="a description")
    c.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")
    c.add_argument("--property", action="append", metavar="KEY=VALUE", help="a property (repeatable)")
    c.add_argument("--model-framework", metavar="NAME", help="ScikitLearn, PyTorch, TensorFlow, Onnx, Custom, ...")
    c.add_argument("--model-framework-version", metavar="VERSION", help="the framework's version")

    c = command(g, "download", "Download a model's files into a folder.", _download,
                table=[("Id", "id"), ("Path", "path")],
                examples=[("Download demo-model:1 into ./models.", "aml model download -i demo-model:1 -t models")])
    _add_model_ref(c)
    c.add_argument("-t", "--target-dir", required=True, metavar="DIR", help="folder to download into")
    c.add_argument("--overwrite", action="store_true", help="replace files already there")

    c = command(g, "delete", "Delete a model version and its files (refused while a service uses it).", _delete,
                examples=[("Delete demo-model:1.", "aml model delete -i demo-model:1")])
    _add_model_ref(c)

    c = command(g, "deploy", "Deploy models as a local web service.", _deploy,
                table=[("Name", "name"), ("State", "state"), ("ScoringUri", "scoringUri"), ("Models", "modelIds")],
                examples=[("Serve demo-model:1 with score.py on port 8890.",
                           "aml model deploy -n demo-svc -m demo-model:1 --entry-script score.py --port 8890"),
                          ("With az ml's configuration files.",
                           "aml model deploy -n demo-svc -m demo-model:1 --ic inferenceconfig.yml "
                           "--dc deploymentconfig.json --overwrite")])
    c.add_argument("-n", "--name", required=True, metavar="NAME", help="service name")
    c.add_argument("-m", "--model", required=True, action="append", metavar="NAME[:VERSION]",
                   help="a model to serve (repeatable)")
    c.add_argument("--ic", "--inference-config-file", dest="inference_config_file", metavar="FILE",
                   help="YAML/JSON with entryScript, sourceDirectory, environment: {name, version}")
    c.add_argument("--dc", "--deploy-config-file", dest="deploy_config_file", metavar="FILE",
                   help="YAML/JSON with computeType: local and port")
    c.add_argument("--entry-script", "--es", dest="entry_script", metavar="FILE",
                   help="the scoring script with init() and run(raw_data)")
    c.add_argument("--source-directory", "--sd", dest="source_directory", metavar="DIR",
                   help="folder copied with the script")
    c.add_argument("-e", "--environment-name", metavar="NAME", help="a registered environment (default: this Python)")
    c.add_argument("--ev", "--environment-version", dest="environment_version", metavar="VERSION",
                   help="with -e: this version (default: the latest)")
    c.add_argument("--port", type=int, metavar="N", help="port on 127.0.0.1 (default: a free one)")
    c.add_argument("--overwrite", action="store_true", help="replace a service of that name")
