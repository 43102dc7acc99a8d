"""The OpenID Connect issuer: discovery document, signing keys, the token endpoint (client credentials,
device code, refresh token) and device-code sign-in (`devicecode` endpoint and the `/oidc/device` page)."""
from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from azuremlcore.server._common import json_response, state_of

router = APIRouter(tags=["identity"])


ISSUER_PATH = "/oidc"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_AUDIENCE = "azuremlcore-refresh"
REFRESH_LIFETIME_S = 90 * 86400
POLL_INTERVAL_S = 1


def _issuer(request: Request) -> str:
    # msal needs an authority with a path segment; the issuer is <server>/oidc.
    return str(request.base_url).rstrip("/") + ISSUER_PATH


@router.get(ISSUER_PATH + "/.well-known/openid-configuration")
async def discovery(request: Request) -> Response:
    """OIDC discovery: msal (`oidc_authority=<server URL>`) reads the token endpoint from here."""
    iss = _issuer(request)
    return json_response({
        "issuer": iss, "token_endpoint": f"{iss}/oauth2/v2.0/token", "jwks_uri": f"{iss}/oauth2/v2.0/keys",
        "authorization_endpoint": f"{iss}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{iss}/oauth2/v2.0/devicecode",
        "grant_types_supported": ["client_credentials", DEVICE_GRANT, "refresh_token"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
    })


@router.get(ISSUER_PATH + "/oauth2/v2.0/keys")
async def jwks(request: Request) -> Response:
    """The public keys tokens are signed with."""
    return json_response({"keys": [state_of(request).key.jwk]})


def _oauth_error(code: str, message: str, status: int = 400) -> Response:
    return json_response({"error": code, "error_description": message}, status)


@router.post(ISSUER_PATH + "/oauth2/v2.0/token")
async def token(request: Request) -> Response:
    """Client credentials grant: a service principal's id and secret for an access token."""
    import base64
    from urllib.parse import parse_qsl

    raw = await request.body()
    if len(raw) > 16_384:
        return _oauth_error("invalid_request", "The token request is too large.")
    form = dict(parse_qsl(raw.decode("utf-8", "replace")))
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        except ValueError:
            return _oauth_error("invalid_client", "Malformed basic credentials.", 401)
    if form.get("grant_type") == DEVICE_GRANT:
        return _device_token(request, form)
    if form.get("grant_type") == "refresh_token":
        return _refresh_token(request, form)
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "Supported grants: client_credentials, device_code and "
                                                      "refresh_token.")
    if not client_id or not secret:
        return _oauth_error("invalid_request", "client_id and client_secret are required.")
    st = state_of(request)
    from anyio import to_thread

    # The secret hash is deliberately slow (scrypt): keep it off the event loop.
    principal = await to_thread.run_sync(st.identity.check_client_secret, client_id, secret)
    if principal is None:
        return _oauth_error("invalid_client", "Unknown service principal or wrong secret.", 401)
    lifetime = st.config.token_lifetime_s
    access, _ = st.key.issue(principal, lifetime, _issuer(request), kind="service_principal",
                             scp=form.get("scope", ""))
    return json_response({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                          "access_token": access})


# ---------------------------------------------------------------------- device-code sign-in
def device_codes(request: Request):  # type: ignore[no-untyped-def]
    """The server's device codes (opened on first use; the web view's sign-in uses them too)."""
    from azuremlcore.server.security.device import DeviceCodes

    app_state = request.app.state
    if getattr(app_state, "devices", None) is None:
        app_state.devices = DeviceCodes(state_of(request).store._engine)
    return app_state.devices


async def _form(request: Request) -> dict[str, str]:
    from urllib.parse import parse_qsl

    raw = await request.body()
    if len(raw) > 16_384:
        return {}
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


def _client_id_ok(client_id: str | None) -> bool:
    from azuremlcore.server.security.keys import AUDIENCE

    # A client id is only a label of a public client, but it becomes the id token's audience: it must never
    # equal an audience the server accepts tokens for.
    return bool(client_id) and len(client_id) <= 200 and client_id not in (AUDIENCE, REFRESH_AUDIENCE)


@router.post(ISSUER_PATH + "/oauth2/v2.0/devicecode")
async def device_code(request: Request) -> Response:
    """Start a device-code sign-in (RFC 8628): a device code for the client, a user code for the person."""
    from azuremlcore.server.security.device import LIFETIME_S, display_user_code

    form = await _form(request)
    client_id = form.get("client_id")
    if not _client_id_ok(client_id):
        return _oauth_error("invalid_client", "A client_id (up to 200 characters) is required.")
    started = device_codes(request).start(str(client_id), form.get("scope", "")[:1024],
                                      max_pending=state_of(request).config.max_pending_device_codes)
    if started is None:
        return json_response({"error": "slow_down", "error_description": "Too many sign-ins are waiting; try again "
                                                                        "in a few minutes."}, 429)
    device, user = started
    page = _issuer(request) + "/device"
    shown = display_user_code(user)
    message = (f"To sign in, use a web browser to open the page {page} and enter the code {shown} to authenticate "
               f"(or ask the server admin to run: aml device approve {shown} --user <your name>).")
    return json_response({"device_code": device, "user_code": shown, "verification_uri": page,
                          "verification_uri_complete": f"{page}?user_code={shown}", "expires_in": LIFETIME_S,
                          "interval": POLL_INTERVAL_S, "message": message})


