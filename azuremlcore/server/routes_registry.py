"""MLflow's model registry REST API under each workspace's path: registered models are the workspace's models.

`/api/2.0/mlflow/registered-models/...` and `/model-versions/...` (and their /ajax-api twins) answer
with MLflow's own messages, backed by the bridge's registry store over the workspace's "model" assets
(`azuremlmlflow._model_registry`). Model version files are served read-only by the proxied artifact
API under `mlflow-artifacts:/models/<name>/<version>/...`, which is what download URIs point to.
MLflow is imported on the first registry request only. Installed after `routes_mlflow`, in front of it.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from azuremlcore._config import arm_id
from azuremlcore._store.artifacts import clean_name
from azuremlcore._store.errors import StoreError
from azuremlcore.server._common import WS_PATH, resolve_workspace
from azuremlcore.server.routes_mlflow import error, ok, rewrite
from azuremlcore.server.security.authz import READ, WRITE, AuthError

_lock = threading.Lock()
_stores: dict[str, Any] = {}
_table: dict[tuple[str, str], tuple[Any, bool, Callable[[Any, Any], dict]]] = {}


def _registry(st: Any, ws_id: str) -> Any:
    with _lock:
        reg = _stores.get(ws_id)
        if reg is None or reg._store is not st.store:
            from azuremlmlflow._model_registry import EmbeddedModelRegistry

            reg = _stores[ws_id] = EmbeddedModelRegistry.over(st.store, st.artifacts, ws_id, remote=True)
        return reg


def _handlers() -> dict[tuple[str, str], tuple[Any, bool, Callable[[Any, Any], dict]]]:
    """(path after /mlflow, method) -> (request message, writes?, handler(registry, message) -> answer)."""
    if _table:
        return _table
    import json

    from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
    from mlflow.protos import model_registry_pb2 as pb
    from mlflow.utils.proto_json_utils import message_to_json

    def js(entity: Any) -> dict:
        return json.loads(message_to_json(entity.to_proto()))

    def paged(page: Any, key: str) -> dict:
        out: dict = {key: [js(e) for e in page]}
        if page.token:
            out["next_page_token"] = page.token
        return out

    rm, mv = "/registered-models", "/model-versions"
    table = {
        (rm + "/create", "POST"): (pb.CreateRegisteredModel, True, lambda s, m: {"registered_model": js(
            s.create_registered_model(m.name, [RegisteredModelTag(t.key, t.value) for t in m.tags],
                                      m.description or None))}),
        (rm + "/rename", "POST"): (pb.RenameRegisteredModel, True, lambda s, m: {"registered_model": js(
            s.rename_registered_model(m.name, m.new_name))}),
        (rm + "/update", "PATCH"): (pb.UpdateRegisteredModel, True, lambda s, m: {"registered_model": js(
            s.update_registered_model(m.name, m.description))}),
        (rm + "/delete", "DELETE"): (pb.DeleteRegisteredModel, True,
                                     lambda s, m: s.delete_registered_model(m.name) or {}),
        (rm + "/get", "GET"): (pb.GetRegisteredModel, False, lambda s, m: {"registered_model": js(
            s.get_registered_model(m.name))}),
        (rm + "/search", "GET"): (pb.SearchRegisteredModels, False, lambda s, m: paged(s.search_registered_models(
            m.filter or None, m.max_results or None, list(m.order_by) or None, m.page_token or None),
            "registered_models")),
        (rm + "/get-latest-versions", "POST"): (pb.GetLatestVersions, False, lambda s, m: {"model_versions": [
            js(v) for v in s.get_latest_versions(m.name, list(m.stages) or None)]}),
        (rm + "/set-tag", "POST"): (pb.SetRegisteredModelTag, True, lambda s, m: s.set_registered_model_tag(
            m.name, RegisteredModelTag(m.key, m.value)) or {}),
        (rm + "/delete-tag", "DELETE"): (pb.DeleteRegisteredModelTag, True,
                                         lambda s, m: s.delete_registered_model_tag(m.name, m.key) or {}),
        (rm + "/alias", "POST"): (pb.SetRegisteredModelAlias, True,
                                  lambda s, m: s.set_registered_model_alias(m.name, m.alias, m.version) or {}),
        (rm + "/alias", "DELETE"): (pb.DeleteRegisteredModelAlias, True,
                                    lambda s, m: s.delete_registered_model_alias(m.name, m.alias) or {}),
        (rm + "/alias", "GET"): (pb.GetModelVersionByAlias, False, lambda s, m: {"model_version": js(
            s.get_model_version_by_alias(m.name, m.alias))}),
        (mv + "/create", "POST"): (pb.CreateModelVersion, True, lambda s, m: {"model_version": js(
            s.create_model_version(m.name, m.source, m.run_id or None,
                                   [ModelVersionTag(t.key, t.value) for t in m.tags], m.run_link or None,
                                   m.description or None, model_id=m.model_id or None))}),
        (mv + "/update", "PATCH"): (pb.UpdateModelVersion, True, lambda s, m: {"model_version": js(
            s.update_model_version(m.name, m.version, m.description))}),
        (mv + "/transition-stage", "POST"): (pb.TransitionModelVersionStage, True, lambda s, m: {
            "model_version": js(s.transition_model_version_stage(m.name, m.version, m.stage,
                                                                 m.archive_existing_versions))}),
        (mv + "/delete", "DELETE"): (pb.DeleteModelVersion, True,
                                     lambda s, m: s.delete_model_version(m.name, m.version) or {}),
        (mv + "/get", "GET"): (pb.GetModelVersion, False, lambda s, m: {"model_version": js(
            s.get_model_version(m.name, m.version))}),
        (mv + "/search", "GET"): (pb.SearchModelVersions, False, lambda s, m: paged(s.search_model_versions(
            m.filter or None, m.max_results or None, list(m.order_by) or None, m.page_token or None),
            "model_versions")),
        (mv + "/get-download-uri", "GET"): (pb.GetModelVersionDownloadUri, False, lambda s, m: {
            "artifact_uri": s.get_model_version_download_uri(m.name, m.version)}),
        (mv + "/set-tag", "POST"): (pb.SetModelVersionTag, True, lambda s, m: s.set_model_version_tag(
            m.name, m.version, ModelVersionTag(m.key, m.value)) or {}),
        (mv + "/delete-tag", "DELETE"): (pb.DeleteModelVersionTag, True,
                                         lambda s, m: s.delete_model_version_tag(m.name, m.version, m.key) or {}),
    }
    _table.update(table)
    return _table


def _check_run_registration(pr: Any, path: str, msg: Any) -> None:
    """A run token may register its own run's models (as `run.register_model` does in a job), nothing else.

    It may create a registered model name and a version whose run is its own run; any other change to
    the registry needs a user or service token.
    """
    if path.endswith("/registered-models/create"):
        return
    if path.endswith("/model-versions/create") and getattr(msg, "run_id", "") and msg.run_id == pr.run_id:
        return
    raise AuthError(403, "A run token can only register models of its own run (create a registered model, or a "
                         "version whose run_id is the run's own); use a user or service token for other changes.")


async def _endpoint(request: Request) -> Response:
    p = request.path_params
    path = "/" + request.url.path.split("/mlflow/", 1)[1]
    try:
        st, pr, ws = resolve_workspace(request, p["sub"], p["rg"], p["ws"], READ)
        body = await request.body()
        from mlflow.exceptions import MlflowException

        from azuremlcore.server._mlflow_handlers import _parse

        found = _handlers().get((path, request.method))
        if found is None:
            return error("ENDPOINT_NOT_FOUND", f"No MLflow endpoint {request.method} {request.url.path}", 404)
        msg_cls, writes, handler = found
        try:
            msg = _parse(request, body, msg_cls)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the caller's malformed input
            return error("INVALID_PARAMETER_VALUE", f"Malformed request for {path}: {exc}")
        if writes:
            if pr.kind == "run":
                _check_run_registration(pr, path, msg)
            else:
                st.auth.require(pr, arm_id(ws.subscription_id, ws.resource_group, ws.name), ws.id, WRITE)
        try:
            return ok(rewrite(handler(_registry(st, ws.id), msg), st, ws.id))
        except MlflowException as exc:
            return error(exc.error_code, exc.message, exc.get_http_status_code())
    except AuthError as exc:
        return error(exc.error_code, str(exc), exc.status)
    except StoreError as exc:
        return error(exc.error_code, str(exc), exc.http_status)


async def _model_files(request: Request) -> Response:
    """Read-only proxied artifacts of model versions: `models/<name>/<version>/...` (files and listings)."""
    p = request.path_params
    try:
        st, _pr, ws = resolve_workspace(request, p["sub"], p["rg"], p["ws"], READ)
        listing = "path" not in p
        path = clean_name(request.query_params.get("path", "") if listing else "models/" + p["path"])
        container = f"{ws.id}/models"
        name = path[len("models/"):] if path.startswith("models/") else ""
        target = st.artifacts.local_path(container, name) if name else st.artifacts.root / container
        if not listing:
            if not target.is_file():
                return error("RESOURCE_DOES_NOT_EXIST", f"Artifact {path!r} does not exist")
            return FileResponse(target, media_type="application/octet-stream")
        files: list[dict[str, Any]] = []
        if target.is_dir():
            for child in sorted(target.iterdir()):
                # basenames, as MLflow's server answers (the client joins them to the path it asked for)
                entry: dict[str, Any] = {"path": child.name, "is_dir": child.is_dir()}
                if child.is_file():
                    entry["file_size"] = child.stat().st_size
                files.append(entry)
        return ok({"files": files})
    except AuthError as exc:
        return error(exc.error_code, str(exc), exc.status)
    except StoreError as exc:
        return error(exc.error_code, str(exc), exc.http_status)


async def _listing(request: Request) -> Response:
    # The artifact listing route is shared: model folders here, everything else to routes_mlflow.
    if request.query_params.get("path", "").lstrip("/").startswith("models/"):
        return await _model_files(request)
    from azuremlcore.server.routes_mlflow import _artifacts

    return await _artifacts(request)


def install(app: Any) -> None:
    """Put the registry routes in front of routes_mlflow's catch-all MLflow route (call after its install)."""
    routes = []
    for api in ("/api/2.0", "/ajax-api/2.0"):
        for kind in ("registered-models", "model-versions"):
            routes.append(Route(WS_PATH + api + f"/mlflow/{kind}/{{rest:path}}", _endpoint,
                                methods=["GET", "POST", "PATCH", "DELETE"]))
        routes.append(Route(WS_PATH + api + "/mlflow-artifacts/artifacts/models/{path:path}", _model_files,
                            methods=["GET"]))
        routes.append(Route(WS_PATH + api + "/mlflow-artifacts/artifacts", _listing, methods=["GET"]))
    app.router.routes[0:0] = routes
