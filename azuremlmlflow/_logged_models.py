"""MLflow 3 logged models in an embedded workspace (imported only where MLflow has them: 3.0 and later).

A logged model (`mlflow.<flavor>.log_model(...)` in MLflow 3, `mlflow.initialize_logged_model`)
is a workspace asset of kind "mlflow_logged_model" named by its model id, with its files under
``<workspace>/mlflow-models/<model id>``. `EmbeddedMlflowStore` takes these methods as a mixin.
"""
from __future__ import annotations

import inspect
import uuid
from pathlib import Path
from typing import Any

from mlflow.entities import LifecycleStage, LoggedModel, LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking import SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT
from mlflow.utils.search_utils import SearchLoggedModelsUtils, SearchUtils

from azuremlcore._timeutil import now_ms
from azuremlmlflow import _compat
from azuremlmlflow import _convert as cv

MODEL_KIND = cv.LOGGED_MODEL_KIND
# MLflow 3.0 filters logged models by filter string only; later 3.x also by datasets.
_FILTER_TAKES_DATASETS = "datasets" in inspect.signature(SearchLoggedModelsUtils.filter_logged_models).parameters
_translated = cv.translated
_validate = cv.validate
_random_name = cv.random_name


def logged_model(model_id: str, spec: dict[str, Any], tags: dict[str, str]) -> LoggedModel:
    """The MLflow LoggedModel of a stored model asset spec."""
    metrics = [_compat.metric(m["key"], m["value"], m["timestamp"], m["step"], run_id=m.get("run_id"),
                              model_id=model_id, dataset_name=m.get("dataset_name"),
                              dataset_digest=m.get("dataset_digest")) for m in spec.get("metrics", [])]
    return LoggedModel(experiment_id=spec["experiment_id"], model_id=model_id, name=spec["name"],
                       artifact_location=spec["artifact_location"], creation_timestamp=spec["creation_timestamp"],
                       last_updated_timestamp=spec["last_updated_timestamp"], model_type=spec.get("model_type"),
                       source_run_id=spec.get("source_run_id"), status=LoggedModelStatus(spec["status"]),
                       status_message=spec.get("status_message"), tags=dict(tags), params=dict(spec.get("params", {})),
                       metrics=metrics)


def _filter(models: list, filter_string: str | None, datasets: list | None) -> list:
    if _FILTER_TAKES_DATASETS:
        return SearchLoggedModelsUtils.filter_logged_models(models, filter_string, datasets)
    return SearchLoggedModelsUtils.filter_logged_models(models, filter_string)