def _user_tokens(request: Request, principal_id: str, client_id: str, scope: str) -> Response:
    st = state_of(request)
    iss = _issuer(request)
    lifetime = st.config.token_lifetime_s
    name = principal_id.split(":", 1)[-1]
    access, _ = st.key.issue(principal_id, lifetime, iss, kind="user", scp=scope)
    id_token, _ = st.key.issue(principal_id, lifetime, iss, aud=client_id, kind="id", name=name,
                               preferred_username=name)
    refresh, _ = st.key.issue(principal_id, REFRESH_LIFETIME_S, iss, aud=REFRESH_AUDIENCE, kind="refresh",
                              cid=client_id)
    return json_response({"token_type": "Bearer", "scope": scope, "expires_in": lifetime, "ext_expires_in": lifetime,
                          "access_token": access, "id_token": id_token, "refresh_token": refresh})


def _device_token(request: Request, form: dict[str, str]) -> Response:
    client_id, code = form.get("client_id"), form.get("device_code")
    if not _client_id_ok(client_id) or not code:
        return _oauth_error("invalid_request", "client_id and device_code are required.")
    state, principal_id, scope = device_codes(request).poll(code, str(client_id))
    if state == "pending":
        return _oauth_error("authorization_pending", "The user code has not been approved yet.")
    if state == "denied":
        return _oauth_error("access_denied", "The sign-in was refused.")
    if state == "expired" or principal_id is None:
        return _oauth_error("expired_token", "The device code is unknown, used or expired; start again.")
    return _user_tokens(request, principal_id, str(client_id), scope)


def _refresh_token(request: Request, form: dict[str, str]) -> Response:
    import jwt
    import sqlalchemy as sa

    from azuremlcore.server.security.identity import principals

    st = state_of(request)
    try:
        claims = jwt.decode(form.get("refresh_token", ""), st.key.public, algorithms=["RS256"],
                            audience=REFRESH_AUDIENCE, options={"verify_iss": False, "require": ["exp", "sub"]})
    except jwt.InvalidTokenError:
        return _oauth_error("invalid_grant", "The refresh token is invalid or expired; sign in again.")
    client_id = form.get("client_id") or claims.get("cid")
    if claims.get("kind") != "refresh" or client_id != claims.get("cid"):
        return _oauth_error("invalid_grant", "The refresh token was not issued to this client.")
    with st.store._engine.connect() as conn:
        row = conn.execute(sa.select(principals.c.disabled).where(principals.c.id == claims["sub"])).first()
    if row is None or row.disabled:
        return _oauth_error("invalid_grant", "The account no longer exists or is disabled.")
    return _user_tokens(request, claims["sub"], str(client_id), form.get("scope", ""))


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sign in a device</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h2>Sign in a device to this workspace server</h2><p>{message}</p>
<form method="post"><p><label>Code shown on the device<br><input name="user_code" value="{code}" required></label></p>
<p><label>Your token (from <code>aml token create</code> or <code>aml login</code>)<br>
<input name="token" type="password" required></label></p><p><button>Sign in</button></p></form></body></html>"""


@router.get(ISSUER_PATH + "/device", response_class=HTMLResponse)
async def device_page(request: Request, user_code: str = "") -> Response:
    """The page where a person approves a device's user code with a token they already hold."""
    import html

    return Response(_PAGE.format(message="Enter the code your device shows.", code=html.escape(user_code[:16])),
                    media_type="text/html")


@router.post(ISSUER_PATH + "/device", response_class=HTMLResponse, responses={
    code: {"description": what, "content": {"text/html": {}}}
    for code, what in ((400, "Unknown, used or expired code"), (401, "Invalid token"), (403, "A run token"))})
async def device_page_submit(request: Request) -> Response:
    """Approve a user code as the holder of the token given (run tokens cannot sign devices in)."""
    import html

    from azuremlcore.server.security.authz import AuthError

    form = await _form(request)
    code, token = form.get("user_code", ""), form.get("token", "")
    try:
        principal = state_of(request).auth.authenticate(f"Bearer {token}")
    except AuthError as exc:
        return Response(_PAGE.format(message=html.escape(str(exc)), code=html.escape(code[:16])),
                        media_type="text/html", status_code=401)
    if principal.kind == "run":
        return Response(_PAGE.format(message="A run token cannot sign a device in.", code=html.escape(code[:16])),
                        media_type="text/html", status_code=403)
    if not device_codes(request).approve(code, principal.id):
        return Response(_PAGE.format(message="That code is unknown, used or expired.", code=""),
                        media_type="text/html", status_code=400)
    return Response(f"<!doctype html><p>Signed in as {html.escape(principal.id)}. You can close this page.</p>",
                    media_type="text/html")
