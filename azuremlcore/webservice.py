"""Web services: deployed models answering HTTP scoring requests (``azureml.core.webservice``).

`LocalWebservice` runs the entry script in a scoring server process on this machine (127.0.0.1):
`Model.deploy(ws, name, models, inference_config, LocalWebservice.deploy_configuration(port=8890))`.
The process outlives the notebook; `service.delete()` stops it and frees the port.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azuremlcore.exceptions import WebserviceException

if TYPE_CHECKING:
    from azuremlcore._store.records import AssetRecord
    from azuremlcore.model import InferenceConfig, Model
    from azuremlcore.workspace import Workspace

KIND = "webservice"
_START_TIMEOUT = 300.0


def _home_folder(ws: "Workspace", name: str) -> Path:
    from azuremlcore._store import azuremlcore_home

    return azuremlcore_home() / "services" / ws._ws_id / name


class LocalWebserviceDeploymentConfiguration:
    """Where a local service listens: `port` on 127.0.0.1 (a free port when None)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port

    def __repr__(self) -> str:
        return f"LocalWebserviceDeploymentConfiguration(port={self.port})"


class Webservice:
    """A deployed web service: `Webservice(ws, name)` loads it (a LocalWebservice here)."""

    _webservice_type = "Local"

    def __new__(cls, workspace: "Workspace", name: str) -> Any:  # type: ignore[misc]
        rec = workspace._store.get_asset(workspace._ws_id, KIND, name)
        if rec is None:
            names = sorted({r.name for r in workspace._store.list_assets(workspace._ws_id, KIND)})
            raise WebserviceException(f"WebserviceNotFound: no web service named '{name}' in workspace "
                                      f"'{workspace.name}'. Services: {', '.join(names) or 'none'}.")
        return LocalWebservice._wrap(workspace, rec)

    def __init__(self, workspace: "Workspace", name: str) -> None:
        """Loaded by `__new__`."""

    @classmethod
    def _wrap(cls, workspace: "Workspace", rec: "AssetRecord") -> "LocalWebservice":
        svc = object.__new__(LocalWebservice)
        svc.workspace, svc._record = workspace, rec
        return svc

    @staticmethod
    def list(workspace: "Workspace", compute_type: str | None = None, image_name: str | None = None,
             image_id: str | None = None, model_name: str | None = None, model_id: str | None = None,
             tags: Any = None, properties: Any = None, image_digest: str | None = None) -> list["LocalWebservice"]:
        """Deployed services, filtered by compute type ('Local'), model name or id, tags, properties."""
        from azuremlcore.model import _pairs_match

        latest: dict[str, Any] = {}
        for rec in workspace._store.list_assets(workspace._ws_id, KIND):
            latest[rec.name] = rec
        out = []
        for rec in latest.values():
            ids = rec.spec.get("modelIds", [])
            if compute_type and compute_type.upper() != "LOCAL":
                continue
            if model_id and model_id not in ids:
                continue
            if model_name and not any(i.rsplit(":", 1)[0] == model_name for i in ids):
                continue
            if not (_pairs_match(rec.tags, tags) and _pairs_match(rec.properties, properties)):
                continue
            out.append(Webservice._wrap(workspace, rec))
        return out

    @staticmethod
    def deploy_from_model(workspace: "Workspace", name: str, models: list["Model"], image_config: Any = None,
                          deployment_config: Any = None, deployment_target: Any = None,
                          overwrite: bool = False) -> "LocalWebservice":
        """(Deprecated) Deploy models; needs an InferenceConfig, use Model.deploy."""
        raise WebserviceException("Use Model.deploy(ws, name, models, inference_config, deployment_config).")


