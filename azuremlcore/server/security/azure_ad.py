"""Accepting Azure AD (Entra ID) tokens of one tenant, validated against the tenant's published keys."""
from __future__ import annotations

import threading
import time
from typing import Any

from azuremlcore.server.security.errors import AuthError

_JWKS_TTL_S = 3600


class AzureAdValidator:
    """Validates RS256 tokens of `tenant` for `audience`; principal ids are 'aad:<object id>'."""

    def __init__(self, tenant: str, audience: str, authority_host: str = "https://login.microsoftonline.com") -> None:
        self.tenant, self.audience = tenant, audience
        base = authority_host.rstrip("/")
        self.jwks_url = f"{base}/{tenant}/discovery/v2.0/keys"
        self.issuers = {f"{base}/{tenant}/v2.0", f"https://sts.windows.net/{tenant}/"}
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()

    def _key(self, kid: str) -> Any:
        import jwt
        import requests

        with self._lock:
            # Refetch on an unknown kid (Azure rotates keys), but at most once a minute.
            if kid not in self._keys and time.monotonic() - self._fetched > (60 if self._keys else 0) \
                    or time.monotonic() - self._fetched > _JWKS_TTL_S:
                resp = requests.get(self.jwks_url, timeout=10)
                resp.raise_for_status()
                self._keys = {k["kid"]: jwt.PyJWK(k).key for k in resp.json().get("keys", []) if "kid" in k}
                self._fetched = time.monotonic()
            if kid not in self._keys:
                raise AuthError(401, "The Azure AD token's signing key is not one of the tenant's keys.")
            return self._keys[kid]

    def principal_id(self, token: str) -> str:
        """The principal id ('aad:<oid>') of a valid token of the tenant, or AuthError(401)."""
        import jwt

        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
            claims = jwt.decode(token, self._key(kid), algorithms=["RS256"], audience=self.audience,
                                options={"require": ["exp", "iss", "aud"]}, leeway=30)
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "The Azure AD token has expired.") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, f"The Azure AD token is not valid: {exc}.") from None
        if claims.get("iss") not in self.issuers:
            raise AuthError(401, f"The Azure AD token is from another tenant than {self.tenant}.")
        if claims.get("tid") not in (None, self.tenant):
            raise AuthError(401, f"The Azure AD token is from another tenant than {self.tenant}.")
        oid = claims.get("oid") or claims.get("sub")
        return f"aad:{oid}"
