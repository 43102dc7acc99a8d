"""The OpenID Connect issuer: discovery document, signing keys and the client-credentials token endpoint."""
from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from azuremlcore.server._common import json_response, state_of

router = APIRouter(tags=["identity"])


ISSUER_PATH = "/oidc"


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
        "grant_types_supported": ["client_credentials"], "response_types_supported": ["token"],
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
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "Only the client_credentials grant is supported; users get "
                                                      "tokens from the admin (aml token create).")
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
