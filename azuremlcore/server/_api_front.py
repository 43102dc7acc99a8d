"""The workspace API answered in front of FastAPI: the SDK's and `aml`'s calls never wait for its build.

Before this, a workspace-API call (the SDK's `Workspace.get`, `Experiment.submit`, `run.log`'s
batches) in the first 0.2-0.3 s after `/health` waited for FastAPI to load and build its routes
in a thread, and an idle server held FastAPI's 10 MiB. `WorkspaceFront` answers the routes
declared in `routes_workspace`, `routes_files` and `routes_jobs` (the `_route_table` the FastAPI
build also reads) itself, with what FastAPI would do for them: path, query and body checked
against the handler's annotations by pydantic (the same models, the same error locations and
messages: "query.limit: ...", "body.name: ..."), then the same handler, and errors in the server's
error shape (`error_answer`, which the FastAPI app's exception handlers use too). Any other
request, or a method a route does not declare, goes to the app behind it unchanged.

The route modules (and the workspace API's pydantic models, 20-25 ms of import) load at the first
request under a workspace-API prefix, or earlier when the server is quiet (`load`).
"""
from __future__ import annotations

import email.message
import inspect
import json
import logging
import threading
import typing
from typing import Any, Callable

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from azuremlcore._store.errors import StoreError
from azuremlcore.exceptions import UserErrorException
from azuremlcore.server._common import json_response, validation_message
from azuremlcore.server.middleware import BodyTooLarge
from azuremlcore.server.security.authz import AuthError

_log = logging.getLogger("azuremlcore.server")
#: Where the fronted routes live: a request under neither prefix skips the route table.
PREFIXES = ("/subscriptions/", "/api/v1/")
#: /health is answered before this front (`_deferred_app`); the rest of these modules' routes are here.
_ANSWERED_BEHIND = frozenset({("GET", "/health")})


def route_modules() -> list[Any]:
    """The modules whose `router` (a `_route_table.RouteTable`) this front answers, in FastAPI's order."""
    from azuremlcore.server import routes_files, routes_jobs, routes_workspace

    return [routes_workspace, routes_files, routes_jobs]


def error_answer(exc: BaseException) -> Response | None:
    """The server's answer to an error a handler raised (None for an unexpected one: a 500)."""
    if isinstance(exc, StoreError):
        return error_response(exc.http_status, exc.error_code, str(exc))
    if isinstance(exc, AuthError):
        return error_response(exc.status, exc.error_code, str(exc))
    if isinstance(exc, UserErrorException):
        return error_response(400, "INVALID_PARAMETER_VALUE", str(exc))
    if isinstance(exc, BodyTooLarge):
        return error_response(413, "REQUEST_LIMIT_EXCEEDED", str(exc))
    return None


def internal_error(exc: BaseException) -> Response:
    """The 500 answer to an unexpected error (logged by the caller)."""
    return error_response(500, "INTERNAL_ERROR",
                          f"Internal server error ({exc.__class__.__name__}); see the server log.")


def error_response(status: int, code: str, message: str) -> Response:
    """An error in the server's shape (MLflow's `error_code`/`message`, and Azure's `error`)."""
    return json_response({"error_code": code, "message": message, "error": {"code": code, "message": message}},
                         status)


