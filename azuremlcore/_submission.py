"""`Experiment.submit` and `Run.submit_child`: read the user's config, submit it below, wrap the run.

The config objects (ScriptRunConfig, RunConfiguration, Environment, dataset arguments) are this
layer's; `azuremlcore._execution.submit` gets a plain `JobConfig`, the environment's definition and
a function that resolves dataset arguments for the new run, and returns the run's record.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore._execution.submit import JobConfig
    from azuremlcore._store.records import RunRecord
    from azuremlcore.experiment import Experiment
    from azuremlcore.run import Run


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def read_config(config: Any) -> tuple["JobConfig", Any]:
    """The job a ScriptRunConfig (or a RunConfiguration used directly) describes, and its environment (or None)."""
    from azuremlcore._execution.submit import MAX_DURATION_DEFAULT, job_config

    rc = getattr(config, "run_config", None)
    if rc is None and hasattr(config, "environment") and hasattr(config, "target"):
        rc = config  # a bare RunConfiguration (script and arguments are its own)
    if rc is None and not hasattr(config, "script") and not hasattr(config, "command"):
        raise UserErrorException(
            f"Experiment.submit got a {type(config).__name__}; submit a ScriptRunConfig(source_directory=..., "
            "script=..., compute_target=..., environment=...).")
    job = job_config(
        source=_first(getattr(config, "source_directory", None), "."),
        script=_first(getattr(config, "script", None), getattr(rc, "script", None)),
        command=_first(getattr(config, "command", None), getattr(rc, "command", None)) or None,
        arguments=_first(getattr(config, "arguments", None), getattr(rc, "arguments", None)) or [],
        target=_first(getattr(rc, "target", None) if rc is not None else None, getattr(config, "compute_target", None)),
        env_vars=dict(getattr(rc, "environment_variables", None) or {}) if rc is not None else {},
        max_seconds=_first(getattr(rc, "max_run_duration_seconds", None) if rc is not None else None,
                           getattr(config, "max_run_duration_seconds", None), MAX_DURATION_DEFAULT),
        node_count=_first(getattr(rc, "node_count", None) if rc is not None else None, 1),
        process_count=_process_count(getattr(rc, "distributed_job_config", None) if rc is not None else None))
    environment = _first(getattr(rc, "environment", None) if rc is not None else None,
                         getattr(config, "environment", None))
    return job, environment


def _process_count(config: Any) -> int | None:
    """All processes of a distributed job: PyTorch's process_count, MPI's per node times nodes."""
    if config is None:
        return None
    nodes = int(getattr(config, "node_count", 1) or 1)
    total = getattr(config, "process_count", None)
    if total:
        return int(total)
    return int(getattr(config, "process_count_per_node", 1) or 1) * nodes


def _definition(environment: Any) -> dict[str, Any]:
    if environment is None:
        from azuremlcore.environment import Environment

        environment = Environment("default-environment")
    if not hasattr(environment, "_to_dict"):
        raise UserErrorException(f"environment must be an azuremlcore Environment, got {type(environment).__name__}.")
    return environment._to_dict()


def submit(experiment: "Experiment", config: Any, tags: dict | None = None, parent: "Run | None" = None,
           **kwargs: Any) -> "Run":
    """Submit `config` as a script run of `experiment` (a child of `parent`); returns the run at once."""
    from azuremlcore._execution import submit as jobs
    from azuremlcore.run import Run

    job, environment = read_config(config)
    ws = experiment.workspace._handle
    jobs.check(ws, job)
    definition = _definition(environment)

    def resolve(record: "RunRecord", workdir: str) -> list[Any]:
        # Dataset and output arguments note themselves in the run, and become paths in its working folder.
        run = Run._wrap(experiment, record)
        return [a._resolve_for_run(run, workdir) if hasattr(a, "_resolve_for_run") else a for a in job.arguments]

    record = jobs.submit(ws, experiment._record, job, definition, tags=tags, parent_id=parent.id if parent else None,
                         run_id=kwargs.pop("run_id", None), display_name=kwargs.pop("display_name", None),
                         resolve_arguments=resolve)
    run = Run._wrap(experiment, record, "./outputs")
    run._refresh()
    return run