class LoggedModelsMixin:
    """The logged-model half of MLflow 3's tracking store, over workspace assets.

    Needs from the store: `_store`, `_ws_id`, `_root`, `_exp_record(id)`, `_run_record(id)`,
    `_check_active(record)`.
    """

    _store: Any
    _ws_id: str
    _root: Path

    def _model_asset(self, model_id: str, allow_deleted: bool = False) -> Any:
        asset = self._store.get_asset(self._ws_id, MODEL_KIND, model_id)
        if asset is None or (not allow_deleted and asset.spec.get("lifecycle_stage") == LifecycleStage.DELETED):
            raise MlflowException(f"Logged model with ID '{model_id}' not found.", error_code=RESOURCE_DOES_NOT_EXIST)
        return asset

    def _update_model(self, asset: Any, spec: dict | None = None, tags: dict | None = None) -> Any:
        fields: dict[str, Any] = {}
        if spec is not None:
            fields["spec"] = {**spec, "last_updated_timestamp": now_ms()}
        if tags is not None:
            fields["tags"] = tags
        updated = self._store.update_asset(self._ws_id, MODEL_KIND, asset.name, asset.version, **fields)
        return logged_model(updated.name, updated.spec, updated.tags)

    def model_artifact_dir(self, model_id: str) -> Path:
        """Where a logged model's files live."""
        return self._root / self._ws_id / "mlflow-models" / model_id

    @_translated
    def create_logged_model(self, experiment_id: str, name: str | None = None, source_run_id: str | None = None,
                            tags: list | None = None, params: list | None = None,
                            model_type: str | None = None) -> Any:
        """Create a PENDING logged model whose artifact location is a folder of the workspace."""
        exp = self._exp_record(experiment_id)
        name = name or _random_name()
        _validate("_validate_logged_model_name", name)
        if source_run_id:
            self._check_active(self._run_record(source_run_id))
        model_id = f"m-{uuid.uuid4().hex}"
        t = now_ms()
        spec = {"experiment_id": exp.id, "name": name, "source_run_id": source_run_id, "model_type": model_type,
                "status": str(LoggedModelStatus.PENDING), "status_message": None,
                "lifecycle_stage": LifecycleStage.ACTIVE, "creation_timestamp": t, "last_updated_timestamp": t,
                "artifact_location": self.model_artifact_dir(model_id).as_uri(),
                "params": {p.key: str(p.value) for p in params or []}, "metrics": []}
        asset = self._store.put_asset(self._ws_id, MODEL_KIND, model_id, spec,
                                      tags={t_.key: str(t_.value) for t_ in tags or []})
        return logged_model(model_id, asset.spec, asset.tags)

    @_translated
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> Any:
        """A logged model by id."""
        asset = self._model_asset(model_id, allow_deleted)
        return logged_model(asset.name, asset.spec, asset.tags)

    @_translated
    def finalize_logged_model(self, model_id: str, status: Any) -> Any:
        """Set a logged model's final status (READY or FAILED)."""
        asset = self._model_asset(model_id)
        return self._update_model(asset, spec={**asset.spec, "status": str(LoggedModelStatus(status))})

    @_translated
    def delete_logged_model(self, model_id: str) -> None:
        """Mark a logged model deleted (its files stay until the workspace is deleted)."""
        asset = self._model_asset(model_id)
        self._update_model(asset, spec={**asset.spec, "lifecycle_stage": LifecycleStage.DELETED})

    @_translated
    def set_logged_model_tags(self, model_id: str, tags: list) -> None:
        """Add or overwrite tags of a logged model."""
        asset = self._model_asset(model_id)
        self._update_model(asset, tags={**asset.tags, **{t.key: str(t.value) for t in tags}})

    @_translated
    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove a tag of a logged model."""
        asset = self._model_asset(model_id)
        if key not in asset.tags:
            raise MlflowException(f"No tag with key {key!r} found for model with ID {model_id!r}.",
                                  error_code=RESOURCE_DOES_NOT_EXIST)
        self._update_model(asset, tags={k: v for k, v in asset.tags.items() if k != key})

    def _add_model_metrics(self, model_id: str, metrics: list, run_id: str) -> None:
        asset = self._model_asset(model_id)
        stored = list(asset.spec.get("metrics", []))
        for m in metrics:
            stored.append({"key": m.key, "value": float(m.value), "timestamp": int(m.timestamp), "step": int(m.step),
                           "run_id": run_id, "dataset_name": m.dataset_name, "dataset_digest": m.dataset_digest})
        # A model shows one value per (key, dataset): the latest by (step, timestamp).
        latest: dict[tuple, dict] = {}
        for m in stored:
            k = (m["key"], m.get("dataset_name"), m.get("dataset_digest"))
            if k not in latest or (m["step"], m["timestamp"]) >= (latest[k]["step"], latest[k]["timestamp"]):
                latest[k] = m
        self._update_model(asset, spec={**asset.spec, "metrics": list(latest.values())})

    @_translated
    def search_logged_models(self, experiment_ids: list[str], filter_string: str | None = None,
                             datasets: list | None = None, max_results: int | None = None,
                             order_by: list | None = None, page_token: str | None = None) -> PagedList:
        """Logged models of the experiments, filtered and ordered with MLflow's grammar."""
        if datasets and not all(d.get("dataset_name") for d in datasets):
            raise MlflowException("`dataset_name` in the `datasets` clause must be specified.",
                                  error_code=INVALID_PARAMETER_VALUE)
        exp_ids = {self._exp_record(e).id for e in experiment_ids}
        models = [logged_model(a.name, a.spec, a.tags) for a in self._store.list_assets(self._ws_id, MODEL_KIND)
                  if a.spec.get("experiment_id") in exp_ids
                  and a.spec.get("lifecycle_stage") != LifecycleStage.DELETED]
        models = _filter(models, filter_string, datasets)
        models = SearchLoggedModelsUtils.sort(models, order_by)
        page, token = SearchUtils.paginate(models, page_token, max_results or SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT)
        return PagedList(page, token.decode() if isinstance(token, bytes) else token)
