"""MLflow's tracking store over an embedded workspace, in-process (no server, no SQLAlchemy models of MLflow).

Experiments are the workspace's experiments, runs its runs (same ids), metrics its float metric
points, params and tags its run attributes. Under MLflow 3 the store also keeps logged models
(`_logged_models.LoggedModelsMixin`); under MLflow 2 it has no such methods, as MLflow 2's stores.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from mlflow.entities import LifecycleStage, ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils

from azuremlcore._store import open_embedded
from azuremlcore._store.errors import NotFoundError, StoreError
from azuremlcore._store.records import ExperimentRecord, MetricPoint, RunRecord
from azuremlcore._timeutil import now_ms
from azuremlmlflow import _compat
from azuremlmlflow import _convert as cv
from azuremlmlflow import _job
from azuremlmlflow._uri import parse

if _compat.HAS_LOGGED_MODELS:
    from azuremlmlflow._logged_models import LoggedModelsMixin as _Features
else:  # MLflow 2 has no logged models: neither has the store

    class _Features:  # type: ignore[no-redef]
        """No MLflow 3 features."""

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
MODEL_KIND = cv.LOGGED_MODEL_KIND
LOGGED_MODELS_TAG = "mlflow.log-model.history"
_SCRIPT_RUN_TYPE = "azureml.scriptrun"
_MLFLOW_RUN_TYPE = "azureml.interactive"

_translated = cv.translated
_validate = cv.validate
_random_name = cv.random_name
__all__ = ["EmbeddedMlflowStore", "MODEL_KIND"]


class EmbeddedMlflowStore(_Features, AbstractStore):
    """An MLflow AbstractStore on the workspace named by an `azureml://local/...` URI."""

    def __init__(self, store_uri: str, artifact_uri: str | None = None) -> None:
        super().__init__()
        target = parse(store_uri)
        if not target.embedded:
            raise ValueError(f"{store_uri} names a workspace server, not an embedded workspace.")
        self._store, self._artifacts = open_embedded(Path(target.home) if target.home else None)
        found = self._store.find_workspace(target.subscription_id, target.resource_group, target.workspace_name)
        if not found:
            raise MlflowException(
                f"Workspace '{target.workspace_name}' (resource group '{target.resource_group}', subscription "
                f"'{target.subscription_id}') does not exist in {self._artifacts.root.parent}. Create it with "
                "Workspace.create(..., exist_ok=True), or set the tracking URI from ws.get_mlflow_tracking_uri().",
                error_code=RESOURCE_DOES_NOT_EXIST)
        self._ws_id = found[0].id
        self._root = self._artifacts.root
        self._flush = True
        self._run_ws: dict[str, str] = {}

    @classmethod
    def over(cls, store: Any, artifacts: Any, workspace_id: str, flush_sdk_metrics: bool = True) -> "EmbeddedMlflowStore":
        """The MLflow store of a workspace of an open SQL store (what the server uses, one per workspace).

        flush_sdk_metrics=False when this process never logs SDK metrics itself (a server).
        """
        self = cls.__new__(cls)
        AbstractStore.__init__(self)
        self._store, self._artifacts, self._ws_id = store, artifacts, workspace_id
        self._root = artifacts.root
        self._flush = flush_sdk_metrics
        self._run_ws = {}
        return self

    # ------------------------------------------------------------------ helpers
    def _flush_sdk_metrics(self) -> None:
        # run.log() in this process queues points in a background writer: make them visible first.
        if not self._flush:
            return
        from azuremlcore._tracking.metrics_writer import writer_for

        writer_for(self._store).flush()

    def _check_owned(self, run_id: str) -> None:
        # A run never changes workspace, so after the first look-up this costs no query.
        ws_id = self._run_ws.get(run_id)
        if ws_id is None:
            ws_id = self._run_record(run_id).workspace_id
            if len(self._run_ws) > 100_000:
                self._run_ws.clear()
            self._run_ws[run_id] = ws_id
        if ws_id != self._ws_id:
            raise MlflowException(f"Run '{run_id}' not found", error_code=RESOURCE_DOES_NOT_EXIST)

    def _exp_record(self, experiment_id: str) -> ExperimentRecord:
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            return self._store.get_or_create_experiment(self._ws_id, DEFAULT_EXPERIMENT_NAME)
        try:
            rec = self._store.get_experiment(self._ws_id, experiment_id=str(experiment_id))
        except NotFoundError:
            raise MlflowException(f"No Experiment with id={experiment_id} exists",
                                  error_code=RESOURCE_DOES_NOT_EXIST) from None
        return rec

    def _run_record(self, run_id: str) -> RunRecord:
        try:
            rec = self._store.get_run(run_id)
        except NotFoundError:
            rec = None
        if rec is None or rec.workspace_id != self._ws_id:
            raise MlflowException(f"Run '{run_id}' not found", error_code=RESOURCE_DOES_NOT_EXIST)
        return rec

    @staticmethod
    def _check_active(rec: RunRecord) -> None:
        if rec.lifecycle_stage != LifecycleStage.ACTIVE:
            raise MlflowException(f"The run {rec.id} must be in the 'active' state. Current state is "
                                  f"{rec.lifecycle_stage}.", error_code=INVALID_PARAMETER_VALUE)

    def _latest_points(self, run_ids: list[str]) -> list[MetricPoint]:
        # Only each key's latest point, chosen in SQL: a run's whole history never reaches Python here.
        return self._store.latest_metrics(run_ids, cv.METRIC_KINDS)

    # ------------------------------------------------------------------ experiments
    @_translated
    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY, max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                           filter_string: str | None = None, order_by: list[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        """Experiments filtered and ordered with MLflow's grammar."""
        view = {ViewType.ACTIVE_ONLY: "ActiveOnly", ViewType.DELETED_ONLY: "ArchivedOnly"}.get(view_type, "All")
        exps = [cv.experiment(r, self._root) for r in self._store.list_experiments(self._ws_id, view)]
        exps = SearchExperimentsUtils.filter(exps, filter_string)
        exps = SearchExperimentsUtils.sort(exps, order_by or ["last_update_time DESC"])
        page, token = SearchUtils.paginate(exps, page_token, max_results)
        return PagedList(page, token.decode() if isinstance(token, bytes) else token)

    @_translated
    def create_experiment(self, name: str, artifact_location: str | None = None, tags: list | None = None) -> str:
        """Create an experiment (artifact_location is ignored: run files live with their runs)."""
        _validate("_validate_experiment_name", name)
        try:
            rec = self._store.create_experiment(self._ws_id, name, {t.key: t.value for t in tags or []})
        except StoreError as exc:
            if exc.error_code == "RESOURCE_ALREADY_EXISTS":
                raise MlflowException(f"Experiment(name={name}) already exists.",
                                      error_code=RESOURCE_ALREADY_EXISTS) from exc
            raise
        return rec.id

    @_translated
    def get_experiment(self, experiment_id: str) -> Any:
        """An experiment by id ("0" is the experiment named "Default")."""
        return cv.experiment(self._exp_record(experiment_id), self._root)

    @_translated
    def get_experiment_by_name(self, experiment_name: str) -> Any:
        """An experiment by name, or None."""
        try:
            return cv.experiment(self._store.get_experiment(self._ws_id, name=experiment_name), self._root)
        except NotFoundError:
            return None

    @_translated
    def delete_experiment(self, experiment_id: str) -> None:
        """Archive the experiment (MLflow's deleted = Azure ML's archived); restore reactivates it."""
        self._store.update_experiment(self._exp_record(experiment_id).id, archived=True)

    @_translated
    def restore_experiment(self, experiment_id: str) -> None:
        """Reactivate an archived experiment."""
        self._store.update_experiment(self._exp_record(experiment_id).id, archived=False)

    @_translated
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment (the name must be free)."""
        _validate("_validate_experiment_name", new_name)
        self._store.update_experiment(self._exp_record(experiment_id).id, name=new_name)

    @_translated
    def set_experiment_tag(self, experiment_id: str, tag: Any) -> None:
        """Add or overwrite an experiment tag."""
        _validate("_validate_experiment_tag", tag.key, tag.value)
        self._store.set_experiment_tags(self._exp_record(experiment_id).id, {tag.key: str(tag.value)})

    @_translated
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove an experiment tag."""
        rec = self._exp_record(experiment_id)
        if key not in rec.tags:
            raise MlflowException(f"No tag with name: {key} in experiment with id {experiment_id}",
                                  error_code=RESOURCE_DOES_NOT_EXIST)
        self._store.remove_experiment_tags(rec.id, [key])

    # ------------------------------------------------------------------ runs
    @_translated
    def create_run(self, experiment_id: str, user_id: str, start_time: int | None, tags: list | None,
                   run_name: str | None) -> Any:
        """Create a Running run (type azureml.interactive, target local) whose id MLflow and the SDK share."""
        exp = self._exp_record(experiment_id)
        if exp.archived_time:
            raise MlflowException(f"The experiment {exp.id} must be in the 'active' state. Current state is deleted.",
                                  error_code=INVALID_STATE)
        tag_map = {t.key: str(t.value) for t in tags or []}
        for k, v in tag_map.items():
            _validate("_validate_tag", k, v)
        name_tag = tag_map.pop(cv.RUN_NAME_TAG, None)
        if run_name and name_tag and run_name != name_tag:
            raise MlflowException(f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                                  f"different values (run_name='{run_name}', mlflow.runName='{name_tag}').",
                                  error_code=INVALID_PARAMETER_VALUE)
        run_name = run_name or name_tag or _random_name()
        parent_id = tag_map.get(cv.PARENT_TAG)
        if parent_id:
            try:
                parent = self._store.get_run(parent_id)
                parent_id = parent.id if parent.workspace_id == self._ws_id else None
            except NotFoundError:
                parent_id = None
        t = start_time or now_ms()
        rec = RunRecord(id=uuid.uuid4().hex, workspace_id=self._ws_id, experiment_id=exp.id, parent_id=parent_id,
                        type=_MLFLOW_RUN_TYPE, display_name=run_name, status="Running", target="local",
                        submitted_by=user_id or None, created_time=t, start_time=t, tags=tag_map,
                        properties={"azureml.runsource": "mlflow"})
        self._store.create_run(rec)
        return cv.run(self._store.get_run(rec.id), [], self._root)

    @_translated
    def get_run(self, run_id: str) -> Any:
        """The run with its latest metrics, params, tags, inputs and outputs (SDK-logged values included)."""
        self._flush_sdk_metrics()
        rec = self._run_record(run_id)
        return cv.run(rec, self._latest_points([rec.id]), self._root)

    @_translated
    def update_run_info(self, run_id: str, run_status: Any, end_time: int | None, run_name: str | None) -> Any:
        """Set status, end time and name; a submitted script run keeps the status its runner gives it."""
        rec = self._run_record(run_id)
        fields: dict[str, Any] = {}
        if run_name:
            fields["display_name"] = run_name
        # MLflow ends the active run at exit (and resumes it at start): for a submitted run, the runner owns
        # the status, so a script's end_run() cannot mark it Completed while the job is still going.
        if rec.type != _SCRIPT_RUN_TYPE and run_status is not None:
            status = cv.status_from_mlflow(run_status)
            fields["status"] = status
            fields["end_time"] = end_time
            if status == "Running" and rec.start_time is None:
                fields["start_time"] = now_ms()
        rec = self._store.update_run(rec.id, **fields) if fields else rec
        _job.note_run_status(rec.id, run_status)
        return cv.run_info(rec, self._root)

    @_translated
    def delete_run(self, run_id: str) -> None:
        """Mark the run deleted (hidden from get_runs and active searches; restore_run brings it back)."""
        self._store.update_run(self._run_record(run_id).id, lifecycle_stage=LifecycleStage.DELETED)

    @_translated
    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again."""
        self._store.update_run(self._run_record(run_id).id, lifecycle_stage=LifecycleStage.ACTIVE)

    @_translated
    def log_batch(self, run_id: str, metrics: list, params: list, tags: list) -> None:
        """Store metrics (float points), params (write-once) and tags of a run in that order of checks."""
        _validate("_validate_batch_log_data", metrics, params, tags)
        _validate("_validate_param_keys_unique", params)
        self._check_owned(run_id)
        if params or tags or not metrics:
            self._check_active(self._run_record(run_id))
        if params:
            self._store.set_run_attributes(run_id, "param", {p.key: str(p.value) for p in params}, write_once=True)
        if metrics:
            # One transaction checks the run is active and skips points identical to stored ones (as
            # MLflow's SQL store does), so a retried batch adds nothing; no re-read of the run.
            self._store.log_metrics_unique(run_id, [MetricPoint(run_id, m.key, "scalar", float(m.value), None,
                                                                int(m.step), int(m.timestamp)) for m in metrics],
                                           lifecycle_stage=LifecycleStage.ACTIVE)
            by_model: dict[str, list] = {}
            for m in metrics:
                if getattr(m, "model_id", None):
                    by_model.setdefault(m.model_id, []).append(m)
            for model_id, ms in by_model.items():
                self._add_model_metrics(model_id, ms, run_id)
        if tags:
            _job.note_run_tags(run_id, [t.key for t in tags])
            values = {t.key: str(t.value) for t in tags}
            name = values.pop(cv.RUN_NAME_TAG, None)
            if name:
                self._store.update_run(run_id, display_name=name)
            if values:
                self._store.set_run_attributes(run_id, "tag", values)

    @_translated
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a run tag; a missing tag is RESOURCE_DOES_NOT_EXIST as in MLflow."""
        rec = self._run_record(run_id)
        self._check_active(rec)
        if key not in rec.tags:
            raise MlflowException(f"No tag with name: {key} in run with id {run_id}",
                                  error_code=RESOURCE_DOES_NOT_EXIST)
        self._store.delete_run_attributes(rec.id, "tag", [key])

    @_translated
    def get_metric_history(self, run_id: str, metric_key: str, max_results: int | None = None,
                           page_token: str | None = None) -> PagedList:
        """Every float value of a metric in logging order (SDK `run.log` values included), paged when asked."""
        self._flush_sdk_metrics()
        rec = self._run_record(run_id)
        metrics = [cv.to_metric(p) for p in self._store.get_metrics([rec.id], metric_key) if cv.is_metric_point(p)]
        if max_results is None:
            return PagedList(metrics, None)
        page, token = SearchUtils.paginate(metrics, page_token, max_results)
        return PagedList(page, token.decode() if isinstance(token, bytes) else token)

    @_translated
    def _search_runs(self, experiment_ids: list[str], filter_string: str | None, run_view_type: int,
                     max_results: int, order_by: list[str] | None, page_token: str | None) -> tuple[list, str | None]:
        self._flush_sdk_metrics()
        exp_ids = [self._exp_record(e).id for e in experiment_ids]
        stage = {ViewType.ACTIVE_ONLY: LifecycleStage.ACTIVE, ViewType.DELETED_ONLY: LifecycleStage.DELETED}.get(
            run_view_type)
        records = self._store.search_runs(self._ws_id, experiment_ids=exp_ids, lifecycle_stage=stage)
        by_run: dict[str, list[MetricPoint]] = {r.id: [] for r in records}
        for p in self._latest_points(list(by_run)):
            by_run[p.run_id].append(p)
        runs = [cv.run(r, by_run[r.id], self._root) for r in records]
        runs = SearchUtils.sort(SearchUtils.filter(runs, filter_string), order_by)
        page, token = SearchUtils.paginate(runs, page_token, max_results)
        return page, token.decode() if isinstance(token, bytes) else token

    @_translated
    def log_inputs(self, run_id: str, datasets: list | None = None, models: list | None = None) -> None:
        """Remember the run's dataset and model inputs (MLflow's dataset tracking; no data is copied)."""
        rec = self._run_record(run_id)
        self._check_active(rec)
        if datasets:
            _validate("_validate_dataset_inputs", datasets)
        inputs = dict(rec.details.get(cv.INPUTS_DETAIL) or {})
        stored = list(inputs.get("datasets", []))
        for d in datasets or []:
            entry = cv.dataset_input_to_dict(d)
            same = [i for i, s in enumerate(stored) if (s["name"], s["digest"]) == (entry["name"], entry["digest"])]
            if same:
                stored[same[0]]["tags"].update(entry["tags"])
            else:
                stored.append(entry)
        model_ids = list(inputs.get("models", []))
        model_ids += [m.model_id for m in models or [] if m.model_id not in model_ids]
        self._store.update_run(rec.id, details={cv.INPUTS_DETAIL: {"datasets": stored, "models": model_ids}})

    @_translated
    def log_outputs(self, run_id: str, models: list) -> None:
        """Remember the logged models a run produced."""
        rec = self._run_record(run_id)
        self._check_active(rec)
        outputs = list(rec.details.get(cv.OUTPUTS_DETAIL) or [])
        for m in models:
            entry = {"model_id": m.model_id, "step": int(m.step or 0)}
            if entry not in outputs:
                outputs.append(entry)
        self._store.update_run(rec.id, details={cv.OUTPUTS_DETAIL: outputs})

    @_translated
    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        """Append a model's summary to the run's mlflow.log-model.history tag (as MLflow's stores do)."""
        rec = self._run_record(run_id)
        self._check_active(rec)
        history = json.loads(rec.tags.get(LOGGED_MODELS_TAG, "[]"))
        history.append(_compat.model_summary(mlflow_model))
        self._store.set_run_attributes(rec.id, "tag", {LOGGED_MODELS_TAG: json.dumps(history)})

    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        """Not available: MLflow tracing is not stored by azuremlcore workspaces."""
        raise MlflowException("MLflow tracing is not supported by azuremlcore workspaces.",
                              error_code=INVALID_PARAMETER_VALUE)