class _Invalid(Exception):
    """The request's path, query or body did not validate (pydantic's errors, located as FastAPI locates them)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid request")
        self.errors = errors


class _BadBody(Exception):
    """The body could not be read as JSON for a reason other than its syntax (FastAPI's 400 BAD_REQUEST)."""


_MISSING = object()


class _Binder:
    """Turns a request into the handler's arguments, checked as FastAPI checks them (built at a route's first use)."""

    def __init__(self, endpoint: Callable[..., Any], path_names: set[str]) -> None:
        from pydantic import Field, create_model

        from azuremlcore.server._route_table import PathValue, Query, type_hints

        hints = type_hints(endpoint)
        self.takes_request, self.body_name, self.body_model = False, "", None
        self.body_default: Any = inspect.Parameter.empty
        path_fields: dict[str, Any] = {}
        query_fields: dict[str, Any] = {}
        self.lists: set[str] = set()
        self.path_args: list[str] = []
        for p in inspect.signature(endpoint).parameters.values():
            annotation = hints.get(p.name, Any)
            if annotation is Request:
                self.takes_request = True
                continue
            if p.name in path_names:
                self.path_args.append(p.name)
                if annotation is str:
                    continue  # a path value is a string already: nothing to check
                if typing.get_origin(annotation) is typing.Annotated:
                    base, *meta = typing.get_args(annotation)
                    meta = [Field(ge=x.ge, le=x.le) if isinstance(x, PathValue) else x for x in meta]
                    annotation = typing.Annotated[(base, *meta)]  # type: ignore[valid-type]
                path_fields[p.name] = (annotation, ...)
                continue
            if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
                self.body_name, self.body_model, self.body_default = p.name, annotation, p.default
                continue
            default = p.default
            if isinstance(default, Query):
                if default.ge is not None or default.le is not None:
                    annotation = typing.Annotated[annotation, Field(ge=default.ge, le=default.le)]
                default = default.default
            if _is_list(annotation):
                self.lists.add(p.name)
            query_fields[p.name] = (annotation, ... if default is inspect.Parameter.empty else default)
        self.where = {**{n: "path" for n in path_fields}, **{n: "query" for n in query_fields}}
        # FastAPI reports the path's errors, then the query's, then the body's.
        self.params = create_model(f"{endpoint.__name__}_params", **path_fields, **query_fields) \
            if self.where else None

    async def arguments(self, request: Request) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        path = request.path_params
        values: dict[str, Any] = {name: path[name] for name in self.path_args}
        if self.takes_request:
            values["request"] = request
        if self.params is not None:
            raw: dict[str, Any] = {}
            q = request.query_params
            for name, where in self.where.items():
                if where == "path":
                    raw[name] = values[name]
                else:
                    got: Any = q.getlist(name) if name in self.lists else q.get(name)
                    if got is not None and got != []:
                        raw[name] = got
            try:
                values.update(self.params.model_validate(raw).__dict__)
            except ValidationError as exc:
                errors += [{**e, "loc": (self.where.get(str(e["loc"][0]), "query"), *e["loc"])} for e in exc.errors()]
        if self.body_model is not None:
            body = await _body(request)
            if body is _MISSING and self.body_default is not inspect.Parameter.empty:
                values[self.body_name] = self.body_default
            elif body is _MISSING:
                errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
            else:
                try:
                    values[self.body_name] = self.body_model.model_validate(body, from_attributes=True)
                except ValidationError as exc:
                    errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        if errors:
            raise _Invalid(errors)
        return values


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Union else (annotation,)
    return any(typing.get_origin(a) is list for a in args)


async def _body(request: Request) -> Any:
    """The body as FastAPI reads it for a body model: JSON when declared so, else the bytes; _MISSING when empty."""
    try:
        data = await request.body()
        if not data:
            return _MISSING
        content_type = request.headers.get("content-type")
        if not content_type:
            return data  # FastAPI's strict content type: no declared JSON, no JSON parsing
        message = email.message.Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
            return data
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise _Invalid([{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                         "input": {}}]) from None
    except Exception as exc:  # noqa: BLE001 - FastAPI answers any other failure to read the body so
        raise _BadBody() from exc


class _Route:
    """A fronted route; its path template matched segment by segment.

    Starlette compiles each template to a regular expression (`{name}` as `[^/]+`): compiling the 41
    templates was a third of loading the front (cProfile). The templates here have only whole-segment
    `{name}` values, so comparing segments is the same match without compiling anything.
    """

    def __init__(self, method: str, path: str, endpoint: Callable[..., Any]) -> None:
        self.method, self.path, self.endpoint = method, path, endpoint
        self.segments = path.split("/")
        self.values = {i: seg[1:-1] for i, seg in enumerate(self.segments) if seg.startswith("{")}
        if any(":" in name or not seg.endswith("}") for name, seg in
               ((n, self.segments[i]) for i, n in self.values.items())):
            raise ValueError(f"Route {path}: only whole-segment {{name}} values are answered in front of FastAPI.")
        self.path_names = set(self.values.values())
        self._binder: _Binder | None = None

    def match(self, parts: list[str]) -> dict[str, str] | None:
        """The path values when the path's segments (`path.split("/")`) match this route's, else None."""
        segments, values = self.segments, self.values
        if len(parts) != len(segments):
            return None
        for i, seg in enumerate(segments):
            if i in values:
                if not parts[i]:
                    return None
            elif parts[i] != seg:
                return None
        return {name: parts[i] for i, name in values.items()}

    @property
    def binder(self) -> _Binder:
        if self._binder is None:
            self._binder = _Binder(self.endpoint, self.path_names)
        return self._binder


def routes() -> list[_Route]:
    """The fronted routes, in the order FastAPI's router tries them."""
    return [_Route(spec.method, spec.path, spec.endpoint) for module in route_modules()
            for spec in module.router.routes if (spec.method, spec.path) not in _ANSWERED_BEHIND]


class WorkspaceFront:
    """ASGI app: answers the workspace API's routes itself, everything else with `app`.

    `state` is what handlers read as `request.app.state` (the server's state and threadpool flag).
    """

    def __init__(self, app: Any, state: Any) -> None:
        self.app, self.state = app, state
        self._routes: list[_Route] | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Import the route modules and compile their paths (once; the first fronted request does it otherwise)."""
        with self._lock:
            if self._routes is None:
                self._routes = routes()

    def match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        """The route answering `method path` here and its path values, or None (the app behind answers)."""
        if self._routes is None:
            self.load()
        parts = path.split("/")
        for route in self._routes or ():
            if route.method == method:
                values = route.match(parts)
                if values is not None:
                    return route, values
        # Another method on a known path (FastAPI's 405), or no such route: the app's to answer.
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        found = self.match(scope["method"], scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        route, path_values = found
        scope["app"] = self
        scope["path_params"] = path_values
        request = Request(scope, receive, send)
        try:
            try:
                args = await route.binder.arguments(request)
            except _Invalid as exc:
                answer: Response = error_response(400, "INVALID_PARAMETER_VALUE", validation_message(exc.errors))
            except _BadBody:
                answer = error_response(400, "BAD_REQUEST", "There was an error parsing the body")
            else:
                result = await route.endpoint(**args)
                answer = result if isinstance(result, Response) else json_response(result)
        except Exception as exc:  # noqa: BLE001 - every error is answered in the server's shape, as the app would
            known = error_answer(exc)
            if known is None:
                _log.exception("Internal error on %s %s", scope["method"], scope["path"])
                known = internal_error(exc)
            answer = known
        await answer(scope, receive, send)

