"""Run: one execution in an experiment, with its status, metrics, tags, properties and files.

A run is also an MLflow run (same id): what `run.log` stores, MLflow clients read as metrics,
and what `mlflow.log_metric` stores, `run.get_metrics()` returns.
"""
from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator

from azuremlcore._store.errors import StoreError
from azuremlcore._store.records import TERMINAL_STATUSES
from azuremlcore._tracking import job_signals, run_env
from azuremlcore._tracking.files_mixin import BUILD_LOG, LOG_PREFIXES, STREAMED_LOG, RunFilesMixin
from azuremlcore._tracking.logging_mixin import RunLoggingMixin
# Scripts test `isinstance(run, _OfflineRun)` to tell a submitted run from a plain `python train.py`.
from azuremlcore._tracking.offline_run import OfflineRun as _OfflineRun  # noqa: F401
from azuremlcore._tracking.run_records import INTERACTIVE_RUN_TYPE, SCRIPT_RUN_TYPE, new_run_id  # noqa: F401
from azuremlcore.exceptions import ActivityFailedException, RunEnvironmentException, UserErrorException

if TYPE_CHECKING:
    from azuremlcore._store.records import RunRecord
    from azuremlcore.experiment import Experiment
    from azuremlcore.workspace import Workspace



def matches_filter(values: dict[str, str], wanted: str | dict | list | None) -> bool:
    """Azure ML's tag/property filter: a key, a list of keys (all present), or {key: value} (all equal)."""
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted in values
    if isinstance(wanted, dict):
        return all(k in values and (v is None or values[k] == str(v)) for k, v in wanted.items())
    return all(k in values for k in wanted)


class _LogFollower:
    """Prints a submitted run's logs as they grow: the environment build log, then the script's output."""

    def __init__(self, run: "Run") -> None:
        self._run = run
        self._logs = [BUILD_LOG, STREAMED_LOG]
        self._index = 0
        self._offset = 0
        self._started = False

    def _pump(self) -> bool:
        run = self._run
        chunk = run._artifacts.read_from(run._container, self._logs[self._index], self._offset)
        if not chunk:
            return False
        if not self._started:
            name = self._logs[self._index]
            print(f"Streaming {name}\n{'=' * (10 + len(name))}\n", flush=True)
            self._started = True
        self._offset += len(chunk)
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()
        return True

    def poll(self, status: str, final: bool = False) -> None:
        """Print what is new; move from the build log to the script's log once the script has started."""
        self._pump()
        if self._index == 0 and (final or status not in ("NotStarted", "Starting", "Queued", "Preparing")):
            self._pump()  # what the build wrote last, before the script began
            if self._started:
                print(flush=True)
            self._index, self._offset, self._started = 1, 0, False
            self._pump()
        if final:
            self._pump()


#: How long `wait_for_completion` keeps waiting while the workspace server cannot be reached.
WAIT_UNREACHABLE_S = 120.0


