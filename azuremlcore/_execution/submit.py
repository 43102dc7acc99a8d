"""Submit a ScriptRunConfig (or a RunConfiguration-based config): create the run, snapshot, start its runner.

Everything that can be wrong with the config (missing folder or script, unknown target, a snapshot
over the size limit) is checked before the run is created, so a bad submit leaves nothing behind.
The runner is a separate process in its own session: the run survives the notebook kernel.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore._execution.slots import LOCAL_TARGETS, compute_spec
from azuremlcore._tracking import run_env
from azuremlcore.exceptions import ComputeTargetException, UserErrorException

if TYPE_CHECKING:
    from azuremlcore.experiment import Experiment
    from azuremlcore.run import Run

RUNNER_LOG = "azureml-logs/runner_log.txt"
MAX_DURATION_DEFAULT = 2592000
# The user's own PYTHONPATH, restored for the script (the runner's has this installation's root in front).
USER_PYTHONPATH = "_AZUREMLCORE_USER_PYTHONPATH"


def working_root() -> Path:
    """Where runs' working folders are made: $AZUREMLCORE_HOME/work/<run id>."""
    from azuremlcore._store import azuremlcore_home

    return azuremlcore_home() / "work"


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def _target_name(target: Any) -> str:
    if target is None:
        return "local"
    if isinstance(target, str):
        return target
    name = getattr(target, "name", None)
    if not isinstance(name, str):
        raise UserErrorException(f"compute_target must be 'local', a compute target name or a ComputeTarget, "
                                 f"got {target!r}.")
    return name


def _stringify(arg: Any) -> Any:
    """Command-line text for a plain argument; objects that resolve per run are kept for later."""
    if hasattr(arg, "_resolve_for_run"):
        return arg
    if isinstance(arg, (str, int, float, bool)):
        return str(arg)
    if isinstance(arg, os.PathLike):
        return os.fspath(arg)
    raise UserErrorException(
        f"Unsupported argument {arg!r} ({type(arg).__name__}): arguments must be strings, numbers, or dataset/"
        "datastore references such as dataset.as_mount().")


def _read_config(config: Any) -> dict[str, Any]:
    """What to run, from a ScriptRunConfig, or a RunConfiguration used directly."""
    rc = getattr(config, "run_config", None)
    if rc is None and hasattr(config, "environment") and hasattr(config, "target"):
        rc = config  # a bare RunConfiguration (script and arguments are its own)
    if rc is None and not hasattr(config, "script") and not hasattr(config, "command"):
        raise UserErrorException(
            f"Experiment.submit got a {type(config).__name__}; submit a ScriptRunConfig(source_directory=..., "
            "script=..., compute_target=..., environment=...).")
    source = _first(getattr(config, "source_directory", None), ".")
    script = _first(getattr(config, "script", None), getattr(rc, "script", None))
    command = _first(getattr(config, "command", None), getattr(rc, "command", None)) or None
    arguments = _first(getattr(config, "arguments", None), getattr(rc, "arguments", None)) or []
    target = _first(getattr(rc, "target", None) if rc is not None else None, getattr(config, "compute_target", None))
    environment = _first(getattr(rc, "environment", None) if rc is not None else None,
                         getattr(config, "environment", None))
    env_vars = dict(getattr(rc, "environment_variables", None) or {}) if rc is not None else {}
    max_seconds = _first(getattr(rc, "max_run_duration_seconds", None) if rc is not None else None,
                         getattr(config, "max_run_duration_seconds", None), MAX_DURATION_DEFAULT)
    node_count = _first(getattr(rc, "node_count", None) if rc is not None else None, 1)
    if isinstance(command, (list, tuple)):
        command = [str(c) for c in command]
    elif command is not None and not isinstance(command, str):
        raise UserErrorException(f"command must be a string or a list of strings, got {command!r}.")
    if not script and not command:
        raise UserErrorException("Nothing to run: give ScriptRunConfig a script= (e.g. 'train.py') or a command=.")
    if not isinstance(arguments, (list, tuple)):
        raise UserErrorException(f"arguments must be a list such as ['--alpha', 0.1], got {arguments!r}.")
    try:
        max_seconds = int(max_seconds)
        if max_seconds <= 0:
            raise ValueError
    except (TypeError, ValueError):
        raise UserErrorException(f"max_run_duration_seconds must be a positive number of seconds, "
                                 f"got {max_seconds!r}.") from None
    return {"source": source, "script": script, "command": command, "arguments": [_stringify(a) for a in arguments],
            "target": _target_name(target), "environment": environment, "env_vars": env_vars,
            "max_seconds": max_seconds, "node_count": int(node_count or 1)}


def _default_environment() -> Any:
    from azuremlcore.environment import Environment

    return Environment("default-environment")


def _check(experiment: "Experiment", c: dict[str, Any]) -> dict[str, Any] | None:
    """Validate the folder, script and target; returns the target's spec (None for local)."""
    src = Path(c["source"])
    if not src.is_dir():
        raise UserErrorException(f"source_directory {str(src)!r} is not a folder: pass the folder that holds "
                                 "your script (e.g. ScriptRunConfig(source_directory='src', script='train.py')).")
    if c["script"] and not c["command"]:
        script = Path(c["script"])
        if script.is_absolute() or ".." in script.parts:
            raise UserErrorException(f"script {c['script']!r} must be a path relative to source_directory.")
        if not (src / script).is_file():
            raise UserErrorException(f"Script {c['script']!r} not found in source_directory {str(src.resolve())!r}.")
    if c["target"] in LOCAL_TARGETS:
        return None
    ws = experiment.workspace
    spec = compute_spec(ws._store, ws._ws_id, c["target"])
    if spec is None:
        raise ComputeTargetException(
            f"Compute target '{c['target']}' does not exist in workspace '{ws.name}': create it with "
            f"ComputeTarget.create(ws, '{c['target']}', AmlCompute.provisioning_configuration(max_nodes=...)), "
            "or use compute_target='local'.")
    return spec


