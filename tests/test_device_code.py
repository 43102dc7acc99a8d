"""Device-code sign-in: InteractiveLoginAuthentication against the server's OIDC issuer, approved by a person."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest_server import LiveServer, self_signed_cert

SUB, RG = "s1", "rg"


@pytest.fixture(autouse=True)
def _no_saved_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZUREMLCORE_TOKEN", raising=False)
    monkeypatch.delenv("AZUREMLCORE_AUTHORITY", raising=False)


def _approve_when_asked(server: LiveServer, approve) -> threading.Thread:  # type: ignore[no-untyped-def]
    """In the background, wait for a waiting sign-in on the server and approve it with `approve(code)`."""
    from azuremlcore.server.security.device import DeviceCodes, display_user_code

    devices = DeviceCodes(server.state.store._engine)

    def work() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pending = devices.pending()
            if pending:
                approve(display_user_code(pending[0].user_code))
                return
            time.sleep(0.1)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    return t


@pytest.mark.slow
def test_device_flow_with_msal_over_https_approved_by_the_admin(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Workspace
    from azuremlcore._cli.main import main as aml
    from azuremlcore.authentication import InteractiveLoginAuthentication

    cert, key = self_signed_cert(tmp_path / "tls")
    server = LiveServer(tmp_path / "srv", tls=(cert, key), token_lifetime_s=120)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        data_dir = str(server.config.data_dir)
        approver = _approve_when_asked(server, lambda code: aml(
            ["device", "approve", code, "--data-dir", data_dir, "--user", "dora", "--role", "Contributor"]))
        auth = InteractiveLoginAuthentication(tenant_id="local")
        ws = Workspace.create("devws", auth=auth, subscription_id=SUB, resource_group=RG, show_output=False)
        approver.join(timeout=5)
        out = capsys.readouterr().out
        code = re.search(r"enter the code (\w{4}-\w{4})", out)
        assert code and f"{server.url}/oidc/device" in out, out
        assert auth._app is not None  # msal ran the flow
        assert ws.get_details()["name"] == "devws"
        first = auth.get_token().token
        # The access token is for dora; the id and refresh tokens msal caches are no bearer tokens.
        assert requests.get(f"{server.url}/api/v1/workspaces", headers={"Authorization": f"Bearer {first}"},
                            verify=cert).json()[0]["name"] == "devws"
        cached = list((tmp_path / "home" / "msal").glob("*.json"))  # $AZUREMLCORE_HOME/msal
        assert len(cached) == 1 and oct(cached[0].stat().st_mode)[-3:] == "600"
        import json

        refresh = next(iter(json.loads(cached[0].read_text())["RefreshToken"].values()))["secret"]
        assert requests.get(f"{server.url}/api/v1/workspaces", headers={"Authorization": f"Bearer {refresh}"},
                            verify=cert).status_code == 401
        # A new process (a new credential object): no new sign-in, msal renews from its cache with the
        # refresh token (the 120 s access token is inside msal's 5-minute renewal margin).
        again = InteractiveLoginAuthentication(tenant_id="local")
        ws2 = Workspace("s1", "rg", "devws", auth=again)
        assert ws2.get_details()["name"] == "devws"
        assert "enter the code" not in capsys.readouterr().out
        second = again.get_token().token
        assert second != first
        from azuremlcore.server.security.device import DeviceCodes

        assert DeviceCodes(server.state.store._engine).pending() == []
    finally:
        server.stop()


def test_device_flow_over_http_approved_on_the_page_and_refused(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Workspace
    from azuremlcore.authentication import InteractiveLoginAuthentication
    from azuremlcore.exceptions import AuthenticationException

    server = LiveServer(tmp_path / "srv")
    try:
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        owner = server.token("olga", "Owner", "/")
        Workspace.create("pw", auth=_Bearer(owner), subscription_id=SUB, resource_group=RG, show_output=False)
        page = f"{server.url}/oidc/device"
        assert "Enter the code" in requests.get(page).text  # public: the person has no bearer header to send
        results: list[int] = []

        def on_page(code: str) -> None:
            bad = requests.post(page, data={"user_code": code, "token": "amlu_wrong"})
            results.append(bad.status_code)
            ok = requests.post(page, data={"user_code": code, "token": owner})
            results.append(ok.status_code)

        approver = _approve_when_asked(server, on_page)
        auth = InteractiveLoginAuthentication(force=True)
        ws = Workspace("s1", "rg", "pw", auth=auth)
        approver.join(timeout=5)
        assert results == [401, 200]
        assert ws.get_details()["name"] == "pw"
        assert "enter the code" in capsys.readouterr().out
        # A used code cannot be approved again; an unknown one neither.
        assert requests.post(page, data={"user_code": "BCDF-GHJK", "token": owner}).status_code == 400

        from azuremlcore.server.security.device import DeviceCodes

        refused = InteractiveLoginAuthentication(force=True)
        refused._bind(server.url)
        _approve_when_asked(server, lambda code: DeviceCodes(server.state.store._engine).deny(code))
        with pytest.raises(AuthenticationException, match="access_denied"):
            refused.get_token()
    finally:
        server.stop()


def test_no_login_outside_a_terminal_fails_fast_with_what_to_do(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore.authentication import InteractiveLoginAuthentication
    from azuremlcore.exceptions import AuthenticationException

    monkeypatch.setattr("azuremlcore.authentication._interactive", lambda: False)
    auth = InteractiveLoginAuthentication()
    auth._bind("http://127.0.0.1:9")
    with pytest.raises(AuthenticationException, match=r"aml login .*force=True"):
        auth.get_token()


def test_device_code_endpoint_is_advertised_and_checks_its_input(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "srv")
    try:
        conf = requests.get(f"{server.url}/oidc/.well-known/openid-configuration").json()
        assert conf["device_authorization_endpoint"] == f"{server.url}/oidc/oauth2/v2.0/devicecode"
        r = requests.post(conf["device_authorization_endpoint"], data={"client_id": "azuremlcore"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_client"
        flow = requests.post(conf["device_authorization_endpoint"], data={"client_id": "me", "scope": "x"}).json()
        poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "me",
                "device_code": flow["device_code"]}
        assert requests.post(conf["token_endpoint"], data=poll).json()["error"] == "authorization_pending"
        assert requests.post(conf["token_endpoint"], data={**poll, "client_id": "other"}).json()["error"] == \
            "expired_token"
        assert requests.post(conf["token_endpoint"], data={**poll, "device_code": "nope"}).json()["error"] == \
            "expired_token"
        bad = requests.post(conf["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": "x.y.z"})
        assert bad.json()["error"] == "invalid_grant"
    finally:
        server.stop()


class _Bearer:
    """A fixed user token as a workspace credential."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_authentication_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
