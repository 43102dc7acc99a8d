"""Authentication for workspace servers: the credentials a `Workspace(..., auth=...)` sends.

Embedded workspaces need none. A workspace server (config with an `endpoint`) needs a bearer
token on every request; these classes obtain one:

* `ServicePrincipalAuthentication(tenant_id, service_principal_id, service_principal_password)`:
  client-credentials tokens from the server's own OpenID Connect issuer (`<server>/oidc`, through
  msal when the server is on https), created by the server admin with `aml sp create`. Pass an
  issuer URL as tenant_id (or set $AZUREMLCORE_AUTHORITY) to use another issuer.
* `InteractiveLoginAuthentication()`: the user token saved by `aml login --endpoint URL --token T`
  (or $AZUREMLCORE_TOKEN), else a device-code sign-in against the server's issuer (msal), cached.
* `TokenAuthentication(get_token_for_audience)`: tokens from your own function.
* Inside a submitted run, the run's own token ($AZUREML_RUN_TOKEN) is used without any auth object.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import json
import os
import threading
import time
from enum import Enum
from pathlib import Path
from typing import Any, Callable, NamedTuple

from azuremlcore.exceptions import AuthenticationException

_REFRESH_MARGIN_S = 300


class AccessToken(NamedTuple):
    """A token and its expiry (unix seconds), as Track 2 Azure SDKs expect from `get_token`."""

    token: str
    expires_on: int


class Audience(str, Enum):
    """Token audiences `TokenAuthentication` asks its function for."""

    ARM = "ARM"
    AZUREML = "AZUREML"
    aml = "AZUREML"
    arm = "ARM"


def _credentials_file() -> Path:
    from azuremlcore._store import azuremlcore_home

    return azuremlcore_home() / "credentials.json"


def save_login(endpoint: str, token: str) -> Path:
    """Remember a user token for a server (what `aml login` does); the file is readable by the owner only."""
    path = _credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
    data[endpoint.rstrip("/")] = token
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(path.with_suffix(".tmp"), path)
    return path


# credentials file -> ((mtime_ns, size, inode), its logins): MLflow's requests ask for a token each (twice, with
# the Authorization header's provider), and reading and parsing the file was most of the bridge's cost a call.
_logins_read: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def _saved_login(endpoint: str | None) -> str | None:
    """The token `aml login` saved for the endpoint; the file is read again only once it has changed."""
    if not endpoint:
        return None
    path = _credentials_file()
    try:
        st = path.stat()
    except OSError:
        return None
    stamp, key = (st.st_mtime_ns, st.st_size, st.st_ino), str(path)
    hit = _logins_read.get(key)
    if hit is None or hit[0] != stamp:
        try:
            logins = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        hit = _logins_read[key] = (stamp, logins if isinstance(logins, dict) else {})
    token = hit[1].get(endpoint.rstrip("/"))
    return token if isinstance(token, str) else None


class AbstractAuthentication(ABC):
    """Base of the credential classes: a bearer token for a server endpoint."""

    _endpoint: str | None = None

    def _bind(self, endpoint: str) -> "AbstractAuthentication":
        # The workspace tells its credential which server it talks to (the token issuer by default).
        if self._endpoint is None:
            self._endpoint = endpoint.rstrip("/")
        return self

    @abstractmethod
    def _get_token(self) -> AccessToken:
        """A fresh token from this credential's source."""

    def get_token(self, *scopes: Any, **kwargs: Any) -> AccessToken:
        """A token (with its expiry) for the server this credential is used with."""
        return self._get_token()

    def get_authentication_header(self) -> dict[str, str]:
        """The HTTP header to send: {'Authorization': 'Bearer ...'}."""
        return {"Authorization": f"Bearer {self._get_token().token}"}

    def signed_session(self, session: Any = None) -> Any:
        """A requests Session (the given one or a new one) carrying the authorization header."""
        import requests

        session = session or requests.Session()
        session.headers.update(self.get_authentication_header())
        return session


