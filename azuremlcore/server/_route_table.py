"""One declaration of each workspace-API route, read by the front (`_api_front`) and by the FastAPI build.

The workspace API's routes (`routes_workspace`, `routes_files`, `routes_jobs`) are declared on a
`RouteTable` rather than on FastAPI's `APIRouter`: declaring them does not import FastAPI (0.15 s
and 10 MiB), so the server answers them in front of FastAPI (`_api_front.WorkspaceFront`) and
builds FastAPI only for what needs it (web view, registry, issuer, `/openapi.json`). The FastAPI
build turns the same table into an `APIRouter` (`fastapi_router`), so both read one list: method,
path, handler, body model (the handler's annotated pydantic parameter), response model and options.

`openapi_extra` may be a function returning the dict, called only by the FastAPI build.
Parameter markers: `Query(default, ge=, le=)` as a parameter's default and `PathValue(ge=, le=)` in
an `Annotated` path parameter stand for FastAPI's `Query` and `Path`, which the build substitutes.
"""
from __future__ import annotations

import inspect
import typing
from typing import Any, Callable

Endpoint = Callable[..., Any]


# Plain classes rather than dataclasses: making a dataclass costs about 0.7 ms of import each.
class Query:
    """A query parameter's default and bounds (FastAPI's `Query`, declared without importing FastAPI)."""

    __slots__ = ("default", "ge", "le")

    def __init__(self, default: Any = None, ge: int | None = None, le: int | None = None) -> None:
        self.default, self.ge, self.le = default, ge, le


class PathValue:
    """A path parameter's bounds, in `Annotated[int, PathValue(ge=..., le=...)]` (FastAPI's `Path`)."""

    __slots__ = ("ge", "le")

    def __init__(self, ge: int | None = None, le: int | None = None) -> None:
        self.ge, self.le = ge, le


class RouteSpec:
    """One route: HTTP method, path template, handler and FastAPI's options (response model, status code, tags)."""

    __slots__ = ("method", "path", "endpoint", "options")

    def __init__(self, method: str, path: str, endpoint: Endpoint, options: dict[str, Any]) -> None:
        self.method, self.path, self.endpoint, self.options = method, path, endpoint, options


class RouteTable:
    """The routes of one module, in declaration order (the order FastAPI tries them in, too)."""

    def __init__(self, tags: list[str] | None = None) -> None:
        self.tags = tags or []
        self.routes: list[RouteSpec] = []

    def route(self, method: str, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Decorator: declare `endpoint` as the answer to `method path` (options as FastAPI's `add_api_route`)."""
        def declare(endpoint: Endpoint) -> Endpoint:
            self.routes.append(RouteSpec(method, path, endpoint, options))
            return endpoint

        return declare

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Declare a GET route."""
        return self.route("GET", path, **options)

    def head(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Declare a HEAD route."""
        return self.route("HEAD", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Declare a PUT route."""
        return self.route("PUT", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Declare a POST route."""
        return self.route("POST", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Declare a PATCH route."""
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Declare a DELETE route."""
        return self.route("DELETE", path, **options)

    def fastapi_router(self) -> Any:
        """The table as FastAPI's `APIRouter` (imports FastAPI): same paths, handlers, models and options."""
        from fastapi import APIRouter

        router = APIRouter(tags=list(self.tags))
        for spec in self.routes:
            options = dict(spec.options)
            if callable(options.get("openapi_extra")):  # the document's part made only when FastAPI needs it
                options["openapi_extra"] = options["openapi_extra"]()
            router.add_api_route(spec.path, _for_fastapi(spec.endpoint), methods=[spec.method], **options)
        return router


def type_hints(endpoint: Endpoint) -> dict[str, Any]:
    """The endpoint's parameter annotations, resolved (with their `Annotated` metadata)."""
    return typing.get_type_hints(endpoint, include_extras=True)


def _for_fastapi(endpoint: Endpoint) -> Endpoint:
    """The endpoint with FastAPI's `Query`/`Path` in its signature where it declares ours."""
    import fastapi

    hints = type_hints(endpoint)
    params = []
    for p in inspect.signature(endpoint).parameters.values():
        annotation, default = hints.get(p.name, p.annotation), p.default
        if isinstance(default, Query):
            default = fastapi.Query(default.default, ge=default.ge, le=default.le)
        if typing.get_origin(annotation) is typing.Annotated:
            base, *meta = typing.get_args(annotation)
            if any(isinstance(x, PathValue) for x in meta):
                meta = [fastapi.Path(ge=x.ge, le=x.le) if isinstance(x, PathValue) else x for x in meta]
                annotation = typing.Annotated[(base, *meta)]  # type: ignore[valid-type]
        params.append(p.replace(annotation=annotation, default=default))

    async def call(**kwargs: Any) -> Any:
        return await endpoint(**kwargs)

    for name in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(call, name, getattr(endpoint, name))
    returns = hints.get("return", inspect.Signature.empty)
    call.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    return call
