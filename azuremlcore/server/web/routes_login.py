"""Sign-in for browsers: `/login` takes a user token or runs the server's device-code flow, then sets the
session cookie (`security/session.py`); `/logout` clears it."""
from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from azuremlcore.server._common import json_response, state_of
from azuremlcore.server.security import session
from azuremlcore.server.security.authz import AuthError
from azuremlcore.server.web.render import page

router = APIRouter(include_in_schema=False)
WEB_CLIENT_ID = "azuremlcore-web"


def _next(target: str | None) -> str:
    # Only paths of this server: never an open redirect to another site.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/ui/workspaces"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _signed_in(request: Request, principal, target: str) -> Response:  # type: ignore[no-untyped-def]
    st = state_of(request)
    token = session.issue(st.key, principal, str(request.base_url).rstrip("/"))
    response = RedirectResponse(_next(target), status_code=303)
    response.headers.append("set-cookie", session.set_cookie(session.COOKIE, token, secure=_secure(request),
                                                             max_age=session.LIFETIME_S))
    response.headers.append("set-cookie", session.set_cookie(session.DEVICE_COOKIE, "", secure=_secure(request),
                                                             max_age=0, path="/login"))
    return response


def _same_origin(request: Request) -> bool:
    # Another site's page must not sign a browser in (as the attacker, "login CSRF"): browsers name the
    # page a POST comes from in Origin; a request without one (a script) is left alone.
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    return dict(parse_qsl(raw[:16_384].decode("utf-8", "replace")))


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:
    """The sign-in page: paste a token, or get a code to approve."""
    return page(request, "login.html", next=_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Sign in with a user token (from `aml token create`) or any bearer token this server accepts."""
    form = await _form(request)
    target = _next(form.get("next"))
    if not _same_origin(request):
        return page(request, "login.html", status=403, next=target, error="Sign in from this server's own page.")
    try:
        principal = state_of(request).auth.authenticate(f"Bearer {form.get('token', '').strip()}")
    except AuthError as exc:
        return page(request, "login.html", status=401, next=target, error=str(exc))
    if principal.kind == "run":
        return page(request, "login.html", status=403, next=target, error="A run token cannot sign in to the web view.")
    return _signed_in(request, principal, target)


@router.post("/login/device")
async def device_start(request: Request) -> Response:
    """Start a device-code sign-in: the code to approve, the device code kept in an HttpOnly cookie."""
    from azuremlcore.server.security.device import LIFETIME_S, display_user_code
    from azuremlcore.server.routes_oidc import device_codes

    if not _same_origin(request):
        return json_response({"error": "Sign in from this server's own page."}, 403)
    st = state_of(request)
    started = device_codes(request).start(WEB_CLIENT_ID, "", max_pending=st.config.max_pending_device_codes)
    if started is None:
        return json_response({"error": "Too many sign-ins are waiting; try again in a few minutes."}, 429)
    device, user = started
    shown = display_user_code(user)
    response = json_response({"user_code": shown, "verification_uri": f"/oidc/device?user_code={shown}",
                              "expires_in": LIFETIME_S, "approve_command": f"aml device approve {shown} --user NAME"})
    response.headers.append("set-cookie", session.set_cookie(session.DEVICE_COOKIE, device, secure=_secure(request),
                                                             max_age=LIFETIME_S, path="/login"))
    return response


@router.post("/login/device/poll")
async def device_poll(request: Request) -> Response:
    """Whether the code was approved: then the session cookie is set (answer {"state": "approved"})."""
    from azuremlcore.server.security.authz import Principal
    from azuremlcore.server.routes_oidc import device_codes

    device = request.cookies.get(session.DEVICE_COOKIE)
    if not device or not _same_origin(request):
        return json_response({"state": "expired"})
    state, principal_id, _ = device_codes(request).poll(device, WEB_CLIENT_ID)
    if state != "approved" or principal_id is None:
        return json_response({"state": state})
    signed = _signed_in(request, Principal(principal_id, "user"), "/")
    response = json_response({"state": "approved"})
    for value in signed.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", value)
    return response


@router.get("/logout")
async def logout(request: Request) -> Response:
    """Forget the session cookie and go back to the sign-in page."""
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("set-cookie", session.set_cookie(session.COOKIE, "", secure=_secure(request), max_age=0))
    return response
