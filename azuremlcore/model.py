"""Model: registered model files with versions (``azureml.core.Model``), and InferenceConfig for deployment.

A model version's files live in the workspace's storage under ``<ws>/models/<name>/<version>/``; its
record (a JSON spec with that location) is a versioned workspace asset, so MLflow's model registry
can list and load the same models.
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import ModelNotFoundException, UserErrorException, WebserviceException

if TYPE_CHECKING:
    from azuremlcore._serving.models import ModelFiles
    from azuremlcore._store.records import AssetRecord
    from azuremlcore.run import Run
    from azuremlcore.webservice import Webservice
    from azuremlcore.workspace import Workspace

KIND = "model"
MODELS_DIR = "azureml-models"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-._]{0,254}$")


class _ModelNotFound(ModelNotFoundException, WebserviceException):
    """No such model; caught by `except WebserviceException` as in Azure ML, or by ModelNotFoundException."""


def _container(ws: "Workspace", name: str, version: int) -> str:
    return f"{ws._ws_id}/models/{name}/{version}"


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(f"Invalid model name {name!r}: use up to 255 letters, digits, '-', '_' or '.', "
                                 "starting with a letter or digit.")


def _str_dict(values: dict | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def _pairs_match(values: dict[str, str], wanted: Any) -> bool:
    """Azure ML's model filters: ["key", ...] and/or [["key", "value"], ...] (all must hold)."""
    if wanted is None:
        return True
    if isinstance(wanted, dict):
        wanted = [[k, v] for k, v in wanted.items()]
    if isinstance(wanted, str):
        wanted = [wanted]
    for item in wanted:
        if isinstance(item, (list, tuple)):
            key, value = item[0], item[1] if len(item) > 1 else None
            if key not in values or (value is not None and values[key] != str(value)):
                return False
        elif item not in values:
            return False
    return True


def _dataset_refs(datasets: Any) -> list[dict[str, Any]]:
    refs = []
    for item in datasets or []:
        scenario, ds = item if isinstance(item, tuple) else ("training", item)
        refs.append({"scenario": scenario, "id": ds._ensure_id(), "name": ds.name, "version": ds.version})
    return refs