class Run(RunLoggingMixin, RunFilesMixin):
    """A run of an experiment: `Run(experiment, run_id)` loads an existing one.

    Inside a submitted script use `Run.get_context()`; in a notebook, `experiment.start_logging()`.
    """

    DELIM = "/"
    WORKSPACE_FMT = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}"
    EXPERIMENT_ID_PATH = "experimentids"
    EXPERIMENT_NAME_PATH = "experiments"
    RUN_PATH = "runs"
    TID_FMT = "&tid={}"

    _type_providers: dict[str, Callable[..., "Run"]] = {}
    _context: "Run | None" = None

    def __init__(self, experiment: "Experiment", run_id: str, outputs: str | None = None, **kwargs: Any) -> None:
        record = kwargs.pop("_record", None) or experiment.workspace._store.get_run(run_id)
        if record.experiment_id != experiment.id:
            raise UserErrorException(f"Run {run_id} belongs to another experiment than '{experiment.name}'.")
        self._bind(experiment, record, outputs)

    def _bind(self, experiment: "Experiment", record: "RunRecord", outputs: str | None) -> None:
        from azuremlcore._tracking.metrics_writer import writer_for

        self._experiment = experiment
        self._record = record
        self._outputs = outputs
        self._steps: dict[str, int] = {}
        ws = experiment.workspace
        self._store, self._artifacts, self._ws_id = ws._store, ws._artifacts, ws._ws_id
        self._writer = writer_for(self._store)

    @classmethod
    def _wrap(cls, experiment: "Experiment", record: "RunRecord", outputs: str | None = None) -> "Run":
        factory = Run._type_providers.get(record.type or "") if cls is Run else None
        if factory is not None:
            return factory(experiment, record.id, _record=record)
        run = cls.__new__(cls)
        run._bind(experiment, record, outputs)
        return run

    @classmethod
    def _start(cls, experiment: "Experiment", outputs: str | None = None, snapshot_directory: str | None = None,
               display_name: str | None = None, tags: dict | None = None, parent: "Run | None" = None,
               run_id: str | None = None, run_type: str = INTERACTIVE_RUN_TYPE, status: str = "Running",
               target: str = "local", details: dict | None = None, **_: Any) -> "Run":
        from azuremlcore._tracking.run_records import create_run

        ws = experiment.workspace
        record = create_run(ws._store, ws._ws_id, experiment.id, run_id or new_run_id(experiment.name),
                            run_type=run_type, status=status, target=target, parent_id=parent.id if parent else None,
                            display_name=display_name, tags=tags, details=details)
        run = cls._wrap(experiment, record, outputs if outputs is not None else "./outputs")
        if snapshot_directory is not None:
            run.take_snapshot(snapshot_directory)
        return run

    # ------------------------------------------------------------------ identity
    @property
    def id(self) -> str:
        """The run id (also its MLflow run id)."""
        return self._record.id

    @property
    def number(self) -> int:
        """The run's number within its experiment (1, 2, ...)."""
        return self._record.number

    @property
    def type(self) -> str | None:
        """The run type ('azureml.scriptrun' for submitted scripts, 'azureml.interactive' for start_logging)."""
        return self._record.type

    @property
    def experiment(self) -> "Experiment":
        """The experiment the run belongs to."""
        return self._experiment

    @property
    def status(self) -> str:
        """The status when the run was last read (use `get_status()` for a fresh one)."""
        return self._record.status

    @property
    def display_name(self) -> str:
        """The run's display name (the id when none was set)."""
        return self._record.display_name or self.id

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._record = self._store.update_run(self.id, display_name=str(value))

    @property
    def name(self) -> str:
        """(Deprecated) Same as display_name."""
        return self.display_name

    @property
    def description(self) -> str | None:
        """The run's description."""
        return self._record.description

    @description.setter
    def description(self, value: str) -> None:
        self._record = self._store.update_run(self.id, description=str(value))

    @property
    def tags(self) -> dict[str, str]:
        """The run's tags as last read (`get_tags()` reads them afresh)."""
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, str]:
        """The run's write-once properties as last read."""
        return dict(self._record.properties)

    @property
    def identity(self) -> str:
        """The run id."""
        return self.id

    @property
    def parent(self) -> "Run | None":
        """The parent run, or None for a top-level run."""
        if not self._record.parent_id:
            return None
        return Run._wrap(self._experiment, self._store.get_run(self._record.parent_id))

    @property
    def portal_url(self) -> str:
        """Where to look at this run (see `get_portal_url`)."""
        return self.get_portal_url()

    def get_portal_url(self) -> str:
        """The run's page in the web view: on the workspace's server, or on `aml studio` when embedded.

        For an embedded workspace the URL is that of the running `aml studio` of its home folder, else of
        the studio's default address (http://127.0.0.1:8765), which opens once `aml studio` is started.
        """
        ws = self._experiment.workspace
        return f"{ws._web_base()}/ui/workspaces/{ws._ws_id}/runs/{self.id}"

    def _web_view_line(self) -> str:
        # An embedded workspace's page opens only while `aml studio` runs: say how to start it when it does not.
        url = self.get_portal_url()
        ws = self._experiment.workspace
        if ws._endpoint:
            return url
        from azuremlcore._store import studio_url

        home = self._artifacts.root.parent
        return url if studio_url.running_url(home) else f"{url} (start the web view with: {studio_url.start_hint(home)})"

    @classmethod
    def get_docs_url(cls) -> str:
        """Documentation of this class."""
        return "https://github.com/azuremlcore/azuremlcore/blob/main/docs/api.md#run"

    def _refresh(self) -> "RunRecord":
        rec = self._store.get_run(self.id)
        if (rec.type == SCRIPT_RUN_TYPE and rec.status not in TERMINAL_STATUSES and "_ray" in rec.details
                and self._experiment.workspace._endpoint and not rec.details["_ray"].get("byServer")):
            # (embedded: reap below does it; the server watches the jobs it submitted itself)
            from azuremlcore._execution.ray import reconcile

            rec = reconcile(self._store, rec)  # its Ray job ended without a word (an env that failed to build)
        if rec.type == SCRIPT_RUN_TYPE and rec.status not in TERMINAL_STATUSES and not self._experiment.workspace._endpoint:
            from azuremlcore._execution.lease import reap

            rec = reap(self._store, rec)  # runner gone, or its lease lapsed: Failed, with the reason
        self._record = rec
        return rec

    # ------------------------------------------------------------------ tags and properties
    def tag(self, key: str, value: str | None = None) -> None:
        """Set a tag (value '' when omitted); tags can be changed later."""
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Add or overwrite several tags; others are left as they are."""
        if not isinstance(tags, dict):
            raise UserErrorException("set_tags needs a dict of tag -> value.")
        values = {str(k): "" if v is None else str(v) for k, v in tags.items()}
        self._set_attributes("tag", values)

    def remove_tags(self, tags: list[str] | str) -> None:
        """Remove tags by key."""
        self._store.delete_run_attributes(self.id, "tag", [tags] if isinstance(tags, str) else list(tags))
        self._refresh()

    def get_tags(self) -> dict[str, str]:
        """The run's tags, read afresh."""
        return dict(self._refresh().tags)

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add write-once properties: re-adding the same value is fine, changing one raises UserErrorException."""
        if not isinstance(properties, dict):
            raise UserErrorException("add_properties needs a dict of property -> value.")
        self._set_attributes("property", {str(k): str(v) for k, v in properties.items()}, write_once=True)

    def _set_attributes(self, kind: str, values: dict[str, str], write_once: bool = False) -> None:
        from azuremlcore._tracking.spool_sender import set_attributes

        if set_attributes(self._store, self.id, kind, values, write_once=write_once):
            self._refresh()
        else:  # the server is unreachable: the spool sends them later; this object shows them now
            getattr(self._record, {"tag": "tags", "property": "properties"}[kind]).update(values)

    def get_properties(self) -> dict[str, str]:
        """The run's properties, read afresh."""
        return dict(self._refresh().properties)

    # ------------------------------------------------------------------ status
    def get_status(self) -> str:
        """The run's current status: NotStarted, Queued, Preparing, Running, Finalizing, Completed, Failed, Canceled, ..."""
        return self._refresh().status

    def get_detailed_status(self) -> dict[str, Any]:
        """The status with, while queued or preparing, what the run waits for."""
        rec = self._refresh()
        return {"status": rec.status, "details": rec.details.get("statusDetail")}

    def _finish(self, status: str, error: dict | None = None) -> None:
        from azuremlcore._timeutil import now_ms

        self.flush()
        if self._outputs and os.path.isdir(self._outputs) and self.type == INTERACTIVE_RUN_TYPE:
            self.upload_folder("outputs", self._outputs)
        fields: dict[str, Any] = {"status": status, "end_time": now_ms()}
        if error is not None:
            fields["details"] = {"error": error}
        if self._record.start_time is None:
            fields["start_time"] = fields["end_time"]
        from azuremlcore._tracking.spool_sender import offline, spool_status

        # The last try found the server down: the end goes to the spool without ~6 s of retries first.
        spooled = offline(self._store) and spool_status(self._store, self.id, fields)
        if not spooled:
            try:
                self._record = self._store.update_run(self.id, **fields)
            except Exception as exc:
                if not spool_status(self._store, self.id, fields, exc):
                    raise
                spooled = True
        if spooled:  # sent when the server answers (or by `aml sync`); this object shows it now
            self._record.status, self._record.end_time = status, fields["end_time"]

    def start(self) -> None:
        """Mark the run as Running."""
        from azuremlcore._timeutil import now_ms

        self._record = self._store.update_run(self.id, status="Running", start_time=now_ms())

    def complete(self, _set_status: bool = True) -> None:
        """Store every queued metric, upload ./outputs (interactive runs) and mark the run Completed."""
        if not _set_status:
            self.flush()
            return
        self._finish("Completed")

    def fail(self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True) -> None:
        """Mark the run Failed, with error details (an exception or text) shown by `get_details()`."""
        message = str(error_details) if error_details is not None else "Run marked as failed."
        error = {"error": {"code": error_code or "UserError", "message": message}}
        if isinstance(error_details, BaseException):
            error["error"]["messageFormat"] = type(error_details).__name__
        if not _set_status:
            self.flush()
            return
        self._finish("Failed", error)

    def cancel(self) -> None:
        """Cancel the run: a submitted run's process tree is stopped; an interactive run is marked Canceled."""
        if self.type == SCRIPT_RUN_TYPE and self.get_status() not in TERMINAL_STATUSES:
            from azuremlcore._execution.executors import executor_for

            # Whoever runs it stops it: the runner on this machine, or the server's host.
            ws = self._experiment.workspace._handle
            executor_for(ws, self._record.target).cancel(ws, self.id)
            self._refresh()
            return
        self._finish("Canceled")

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None:
            self.fail(error_details=exc)
        else:
            self.complete()

    # ------------------------------------------------------------------ details
    def get_details(self) -> dict[str, Any]:
        """Status and definition of the run, with Azure ML's keys: runId, target, status, startTimeUtc,
        endTimeUtc (once ended), properties, inputDatasets, outputDatasets, runDefinition, logFiles, submittedBy."""
        from azuremlcore._timeutil import iso

        rec = self._refresh()
        extra = dict(rec.details)
        details: dict[str, Any] = {"runId": rec.id, "target": rec.target, "status": rec.status}
        if rec.start_time is not None:
            details["startTimeUtc"] = iso(rec.start_time)
        if rec.end_time is not None and rec.status in TERMINAL_STATUSES:
            details["endTimeUtc"] = iso(rec.end_time)
        if rec.display_name:
            details["displayName"] = rec.display_name
        details["services"] = extra.pop("services", {})
        details["properties"] = dict(rec.properties)
        details["inputDatasets"] = extra.pop("inputDatasets", [])
        details["outputDatasets"] = extra.pop("outputDatasets", [])
        details["runDefinition"] = extra.pop("runDefinition", {})
        details["logFiles"] = {n: self._artifacts.local_path(self._container, n).as_uri()
                               for n in self.get_file_names() if n.startswith(LOG_PREFIXES)}
        details["submittedBy"] = rec.submitted_by
        if "error" in extra:
            details["error"] = extra.pop("error")
        extra.pop("statusDetail", None)
        details.update({k: v for k, v in extra.items() if not k.startswith("_")})
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        """`get_details()` with each log file's text under logFiles."""
        details = self.get_details()
        details["logFiles"] = {n: self._artifacts.read_from(self._container, n, 0).decode("utf-8", "replace")
                               for n in details["logFiles"]}
        return details

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict[str, Any]:
        """Block until the run ends; with show_output, stream its log to stdout as it is written.

        Returns `get_details()`; a Failed run raises ActivityFailedException when raise_on_error.
        """
        follower = _LogFollower(self) if show_output else None
        if show_output:
            print(f"RunId: {self.id}\nWeb View: {self._web_view_line()}\n", flush=True)
        unreachable_since: float | None = None
        while True:
            try:
                status = self.get_status()
            except StoreError as exc:
                if exc.error_code != "TEMPORARILY_UNAVAILABLE":  # the client's ServerUnavailableError
                    raise
                # The server restarting (or away for a while) says nothing about the run: keep waiting, for a time.
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > WAIT_UNREACHABLE_S:
                    raise
                time.sleep(1.0)
                continue
            unreachable_since = None
            if follower is not None:
                follower.poll(status)
            if status in TERMINAL_STATUSES:
                if follower is not None:
                    follower.poll(status, final=True)
                    print(f"\nExecution Summary\n=================\nRunId: {self.id}\n"
                          f"Web View: {self._web_view_line()}\n", flush=True)
                break
            time.sleep(0.1)
        details = self.get_details()
        if details["status"] == "Failed" and raise_on_error:
            import json

            raise ActivityFailedException(error_details=json.dumps(details.get("error", {}), indent=4))
        return details

    def get_environment(self) -> Any:
        """The Environment the run used (submitted runs)."""
        env = self._refresh().details.get("runDefinition", {}).get("environment")
        if not env:
            raise UserErrorException(f"Run {self.id} has no environment: only submitted runs record one.")
        from azuremlcore.environment import Environment

        return Environment._from_dict(env)

    def clean(self) -> None:
        """Remove the run's working folder on its compute (local runs)."""
        folder = self._refresh().details.get("_workingDirectory")
        if folder:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------ secrets
    def get_secret(self, name: str) -> str:
        """A secret of the workspace (see `Workspace.get_default_keyvault`)."""
        return self._experiment.workspace.get_default_keyvault().get_secret(name)

    def get_secrets(self, secrets: list[str]) -> dict[str, str | None]:
        """Several workspace secrets by name (None where missing)."""
        return self._experiment.workspace.get_default_keyvault().get_secrets(secrets)

    # ------------------------------------------------------------------ children
    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: str | None = None) -> "Run":
        """Start a child run (status Running), e.g. one per hyperparameter setting."""
        n = len(self._store.search_runs(self._ws_id, parent_id=self.id, lifecycle_stage=None))
        return Run._start(self._experiment, outputs=outputs, display_name=name, parent=self,
                          run_id=run_id or f"{self.id}_{n}", target=self._record.target or "local")

    def create_children(self, count: int | None = None, tag_key: str | None = None,
                        tag_values: list[str] | None = None) -> list["Run"]:
        """Start `count` child runs, or one per value of `tag_values` tagged `tag_key`."""
        if tag_values is not None:
            if not tag_key:
                raise UserErrorException("create_children(tag_values=...) also needs tag_key=.")
            children = [self.child_run() for _ in tag_values]
            for child, value in zip(children, tag_values):
                child.tag(tag_key, value)
            return children
        if count is None or int(count) < 1:
            raise UserErrorException("create_children needs count >= 1 or tag_key with tag_values.")
        return [self.child_run() for _ in range(int(count))]

    def get_children(self, recursive: bool = False, tags: str | dict | list | None = None,
                     properties: str | dict | list | None = None, type: str | None = None,
                     status: str | None = None, _rehydrate_runs: bool = True) -> Iterator["Run"]:
        """Child runs newest first (all descendants with recursive=True), filtered like `Experiment.get_runs`."""
        parents, found = [self.id], []
        while parents:
            level = []
            for pid in parents:
                level.extend(self._store.search_runs(self._ws_id, parent_id=pid))
            found.extend(level)
            parents = [r.id for r in level] if recursive else []
        for rec in found:
            if _select(rec, type, tags, properties, status):
                yield Run._wrap(self._experiment, rec)

    def submit_child(self, config: Any, tags: dict | None = None, **kwargs: Any) -> "Run":
        """Submit a config as a child run of this run."""
        from azuremlcore._submission import submit

        return submit(self._experiment, config, tags=tags, parent=self, **kwargs)

    @property
    def input_datasets(self) -> dict[str, Any]:
        """Datasets passed to the run by name: a local path for mounted/downloaded files, else the dataset."""
        from azuremlcore._data.run_inputs import input_entries
        from azuremlcore.data.abstract_dataset import AbstractDataset

        ws = self._experiment.workspace
        return {name: path if path else AbstractDataset.get_by_id(ws, dataset_id)  # type: ignore[arg-type]
                for name, (path, dataset_id) in input_entries(self._store, self.id).items()}

    # ------------------------------------------------------------------ models
    def register_model(self, model_name: str, model_path: str | None = None, tags: dict | None = None,
                       properties: dict | None = None, model_framework: str | None = None,
                       model_framework_version: str | None = None, description: str | None = None,
                       datasets: list | None = None, sample_input_dataset: Any = None,
                       sample_output_dataset: Any = None, resource_configuration: Any = None, **kwargs: Any) -> Any:
        """Register a file or folder stored with this run (e.g. 'outputs/model.pkl') as a model."""
        from azuremlcore.model import Model

        return Model._register_from_run(self, model_name=model_name, model_path=model_path, tags=tags,
                                        properties=properties, model_framework=model_framework,
                                        model_framework_version=model_framework_version, description=description,
                                        datasets=datasets, **kwargs)

    # ------------------------------------------------------------------ finding runs
    @staticmethod
    def get(workspace: "Workspace", run_id: str) -> "Run":
        """The run with that id in the workspace."""
        from azuremlcore.experiment import Experiment

        rec = workspace._store.get_run(run_id)
        if rec.workspace_id != workspace._ws_id:
            raise UserErrorException(f"Run {run_id} is not in workspace '{workspace.name}'.")
        exp = Experiment._from_record(workspace, workspace._store.get_experiment(workspace._ws_id,
                                                                                 experiment_id=rec.experiment_id))
        return Run._wrap(exp, rec)

    @staticmethod
    def list(experiment: "Experiment", type: str | None = None, tags: str | dict | list | None = None,
             properties: str | dict | list | None = None, status: str | None = None,
             include_children: bool = False, _rehydrate_runs: bool = True) -> Iterator["Run"]:
        """Runs of an experiment, newest first, filtered by type, tags, properties and status."""
        ws = experiment.workspace
        for rec in ws._store.search_runs(ws._ws_id, experiment_ids=[experiment.id], include_children=include_children):
            if _select(rec, type, tags, properties, status):
                yield Run._wrap(experiment, rec)

    @staticmethod
    def list_by_compute(compute: Any, type: str | None = None, tags: str | dict | list | None = None,
                        properties: str | dict | list | None = None, status: str | None = None) -> Iterator["Run"]:
        """Runs that ran (or wait to run) on a compute target, newest first."""
        from azuremlcore.experiment import Experiment

        ws = compute.workspace
        experiments: dict[str, Experiment] = {}
        for rec in ws._store.search_runs(ws._ws_id):
            if rec.target == compute.name and _select(rec, type, tags, properties, status):
                if rec.experiment_id not in experiments:
                    experiments[rec.experiment_id] = Experiment._from_record(
                        ws, ws._store.get_experiment(ws._ws_id, experiment_id=rec.experiment_id))
                yield Run._wrap(experiments[rec.experiment_id], rec)

    @staticmethod
    def add_type_provider(runtype: str, run_factory: Callable[..., "Run"]) -> None:
        """Register a factory (called as factory(experiment, run_id, _record=...)) for runs of a type."""
        Run._type_providers[runtype] = run_factory

    # ------------------------------------------------------------------ context
    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any) -> "Run":
        """The run this process belongs to: the submitted run inside a job; outside one, an offline run that
        prints what it logs (or RunEnvironmentException when allow_offline=False)."""
        if Run._context is not None and Run._context.id == os.environ.get(run_env.RUN_ID):
            job_signals.install()  # cheap when done; a first call from a worker thread could not install it
            return Run._context
        if os.environ.get(run_env.RUN_ID) and os.environ.get(run_env.WORKSPACE_NAME):
            Run._context = _context_from_env()
            # In a job, SIGTERM (cancel, time limit) must let the exit handlers store queued metrics, even when
            # the start-up hook did not run (a script started by a shell command, another interpreter).
            job_signals.install()
            return Run._context
        if not allow_offline:
            raise RunEnvironmentException("Run.get_context(allow_offline=False) was called outside a submitted run.")
        from azuremlcore._tracking.offline_run import OfflineRun

        return OfflineRun()

    @classmethod
    def get_submitted_run(cls, **kwargs: Any) -> "Run":
        """(Deprecated) Same as `get_context()`."""
        return cls.get_context(**kwargs)

    def _repr_html_(self) -> str:
        """The table a notebook shows for this run (with a link to its page)."""
        from azuremlcore._html_repr import run_html

        return run_html(self)

    def __repr__(self) -> str:
        return (f"Run(Experiment: {self._experiment.name},\nId: {self.id},\nType: {self.type},\n"
                f"Status: {self.status})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def _select(rec: "RunRecord", type: str | None, tags: Any, properties: Any, status: str | None) -> bool:
    return ((type is None or rec.type == type) and (status is None or rec.status == status)
            and matches_filter(rec.tags, tags) and matches_filter(rec.properties, properties))


def _context_from_env() -> Run:
    from azuremlcore.experiment import Experiment
    from azuremlcore.workspace import Workspace

    env = os.environ
    ws = Workspace(env.get(run_env.SUBSCRIPTION, "local"), env.get(run_env.RESOURCE_GROUP, "local"),
                   env[run_env.WORKSPACE_NAME], _endpoint=env.get(run_env.SERVICE_ENDPOINT) or None)
    rec = ws._store.get_run(env[run_env.RUN_ID])
    exp = Experiment._from_record(ws, ws._store.get_experiment(ws._ws_id, experiment_id=rec.experiment_id))
    return Run._wrap(exp, rec, outputs="./outputs")


