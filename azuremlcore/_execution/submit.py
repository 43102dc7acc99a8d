"""Submit a job: check it, snapshot its folder, create its run and hand it to the executor of its target.

The public layer reads the user's config (a ScriptRunConfig, or a RunConfiguration used directly)
into a `JobConfig` with `job_config`, and passes the environment as its definition. Everything that
can be wrong with the job (missing folder or script, unknown target, an environment this machine
cannot build, a snapshot over the size limit) is checked before the run is created, so a bad submit
leaves nothing behind. Arguments that resolve per run (datasets, outputs) are resolved by the
caller's `resolve_arguments`, once the run and its working folder exist.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from azuremlcore._execution.local import RUNNER_LOG, USER_PYTHONPATH, working_root  # noqa: F401 - also used from here
from azuremlcore._execution.slots import LOCAL_TARGETS, compute_spec
from azuremlcore.exceptions import ComputeTargetException, UserErrorException

if TYPE_CHECKING:
    from azuremlcore._store.handle import WorkspaceHandle
    from azuremlcore._store.records import ExperimentRecord, RunRecord

MAX_DURATION_DEFAULT = 2592000
# (the new run's record, its working folder) -> the arguments as the script gets them.
ArgumentResolver = Callable[["RunRecord", str], "list[Any]"]


@dataclass
class JobConfig:
    """What to run: a script (or command) with arguments in a source folder, on a target, with limits.

    `arguments` holds text, or objects that resolve per run (they have ``_resolve_for_run``).
    """

    source: str
    script: str | None
    command: str | list[str] | None
    arguments: list[Any]
    target: str
    env_vars: dict[str, str] = field(default_factory=dict)
    max_seconds: int = MAX_DURATION_DEFAULT
    node_count: int = 1
    process_count: int = 1  # all processes of a distributed job (PyTorchConfiguration, MpiConfiguration)

    @property
    def resolves_per_run(self) -> bool:
        """Whether some argument is a dataset or datastore reference resolved for each run."""
        return any(hasattr(a, "_resolve_for_run") for a in self.arguments)


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


def job_config(*, source: Any, script: Any, command: Any, arguments: Any, target: Any, env_vars: Any,
               max_seconds: Any, node_count: Any, process_count: Any = None) -> JobConfig:
    """Check the values read from a config and make the job; UserErrorException saying what to change."""
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
    return JobConfig(source=source, script=script, command=command, arguments=[_stringify(a) for a in arguments],
                     target=_target_name(target), env_vars=dict(env_vars or {}), max_seconds=max_seconds,
                     node_count=int(node_count or 1), process_count=int(process_count or node_count or 1))


def check(ws: "WorkspaceHandle", job: JobConfig) -> dict[str, Any] | None:
    """Validate the folder, script and target (and what a server can run); returns the target's spec (None: local)."""
    src = Path(job.source)
    if not src.is_dir():
        raise UserErrorException(f"source_directory {str(src)!r} is not a folder: pass the folder that holds "
                                 "your script (e.g. ScriptRunConfig(source_directory='src', script='train.py')).")
    if job.script and not job.command:
        script = Path(job.script)
        if script.is_absolute() or ".." in script.parts:
            raise UserErrorException(f"script {job.script!r} must be a path relative to source_directory.")
        if not (src / script).is_file():
            raise UserErrorException(f"Script {job.script!r} not found in source_directory {str(src.resolve())!r}.")
    spec = None
    if job.target not in LOCAL_TARGETS:
        spec = compute_spec(ws.store, ws.id, job.target)
        if spec is None:
            raise ComputeTargetException(
                f"Compute target '{job.target}' does not exist in workspace '{ws.name}': create it with "
                f"ComputeTarget.create(ws, '{job.target}', AmlCompute.provisioning_configuration(max_nodes=...)), "
                "or use compute_target='local'.")
        if spec.get("computeType") == "Ray":
            from azuremlcore._execution.ray import RayClusterError, check_target

            try:
                check_target(ws, spec)
            except RayClusterError as exc:
                raise ComputeTargetException(str(exc)) from None
    if ws.endpoint and job.resolves_per_run:
        # Such references resolve to paths on the machine that runs the script: the server's host here.
        raise UserErrorException(
            "Dataset and datastore arguments (as_mount(), as_download(), path()) are not supported yet for runs "
            "on a workspace server. Pass the dataset's name instead and read it in the script, e.g. "
            "Dataset.get_by_name(Run.get_context().experiment.workspace, name).download().")
    return spec


def submit(ws: "WorkspaceHandle", experiment: "ExperimentRecord", job: JobConfig, environment: dict[str, Any], *,
           tags: dict | None = None, parent_id: str | None = None, run_id: str | None = None,
           display_name: str | None = None, resolve_arguments: ArgumentResolver | None = None) -> "RunRecord":
    """Create the script run of a checked job, store its snapshot, start it; returns the run's record at once.

    `environment` is the environment's definition (what `Environment._to_dict()` gives).
    """
    from azuremlcore._environments._materialise import preflight
    from azuremlcore._execution.executors import executor_for
    from azuremlcore._snapshot import make_snapshot
    from azuremlcore._tracking.run_records import SCRIPT_RUN_TYPE, create_run, fail_run, new_run_id

    # What can never build or run here is refused now, before a run exists (a server or a cluster builds
    # on its own hosts).
    spec = None if job.target in LOCAL_TARGETS else compute_spec(ws.store, ws.id, job.target)
    on_ray = (spec or {}).get("computeType") == "Ray"
    elsewhere = bool(ws.endpoint) or on_ray
    if not on_ray:  # a Ray cluster builds the environment itself (conda too, where it has conda) and says why not
        preflight(environment, on_this_machine=not elsewhere)
    fd, zip_path = tempfile.mkstemp(suffix=".zip")
    os.close(fd)
    try:
        make_snapshot(job.source, zip_path)  # size limit checked before any run exists
        run_id = run_id or new_run_id(experiment.name)
        workdir = working_root() / run_id
        definition = {"script": job.script, "command": job.command, "arguments": [],
                      "sourceDirectoryDataStore": None, "framework": "Python", "communicator": "None",
                      "target": job.target, "environment": environment, "environmentVariables": job.env_vars,
                      "maxRunDurationSeconds": job.max_seconds, "nodeCount": job.node_count,
                      "processCount": job.process_count,
                      "sourceDirectory": str(Path(job.source).resolve())}
        record = create_run(ws.store, ws.id, experiment.id, run_id, run_type=SCRIPT_RUN_TYPE, status="NotStarted",
                            target=job.target, parent_id=parent_id, display_name=display_name, tags=tags,
                            details={"runDefinition": definition, "_workingDirectory": str(workdir)})
        try:
            snapshot_id = str(uuid.uuid4())
            ws.artifacts.put(ws.snapshots, f"{snapshot_id}.zip", zip_path)
            if not elsewhere:  # a server or cluster run gets its working folder on its own host
                workdir.mkdir(parents=True, exist_ok=True)
            arguments = resolve_arguments(record, str(workdir)) if resolve_arguments else job.arguments
            definition["arguments"] = [str(a) for a in arguments]
            ws.store.update_run(run_id, status="Queued", details={"snapshotId": snapshot_id,
                                                                  "runDefinition": definition})
            executor_for(ws, job.target).start(ws, run_id)
        except BaseException as exc:
            fail_run(ws.store, run_id, f"The run could not be started: {exc}", code="SystemError")
            raise
    finally:
        os.unlink(zip_path)
    return ws.store.get_run(run_id)
