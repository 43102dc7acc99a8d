"""Security of the workspace server: tokens, roles, run tokens, hostile input, Azure AD acceptance."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from conftest_server import LiveServer, live_server  # noqa: F401 - fixture

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _make_ws(server: LiveServer, admin: str, name: str) -> str:
    r = requests.put(f"{server.url}{ARM}/{name}", json={}, headers=_h(admin))
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _make_run(server: LiveServer, token: str, ws: str, run_id: str, parent: str | None = None) -> requests.Response:
    exp = requests.post(f"{server.url}{ARM}/{ws}/experiments", json={"name": "e", "get_or_create": True},
                        headers=_h(token))
    if exp.status_code != 200:
        return exp
    return requests.post(f"{server.url}{ARM}/{ws}/runs", headers=_h(token),
                         json={"id": run_id, "experiment_id": exp.json()["id"], "parent_id": parent})


def test_health_is_public_everything_else_needs_a_token(live_server):
    assert requests.get(live_server.url + "/health").json() == {"status": "ok"}
    for path in ("/api/v1/workspaces", f"{ARM}/w1", "/openapi.json", f"{ARM}/w1/api/2.0/mlflow/experiments/search"):
        r = requests.get(live_server.url + path)
        assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED", path
    r = requests.get(live_server.url + "/api/v1/workspaces", headers=_h("not-a-token"))
    assert r.status_code == 401 and "malformed" in r.json()["message"]


def test_expired_and_forged_tokens_are_refused(live_server, tmp_path):
    admin = live_server.token()
    _make_ws(live_server, admin, "w1")
    expired, _ = live_server.state.key.issue("user:admin", -60, "x", kind="user")
    r = requests.get(f"{live_server.url}{ARM}/w1", headers=_h(expired))
    assert r.status_code == 401 and "expired" in r.json()["message"]
    from azuremlcore.server.security.keys import SigningKey

    other = SigningKey(tmp_path / "other")  # another server's key, same claims
    forged, _ = other.issue("user:admin", 600, "x", kind="user")
    assert requests.get(f"{live_server.url}{ARM}/w1", headers=_h(forged)).status_code == 401
    live_server.state.identity.revoke_user_tokens("admin")
    assert requests.get(f"{live_server.url}{ARM}/w1", headers=_h(admin)).status_code == 401


def test_service_principal_gets_tokens_with_msal(live_server, monkeypatch):
    from azuremlcore import Experiment, Workspace
    from azuremlcore.authentication import ServicePrincipalAuthentication

    client_id, secret = live_server.state.identity.create_service_principal("ci-bot")
    live_server.state.identity.grant(f"sp:{client_id}", "/subscriptions/s1", "Contributor")
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", live_server.url)
    auth = ServicePrincipalAuthentication(tenant_id="local", service_principal_id=client_id,
                                          service_principal_password=secret)
    ws = Workspace.create("spws", auth=auth, subscription_id="s1", resource_group="rg", show_output=False)
    run = Experiment(ws, "e").start_logging()
    run.log("m", 1.5)
    run.complete()
    assert Workspace("s1", "rg", "spws", auth=auth).get_run(run.id).get_metrics() == {"m": 1.5}
    assert secret not in repr(auth)
    bad = ServicePrincipalAuthentication("local", client_id, "wrong")
    with pytest.raises(Exception, match="invalid_client"):
        Workspace("s1", "rg", "spws", auth=bad)
    # Outside its scope the principal has no rights at all.
    with pytest.raises(Exception, match="403"):
        Workspace.create("other", auth=auth, subscription_id="s2", resource_group="rg", show_output=False)


def test_wrong_workspace_and_reader_writing(live_server):
    admin = live_server.token()
    _make_ws(live_server, admin, "w1")
    _make_ws(live_server, admin, "w2")
    reader = live_server.token("rita", "Reader", f"{ARM}/w1")
    contrib = live_server.token("carl", "Contributor", f"{ARM}/w1")
    assert [w["name"] for w in requests.get(live_server.url + "/api/v1/workspaces", headers=_h(contrib)).json()] == ["w1"]
    assert requests.get(f"{live_server.url}{ARM}/w2", headers=_h(contrib)).status_code == 403
    assert _make_run(live_server, contrib, "w2", "r-x").status_code == 403
    assert _make_run(live_server, contrib, "w1", "r1").status_code == 200
    # A Reader can read but not write: nothing is stored.
    assert requests.get(f"{live_server.url}{ARM}/w1/runs/r1", headers=_h(reader)).status_code == 200
    r = requests.put(f"{live_server.url}{ARM}/w1/runs/r1/attributes/tag", json={"values": {"a": "b"}},
                     headers=_h(reader))
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    r = requests.post(f"{live_server.url}{ARM}/w1/metrics", headers=_h(reader),
                      json={"points": [["r1", "m", "scalar", 1.0, None, 0, 1]]})
    assert r.status_code == 403
    r = requests.post(f"{live_server.url}{ARM}/w1/secrets/get", json={"names": ["x"]}, headers=_h(reader))
    assert r.status_code == 403
    assert live_server.state.store.get_run("r1").tags == {}
    assert live_server.state.store.get_metrics(["r1"]) == []
    assert requests.delete(f"{live_server.url}{ARM}/w1", headers=_h(contrib)).status_code == 403


def test_run_token_writes_only_its_run(live_server):
    from azuremlcore.server import issue_run_token

    admin = live_server.token()
    ws_id = _make_ws(live_server, admin, "w1")
    _make_run(live_server, admin, "w1", "mine")
    _make_run(live_server, admin, "w1", "other")
    token = issue_run_token("mine", ws_id, str(live_server.config.data_dir))
    put = lambda run: requests.put(f"{live_server.url}{ARM}/w1/runs/{run}/attributes/tag",  # noqa: E731
                                   json={"values": {"k": "v"}}, headers=_h(token))
    assert put("mine").status_code == 204
    assert put("other").status_code == 403
    r = requests.post(f"{live_server.url}{ARM}/w1/metrics", headers=_h(token),
                      json={"points": [["mine", "m", "scalar", 1.0, None, 0, 1], ["other", "m", "scalar", 1.0, None, 0, 1]]})
    assert r.status_code == 403
    assert live_server.state.store.get_metrics(["mine", "other"]) == []
    assert requests.put(f"{live_server.url}{ARM}/w1/files", params={"container": "runs/other", "name": "x"},
                        data=b"x", headers=_h(token)).status_code == 403
    assert requests.put(f"{live_server.url}{ARM}/w1/files", params={"container": "runs/mine", "name": "x"},
                        data=b"x", headers=_h(token)).status_code == 200
    assert _make_run(live_server, token, "w1", "child", parent="mine").status_code == 200
    assert put("child").status_code == 204
    assert _make_run(live_server, token, "w1", "stray").status_code == 403
    assert requests.put(f"{live_server.url}{ARM}/w1/secrets", json={"values": {"a": "b"}}, headers=_h(token)).status_code == 403
    renewed = requests.post(f"{live_server.url}{ARM}/w1/runs/mine/token", headers=_h(token))
    assert renewed.status_code == 200 and renewed.json()["expires_on"] > time.time()
    assert requests.post(f"{live_server.url}{ARM}/w1/runs/other/token", headers=_h(token)).status_code == 403
    assert live_server.state.store.get_run("other").tags == {}


def test_hostile_input_gets_clear_4xx_and_stores_nothing(live_server):
    admin = live_server.token()
    _make_ws(live_server, admin, "w1")
    _make_run(live_server, admin, "w1", "r1")
    base = f"{live_server.url}{ARM}/w1"
    hdrs = {**_h(admin), "Content-Type": "application/json"}
    r = requests.post(f"{base}/experiments", data=b"{not json", headers=hdrs)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = requests.post(f"{base}/metrics", data=b'{"points": [["r1", "m"]]}', headers=hdrs)
    assert r.status_code == 400 and "points" in r.json()["message"]
    r = requests.post(f"{base}/metrics", data=b'{"points": [["r1", "m", "scalar", "abc", null, 0, 1]]}', headers=hdrs)
    assert r.status_code == 400
    big = json.dumps({"points": [["r1", "m", "scalar", 1.0, None, i, 1] for i in range(600_000)]})
    r = requests.post(f"{base}/metrics", data=big, headers=hdrs)
    assert r.status_code == 413 and r.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(40):
            yield b" " * (1 << 20)
    r = requests.post(f"{base}/experiments", data=chunks(), headers=hdrs)
    assert r.status_code == 413
    r = requests.put(f"{live_server.url}{ARM}/bad name!", json={}, headers=hdrs)
    assert r.status_code in (400, 404) and r.status_code != 500
    assert requests.post(f"{base}/experiments", json={"name": "x\x00y"}, headers=hdrs).status_code == 400
    assert requests.post(f"{base}/runs", json={"id": "../etc", "experiment_id": "e"}, headers=hdrs).status_code == 400
    r = requests.put(f"{base}/files", params={"container": "runs/r1", "name": "../../escape"}, data=b"x", headers=_h(admin))
    assert r.status_code == 400
    r = requests.put(f"{base}/secrets", json={"values": {"bad name": "v"}}, headers=hdrs)
    assert r.status_code == 400
    assert live_server.state.store.get_metrics(["r1"]) == []
    assert live_server.state.store.list_experiments(live_server.state.store.find_workspace("s1", "rg", "w1")[0].id) == [] \
        or all(e.name == "e" for e in live_server.state.store.list_experiments(
            live_server.state.store.find_workspace("s1", "rg", "w1")[0].id))
    assert live_server.state.store.list_secrets(live_server.state.store.find_workspace("s1", "rg", "w1")[0].id) == []
    assert not list(Path(live_server.config.artifacts_dir).rglob("escape"))
    assert requests.get(live_server.url + "/health").status_code == 200


def test_secrets_and_tokens_are_stored_hashed_and_not_logged(live_server, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client_id, secret = live_server.state.identity.create_service_principal("bot")
    token = live_server.token("alice")
    requests.get(live_server.url + "/api/v1/workspaces", headers=_h(token))
    requests.post(live_server.url + "/oauth2/v2.0/token",
                  data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    raw = (live_server.config.data_dir / "workspaces.db").read_bytes()
    assert secret.encode() not in raw and token.encode() not in raw
    assert token not in caplog.text and secret not in caplog.text


def test_azure_ad_tokens_of_the_configured_tenant(tmp_path):
    import jwt
    import requests_mock
    from cryptography.hazmat.primitives.asymmetric import rsa

    tenant = "11111111-2222-3333-4444-555555555555"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    server = LiveServer(tmp_path / "srv", azure_tenant=tenant)
    try:
        admin = server.token()
        _make_ws(server, admin, "w1")

        def aad_token(oid: str, tid: str = tenant, aud: str = "https://ml.azure.com", exp: int = 600) -> str:
            now = int(time.time())
            claims = {"iss": f"https://login.microsoftonline.com/{tid}/v2.0", "aud": aud, "oid": oid, "tid": tid,
                      "iat": now, "exp": now + exp}
            return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

        server.state.identity.grant("aad:alice-oid", f"{ARM}/w1", "Reader")
        with requests_mock.Mocker(real_http=True) as mock:
            mock.get(f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys", json={"keys": [jwk]})
            ok = requests.get(f"{server.url}{ARM}/w1", headers=_h(aad_token("alice-oid")))
            assert ok.status_code == 200 and ok.json()["name"] == "w1"
            assert requests.get(f"{server.url}{ARM}/w1", headers=_h(aad_token("bob-oid"))).status_code == 403
            assert requests.get(f"{server.url}{ARM}/w1", headers=_h(aad_token("alice-oid", aud="other"))).status_code == 401
            assert requests.get(f"{server.url}{ARM}/w1", headers=_h(aad_token("alice-oid", exp=-120))).status_code == 401
            wrong = aad_token("alice-oid", tid="99999999-2222-3333-4444-555555555555")
            assert requests.get(f"{server.url}{ARM}/w1", headers=_h(wrong)).status_code == 401
    finally:
        server.stop()


def test_service_principal_through_msal_over_https(tmp_path, monkeypatch):
    from conftest_server import self_signed_cert

    from azuremlcore import Workspace
    from azuremlcore.authentication import ServicePrincipalAuthentication

    cert, key = self_signed_cert(tmp_path / "tls")
    server = LiveServer(tmp_path / "srv", tls=(cert, key))
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        client_id, secret = server.state.identity.create_service_principal("bot")
        server.state.identity.grant(f"sp:{client_id}", "/", "Contributor")
        auth = ServicePrincipalAuthentication("local", client_id, secret)
        ws = Workspace.create("tlsws", auth=auth, subscription_id="s1", resource_group="rg", show_output=False)
        assert ws.get_details()["name"] == "tlsws"
        assert auth._app is not None  # the token came through msal
        assert auth.get_token().token.count(".") == 2
    finally:
        server.stop()
