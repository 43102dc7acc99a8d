"""Turning a bearer token into a principal, and deciding what that principal may do."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

# AuthError lives in a leaf module (azure_ad raises it too, and must not import this one); re-exported here.
from azuremlcore.server.security.errors import AuthError  # noqa: F401

if TYPE_CHECKING:
    from azuremlcore.server.security.azure_ad import AzureAdValidator
    from azuremlcore.server.security.identity import IdentityStore
    from azuremlcore.server.security.keys import SigningKey

READ, WRITE, OWN = 1, 2, 3


@dataclass(frozen=True)
class Principal:
    """The caller: a service principal, a user, an Azure AD identity, or a run (run tokens)."""

    id: str
    kind: str
    run_id: str | None = None
    workspace_id: str | None = None


# The caller of `aml studio` (embedded workspaces, 127.0.0.1, no sign-in): Owner of everything it serves.
LOCAL = Principal("user:local", "local")


class Authenticator:
    """Verifies bearer tokens of every kind the server accepts."""

    def __init__(self, key: "SigningKey", identity: "IdentityStore", azure_ad: "AzureAdValidator | None") -> None:
        self.key, self.identity, self.azure_ad = key, identity, azure_ad

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization: Bearer ...` header, or AuthError(401)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError(401, "This server needs a bearer token: pass auth= to Workspace (e.g. "
                                 "ServicePrincipalAuthentication or TokenAuthentication) or set MLFLOW_TRACKING_TOKEN.")
        token = authorization[7:].strip()
        from azuremlcore.server.security.identity import USER_TOKEN_PREFIX

        if token.startswith(USER_TOKEN_PREFIX):
            pid = self.identity.principal_for_user_token(token)
            if pid is None:
                raise AuthError(401, "The token is unknown, expired or revoked; ask the server admin for a new one "
                                     "(aml token create).")
            return Principal(pid, "user")
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError(401, "The bearer token is malformed.") from None
        if header.get("kid") == self.key.kid:
            try:
                claims = self.key.verify(token)
            except jwt.ExpiredSignatureError:
                raise AuthError(401, "The token has expired; get a new one (the SDK's auth classes refresh it).") from None
            except jwt.InvalidTokenError as exc:
                raise AuthError(401, f"The token is not valid: {exc}.") from None
            if claims.get("kind") == "run":
                return Principal(claims["sub"], "run", run_id=claims.get("run_id"), workspace_id=claims.get("ws"))
            return Principal(claims["sub"], claims.get("kind", "service_principal"))
        if self.azure_ad is not None:
            return Principal(self.azure_ad.principal_id(token), "aad")
        raise AuthError(401, "The token was not issued by this server (unknown signing key).")

    def rank(self, principal: Principal, arm_id: str, workspace_id: str | None) -> int:
        """The principal's role rank on a workspace; run tokens read their own workspace only."""
        if principal.kind == "run":
            return READ if workspace_id is not None and workspace_id == principal.workspace_id else 0
        if principal is LOCAL:
            return OWN
        return self.identity.role_at(principal.id, arm_id)

    def require(self, principal: Principal, arm_id: str, workspace_id: str | None, needed: int) -> None:
        """Raise AuthError(403) unless the principal holds at least the needed role on the workspace."""
        have = self.rank(principal, arm_id, workspace_id)
        if have < needed:
            what = {READ: "Reader", WRITE: "Contributor", OWN: "Owner"}[needed]
            if principal.kind == "run" and needed > READ:
                raise AuthError(403, "A run token may write only its own run (and its child runs).")
            raise AuthError(403, f"{principal.id} needs the {what} role on {arm_id}; ask an Owner to grant it "
                                 f"(aml role grant).")
