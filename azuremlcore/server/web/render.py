"""Jinja2 templates of the web view and the filters they format values with."""
from __future__ import annotations

import datetime as _dt
import functools
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from azuremlcore._version import __version__

_TEMPLATES = Path(__file__).parent / "templates"
TERMINAL = ("Completed", "Failed", "Canceled")


def when(ms: int | None) -> str:
    """A time in milliseconds since the epoch as 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    if not ms:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """A duration as '1h 02m', '3m 04s' or '5.2s'."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def number(v: Any) -> str:
    """A metric value for a table cell: up to 6 significant digits."""
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


@functools.lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The URL of a static file with its content hash, so browsers cache it until it changes."""
    import hashlib

    digest = hashlib.sha256((_TEMPLATES.parent / "static" / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    """The template environment (autoescaped), built once."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(when=when, duration=duration, number=number)
    env.globals.update(version=__version__, TERMINAL=TERMINAL, asset=asset)
    return env


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page; `context` reaches the template next to `request` and `me` (the caller's id)."""
    principal = request.scope.get("state", {}).get("principal")
    html = environment().get_template(template).render(request=request, me=getattr(principal, "id", None),
                                                       local=getattr(principal, "kind", None) == "local", **context)
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