class LocalWebservice(Webservice):
    """A scoring service on this machine: `scoring_uri`, `run(json)`, `get_logs()`, `update`, `reload`, `delete`."""

    @staticmethod
    def deploy_configuration(port: int | None = None) -> LocalWebserviceDeploymentConfiguration:
        """How to deploy locally: the port on 127.0.0.1 (a free one when None)."""
        if port is not None and not (0 < int(port) < 65536):
            raise WebserviceException(f"Invalid port {port}: use 1-65535, or None for a free port.")
        return LocalWebserviceDeploymentConfiguration(port=int(port) if port is not None else None)

    # ------------------------------------------------------------------ deploying
    @staticmethod
    def _deploy(workspace: "Workspace", name: str, models: list["Model"], inference_config: "InferenceConfig | None",
                deployment_config: Any, overwrite: bool, show_output: bool) -> "LocalWebservice":
        from azuremlcore.model import _check_name

        _check_name(name)
        if inference_config is None:
            raise WebserviceException("Model.deploy needs an inference_config: InferenceConfig(entry_script='score.py', "
                                      "environment=env).")
        if deployment_config is not None and not isinstance(deployment_config, LocalWebserviceDeploymentConfiguration):
            raise WebserviceException(f"{type(deployment_config).__name__} deployments (ACI/AKS) are not available "
                                      "here; use LocalWebservice.deploy_configuration(port=...).")
        existing = workspace._store.get_asset(workspace._ws_id, KIND, name)
        if existing is not None:
            if not overwrite:
                raise WebserviceException(f"A web service named '{name}' already exists; pass overwrite=True or "
                                          "delete it first.")
            Webservice._wrap(workspace, existing).delete()
        port = deployment_config.port if deployment_config is not None else None
        spec = {"computeType": "Local", "port": port, "pid": None, "state": "Transitioning",
                "modelIds": [m.id for m in models], "inferenceConfig": inference_config._to_dict(),
                "folder": str(_home_folder(workspace, name)), "error": None}
        rec = workspace._store.put_asset(workspace._ws_id, KIND, name, spec)
        svc = Webservice._wrap(workspace, rec)
        svc._start(models, inference_config, show_output)
        return svc

    def _save(self, **changes: Any) -> None:
        spec = {**self._record.spec, **changes}
        self._record = self.workspace._store.update_asset(self.workspace._ws_id, KIND, self.name,
                                                          self._record.version, spec=spec)

    def _start(self, models: list["Model"], inference_config: "InferenceConfig", show_output: bool,
               recopy: bool = True) -> None:
        from azuremlcore._serving import process
        from azuremlcore._serving.models import stage

        folder = Path(self._spec["folder"])
        port = self._spec.get("port") or process.free_port()
        if process.port_in_use(port):
            self._save(state="Failed", error=f"port {port} in use")
            raise WebserviceException(f"Port {port} is already in use on 127.0.0.1: choose another with "
                                      "LocalWebservice.deploy_configuration(port=...), or delete the service using it.")
        src = folder / "src"
        if recopy:
            shutil.rmtree(src, ignore_errors=True)
            script = inference_config._script_path()
            if inference_config.source_directory:
                shutil.copytree(inference_config.source_directory, src,
                                ignore=shutil.ignore_patterns(".git", "__pycache__", "azureml-models"))
            else:
                src.mkdir(parents=True)
                shutil.copy2(script, src / script.name)
        entry = src / (inference_config.entry_script if inference_config.source_directory else
                       Path(inference_config.entry_script).name)
        model_dir = stage(models, folder)
        log = (lambda m: print(m, flush=True)) if show_output else None
        try:
            python = process.python_for(inference_config.environment, log)
        except Exception as exc:  # noqa: BLE001 - environment build errors are reported as deployment failures
            self._save(state="Failed", error=str(exc))
            raise WebserviceException(f"Could not prepare the service's environment: {exc}") from exc
        env_vars = dict(getattr(inference_config.environment, "environment_variables", None) or {})
        pid = process.start(python, port, entry, src, model_dir, folder / "logs" / "service.log", env_vars)
        self._save(pid=pid, port=port, state="Transitioning", error=None,
                   scoringUri=f"http://127.0.0.1:{port}/score", modelIds=[m.id for m in models],
                   inferenceConfig=inference_config._to_dict(), python=python)
        if show_output:
            print(f"Starting service {self.name} on port {port}", flush=True)
        self.wait_for_deployment(show_output=show_output)

    # ------------------------------------------------------------------ attributes
    @property
    def _spec(self) -> dict[str, Any]:
        return self._record.spec

    @property
    def name(self) -> str:
        """The service name."""
        return self._record.name

    @property
    def compute_type(self) -> str:
        """'Local'."""
        return "Local"

    @property
    def port(self) -> int | None:
        """The port on 127.0.0.1."""
        return self._spec.get("port")

    @property
    def scoring_uri(self) -> str | None:
        """Where to POST scoring requests."""
        return self._spec.get("scoringUri")

    @property
    def swagger_uri(self) -> str | None:
        """The service's swagger document."""
        return f"http://127.0.0.1:{self.port}/swagger.json" if self.port else None

    @property
    def models(self) -> list["Model"]:
        """The deployed models."""
        from azuremlcore.model import Model

        return [Model(self.workspace, id=i) for i in self._spec.get("modelIds", [])]

    @property
    def tags(self) -> dict[str, str]:
        """Tags."""
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, str]:
        """Properties."""
        return dict(self._record.properties)

    @property
    def description(self) -> str | None:
        """Description."""
        return self._record.description

    @property
    def created_time(self) -> Any:
        """When the service was first deployed (UTC)."""
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self._record.created_time / 1000, timezone.utc)

    @property
    def state(self) -> str:
        """'Healthy', 'Transitioning' (starting), 'Failed' (never came up) or 'Unhealthy' (stopped since)."""
        from azuremlcore._serving import process

        spec = self._spec
        if spec.get("state") == "Failed" and not process.alive(spec.get("pid")):
            return "Failed"
        if not process.alive(spec.get("pid")):
            return "Unhealthy"
        return "Healthy" if process.healthy(f"http://127.0.0.1:{spec['port']}/") else "Transitioning"

    def _refresh(self) -> None:
        rec = self.workspace._store.get_asset(self.workspace._ws_id, KIND, self.name)
        if rec is None:
            raise WebserviceException(f"Web service '{self.name}' was deleted.")
        self._record = rec

    def update_deployment_state(self) -> None:
        """Read the service's record again."""
        self._refresh()

    # ------------------------------------------------------------------ using
    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until the service answers (after its init()); raises WebserviceException with its logs if it dies."""
        from azuremlcore._serving import process

        deadline = time.monotonic() + (timeout_sec or _START_TIMEOUT)
        url = f"http://127.0.0.1:{self.port}/"
        while True:
            pid = self._spec.get("pid")
            if process.healthy(url) and process.alive(pid):
                self._save(state="Healthy")
                if show_output:
                    print(f"Service {self.name} is Healthy: {self.scoring_uri}", flush=True)
                return
            if not process.alive(pid) or time.monotonic() > deadline:
                timed_out = process.alive(pid)
                process.stop(pid)
                self._save(state="Failed", error="timed out" if timed_out else "exited")
                logs = self.get_logs(num_lines=40)
                reason = (f"did not answer within {timeout_sec or _START_TIMEOUT:.0f}s" if timed_out
                          else "stopped while starting")
                raise WebserviceException(f"Service '{self.name}' {reason}. Last log lines:\n{logs}")
            if show_output:
                print(".", end="", flush=True)
            time.sleep(0.2)

    def run(self, input_data: Any) -> Any:
        """POST input_data (JSON text, or an object sent as JSON) to the scoring URI; returns the decoded JSON answer."""
        import urllib.error
        import urllib.request

        if not self.scoring_uri:
            raise WebserviceException(f"Service '{self.name}' has no scoring URI; it did not start.")
        body = input_data if isinstance(input_data, (str, bytes)) else json.dumps(input_data)
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.scoring_uri, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 - our own loopback service
                text = resp.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise WebserviceException(f"Received bad response from service ({exc.code}): {detail}") from exc
        except urllib.error.URLError as exc:
            raise WebserviceException(f"Service '{self.name}' did not answer at {self.scoring_uri} ({exc.reason}); "
                                      f"its state is {self.state}. Check service.get_logs().") from exc
        try:
            return json.loads(text)
        except ValueError:
            return text

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The last num_lines lines the service printed (its init() and run() output, errors, requests)."""
        log = Path(self._spec["folder"]) / "logs" / "service.log"
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-num_lines:])

    def get_keys(self) -> tuple[str, str]:
        """Not available: local services have no authentication keys."""
        raise WebserviceException("Local web services have no keys (they listen on 127.0.0.1 only).")

    def get_token(self) -> Any:
        """Not available: local services have no authentication tokens."""
        raise WebserviceException("Local web services have no tokens (they listen on 127.0.0.1 only).")

    # ------------------------------------------------------------------ changing
    def update(self, models: list["Model"] | None = None, image_config: Any = None, inference_config: Any = None,
               deployment_config: LocalWebserviceDeploymentConfiguration | None = None, port: int | None = None,
               wait: bool = False) -> None:
        """Redeploy with other models, inference config or port (the process is restarted)."""
        from azuremlcore._serving import process
        from azuremlcore.model import InferenceConfig

        models = models if models is not None else self.models
        cfg = inference_config or InferenceConfig._from_dict(self._spec["inferenceConfig"])
        new_port = port or (deployment_config.port if deployment_config else None) or self.port
        process.stop(self._spec.get("pid"))
        shutil.rmtree(Path(self._spec["folder"]) / "azureml-models", ignore_errors=True)
        self._save(port=new_port, pid=None)
        self._start(models, cfg, show_output=False)

    def reload(self, wait: bool = False) -> None:
        """Restart the service with fresh copies of its entry script and source folder."""
        self.update()

    def delete(self) -> None:
        """Stop the service (its port is freed) and forget it."""
        from azuremlcore._serving import process

        process.stop(self._spec.get("pid"))
        shutil.rmtree(self._spec["folder"], ignore_errors=True)
        self.workspace._store.delete_asset(self.workspace._ws_id, KIND, self.name)

    def serialize(self) -> dict[str, Any]:
        """A JSON-able description of the service."""
        return {"name": self.name, "computeType": "Local", "scoringUri": self.scoring_uri, "port": self.port,
                "modelIds": self._spec.get("modelIds", []), "state": self._spec.get("state")}

    def __repr__(self) -> str:
        return f"LocalWebservice(workspace={self.workspace!r}, name={self.name}, port={self.port})"


__all__ = ["Webservice", "LocalWebservice", "LocalWebserviceDeploymentConfiguration"]


# Azure-hosted service kinds: notebooks import them even where unused; any use says what to do here.
def _azure_only(name: str, what: str) -> type[Webservice]:
    from azuremlcore._azure_only import SERVE_HERE, azure_only

    return azure_only(name, Webservice, WebserviceException, what, SERVE_HERE, __name__)


AciWebservice = _azure_only("AciWebservice", "Azure Container Instances")
AksWebservice = _azure_only("AksWebservice", "Azure Kubernetes Service")
AksEndpoint = _azure_only("AksEndpoint", "an Azure Kubernetes Service endpoint")

__all__ += ["AciWebservice", "AksWebservice", "AksEndpoint"]
