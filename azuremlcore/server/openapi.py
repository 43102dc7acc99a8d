"""The served OpenAPI document: FastAPI's description of the workspace API, corrected to what the server
answers, plus the MLflow routes described from the same models that validate them.

FastAPI documents 422 for invalid requests; this server answers 400 with its error shape (and 401,
403, 404, 413, 429 where they apply), so the document says exactly that. The MLflow routes are one
Starlette route (a dict dispatch, for speed) and invisible to FastAPI: their operations are added here
from `mlflow_models.REQUESTS`, so a client or a fuzzer reads the same rules the server enforces.
"""
from __future__ import annotations

import re
from typing import Any

from azuremlcore.server._common import WS_PATH
from azuremlcore.server.models import ErrorOut

_ERRORS = {"400": "Invalid request (the message names the field)", "401": "No or invalid bearer token",
           "403": "The caller lacks the role needed", "404": "No such workspace, run, experiment or item",
           "413": "The request body is too large"}
_PUBLIC_ERRORS = {"400": _ERRORS["400"], "413": _ERRORS["413"], "429": "Too many requests from this address"}
_REF = "#/components/schemas/{model}"


def _error_response(text: str, public: bool = False) -> dict[str, Any]:
    # The issuer's public routes answer in OAuth's shape ({"error": ..., "error_description": ...}).
    schema = {"type": "object"} if public else {"$ref": _REF.format(model="ErrorOut")}
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _mlflow_operations(components: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from azuremlcore.server.mlflow_models import REQUESTS

    paths: dict[str, dict[str, Any]] = {}
    ws_params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in ("sub", "rg", "ws")]
    for (path, method), model in REQUESTS.items():
        schema = model.model_json_schema(ref_template=_REF)
        components.update(schema.pop("$defs", {}))
        params = list(ws_params) + [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                                    for n in re.findall(r"\{(\w+)\}", path)]
        op: dict[str, Any] = {"tags": ["mlflow"], "summary": f"MLflow {path.strip('/')}",
                              "operationId": f"mlflow_{method.lower()}_{re.sub(r'[^a-z]+', '_', path.lower()).strip('_')}",
                              "description": (model.__doc__ or "").strip(), "parameters": params,
                              "responses": {"200": {"description": "MLflow's answer",
                                                    "content": {"application/json": {"schema": {"type": "object"}}}},
                                            **{code: _error_response(t) for code, t in _ERRORS.items()}}}
        if method == "GET":
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                op["parameters"].append({"name": name, "in": "query", "required": name in required, "schema": prop})
        elif method in ("POST", "PATCH"):
            components[model.__name__] = schema
            op["requestBody"] = {"required": False, "content": {"application/json": {
                "schema": {"$ref": _REF.format(model=model.__name__)}}}}
        paths.setdefault(WS_PATH + "/api/2.0/mlflow" + path, {})[method.lower()] = op
    return paths


def document(app: Any) -> dict[str, Any]:
    """The OpenAPI document of the app (built once, then cached on the app as FastAPI does)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template=_REF)
    if any(getattr(r, "path", "").endswith("/api/2.0/mlflow/{rest:path}") for r in app.router.routes):
        doc["paths"].update(_mlflow_operations(components))
    for path, ops in doc["paths"].items():
        public = path == "/health" or path.startswith("/oidc/")
        for op in ops.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            for code, text in (_PUBLIC_ERRORS if public else _ERRORS).items():
                responses.setdefault(code, _error_response(text, public))
            if not public:
                op["security"] = [{"bearer": []}]
    doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    app.openapi_schema = doc
    return doc
