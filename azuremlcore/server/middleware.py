"""ASGI middleware: authentication of every request (but a few public paths), rate limits on the public
ones, and limits on what reaches a parser (body size, JSON depth, NUL characters)."""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from azuremlcore.server import limits
from azuremlcore.server.security import session
from azuremlcore.server.security.authz import LOCAL, AuthError, Authenticator
from azuremlcore.server.security.ratelimit import RateLimiter

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PUBLIC_PATHS = ("/health", "/oidc/.well-known/openid-configuration", "/oidc/oauth2/v2.0/token",
                "/oidc/oauth2/v2.0/keys", "/oidc/oauth2/v2.0/devicecode", "/oidc/device", "/favicon.ico")
_AZUREML_MLFLOW_PREFIX = "/mlflow/v1.0/subscriptions/"
# File uploads stream to disk and may be large; every other body is JSON and held in memory.
_STREAMED_SUFFIXES = ("/files", "/files/append")
_STREAMED_MARKERS = ("/mlflow-artifacts/artifacts/",)
# Routes that parse their (possibly large) bodies with limits.parse_json, which refuses deep nesting itself.
_SELF_CHECKED_MARKERS = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")
_SELF_CHECKED_SUFFIXES = ("/metrics",)
# Public routes take small forms; anyone may call them, so they are rate-limited per client address.
PUBLIC_MAX_BODY = 16_384
RATE_LIMITED = {"/oidc/oauth2/v2.0/token": "token", "/oidc/oauth2/v2.0/devicecode": "devicecode",
                "/oidc/device": "device_page", "/login": "login", "/login/device": "devicecode"}
# The web view's sign-in pages and the package's own static assets (nothing secret) need no sign-in.
PUBLIC_PREFIXES = ("/static/", "/login", "/logout")


def is_page(path: str) -> bool:
    """A web view page (a browser is sent to /login without a session) rather than data."""
    return path == "/" or path == "/docs" or (path.startswith("/ui/") and not path.startswith("/ui/api/"))


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    """Answer with the server's JSON error shape."""
    body = json.dumps({"error_code": code, "message": message, "error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Authenticates the bearer token (result in scope['state']['principal']) and caps JSON body sizes."""

    def __init__(self, app: Any, authenticator: Authenticator, max_json_bytes: int,
                 rate_limiter: RateLimiter | None = None, open_access: bool = False) -> None:
        self.app, self.auth, self.max_json, self.rate = app, authenticator, max_json_bytes, rate_limiter
        # `aml studio`: one person's embedded workspaces on 127.0.0.1, no sign-in (every caller is LOCAL).
        self.open_access = open_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(_AZUREML_MLFLOW_PREFIX):
            # azureml:// tracking URIs (Azure ML's shape) put the workspace under /mlflow/v1.0: same routes.
            path = path[len(_AZUREML_MLFLOW_PREFIX) - len("/subscriptions/"):]
            scope = dict(scope, path=path, raw_path=path.encode())
        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            await send_error(send, 400, "INVALID_PARAMETER_VALUE", "NUL characters are not accepted in a path or query.")
            return
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if public and scope["method"] == "POST" and self.rate is not None and path in RATE_LIMITED:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.rate.allow(RATE_LIMITED[path], client)
            if wait > 0:
                await _too_many(send, wait)
                return
        if self.open_access:
            scope.setdefault("state", {})["principal"] = LOCAL
        elif not public:
            authorization = session.header_from_scope(scope, b"authorization")
            from_cookie = False
            if authorization is None:
                cookie = session.cookie_from_scope(scope)
                if cookie:
                    authorization, from_cookie = f"Bearer {cookie}", True
            try:
                principal = self.auth.authenticate(authorization)
            except AuthError as exc:
                if is_page(path) and scope["method"] in session.SAFE_METHODS:
                    await _to_login(scope, send)
                else:
                    await send_error(send, exc.status, exc.error_code, str(exc))
                return
            if from_cookie and scope["method"] not in session.SAFE_METHODS \
                    and session.header_from_scope(scope, session.CSRF_HEADER.encode()) is None:
                await send_error(send, 403, "PERMISSION_DENIED", "A change made with a browser session must send "
                                 "the X-AML-UI header (the web view's pages do); scripts use a bearer token.")
                return
            scope.setdefault("state", {})["principal"] = principal
        if path.endswith(_STREAMED_SUFFIXES) or any(m in path for m in _STREAMED_MARKERS):
            await self.app(scope, receive, send)
            return
        limit = PUBLIC_MAX_BODY if public else self.max_json
        for k, v in scope["headers"]:
            if k == b"content-length" and v.isdigit() and int(v) > limit:
                await send_error(send, 413, "REQUEST_LIMIT_EXCEEDED",
                                 f"The request body is larger than {limit} bytes; send smaller batches.")
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # JSON bodies are parsed whole anyway, so read them here first: an oversized body (with
        # or without Content-Length) is refused before any handler or parser sees it.
        parts: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body = message.get("body", b"")
            seen += len(body)
            if seen > limit:
                await send_error(send, 413, "REQUEST_LIMIT_EXCEEDED",
                                 f"The request body is larger than {limit} bytes; send smaller batches.")
                return
            parts.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(parts)
        self_checked = path.endswith(_SELF_CHECKED_SUFFIXES) or any(m in path for m in _SELF_CHECKED_MARKERS)
        why = limits.problem(whole, scan_depth=not self_checked)
        if why is not None:
            await send_error(send, 400, "INVALID_PARAMETER_VALUE", why)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _to_login(scope: Scope, send: Send) -> None:
    from urllib.parse import quote

    target = scope["path"] + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
    location = "/login?next=" + quote(target, safe="")
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0"),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": b""})


async def _too_many(send: Send, wait: float) -> None:
    # OAuth's error shape (these are the issuer's routes) with Retry-After, which clients honour.
    seconds = max(1, int(wait + 0.999))
    body = json.dumps({"error": "slow_down", "error_description": f"Too many requests from this address; "
                                                                  f"retry in {seconds} s."}).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(seconds).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """A request body went over the JSON size limit (answered with 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes; send smaller batches.")