def _env_dict(environment: Any) -> dict[str, Any]:
    if not hasattr(environment, "_to_dict"):
        raise UserErrorException(f"environment must be an azuremlcore Environment, got {type(environment).__name__}.")
    return environment._to_dict()


def submit_config(experiment: "Experiment", config: Any, tags: dict | None = None, parent: "Run | None" = None,
                  **kwargs: Any) -> "Run":
    """Create a script run for `config`, store its snapshot, start its detached runner, return the run at once."""
    from azuremlcore._snapshot import make_snapshot
    from azuremlcore.run import SCRIPT_RUN_TYPE, Run, new_run_id

    c = _read_config(config)
    _check(experiment, c)
    if experiment.workspace._endpoint and any(hasattr(a, "_resolve_for_run") for a in c["arguments"]):
        # Such references resolve to paths on the machine that runs the script: the server's host here.
        raise UserErrorException(
            "Dataset and datastore arguments (as_mount(), as_download(), path()) are not supported yet for runs "
            "on a workspace server. Pass the dataset's name instead and read it in the script, e.g. "
            "Dataset.get_by_name(Run.get_context().experiment.workspace, name).download().")
    environment = c["environment"] if c["environment"] is not None else _default_environment()
    env_dict = _env_dict(environment)
    from azuremlcore._environments._materialise import preflight

    # What can never build or run here is refused now, before a run exists (a server builds on its own host).
    preflight(environment, on_this_machine=not experiment.workspace._endpoint)
    ws = experiment.workspace
    fd, zip_path = tempfile.mkstemp(suffix=".zip")
    os.close(fd)
    try:
        make_snapshot(c["source"], zip_path)  # size limit checked before any run exists
        run_id = kwargs.pop("run_id", None) or new_run_id(experiment.name)
        workdir = working_root() / run_id
        definition = {"script": c["script"], "command": c["command"], "arguments": [],
                      "sourceDirectoryDataStore": None, "framework": "Python", "communicator": "None",
                      "target": c["target"], "environment": env_dict, "environmentVariables": c["env_vars"],
                      "maxRunDurationSeconds": c["max_seconds"], "nodeCount": c["node_count"],
                      "sourceDirectory": str(Path(c["source"]).resolve())}
        run = Run._start(experiment, tags=tags, parent=parent, run_id=run_id, run_type=SCRIPT_RUN_TYPE,
                         status="NotStarted", target=c["target"], outputs="./outputs",
                         display_name=kwargs.pop("display_name", None),
                         details={"runDefinition": definition, "_workingDirectory": str(workdir)})
        try:
            snapshot_id = str(uuid.uuid4())
            ws._artifacts.put(f"{ws._ws_id}/snapshots", f"{snapshot_id}.zip", zip_path)
            if not ws._endpoint:  # a server run gets its working folder on the server's host
                workdir.mkdir(parents=True, exist_ok=True)
            definition["arguments"] = [a._resolve_for_run(run, str(workdir)) if hasattr(a, "_resolve_for_run") else a
                                       for a in c["arguments"]]
            definition["arguments"] = [str(a) for a in definition["arguments"]]
            ws._store.update_run(run.id, status="Queued", details={"snapshotId": snapshot_id,
                                                                   "runDefinition": definition})
            if ws._endpoint:
                from azuremlcore._execution.remote import start_on_server

                start_on_server(run)
            else:
                _launch(run)
        except BaseException as exc:
            run.fail(error_details=f"The run could not be started: {exc}", error_code="SystemError")
            raise
    finally:
        os.unlink(zip_path)
    run._refresh()
    return run


def _launch(run: "Run") -> None:
    """Start the runner in a new session (it outlives this process) and record its pid."""
    from azuremlcore._store import azuremlcore_home

    ws = run.experiment.workspace
    env = dict(os.environ)
    # A notebook kernel's inline plotting backend exists only in the kernel's env: a job importing
    # matplotlib would fail on it ("not a valid value for backend"), as it never would on Azure.
    if env.get("MPLBACKEND", "").startswith("module://matplotlib_inline"):
        del env["MPLBACKEND"]
    env[run_env.HOME] = str(azuremlcore_home())
    env["PYTHONUNBUFFERED"] = "1"
    env[USER_PYTHONPATH] = os.environ.get("PYTHONPATH", "")
    # The runner imports this very installation, even when it is not installed (a source tree on sys.path).
    pkg_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    from azuremlcore._store.artifacts import FileArtifactStore

    if isinstance(ws._artifacts, FileArtifactStore):  # embedded: the runner's own log is a run file
        log_path = ws._artifacts.local_path(run._container, RUNNER_LOG)
    else:  # a workspace server: keep it beside the run's local working folder
        log_path = working_root() / f"{run.id}.runner.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "azuremlcore._execution.runner", "--run-id", run.id,
           "--subscription-id", ws.subscription_id, "--resource-group", ws.resource_group, "--workspace-name", ws.name]
    if ws._endpoint:
        cmd += ["--endpoint", ws._endpoint]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(azuremlcore_home()),
            start_new_session=True, close_fds=True)
    ws._store.update_run(run.id, details={"_runner": {"pid": proc.pid, "pgid": proc.pid}})
    # Reap the runner when it ends, so its pid does not linger as a zombie while this process lives.
    threading.Thread(target=proc.wait, name=f"azuremlcore-reap-{proc.pid}", daemon=True).start()
