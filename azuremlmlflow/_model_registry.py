"""MLflow's model registry over an embedded workspace's models (imports mlflow: loaded by MLflow's registry).

A registered model version *is* an azuremlcore `Model` version: the same "model" asset record and
the same files under ``<workspace>/models/<name>/<version>/``, so `mlflow.register_model(...)` is
visible to `Model(ws, name)` and `Model.register(...)` to `mlflow.pyfunc.load_model("models:/name/1")`.
Version description and tags are the model's description and tags; MLflow-only fields (stage, run
link, logged-model id) are kept in the record's spec. A registered model is every version of a name,
plus an optional "registered_model" record for what belongs to the name itself (description, tags,
aliases) and for names with no version yet.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mlflow.entities.model_registry import ModelVersion, ModelVersionTag, RegisteredModel, RegisteredModelTag
from mlflow.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS,
    STAGE_ARCHIVED,
    STAGE_NONE,
    get_canonical_stage,
)
from mlflow.entities.model_registry.registered_model_alias import RegisteredModelAlias
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils

from azuremlcore._store import open_embedded
from azuremlcore._store.errors import NotFoundError
from azuremlcore._store.records import AssetRecord
from azuremlcore._timeutil import now_ms
from azuremlmlflow import _compat
from azuremlmlflow import _convert as cv
from azuremlmlflow._uri import parse

MODEL_KIND = "model"  # azuremlcore.model.KIND: the SDK's model versions
REGISTERED_KIND = "registered_model"  # one record (version 1) per name: description, tags, aliases
LOGGED_MODEL_KIND = cv.LOGGED_MODEL_KIND  # the tracking store's MLflow 3 logged models
_STAGE_KEY, _LINK_KEY, _MODEL_ID_KEY, _UPDATED_KEY = "mlflowStage", "runLink", "mlflowModelId", "lastUpdated"

_translated = cv.translated


def _not_found(what: str) -> MlflowException:
    return MlflowException(f"{what} not found", error_code=RESOURCE_DOES_NOT_EXIST)


def _int_version(version: Any) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        raise MlflowException(f"Model version must be an integer, got {version!r}.",
                              error_code=INVALID_PARAMETER_VALUE) from None


class EmbeddedModelRegistry(AbstractStore):
    """MLflow's registry store on the workspace named by an `azureml://local/...` URI."""

    def __init__(self, store_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        target = parse(store_uri)
        if not target.embedded:
            raise ValueError(f"{store_uri} names a workspace server, not an embedded workspace.")
        store, artifacts = open_embedded(Path(target.home) if target.home else None)
        found = store.find_workspace(target.subscription_id, target.resource_group, target.workspace_name)
        if not found:
            raise MlflowException(f"Workspace '{target.workspace_name}' does not exist in {artifacts.root.parent}. "
                                  "Set the registry URI from ws.get_mlflow_tracking_uri().",
                                  error_code=RESOURCE_DOES_NOT_EXIST)
        self._init(store, artifacts, found[0])

    @classmethod
    def over(cls, store: Any, artifacts: Any, workspace_id: str, remote: bool = False) -> "EmbeddedModelRegistry":
        """The registry of a workspace of an open store (what the server uses, one per workspace).

        remote=True (a server answering clients on other machines): sources may only be `runs:/`,
        `models:/` or `mlflow-artifacts:/` URIs inside the workspace, never paths or URLs of the server host.
        """
        self = cls.__new__(cls)
        AbstractStore.__init__(self)
        self._init(store, artifacts, store.get_workspace(workspace_id), remote)
        return self

    def _init(self, store: Any, artifacts: Any, ws_record: Any, remote: bool = False) -> None:
        from azuremlcore.workspace import Workspace

        self._store, self._artifacts, self._ws_id, self._remote = store, artifacts, ws_record.id, remote
        # A real Workspace, so versions are stored, found and deleted by the SDK's own Model code.
        self._ws = Workspace._from_record(store, artifacts, ws_record)

    # ------------------------------------------------------------------ records
    def _versions(self, name: str | None = None) -> list[AssetRecord]:
        # Versions whose files are in place (a version being written has no container yet).
        return [r for r in self._store.list_assets(self._ws_id, MODEL_KIND, name) if r.spec.get("container")]

    def _version(self, name: str, version: Any) -> AssetRecord:
        rec = self._store.get_asset(self._ws_id, MODEL_KIND, name, _int_version(version))
        if rec is None or not rec.spec.get("container"):
            raise _not_found(f"Model Version (name={name}, version={version})")
        return rec

    def _registered(self, name: str) -> AssetRecord | None:
        return self._store.get_asset(self._ws_id, REGISTERED_KIND, name, 1)

    def _registered_or_create(self, name: str) -> AssetRecord:
        """The name's own record, made on first need for names that only have SDK-registered versions."""
        rec = self._registered(name)
        if rec is not None:
            return rec
        if not self._versions(name):
            raise _not_found(f"Registered Model with name={name}")
        t = now_ms()
        return self._store.put_asset(self._ws_id, REGISTERED_KIND, name, {"aliases": {}, "created": t,
                                                                           _UPDATED_KEY: t})

    def _touch_registered(self, rec: AssetRecord, **fields: Any) -> AssetRecord:
        spec = {**rec.spec, **fields.pop("spec", {}), _UPDATED_KEY: now_ms()}
        return self._store.update_asset(self._ws_id, REGISTERED_KIND, rec.name, 1, spec=spec, **fields)

    def _update_version(self, rec: AssetRecord, **fields: Any) -> AssetRecord:
        spec = {**rec.spec, **fields.pop("spec", {}), _UPDATED_KEY: now_ms()}
        return self._store.update_asset(self._ws_id, MODEL_KIND, rec.name, rec.version, spec=spec, **fields)

    def _local_folder(self, rec: AssetRecord) -> Path:
        """The folder MLflow downloads: the model's folder, or the version folder holding a single file."""
        root = self._artifacts.root / rec.spec["container"]
        return (root / rec.spec["path"]) if rec.spec.get("isFolder") else root

    def _aliases(self, name: str) -> dict[str, int]:
        rec = self._registered(name)
        return {a: int(v) for a, v in (rec.spec.get("aliases", {}) if rec else {}).items()}

    # ------------------------------------------------------------------ entities
    def _model_version(self, rec: AssetRecord, aliases: dict[str, int] | None = None) -> ModelVersion:
        spec = rec.spec
        aliases = self._aliases(rec.name) if aliases is None else aliases
        return _compat.model_version(
            name=rec.name, version=str(rec.version), creation_timestamp=rec.created_time,
            last_updated_timestamp=spec.get(_UPDATED_KEY, rec.created_time), description=rec.description or "",
            user_id=spec.get("createdBy"), current_stage=spec.get(_STAGE_KEY, STAGE_NONE),
            source=spec.get("source") or self._local_folder(rec).as_uri(), run_id=spec.get("runId"),
            tags=[ModelVersionTag(k, v) for k, v in rec.tags.items()], run_link=spec.get(_LINK_KEY),
            aliases=sorted(a for a, v in aliases.items() if v == rec.version), model_id=spec.get(_MODEL_ID_KEY))

    def _registered_model(self, name: str, versions: list[AssetRecord], rec: AssetRecord | None) -> RegisteredModel:
        # versions deleted through the SDK leave their aliases behind: show only aliases of existing versions
        present = {v.version for v in versions}
        aliases = {a: int(v) for a, v in (rec.spec.get("aliases", {}) if rec else {}).items() if int(v) in present}
        created = rec.spec.get("created", rec.created_time) if rec else min(v.created_time for v in versions)
        updated = max([v.spec.get(_UPDATED_KEY, v.created_time) for v in versions]
                      + ([rec.spec.get(_UPDATED_KEY, created)] if rec else []))
        latest: dict[str, AssetRecord] = {}
        for v in versions:
            stage = v.spec.get(_STAGE_KEY, STAGE_NONE)
            if stage not in latest or v.version > latest[stage].version:
                latest[stage] = v
        return RegisteredModel(
            name=name, creation_timestamp=created, last_updated_timestamp=updated,
            description=(rec.description if rec else None) or "",
            latest_versions=[self._model_version(v, aliases) for v in sorted(latest.values(), key=lambda r: r.version)],
            tags=[RegisteredModelTag(k, v) for k, v in (rec.tags if rec else {}).items()],
            aliases=[RegisteredModelAlias(a, str(v)) for a, v in sorted(aliases.items())])

    def _all_registered(self) -> list[RegisteredModel]:
        by_name: dict[str, list[AssetRecord]] = {}
        for v in self._versions():
            by_name.setdefault(v.name, []).append(v)
        own = {r.name: r for r in self._store.list_assets(self._ws_id, REGISTERED_KIND)}
        return [self._registered_model(n, by_name.get(n, []), own.get(n)) for n in sorted(set(by_name) | set(own))]

    # ------------------------------------------------------------------ registered models
    @_translated
    def create_registered_model(self, name: str, tags: list | None = None, description: str | None = None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        """A new registered model with no version (RESOURCE_ALREADY_EXISTS when the name has versions)."""
        from azuremlcore.model import _check_name

        _check_name(name)
        if self._registered(name) is not None or self._versions(name):
            raise MlflowException(f"Registered Model (name={name}) already exists.",
                                  error_code=RESOURCE_ALREADY_EXISTS)
        t = now_ms()
        rec = self._store.put_asset(self._ws_id, REGISTERED_KIND, name, {"aliases": {}, "created": t, _UPDATED_KEY: t},
                                    description=description, tags={t_.key: str(t_.value) for t_ in tags or []})
        return self._registered_model(name, [], rec)

    @_translated
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its latest version per stage, tags and aliases."""
        versions, rec = self._versions(name), self._registered(name)
        if rec is None and not versions:
            raise _not_found(f"Registered Model with name={name}")
        return self._registered_model(name, versions, rec)

    @_translated
    def update_registered_model(self, name: str, description: str | None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        """Set the registered model's description."""
        self._touch_registered(self._registered_or_create(name), description=description)
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Not provided: versions' files live under the model's name; register the versions under the new name."""
        raise MlflowException(
            f"Renaming registered models is not supported by azuremlcore workspaces. Copy the versions instead: "
            f"MlflowClient().copy_model_version('models:/{name}/<version>', '{new_name}'), then delete '{name}'.",
            error_code=INVALID_PARAMETER_VALUE)

    @_translated
    def delete_registered_model(self, name: str) -> None:
        """Delete every version (and its files) and the name; refused while a web service uses a version."""
        from azuremlcore.model import Model

        versions, rec = self._versions(name), self._registered(name)
        if rec is None and not versions:
            raise _not_found(f"Registered Model with name={name}")
        for v in versions:
            Model._wrap(self._ws, v).delete()
        self._store.delete_asset(self._ws_id, REGISTERED_KIND, name)

    @_translated
    def search_registered_models(self, filter_string: str | None = None, max_results: int | None = None,
                                 order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        """Registered models matching MLflow's filter grammar (name, tags), ordered and paged as MLflow does."""
        max_results = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT if max_results is None else max_results
        _check_max(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        found = SearchModelUtils.filter(self._all_registered(), _compat.without_prompts(filter_string))
        return _page(SearchModelUtils.sort(found, order_by), max_results, page_token)

    @_translated
    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The latest version in each of the given stages (every stage when none is given)."""
        versions, rec = self._versions(name), self._registered(name)
        if rec is None and not versions:
            raise _not_found(f"Registered Model with name={name}")
        wanted = [get_canonical_stage(s) for s in (stages or ALL_STAGES)]
        latest: dict[str, AssetRecord] = {}
        for v in versions:
            stage = v.spec.get(_STAGE_KEY, STAGE_NONE)
            if stage in wanted and (stage not in latest or v.version > latest[stage].version):
                latest[stage] = v
        aliases = self._aliases(name)
        return [self._model_version(latest[s], aliases) for s in wanted if s in latest]

    @_translated
    def set_registered_model_tag(self, name: str, tag: Any) -> None:
        """Add or change a tag of the registered model."""
        rec = self._registered_or_create(name)
        self._touch_registered(rec, tags={**rec.tags, tag.key: str(tag.value)})

    @_translated
    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag of the registered model (absent keys are fine)."""
        rec = self._registered_or_create(name)
        self._touch_registered(rec, tags={k: v for k, v in rec.tags.items() if k != key})

    # ------------------------------------------------------------------ versions
    @_translated
    def create_model_version(self, name: str, source: str, run_id: str | None = None, tags: list | None = None,
                             run_link: str | None = None, description: str | None = None,
                             local_model_path: str | None = None, model_id: str | None = None) -> ModelVersion:
        """Copy the source's files into the next version of `name`, as `Model.register` stores them.

        Sources: `runs:/<run id>/<path>`, `models:/<logged model id>`, `models:/<name>/<version or @alias>`,
        a local path or file:// URI, or any URI MLflow can download.
        """
        from azuremlcore.model import Model, _check_name

        _check_name(name)
        if self._registered(name) is None and not self._versions(name):
            raise _not_found(f"Registered Model with name={name}")
        source = self._as_runs_uri(self._server_source(source) if self._remote else source)
        base, is_dir, files, extra = self._resolve_source(source, local_model_path)
        run_id = run_id or extra.get("runId")
        if run_id:
            run = self._run(run_id)
            extra.update(runId=run.id, experimentName=self._store.get_experiment(
                self._ws_id, experiment_id=run.experiment_id).name)
        extra.update({"source": source, _LINK_KEY: run_link, _MODEL_ID_KEY: model_id or extra.get(_MODEL_ID_KEY),
                      _STAGE_KEY: STAGE_NONE})
        with tempfile.TemporaryDirectory(prefix="azureml-register-") as tmp:
            if files is None:  # a remote source: download it once, then store it like a local folder
                base, is_dir, files = _local_files(Path(_download(source, tmp)), base)
            model = Model._store_version(self._ws, name, base, is_dir, files,
                                         {t.key: str(t.value) for t in tags or []}, None, description, extra)
        return self._model_version(model._record)

    def _run(self, run_id: str) -> Any:
        try:
            rec = self._store.get_run(run_id)
        except NotFoundError:
            rec = None
        if rec is None or rec.workspace_id != self._ws_id:
            raise _not_found(f"Run '{run_id}'")
        return rec

    def _server_source(self, source: str) -> str:
        """A remote caller's source: `mlflow-artifacts:/<path>` becomes the workspace file; host paths are refused."""
        from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
        if RunsArtifactRepository.is_runs_uri(source) or _compat.is_models_uri(source):
            return source
        parts = urlsplit(source)
        path = parts.path if parts.scheme == "mlflow-artifacts" else self._own_azureml_path(source)
        if path is not None:
            ws_root = (self._artifacts.root / self._ws_id).resolve()
            local = (ws_root / unquote(path).lstrip("/")).resolve()
            if local != ws_root and ws_root in local.parents:
                return local.as_uri()
        raise MlflowException(f"Model source {source!r} cannot be registered on a workspace server: use a runs:/, "
                              "models:/, mlflow-artifacts:/ or azureml:// URI of this workspace (log the model to a "
                              "run first).",
                              error_code=INVALID_PARAMETER_VALUE)

    def _own_azureml_path(self, source: str) -> str | None:
        """The artifact path of an azureml:// URI naming this workspace on a server (MLflow 2 sends such sources)."""
        from azuremlmlflow._uri import SCHEME, parse

        if not source.startswith(f"{SCHEME}://"):
            return None
        try:
            target = parse(source)
        except ValueError:
            return None
        ws = self._ws
        same = [v.lower() for v in (target.subscription_id, target.resource_group, target.workspace_name)] == [
            v.lower() for v in (ws.subscription_id, ws.resource_group, ws.name)]
        return target.rest if same and not target.embedded and target.rest.strip("/") else None

    def _as_runs_uri(self, source: str) -> str:
        """A path into a run's files (what MLflow passes for `runs:/` URIs with an MLmodel) as `runs:/<id>/<path>`."""
        local = _as_local_path(source)
        if local is None:
            return source
        try:
            rel = local.resolve().relative_to((self._artifacts.root / self._ws_id / "runs").resolve()).as_posix()
        except ValueError:
            return source
        run_id, _, path = rel.partition("/")
        return f"runs:/{run_id}/{path}" if run_id else source

    def _resolve_source(self, source: str, local_model_path: str | None
                        ) -> tuple[str, bool, list[tuple[Any, str]] | None, dict[str, Any]]:
        """(base name, is folder, files as (source, stored name), spec extras); files None: download the source."""
        from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
        from mlflow.store.artifact.utils.models import _parse_model_uri

        if RunsArtifactRepository.is_runs_uri(source):
            run_id, path = RunsArtifactRepository.parse_runs_uri(source)
            path = (path or "").strip("/")
            run = self._run(run_id)
            container = f"{self._ws_id}/runs/{run.id}"
            names = [n for n in self._artifacts.list(container) if not path or n == path or n.startswith(path + "/")]
            if names:
                return (*_container_files(container, names, path), {"runId": run.id})
            logged = [m for m in self._store.list_assets(self._ws_id, LOGGED_MODEL_KIND)
                      if m.spec.get("source_run_id") == run.id and m.spec.get("name") == path]
            if not logged:
                raise _not_found(f"Run {run.id} has no files under '{path}' and no logged model named '{path}': "
                                 f"nothing at {source}")
            source = f"models:/{max(logged, key=lambda m: m.created_time).name}"
        if _compat.is_models_uri(source):
            parsed = _parse_model_uri(source)
            model_id = getattr(parsed, "model_id", None)  # MLflow 3: models:/<logged model id>
            if model_id:
                m = self._store.get_asset(self._ws_id, LOGGED_MODEL_KIND, model_id)
                if m is None:
                    raise _not_found(f"Logged model with ID '{model_id}'")
                container = f"{self._ws_id}/mlflow-models/{model_id}"
                names = self._artifacts.list(container)
                if not names:
                    raise _not_found(f"Files of logged model '{model_id}'")
                base = m.spec.get("name") or "model"
                return (base, True, [((container, n), f"{base}/{n}") for n in names],
                        {"runId": m.spec.get("source_run_id"), _MODEL_ID_KEY: model_id})
            rec = self._resolve_registered(parsed)
            container = rec.spec["container"]
            return (rec.spec["path"], bool(rec.spec.get("isFolder")),
                    [((container, f), f) for f in rec.spec.get("files", [])],
                    {"runId": rec.spec.get("runId"), _MODEL_ID_KEY: rec.spec.get(_MODEL_ID_KEY)})
        local = _as_local_path(source)
        if local is not None:
            if not local.exists():
                raise MlflowException(f"Model source {source!r} does not exist.", error_code=RESOURCE_DOES_NOT_EXIST)
            return (*_local_files(local, local.resolve().name), {})
        base = urlsplit(source).path.rstrip("/").rsplit("/", 1)[-1] or "model"
        if local_model_path and Path(local_model_path).is_dir():
            return (*_local_files(Path(local_model_path), base), {})
        return base, True, None, {}

    def _resolve_registered(self, parsed: Any) -> AssetRecord:
        if parsed.alias:
            return self._by_alias(parsed.name, parsed.alias)
        if parsed.version:
            return self._version(parsed.name, parsed.version)
        stages = None if parsed.stage in (None, "latest") else [parsed.stage]
        found = self.get_latest_versions(parsed.name, stages)
        if not found:
            raise _not_found(f"No version of model '{parsed.name}' in stage {parsed.stage}")
        return self._version(parsed.name, max(int(v.version) for v in found))

    @_translated
    def update_model_version(self, name: str, version: Any, description: str | None) -> ModelVersion:
        """Set a version's description (the SDK model's description)."""
        return self._model_version(self._update_version(self._version(name, version), description=description))

    @_translated
    def transition_model_version_stage(self, name: str, version: Any, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        """Move a version to None/Staging/Production/Archived (optionally archiving the stage's other versions)."""
        stage = get_canonical_stage(stage)
        if archive_existing_versions and stage not in DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS:
            raise MlflowException(f"Model version transition cannot archive existing model versions because "
                                  f"'{stage}' is not an Active stage.", error_code=INVALID_PARAMETER_VALUE)
        rec = self._version(name, version)
        if archive_existing_versions:
            for other in self._versions(name):
                if other.version != rec.version and other.spec.get(_STAGE_KEY) == stage:
                    self._update_version(other, spec={_STAGE_KEY: STAGE_ARCHIVED})
        return self._model_version(self._update_version(rec, spec={_STAGE_KEY: stage}))

    @_translated
    def delete_model_version(self, name: str, version: Any) -> None:
        """Delete a version and its files (as `Model.delete`); aliases to it are removed."""
        from azuremlcore.model import Model

        rec = self._version(name, version)
        Model._wrap(self._ws, rec).delete()
        own = self._registered(name)
        if own is not None and rec.version in {int(v) for v in own.spec.get("aliases", {}).values()}:
            aliases = {a: v for a, v in own.spec["aliases"].items() if int(v) != rec.version}
            self._touch_registered(own, spec={"aliases": aliases})

    @_translated
    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        """One version."""
        return self._model_version(self._version(name, version))

    @_translated
    def get_model_version_download_uri(self, name: str, version: Any) -> str:
        """The file:// URI of the version's model folder (what `models:/name/version` downloads)."""
        return self._local_folder(self._version(name, version)).as_uri()

    @_translated
    def search_model_versions(self, filter_string: str | None = None, max_results: int | None = None,
                              order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        """Versions matching MLflow's filter grammar (name, version_number, run_id, source_path, tags)."""
        max_results = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT if max_results is None else max_results
        _check_max(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        aliases = {r.name: {a: int(v) for a, v in r.spec.get("aliases", {}).items()}
                   for r in self._store.list_assets(self._ws_id, REGISTERED_KIND)}
        versions = [self._model_version(r, aliases.get(r.name, {})) for r in self._versions()]
        found = SearchModelVersionUtils.filter(versions, _compat.without_prompts(filter_string))
        ordered = SearchModelVersionUtils.sort(
            found, order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"])
        return _page(ordered, max_results, page_token)

    @_translated
    def set_model_version_tag(self, name: str, version: Any, tag: Any) -> None:
        """Add or change a version tag (the SDK model's tags)."""
        rec = self._version(name, version)
        self._update_version(rec, tags={**rec.tags, tag.key: str(tag.value)})

    @_translated
    def delete_model_version_tag(self, name: str, version: Any, key: str) -> None:
        """Remove a version tag."""
        rec = self._version(name, version)
        self._update_version(rec, tags={k: v for k, v in rec.tags.items() if k != key})

    # ------------------------------------------------------------------ aliases
    @_translated
    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        """Point an alias (e.g. 'champion') at a version: `models:/name@champion`."""
        rec = self._version(name, version)
        own = self._registered_or_create(name)
        self._touch_registered(own, spec={"aliases": {**own.spec.get("aliases", {}), alias: rec.version}})

    @_translated
    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        own = self._registered_or_create(name)
        self._touch_registered(own, spec={"aliases": {a: v for a, v in own.spec.get("aliases", {}).items()
                                                      if a != alias}})

    def _by_alias(self, name: str, alias: str) -> AssetRecord:
        version = self._aliases(name).get(alias)
        if version is None:
            raise _not_found(f"Registered model alias {alias} of model {name}")
        return self._version(name, version)

    @_translated
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""
        return self._model_version(self._by_alias(name, alias))


# ---------------------------------------------------------------------- sources
def _container_files(container: str, names: list[str], path: str) -> tuple[str, bool, list[tuple[Any, str]]]:
    """A run file, or the run files under a folder, as `run.register_model` lays them out."""
    if path and names == [path]:
        base = path.rsplit("/", 1)[-1]
        return base, False, [((container, path), base)]
    base = path.rsplit("/", 1)[-1] if path else "model"
    return base, True, [((container, n), f"{base}/{n[len(path) + 1:] if path else n}") for n in names]


def _local_files(src: Path, base: str) -> tuple[str, bool, list[tuple[Any, str]]]:
    """A local file or folder, as `Model.register` lays it out."""
    if src.is_file():
        return base, False, [(src, base)]
    files = [(p, f"{base}/{p.relative_to(src).as_posix()}") for p in sorted(src.rglob("*")) if p.is_file()]
    if not files:
        raise MlflowException(f"Model source {src} has no files.", error_code=INVALID_PARAMETER_VALUE)
    return base, True, files


def _as_local_path(source: str) -> Path | None:
    parts = urlsplit(source)
    if parts.scheme == "file":
        from mlflow.utils.file_utils import local_file_uri_to_path

        return Path(local_file_uri_to_path(source))
    if parts.scheme == "" or (len(parts.scheme) == 1 and Path(source).exists()):  # C:\... on Windows
        return Path(source)
    return None


def _download(source: str, dest: str) -> str:
    from mlflow.artifacts import download_artifacts

    return download_artifacts(artifact_uri=source, dst_path=dest)


def _check_max(max_results: Any, limit: int) -> None:
    if not isinstance(max_results, int) or not 1 <= max_results <= limit:
        raise MlflowException(f"Invalid value for max_results: it must be an integer from 1 to {limit}, got "
                              f"{max_results!r}.", error_code=INVALID_PARAMETER_VALUE)


def _page(items: list, max_results: int, page_token: str | None) -> PagedList:
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + max_results
    return PagedList(items[start:end], SearchUtils.create_page_token(end) if end < len(items) else None)