def _expiry_of(token: str) -> int:
    # Reads the exp claim without verifying (the server verifies); opaque tokens get a far expiry.
    import base64

    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return int(json.loads(base64.urlsafe_b64decode(payload))["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return int(time.time()) + 365 * 86400


DEVICE_CLIENT_ID = "azuremlcore-sdk"
_SCOPES = ["https://ml.azure.com/.default"]
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _issuer_url(tenant_id: str | None, endpoint: str | None, who: str) -> str:
    """The token issuer: tenant_id when it is a URL, else $AZUREMLCORE_AUTHORITY, else <server>/oidc."""
    if tenant_id and str(tenant_id).startswith(("http://", "https://")):
        return str(tenant_id).rstrip("/")
    authority = os.environ.get("AZUREMLCORE_AUTHORITY")
    if authority:
        return authority.rstrip("/")
    if not endpoint:
        raise AuthenticationException(f"{who} does not know its token issuer yet: use it with a workspace on a "
                                      "server, or pass the issuer URL as tenant_id.")
    return endpoint.rstrip("/") + "/oidc"


def _interactive() -> bool:
    import sys

    try:
        return sys.stdin is not None and sys.stdin.isatty() or "ipykernel" in sys.modules
    except (AttributeError, ValueError):
        return False


class InteractiveLoginAuthentication(AbstractAuthentication):
    """The signed-in user's token, as in Azure ML: a saved login, else a device-code sign-in.

    In order: $AZUREMLCORE_TOKEN, the token saved by `aml login --endpoint URL --token TOKEN`, the
    cached device-code sign-in, and finally a new device-code sign-in against the server's issuer
    (msal's device flow on https): the code to enter is printed, and the user approves it on the
    server's `/oidc/device` page or the admin runs `aml device approve CODE --user NAME`. Device
    sign-ins are cached with msal in $AZUREMLCORE_HOME/msal/ (https servers) and renewed silently.
    `force=True` signs in anew even when a login is saved. Outside a terminal or notebook, a
    sign-in starts only when force or tenant_id is given (a batch job must not wait for a person).
    """

    def __init__(self, force: bool = False, tenant_id: str | None = None, cloud: str | None = None) -> None:
        self.force, self.tenant_id, self.cloud = force, tenant_id, cloud
        self._lock = threading.Lock()
        self._cached: AccessToken | None = None
        self._refresh: str | None = None  # plain-http servers only: msal keeps its own
        self._app: Any = None
        self._signed_in = False

    def _get_token(self) -> AccessToken:
        known = self._known_token()
        if known is not None:
            return known
        with self._lock:
            if self._cached and self._cached.expires_on - 60 > time.time():
                return self._cached  # another thread signed in while this one waited for the lock
            if not (self.force or self.tenant_id is not None or _interactive() or self._signed_in):
                raise AuthenticationException(
                    f"No login for workspace server {self._endpoint or '(unknown)'}: run "
                    f"`aml login --endpoint {self._endpoint or 'URL'} --token TOKEN` with a token from the server "
                    "admin (`aml token create --user NAME`), set AZUREMLCORE_TOKEN, or sign in with a device code: "
                    "InteractiveLoginAuthentication(force=True).")
            authority = _issuer_url(self.tenant_id, self._endpoint, "InteractiveLoginAuthentication")
            result = self._msal(authority) if authority.startswith("https://") else self._plain(authority)
            if "access_token" not in result:
                raise AuthenticationException(f"Device-code sign-in failed: {result.get('error')}: "
                                              f"{result.get('error_description')}")
            self._signed_in = True
            self._cached = AccessToken(result["access_token"], int(time.time()) + int(result.get("expires_in", 3600)))
            return self._cached

    def _known_token(self) -> AccessToken | None:
        """$AZUREMLCORE_TOKEN or the saved login (unless force), else this object's unexpired sign-in."""
        if not self.force:
            token = os.environ.get("AZUREMLCORE_TOKEN") or _saved_login(self._endpoint)
            if token:
                return AccessToken(token, _expiry_of(token))
        with self._lock:
            if self._cached and self._cached.expires_on - 60 > time.time():
                return self._cached
        return None

    def _silent(self) -> AccessToken | None:
        """A token obtained without asking anyone, else None: never prints a code or waits for a person.

        $AZUREMLCORE_TOKEN, the saved login, this object's sign-in, or a sign-in cached by msal on
        this machine (renewed with its refresh token). What other clients of the SDK (MLflow's
        requests) use, where a prompt would hang a script or a training loop.
        """
        if self.force and not self._signed_in:
            return None  # force=True: only a sign-in of this object counts
        known = self._known_token()
        if known is not None:
            return known
        with self._lock:
            try:
                authority = _issuer_url(self.tenant_id, self._endpoint, "InteractiveLoginAuthentication")
            except AuthenticationException:
                return None
            try:
                if authority.startswith("https://"):
                    # No msal cache file: nobody signed in on this machine, so no need to ask the issuer.
                    result = self._msal_silent(authority) if self._cache_file(authority).exists() else None
                else:
                    result = self._plain_refresh(authority) if self._refresh else None
            except Exception:  # noqa: BLE001 - an unreachable issuer means no token now, not a crash in MLflow
                return None
            if not result or "access_token" not in result:
                return None
            self._cached = AccessToken(result["access_token"], int(time.time()) + int(result.get("expires_in", 3600)))
            return self._cached

    # ------------------------------------------------------------------ https: msal
    def _cache_file(self, authority: str) -> Path:
        import hashlib

        from azuremlcore._store import azuremlcore_home

        return azuremlcore_home() / "msal" / f"{hashlib.sha256(authority.encode()).hexdigest()[:16]}.json"

    def _msal_app(self, authority: str) -> Any:
        import msal

        if self._app is None:
            cache = msal.SerializableTokenCache()
            path = self._cache_file(authority)
            if path.exists():
                try:
                    cache.deserialize(path.read_text())
                except (OSError, ValueError):
                    pass  # a damaged cache only costs a new sign-in
            self._app = msal.PublicClientApplication(DEVICE_CLIENT_ID, oidc_authority=authority, token_cache=cache)
        return self._app

    def _save_msal_cache(self, app: Any, authority: str) -> None:
        if app.token_cache.has_state_changed:
            path = self._cache_file(authority)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(app.token_cache.serialize())
            os.replace(path.with_suffix(".tmp"), path)

    def _msal_silent(self, authority: str) -> dict[str, Any] | None:
        """msal's cached sign-in (renewed with its refresh token when needed), or None."""
        app = self._msal_app(authority)
        accounts = app.get_accounts()
        result = app.acquire_token_silent(_SCOPES, account=accounts[0]) if accounts else None
        self._save_msal_cache(app, authority)
        return result

    def _msal(self, authority: str) -> dict[str, Any]:
        app = self._msal_app(authority)
        result: dict[str, Any] | None = None
        if not (self.force and not self._signed_in):
            result = self._msal_silent(authority)
        if not result or "access_token" not in result:
            flow = app.initiate_device_flow(scopes=_SCOPES)
            if "user_code" not in flow:
                raise AuthenticationException(f"The server refused to start a device-code sign-in: {flow}")
            print(flow["message"], flush=True)
            result = app.acquire_token_by_device_flow(flow)
        self._save_msal_cache(app, authority)
        return result

    # ------------------------------------------------------------------ plain http (msal insists on https)
    def _plain_refresh(self, authority: str, token_url: str | None = None) -> dict[str, Any]:
        """The refresh-token grant of this object's plain-http sign-in (no person involved)."""
        import requests

        if token_url is None:
            token_url = requests.get(f"{authority}/.well-known/openid-configuration", timeout=30).json()["token_endpoint"]
        result = requests.post(token_url, timeout=30, data={
            "grant_type": "refresh_token", "refresh_token": self._refresh, "client_id": DEVICE_CLIENT_ID,
            "scope": " ".join(_SCOPES)}).json()
        if "access_token" in result:
            self._refresh = result.get("refresh_token", self._refresh)
        return result

    def _plain(self, authority: str) -> dict[str, Any]:
        import requests

        conf = requests.get(f"{authority}/.well-known/openid-configuration", timeout=30).json()
        token_url = conf["token_endpoint"]
        if self._refresh and not (self.force and not self._signed_in):
            result = self._plain_refresh(authority, token_url)
            if "access_token" in result:
                return result
        flow = requests.post(conf["device_authorization_endpoint"], timeout=30,
                             data={"client_id": DEVICE_CLIENT_ID, "scope": " ".join(_SCOPES)}).json()
        if "device_code" not in flow:
            raise AuthenticationException(f"The server refused to start a device-code sign-in: {flow}")
        print(flow["message"], flush=True)
        deadline = time.time() + int(flow.get("expires_in", 900))
        interval = int(flow.get("interval", 5))
        while time.time() < deadline:
            result = requests.post(token_url, timeout=30, data={
                "grant_type": _DEVICE_GRANT, "client_id": DEVICE_CLIENT_ID, "device_code": flow["device_code"]}).json()
            if result.get("error") == "slow_down":
                interval += 5
            elif result.get("error") != "authorization_pending":
                self._refresh = result.get("refresh_token")
                return result
            time.sleep(interval)
        return {"error": "expired_token", "error_description": "Nobody approved the code in time."}


_defaults: dict[str, InteractiveLoginAuthentication] = {}
_defaults_lock = threading.Lock()


def default_credential(endpoint: str) -> InteractiveLoginAuthentication:
    """The credential the SDK uses for a server when no `auth` is given: one per endpoint and process.

    Every client the SDK configures without an explicit credential shares it (the workspace's HTTP
    client, MLflow through `azuremlmlflow`), so a login (`aml login`, $AZUREMLCORE_TOKEN, a device-code
    sign-in) made once serves them all. MLflow asks it with `_silent()`, which never prompts.
    """
    key = endpoint.rstrip("/")
    with _defaults_lock:
        cred = _defaults.get(key)
        if cred is None:
            cred = _defaults[key] = InteractiveLoginAuthentication()
            cred._bind(key)
        return cred


def client_credential(endpoint: str, run_token: str | None = None) -> AbstractAuthentication:
    """The credential of the SDK's client of a server when no `auth` is given.

    Inside a submitted run, the run's token ($AZUREML_RUN_TOKEN, re-read from $AZUREML_RUN_TOKEN_FILE
    as the server renews it); elsewhere the user's login for that server (`default_credential`).
    """
    if run_token:
        return RunTokenAuthentication(run_token, path=os.environ.get("AZUREML_RUN_TOKEN_FILE"))
    return default_credential(endpoint)  # shared with MLflow's requests (azuremlmlflow)


class ServicePrincipalAuthentication(AbstractAuthentication):
    """A service principal's client-credentials tokens, from the workspace server's OIDC issuer (msal).

    tenant_id may be the issuer URL; otherwise the issuer is the server the workspace lives on
    (or $AZUREMLCORE_AUTHORITY). Tokens are cached and renewed five minutes before they expire.
    """

    def __init__(self, tenant_id: str, service_principal_id: str, service_principal_password: str,
                 cloud: str = "AzureCloud", _enable_caching: bool = True) -> None:
        self.tenant_id, self.service_principal_id = tenant_id, service_principal_id
        self._secret = service_principal_password
        self.cloud = cloud
        self._lock = threading.Lock()
        self._cached: AccessToken | None = None
        self._app: Any = None

    def __repr__(self) -> str:  # never show the secret
        return f"ServicePrincipalAuthentication(tenant_id={self.tenant_id!r}, service_principal_id={self.service_principal_id!r})"

    def _authority(self) -> str:
        return _issuer_url(self.tenant_id, self._endpoint, "ServicePrincipalAuthentication")

    def _acquire(self) -> dict[str, Any]:
        authority = self._authority()
        scopes = ["https://ml.azure.com/.default"]
        if authority.startswith("https://"):
            if self._app is None:
                import msal

                self._app = msal.ConfidentialClientApplication(
                    self.service_principal_id, client_credential=self._secret, oidc_authority=authority,
                    instance_discovery=False)
            return self._app.acquire_token_for_client(scopes=scopes)
        # msal accepts only https authorities; a plain-http server (localhost, tests) gets the same
        # OAuth2 client-credentials request sent directly.
        import requests

        conf = requests.get(f"{authority}/.well-known/openid-configuration", timeout=30).json()
        resp = requests.post(conf["token_endpoint"], timeout=30, data={
            "grant_type": "client_credentials", "client_id": self.service_principal_id,
            "client_secret": self._secret, "scope": " ".join(scopes)})
        return resp.json()

    def _get_token(self) -> AccessToken:
        with self._lock:
            if self._cached and self._cached.expires_on - _REFRESH_MARGIN_S > time.time():
                return self._cached
            result = self._acquire()
            if "access_token" not in result:
                raise AuthenticationException(
                    f"Could not get a token for service principal {self.service_principal_id}: "
                    f"{result.get('error')}: {result.get('error_description')}")
            self._cached = AccessToken(result["access_token"], int(time.time()) + int(result.get("expires_in", 3600)))
            return self._cached


class TokenAuthentication(AbstractAuthentication):
    """Tokens from your function `get_token_for_audience(audience) -> token` or `-> (token, expires_on)`."""

    def __init__(self, get_token_for_audience: Callable[[Audience], Any], cloud: str | None = None) -> None:
        self._fn, self.cloud = get_token_for_audience, cloud

    def get_token(self, audience: Audience = Audience.ARM) -> str:  # type: ignore[override]
        """The token your function returns for the audience."""
        out = self._fn(audience)
        return out[0] if isinstance(out, (tuple, list)) else out

    def _get_token(self) -> AccessToken:
        out = self._fn(Audience.AZUREML)
        if isinstance(out, (tuple, list)):
            return AccessToken(str(out[0]), int(out[1]))
        return AccessToken(str(out), _expiry_of(str(out)))


class RunTokenAuthentication(AbstractAuthentication):
    """The token of a submitted run ($AZUREML_RUN_TOKEN): it writes only that run; renewed before expiry.

    With `path` ($AZUREML_RUN_TOKEN_FILE, kept fresh by the server's runner) the token is re-read
    whenever that file changes.
    """

    def __init__(self, token: str, renew: Callable[[], AccessToken] | None = None, path: str | None = None) -> None:
        self._token = AccessToken(token, _expiry_of(token))
        self._renew = renew
        self._lock = threading.Lock()
        self._path = path
        self._seen: tuple[int, int, int] | None = None

    def _reread(self) -> None:
        try:
            st = os.stat(str(self._path))
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._seen:
                with open(str(self._path)) as f:
                    token = f.read().strip()
                self._seen = stamp
                if token:
                    self._token = AccessToken(token, _expiry_of(token))
        except OSError:
            pass  # the run ended (file removed) or a renewal is mid-way: keep the token we have

    def _get_token(self) -> AccessToken:
        with self._lock:
            if self._path:
                self._reread()
            if self._renew is not None and self._token.expires_on - _REFRESH_MARGIN_S < time.time():
                try:
                    self._token = self._renew()
                except Exception:  # noqa: BLE001 - keep the old token; the server says if it has expired
                    pass
            return self._token


class MsiAuthentication(AbstractAuthentication):
    """Managed identities exist only on Azure VMs; use ServicePrincipalAuthentication with a workspace server."""

    def __init__(self, cloud: str | None = None, **kwargs: Any) -> None:
        self.cloud, self.kwargs = cloud, kwargs

    def _get_token(self) -> AccessToken:
        raise AuthenticationException(
            "MsiAuthentication needs an Azure managed identity, which a self-hosted workspace server has none of. "
            "Use ServicePrincipalAuthentication (aml sp create) or InteractiveLoginAuthentication (aml login).")


class AzureCliAuthentication(AbstractAuthentication):
    """The Azure CLI's login does not apply to a self-hosted server; use `aml login` and InteractiveLoginAuthentication."""

    def __init__(self, cloud: str | None = None) -> None:
        self.cloud = cloud

    def _get_token(self) -> AccessToken:
        raise AuthenticationException(
            "AzureCliAuthentication uses `az login`, which a self-hosted workspace server does not accept. Run "
            "`aml login --endpoint URL --token TOKEN` and use InteractiveLoginAuthentication().")


__all__ = ["AbstractAuthentication", "AccessToken", "Audience", "AzureCliAuthentication",
           "InteractiveLoginAuthentication", "MsiAuthentication", "RunTokenAuthentication",
           "ServicePrincipalAuthentication", "TokenAuthentication", "save_login"]