class Model:
    """A registered model version: `Model(ws, name)` (latest), `Model(ws, name, version=2)`, `Model(ws, id='n:2')`.

    Attributes: name, version (int), id ('name:version'), description, tags, properties, url,
    created_time, run_id, model_framework. Register with `Model.register` or `run.register_model`.
    """

    class Framework:
        """Framework names accepted by `model_framework`."""

        CUSTOM = "Custom"
        MULTI = "Multi"
        ONNX = "Onnx"
        PYTORCH = "PyTorch"
        SCIKITLEARN = "ScikitLearn"
        TENSORFLOW = "TensorFlow"
        TFKERAS = "TfKeras"

    def __init__(self, workspace: "Workspace", name: str | None = None, id: str | None = None,
                 tags: Any = None, properties: Any = None, version: int | None = None, run_id: str | None = None,
                 model_framework: str | None = None, expand: bool = True, **kwargs: Any) -> None:
        if id:
            if ":" not in id:
                raise UserErrorException(f"Model id {id!r} must look like 'name:version'.")
            name, v = id.rsplit(":", 1)
            version = int(v)
        if not name:
            raise UserErrorException("Model(ws, name) needs a name (or id='name:version').")
        candidates = [r for r in workspace._store.list_assets(workspace._ws_id, KIND, name)
                      if (version is None or r.version == int(version)) and _pairs_match(r.tags, tags)
                      and _pairs_match(r.properties, properties)
                      and (run_id is None or r.spec.get("runId") == run_id)
                      and (model_framework is None or r.spec.get("framework") == model_framework)]
        if not candidates:
            what = f"'{name}'" + (f" version {version}" if version is not None else "")
            raise _ModelNotFound(f"ModelNotFound: Model with name {what} not found in workspace '{workspace.name}'"
                                 + (" with the given filters" if tags or properties or run_id else "") + ".")
        self._bind(workspace, max(candidates, key=lambda r: r.version))

    def _bind(self, workspace: "Workspace", record: "AssetRecord") -> None:
        self.workspace = workspace
        self._record = record

    @classmethod
    def _wrap(cls, workspace: "Workspace", record: "AssetRecord") -> "Model":
        m = cls.__new__(cls)
        m._bind(workspace, record)
        return m

    # ------------------------------------------------------------------ attributes
    @property
    def name(self) -> str:
        """The model name."""
        return self._record.name

    @property
    def version(self) -> int:
        """The version (1, 2, ...)."""
        return self._record.version

    @property
    def id(self) -> str:
        """'name:version'."""
        return f"{self.name}:{self.version}"

    @property
    def description(self) -> str | None:
        """The description given at registration (or by `update`)."""
        return self._record.description

    @property
    def tags(self) -> dict[str, str]:
        """Tags (changeable)."""
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, str]:
        """Properties (add-only)."""
        return dict(self._record.properties)

    @property
    def created_time(self) -> datetime:
        """When the version was registered (UTC)."""
        return datetime.fromtimestamp(self._record.created_time / 1000, timezone.utc)

    @property
    def run_id(self) -> str | None:
        """The run the model was registered from (None for local files)."""
        return self._record.spec.get("runId")

    @property
    def experiment_name(self) -> str | None:
        """The experiment of that run."""
        return self._record.spec.get("experimentName")

    @property
    def run(self) -> "Run | None":
        """The run the model was registered from."""
        return self.workspace.get_run(self.run_id) if self.run_id else None

    @property
    def model_framework(self) -> str | None:
        """The framework name given at registration."""
        return self._record.spec.get("framework")

    @property
    def model_framework_version(self) -> str | None:
        """The framework version given at registration."""
        return self._record.spec.get("frameworkVersion")

    @property
    def datasets(self) -> dict[str, list[Any]]:
        """Datasets registered with the model, by scenario."""
        from azuremlcore.data.abstract_dataset import AbstractDataset

        out: dict[str, list[Any]] = {}
        for ref in self._record.spec.get("datasets", []):
            try:
                out.setdefault(ref["scenario"], []).append(AbstractDataset.get_by_id(self.workspace, ref["id"]))
            except UserErrorException:
                continue
        return out

    @property
    def url(self) -> str:
        """Where the model's files are: a file:// URL of its folder on an embedded workspace."""
        return self._local_root().as_uri() if self._local_root() else f"aml://asset/{self.id}"

    @property
    def created_by(self) -> dict[str, Any]:
        """Who registered it."""
        return {"userName": self._record.spec.get("createdBy")}

    def _local_root(self) -> Path | None:
        from azuremlcore._store.artifacts import FileArtifactStore

        arts = self.workspace._artifacts
        if isinstance(arts, FileArtifactStore):
            return (arts.root / self._record.spec["container"]).resolve()
        return None

    def _files(self) -> list[str]:
        return list(self._record.spec.get("files", []))

    # ------------------------------------------------------------------ registering
    @staticmethod
    def register(workspace: "Workspace", model_path: str, model_name: str, tags: dict | None = None,
                 properties: dict | None = None, description: str | None = None, datasets: list | None = None,
                 model_framework: str | None = None, model_framework_version: str | None = None,
                 child_paths: list[str] | None = None, sample_input_dataset: Any = None,
                 sample_output_dataset: Any = None, resource_configuration: Any = None) -> "Model":
        """Register a local file or folder as the next version of `model_name` (1, 2, ...).

        `child_paths` limits a folder to the listed files (relative to it).
        """
        _check_name(model_name)
        src = Path(model_path)
        if not src.exists():
            raise UserErrorException(f"Model.register: model_path {str(model_path)!r} does not exist.")
        base = src.resolve().name
        if src.is_file():
            files = [(src, base)]
        else:
            chosen = [src / c for c in child_paths] if child_paths else [p for p in sorted(src.rglob("*")) if p.is_file()]
            missing = [str(p) for p in chosen if not p.is_file()]
            if missing:
                raise UserErrorException(f"Model.register: child_paths not found: {', '.join(missing[:5])}.")
            files = [(p, f"{base}/{p.relative_to(src).as_posix()}") for p in chosen]
        print(f"Registering model {model_name}")
        return Model._store_version(workspace, model_name, base, src.is_dir(), files, tags, properties, description,
                                    {"framework": model_framework, "frameworkVersion": model_framework_version,
                                     "datasets": _dataset_refs(datasets)})

    @staticmethod
    def _register_from_run(run: "Run", model_name: str, model_path: str | None = None, tags: dict | None = None,
                           properties: dict | None = None, model_framework: str | None = None,
                           model_framework_version: str | None = None, description: str | None = None,
                           datasets: list | None = None, **kwargs: Any) -> "Model":
        """`run.register_model`: copy a run file, or every run file under a folder prefix, into a new version."""
        _check_name(model_name)
        if not model_path:
            raise UserErrorException("register_model needs model_path: a run file such as 'outputs/model.pkl' or a "
                                     "folder such as 'outputs/' or 'model'.")
        path = model_path.replace("\\", "/")
        while path.startswith("./"):
            path = path[2:]
        path = path.rstrip("/")
        names = run.get_file_names()
        run_container = f"{run._ws_id}/runs/{run.id}"
        if path in names:
            base, is_dir = path.rsplit("/", 1)[-1], False
            files = [((run_container, path), base)]
        else:
            under = [n for n in names if n.startswith(path + "/")] if path else list(names)
            if not under:
                shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
                raise UserErrorException(f"register_model: run {run.id} has no file or folder '{model_path}'. "
                                         f"Its files: {shown or 'none'}.")
            base, is_dir = (path.rsplit("/", 1)[-1] if path else "outputs"), True
            files = [((run_container, n), f"{base}/{n[len(path) + 1:] if path else n}") for n in under]
        ws = run.experiment.workspace
        return Model._store_version(ws, model_name, base, is_dir, files, tags, properties, description,
                                    {"framework": model_framework, "frameworkVersion": model_framework_version,
                                     "datasets": _dataset_refs(datasets), "runId": run.id,
                                     "experimentName": run.experiment.name,
                                     "source": f"runs:/{run.id}/{path}"})

    @staticmethod
    def _store_version(ws: "Workspace", name: str, base: str, is_dir: bool, files: list[tuple[Any, str]],
                       tags: dict | None, properties: dict | None, description: str | None,
                       extra: dict[str, Any]) -> "Model":
        from azuremlcore._tracking.run_records import submitter as _user

        spec: dict[str, Any] = {"path": base, "isFolder": is_dir, "files": [], "container": None,
                                "createdBy": _user(), **{k: v for k, v in extra.items() if v is not None}}
        store = ws._store
        rec = store.put_asset(ws._ws_id, KIND, name, spec, description=description, tags=_str_dict(tags),
                              properties=_str_dict(properties))
        container = _container(ws, name, rec.version)
        try:
            for src, dest in files:
                if isinstance(src, tuple):
                    with ws._artifacts.open(*src) as stream:
                        ws._artifacts.put(container, dest, stream)
                else:
                    ws._artifacts.put(container, dest, src)
            spec.update(files=[d for _, d in files], container=container)
            rec = store.update_asset(ws._ws_id, KIND, name, rec.version, spec=spec)
        except BaseException:
            store.delete_asset(ws._ws_id, KIND, name, rec.version)  # no half-registered version stays behind
            ws._artifacts.delete(container)
            raise
        return Model._wrap(ws, rec)

    # ------------------------------------------------------------------ finding
    @staticmethod
    def list(workspace: "Workspace", name: str | None = None, tags: Any = None, properties: Any = None,
             run_id: str | None = None, latest: bool = False, dataset_id: str | None = None, expand: bool = True,
             page_count: int = 255, model_framework: str | None = None) -> list["Model"]:
        """Registered models, newest first; filters: tags/properties as ["key"] or [["key", "value"]]."""
        records = [r for r in workspace._store.list_assets(workspace._ws_id, KIND, name)
                   if r.spec.get("container") and _pairs_match(r.tags, tags) and _pairs_match(r.properties, properties)
                   and (run_id is None or r.spec.get("runId") == run_id)
                   and (model_framework is None or r.spec.get("framework") == model_framework)
                   and (dataset_id is None or any(d.get("id") == dataset_id for d in r.spec.get("datasets", [])))]
        if latest:
            best: dict[str, Any] = {}
            for r in records:
                if r.name not in best or r.version > best[r.name].version:
                    best[r.name] = r
            records = list(best.values())
        records.sort(key=lambda r: (r.created_time, r.version), reverse=True)
        return [Model._wrap(workspace, r) for r in records]

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: "Workspace | None" = None) -> str:
        """The local path of a model's file or folder.

        In a deployed service: under $AZUREML_MODEL_DIR. Elsewhere: ./azureml-models/<name>/<version>/...,
        downloaded first from the run's workspace (inside a submitted run), `_workspace`, or the workspace of
        the nearest config file.
        """
        from azuremlcore._serving.models import MODELS_DIR, find_in_model_dir, in_local_folder, version_folder

        model_dir = os.environ.get("AZUREML_MODEL_DIR")
        if model_dir:
            found = find_in_model_dir(Path(model_dir), model_name, version)
            if found is not None:
                return str(found)
        ws = _find_workspace(_workspace)
        if ws is not None:
            try:
                model = Model(ws, model_name, version=version)
            except _ModelNotFound:
                model = None
            if model is not None:
                folder = version_folder(model_name, model.version)
                target = folder / model._record.spec["path"]
                if not target.exists():
                    model.download(str(folder), exist_ok=True)
                return target.as_posix()
        local = in_local_folder(model_name, version)
        if local is not None:
            return local
        where = f"workspace '{ws.name}'" if ws is not None else "any workspace (no config file found)"
        raise _ModelNotFound(f"Model '{model_name}'" + (f" version {version}" if version is not None else "") +
                             f" not found in {os.path.abspath(MODELS_DIR)} or in {where}. Register it first, or pass "
                             "_workspace=ws.")

    # ------------------------------------------------------------------ files
    def _for_staging(self) -> "ModelFiles":
        """This version as the serving machinery stages it (name, version, and a download into a folder)."""
        from azuremlcore._serving.models import ModelFiles

        return ModelFiles(self.name, self.version, lambda folder: self.download(folder, exist_ok=True))

    def download(self, target_dir: str = ".", exist_ok: bool = False, exists_ok: bool | None = None) -> str:
        """Copy the model's file or folder into target_dir; returns its path. Existing files need exist_ok=True."""
        exist_ok = exist_ok if exists_ok is None else exists_ok
        target = Path(target_dir)
        dest_root = target / self._record.spec["path"]
        if dest_root.exists() and not exist_ok:
            raise WebserviceException(f"File already exists: {dest_root}. Pass exist_ok=True to overwrite it.")
        container = self._record.spec["container"]
        for name in self._files():
            self.workspace._artifacts.download(container, name, target / name)
        return str(dest_root)

    def get_sas_urls(self) -> dict[str, str]:
        """file:// URLs of the model's files on this machine, by file name."""
        root = self._local_root()
        if root is None:
            raise WebserviceException("get_sas_urls needs an embedded workspace; use download() instead.")
        return {n: (root / n).as_uri() for n in self._files()}

    # ------------------------------------------------------------------ changing
    def _update(self, **fields: Any) -> None:
        self._record = self.workspace._store.update_asset(self.workspace._ws_id, KIND, self.name, self.version,
                                                          **fields)

    def update(self, tags: dict | None = None, description: str | None = None, sample_input_dataset: Any = None,
               sample_output_dataset: Any = None, resource_configuration: Any = None) -> None:
        """Replace the tags and/or the description."""
        fields: dict[str, Any] = {}
        if tags is not None:
            fields["tags"] = _str_dict(tags)
        if description is not None:
            fields["description"] = description
        if fields:
            self._update(**fields)

    def add_tags(self, tags: dict) -> None:
        """Add or change tags."""
        self._update(tags={**self.tags, **_str_dict(tags)})

    def remove_tags(self, tags: list[str]) -> None:
        """Remove tags by key."""
        self._update(tags={k: v for k, v in self.tags.items() if k not in set(tags)})

    def add_properties(self, properties: dict) -> None:
        """Add properties; changing an existing one raises."""
        current = self.properties
        for k, v in _str_dict(properties).items():
            if k in current and current[k] != v:
                raise WebserviceException(f"Property '{k}' is already set to '{current[k]}'; properties cannot be "
                                          "changed.")
        self._update(properties={**current, **_str_dict(properties)})

    def update_tags_properties(self, add_tags: dict | None = None, remove_tags: list[str] | None = None,
                               add_properties: dict | None = None) -> None:
        """Add and remove tags and add properties in one call."""
        if add_tags or remove_tags:
            tags = {**self.tags, **_str_dict(add_tags)}
            self._update(tags={k: v for k, v in tags.items() if k not in set(remove_tags or [])})
        if add_properties:
            self.add_properties(add_properties)

    def add_dataset_references(self, datasets: list) -> None:
        """Associate (scenario, dataset) pairs with the model."""
        spec = dict(self._record.spec)
        spec["datasets"] = spec.get("datasets", []) + _dataset_refs(datasets)
        self._update(spec=spec)

    def delete(self) -> None:
        """Delete this version and its files; refused while a web service uses it."""
        from azuremlcore.webservice import Webservice

        users = [s.name for s in Webservice.list(self.workspace) if self.id in s._spec.get("modelIds", [])]
        if users:
            raise WebserviceException(f"Model {self.id} is used by web service(s) {', '.join(users)}; delete them "
                                      "first.")
        self.workspace._store.delete_asset(self.workspace._ws_id, KIND, self.name, self.version)
        self.workspace._artifacts.delete(self._record.spec["container"])

    # ------------------------------------------------------------------ (de)serialising
    def serialize(self) -> dict[str, Any]:
        """A JSON-able description of this model version."""
        r = self._record
        return {"id": self.id, "name": r.name, "version": r.version, "description": r.description,
                "tags": dict(r.tags), "properties": dict(r.properties), "createdTime": self.created_time.isoformat(),
                "runId": self.run_id, "experimentName": self.experiment_name, "framework": self.model_framework,
                "frameworkVersion": self.model_framework_version, "url": self.url, "path": r.spec.get("path"),
                "workspaceName": self.workspace.name}

    @staticmethod
    def deserialize(workspace: "Workspace", model_payload: dict[str, Any]) -> "Model":
        """The model a `serialize()` payload names."""
        return Model(workspace, id=model_payload["id"])

    # ------------------------------------------------------------------ deployment
    @staticmethod
    def deploy(workspace: "Workspace", name: str, models: list["Model"], inference_config: "InferenceConfig | None" = None,
               deployment_config: Any = None, deployment_target: Any = None, overwrite: bool = False,
               show_output: bool = False) -> "Webservice":
        """Deploy models as a local web service (`LocalWebservice.deploy_configuration(port=...)`).

        The service runs the entry script's init() once and run(raw_data) per POST to `scoring_uri`.
        Only local deployment is available; other configurations raise.
        """
        from azuremlcore.webservice import LocalWebservice

        return LocalWebservice._deploy(workspace, name, models, inference_config, deployment_config, overwrite,
                                       show_output)

    @staticmethod
    def package(workspace: "Workspace", models: list["Model"], inference_config: "InferenceConfig | None" = None,
                generate_dockerfile: bool = False, image_name: str | None = None,
                image_label: str | None = None) -> Any:
        """Write a Docker build context (Dockerfile, models, source) for the service; never builds an image.

        Pass `generate_dockerfile=True`; then `package.save('folder')` copies the context out.
        """
        from azuremlcore._serving.package import write_package

        if not generate_dockerfile:
            raise WebserviceException("Images are not built here: call Model.package(..., generate_dockerfile=True) "
                                      "and build the generated folder with Docker yourself (package.save(folder)).")
        if inference_config is None:
            raise WebserviceException("Model.package needs an inference_config with the entry script.")
        cfg, image = inference_config, image_name or "azureml-package"
        folder = write_package([m._for_staging() for m in models], cfg.source_directory, cfg.entry_script,
                               cfg._script_path(), cfg.environment, image)
        return ModelPackage(workspace, folder, image)

    @staticmethod
    def print_configuration(models: list["Model"], inference_config: "InferenceConfig", deployment_config: Any,
                            deployment_target: Any) -> None:
        """Print what a deployment would use."""
        print(f"Models: {[m.id for m in models]}")
        print(f"Entry script: {inference_config.entry_script}; source: {inference_config.source_directory}")
        print(f"Environment: {getattr(inference_config.environment, 'name', None)}")
        print(f"Deployment: {deployment_config!r}")

    def _repr_html_(self) -> str:
        """The table a notebook shows for this model (with a link to its page)."""
        from azuremlcore._html_repr import model_html

        return model_html(self)

    def __repr__(self) -> str:
        return (f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, version={self.version}, "
                f"tags={self.tags}, properties={self.properties})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.id == self.id and other.workspace == self.workspace

    def __hash__(self) -> int:
        return hash(self.id)


class InferenceConfig:
    """What a deployed model runs: `entry_script` (with init() and run(raw_data)) in `source_directory`,
    with `environment` (None or user-managed: the current interpreter; otherwise a materialised one)."""

    def __init__(self, entry_script: str, runtime: str | None = None, conda_file: str | None = None,
                 extra_docker_file_steps: str | None = None, source_directory: str | None = None,
                 enable_gpu: bool | None = None, description: str | None = None, base_image: str | None = None,
                 base_image_registry: Any = None, cuda_version: str | None = None, environment: Any = None) -> None:
        if not entry_script:
            raise UserErrorException("InferenceConfig needs entry_script, the scoring script with init() and run().")
        self.entry_script = entry_script
        self.runtime = runtime
        self.conda_file = conda_file
        self.extra_docker_file_steps = extra_docker_file_steps
        self.source_directory = source_directory
        self.enable_gpu = enable_gpu
        self.description = description
        self.base_image = base_image
        self.base_image_registry = base_image_registry
        self.cuda_version = cuda_version
        self.environment = environment
        self.validate_configuration()

    def validate_configuration(self) -> None:
        """Check that the entry script exists (relative to source_directory when given)."""
        script = Path(self.source_directory or ".") / self.entry_script
        if not script.is_file():
            raise WebserviceException(f"Entry script {str(script)!r} not found: pass the scoring script's path "
                                      "relative to source_directory (or the current folder).")

    def _script_path(self) -> Path:
        return (Path(self.source_directory or ".") / self.entry_script).resolve()

    def _to_dict(self) -> dict[str, Any]:
        env = self.environment
        env_dict = env._to_dict() if env is not None and hasattr(env, "_to_dict") else None
        return {"entryScript": self.entry_script if self.source_directory else str(self._script_path()),
                "sourceDirectory": str(Path(self.source_directory).resolve())
                if self.source_directory else None, "environment": env_dict, "condaFile": self.conda_file,
                "description": self.description}

    @staticmethod
    def _from_dict(data: dict[str, Any]) -> "InferenceConfig":
        cfg = InferenceConfig.__new__(InferenceConfig)
        cfg.entry_script, cfg.source_directory = data["entryScript"], data.get("sourceDirectory")
        cfg.runtime = cfg.extra_docker_file_steps = cfg.enable_gpu = cfg.base_image = None
        cfg.base_image_registry = cfg.cuda_version = None
        cfg.conda_file, cfg.description = data.get("condaFile"), data.get("description")
        cfg.environment = None
        if data.get("environment"):
            from azuremlcore.environment import Environment

            cfg.environment = Environment._from_dict(data["environment"])
        return cfg

    def __repr__(self) -> str:
        return (f"InferenceConfig(entry_script={self.entry_script!r}, source_directory={self.source_directory!r}, "
                f"environment={getattr(self.environment, 'name', None)!r})")


class ModelPackage:
    """What `Model.package` returns: a generated Docker build context; `save(output_directory)` copies it out.

    Nothing is built here.
    """

    def __init__(self, workspace: "Workspace", folder: Path, image_name: str) -> None:
        self.workspace, self._folder, self.image_name = workspace, folder, image_name
        self.state = "Succeeded"
        self.location = str(folder)

    def wait_for_creation(self, show_output: bool = False) -> None:
        """Nothing to wait for: the context is written synchronously."""
        if show_output:
            print(f"Package written to {self._folder} (build it with: docker build -t {self.image_name} .)")

    def save(self, output_directory: str) -> None:
        """Copy the Dockerfile and build context into output_directory."""
        import shutil

        shutil.copytree(self._folder, output_directory, dirs_exist_ok=True)

    def get_container_registry(self) -> Any:
        """Not available: no registry is involved; build and push the image yourself."""
        raise WebserviceException("Packages are not pushed to a registry here: save() the context and build it.")

    def get_logs(self, decode: bool = True, offset: int = 0) -> str:
        """What was generated."""
        return "\n".join(sorted(str(p.relative_to(self._folder)) for p in self._folder.rglob("*") if p.is_file()))


def _find_workspace(workspace: "Workspace | None") -> "Workspace | None":
    """The workspace to look models up in: the given one, the job's, the config file's, else None."""
    from azuremlcore._tracking import run_env

    if workspace is not None:
        return workspace
    if os.environ.get(run_env.RUN_ID) and os.environ.get(run_env.WORKSPACE_NAME):
        from azuremlcore.run import Run

        return Run.get_context().experiment.workspace
    try:
        from azuremlcore.workspace import Workspace

        return Workspace.from_config()
    except Exception:  # noqa: BLE001 - no config file (or no such workspace): look only at local folders
        return None


def __getattr__(name: str) -> Any:
    # azureml.core.model exposes Dataset too (`from azureml.core.model import Model, Dataset`); loaded on use.
    if name == "Dataset":
        from azuremlcore.dataset import Dataset

        return Dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
