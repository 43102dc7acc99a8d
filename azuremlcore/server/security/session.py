"""Browser sessions of the web view: a signed session token in an HttpOnly, SameSite=Strict cookie.

A person signs in at `/login` (with a user token or the device-code flow); the server then issues
its own short-lived token for that principal and sets it as the `aml_session` cookie, which the
guard accepts in place of an `Authorization: Bearer` header. Requests that change something and
carry only the cookie must also send the `X-AML-UI` header: a page of another site cannot set a
custom header without the server's CORS consent (which it never gives), so a forged form post fails.
"""
from __future__ import annotations

from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore.server.security.authz import Principal
    from azuremlcore.server.security.keys import SigningKey

COOKIE = "aml_session"
DEVICE_COOKIE = "aml_device"
CSRF_HEADER = "x-aml-ui"
LIFETIME_S = 8 * 3600
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def issue(key: "SigningKey", principal: "Principal", issuer: str, lifetime_s: int = LIFETIME_S) -> str:
    """A session token for the principal (same kind as the credential it signed in with)."""
    token, _ = key.issue(principal.id, lifetime_s, issuer, kind=principal.kind, session=True)
    return token


def set_cookie(name: str, value: str, *, secure: bool, max_age: int, path: str = "/") -> str:
    """A Set-Cookie header value: HttpOnly, SameSite=Strict, Secure on https."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cookie_from_scope(scope: dict[str, Any], name: str = COOKIE) -> str | None:
    """The value of a cookie of an ASGI request, or None."""
    for k, v in scope.get("headers", ()):
        if k == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(v.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed Cookie header is treated as no cookie
                return None
            if name in jar:
                return jar[name].value or None
    return None


def header_from_scope(scope: dict[str, Any], name: bytes) -> str | None:
    """The value of a request header (lower-case name), or None."""
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None
