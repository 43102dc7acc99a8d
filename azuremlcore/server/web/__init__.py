"""The web view: pages over the workspaces a caller can read, served by `aml server` and `aml studio`.

Pages are Jinja2 templates rendered on the server from the same store and role checks as the API
(`access.py`); charts are drawn in the browser by uPlot from downsampled series (`downsample.py`,
`routes_data.py`); live pages poll with `If-None-Match`. Every asset (uPlot, swagger-ui for `/docs`)
is served from `static/`, never a CDN. `docs/web.md` describes the pages.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"


def install(app: Any) -> None:
    """Add the pages, their data routes, sign-in, /static and the API docs page to a FastAPI app."""
    from starlette.staticfiles import StaticFiles

    from azuremlcore.server._common import add_routes
    from azuremlcore.server.web import routes_data, routes_login, routes_pages

    class Assets(StaticFiles):
        """The package's static files; a URL with ?v=<content hash> (as pages link them) is cached for good."""

        async def get_response(self, path: str, scope: Any) -> Any:
            response = await super().get_response(path, scope)
            if scope.get("query_string", b"").startswith(b"v=") and response.status_code == 200:
                response.headers["cache-control"] = "public, max-age=31536000, immutable"
            return response

    for module in (routes_login, routes_pages, routes_data):
        add_routes(app, module.router)
    app.mount("/static", Assets(directory=STATIC), name="static")
