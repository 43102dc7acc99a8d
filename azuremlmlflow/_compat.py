"""What the installed MLflow offers, asked once: the bridge serves MLflow 2.10 and later, 2.x and 3.x alike.

MLflow 3 added logged models (models stored outside runs, `LoggedModel`), run outputs, metrics
linked to a model and a dataset, model ids on registry versions, and artifact repositories that
are told the tracking and registry URIs. MLflow 2.21 added the prompt registry (prompts are
registered models with a tag). Everything else the bridge uses exists from 2.10 on. This module
builds the entities in the shape the running version takes, so no other module of the bridge
imports a name that one of the supported versions lacks.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import mlflow
import mlflow.entities as _entities
from mlflow.entities import Metric, Run, RunInfo, RunInputs
from mlflow.entities.model_registry import ModelVersion
from mlflow.store.artifact.artifact_repo import ArtifactRepository

#: The version of the MLflow this process imported (e.g. "2.17.2").
MLFLOW_VERSION: str = mlflow.__version__


def _params(fn: Callable[..., Any]) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # a C-implemented callable: assume the old, smallest shape
        return frozenset()


#: MLflow 3: logged models, run outputs, model inputs (mlflow.entities.LoggedModel and friends).
HAS_LOGGED_MODELS: bool = all(hasattr(_entities, n) for n in ("LoggedModel", "LoggedModelStatus", "RunOutputs",
                                                                 "LoggedModelInput", "LoggedModelOutput"))
_METRIC_LINKS = "run_id" in _params(Metric.__init__)
_MODEL_VERSION_MODEL_ID = "model_id" in _params(ModelVersion.__init__)
#: MLflow 3.x (from some 3.x on): ArtifactRepository(artifact_uri, tracking_uri, registry_uri).
ARTIFACT_REPO_TAKES_URIS: bool = "tracking_uri" in _params(ArtifactRepository.__init__)

try:  # the prompt registry (MLflow 2.21+): prompts are registered models that model searches leave out
    from mlflow.prompt.registry_utils import add_prompt_filter_string as _add_prompt_filter
except ImportError:
    _add_prompt_filter = None


def metric(key: str, value: float, timestamp: int, step: int, run_id: str | None = None, **links: Any) -> Metric:
    """A Metric; the run id and MLflow 3's model/dataset links are kept only where MLflow has them."""
    if _METRIC_LINKS:
        return Metric(key=key, value=value, timestamp=timestamp, step=step, run_id=run_id, **links)
    return Metric(key=key, value=value, timestamp=timestamp, step=step)


def run_info(run_id: str, experiment_id: str, user_id: str, status: str, start_time: int | None,
             end_time: int | None, lifecycle_stage: str, artifact_uri: str, run_name: str) -> RunInfo:
    """A RunInfo (MLflow 2 names its first argument run_uuid, MLflow 3 run_id: passed by position)."""
    return RunInfo(run_id, experiment_id, user_id, status, start_time, end_time, lifecycle_stage,
                   artifact_uri=artifact_uri, run_name=run_name)


def run(info: RunInfo, data: Any, dataset_inputs: list, model_inputs: list[str],
        outputs: list[tuple[str, int]]) -> Run:
    """A Run with its inputs; model inputs and outputs (MLflow 3) are dropped on MLflow 2."""
    if not HAS_LOGGED_MODELS:
        return Run(info, data, RunInputs(dataset_inputs))
    inputs = RunInputs(dataset_inputs, [_entities.LoggedModelInput(m) for m in model_inputs])
    return Run(info, data, inputs, _entities.RunOutputs([_entities.LoggedModelOutput(m, s) for m, s in outputs]))


def model_version(**fields: Any) -> ModelVersion:
    """A registry ModelVersion; `model_id` (MLflow 3) is left out where MLflow has no such field."""
    if not _MODEL_VERSION_MODEL_ID:
        fields.pop("model_id", None)
    return ModelVersion(**fields)


def without_prompts(filter_string: str | None) -> str | None:
    """A registry search filter that leaves out prompts (MLflow 2.21+); unchanged where prompts do not exist."""
    return _add_prompt_filter(filter_string, False) if _add_prompt_filter is not None else filter_string


def model_summary(mlflow_model: Any) -> dict[str, Any]:
    """What a run's mlflow.log-model.history tag keeps of a logged model (MLflow 2.10 kept the whole dict)."""
    summary = getattr(mlflow_model, "get_tags_dict", None)
    return summary() if summary is not None else mlflow_model.to_dict()


def is_models_uri(uri: str) -> bool:
    """Whether uri is a `models:/...` URI (MLflow's own helper moved between versions)."""
    return uri.startswith("models:/")
