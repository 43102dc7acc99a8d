"""Hostile and careless input: one identity per workspace whatever the case, 400 (never 5xx) for bad input,
nothing invalid stored, MLflow's own status codes, bounded public routes."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from conftest_server import LiveServer

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"


@pytest.fixture
def srv(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A live server with workspace ws1 (experiment, run r1) and an Owner's headers in srv.h."""
    server = LiveServer(tmp_path / "server", rate_limits={"devicecode": (3, 1.0), "token": (30, 120.0),
                                                          "device_page": (10, 20.0)}, max_pending_device_codes=5)
    server.h = {"Authorization": f"Bearer {server.token('owner', 'Owner', '/')}"}  # type: ignore[attr-defined]
    base = server.url + ARM + "/ws1"
    assert requests.put(base, json={}, headers=server.h).status_code == 200  # type: ignore[attr-defined]
    exp = requests.post(base + "/experiments", json={"name": "e"}, headers=server.h).json()  # type: ignore[attr-defined]
    assert requests.post(base + "/runs", json={"id": "r1", "experiment_id": exp["id"]},
                         headers=server.h).status_code == 200  # type: ignore[attr-defined]
    server.base = base  # type: ignore[attr-defined]
    yield server
    server.stop()


def _err(r: requests.Response, status: int, code: str = "INVALID_PARAMETER_VALUE") -> str:
    assert r.status_code == status, r.text
    assert r.json()["error_code"] == code, r.text
    return r.json()["message"]


def test_workspace_names_ignore_case_everywhere(srv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws1_scope = ARM.lower() + "/ws1"
    contributor = {"Authorization": f"Bearer {srv.token('bob', 'Contributor', ws1_scope)}"}
    # A right on ws1 is no right to create workspaces, whatever their case: 'WS1' is ws1 (refused as existing,
    # or returned with exist_ok), and a new name needs a role on the resource group.
    _err(requests.put(srv.url + ARM + "/WS1", json={}, headers=contributor), 400, "RESOURCE_ALREADY_EXISTS")
    assert requests.put(srv.url + ARM + "/WS1", json={"exist_ok": True}, headers=contributor).json()["name"] == "ws1"
    r = requests.put(srv.url + ARM + "/other", json={}, headers=contributor)
    assert r.status_code == 403
    # A case variant is the same workspace, shown as created, with the caller's rights on it.
    got = requests.get(srv.url + ARM + "/WS1", headers=contributor).json()
    assert got["name"] == "ws1" and got["id"] == requests.get(srv.base, headers=srv.h).json()["id"]
    assert requests.post(srv.url + ARM + "/Ws1/experiments", json={"name": "e2"}, headers=contributor).ok
    _err(requests.put(srv.url + ARM + "/WS1", json={"exist_ok": False}, headers=srv.h), 400, "RESOURCE_ALREADY_EXISTS")
    assert requests.put(srv.url + "/subscriptions/S1/resourceGroups/RG/providers/Microsoft.MachineLearningServices/"
                        "workspaces/WS1", json={"exist_ok": True}, headers=srv.h).json()["name"] == "ws1"
    assert len(requests.get(srv.url + "/api/v1/workspaces", headers=srv.h).json()) == 1
    # After a restart (empty caches) every spelling still reaches ws1.
    srv.stop()
    again = LiveServer(srv.config.data_dir)
    try:
        h = {"Authorization": f"Bearer {again.token('owner2', 'Owner', '/')}"}
        for name in ("ws1", "WS1"):
            assert requests.get(again.url + ARM + f"/{name}", headers=h).json()["name"] == "ws1"
    finally:
        again.stop()
        srv.stop = lambda: None  # already stopped


def test_embedded_workspace_case_variant_is_the_same(workspace) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Workspace

    same = Workspace.get("WS1", subscription_id=workspace.subscription_id, resource_group="RG")
    assert same._ws_id == workspace._ws_id and same.name == "ws1"
    made = Workspace.create("Ws1", subscription_id=workspace.subscription_id, resource_group="rg", exist_ok=True,
                            show_output=False)
    assert made._ws_id == workspace._ws_id


def test_inputs_that_were_500_are_400(srv) -> None:  # type: ignore[no-untyped-def]
    h, base = srv.h, srv.base
    assert requests.patch(base, json={}, headers=h).status_code == 200
    assert "details" in _err(requests.patch(base + "/runs/r1", json={"details": None}, headers=h), 400)
    assert "status" in _err(requests.patch(base + "/runs/r1", json={"status": None}, headers=h), 400)
    requests.post(base + "/assets/model", json={"name": "m", "spec": {}}, headers=h).raise_for_status()
    assert requests.patch(base + "/assets/model/m/versions/1", json={}, headers=h).status_code == 200
    _err(requests.patch(base + f"/assets/model/m/versions/{2 ** 70}", json={}, headers=h), 400)
    assert "end_time" in _err(requests.patch(base + "/runs/r1", json={"end_time": 2 ** 70}, headers=h), 400)
    _err(requests.post(base + "/metrics", json={"points": [["r1", "k", "scalar", 1.0, None, 2 ** 70, 1]]},
                       headers=h), 400)
    for name in ("a\x00b", "x" * 10_000):
        _err(requests.put(base + "/files", params={"container": "runs/r1", "name": name}, data=b"1", headers=h), 400)
        _err(requests.get(base + "/files", params={"container": "runs/r1", "name": name}, headers=h), 400)
    deep = b"[" * 10_000 + b"]" * 10_000
    for path in ("/experiments", "/metrics", "/api/2.0/mlflow/runs/log-batch"):
        r = requests.post(base + path, data=deep, headers={**h, "Content-Type": "application/json"})
        _err(r, 400)
    hist = base + "/api/2.0/mlflow/metrics/get-history"
    assert "max_results" in _err(requests.get(hist, params={"run_id": "r1", "metric_key": "m", "max_results": -1},
                                              headers=h), 400)
    _err(requests.get(hist, params={"run_id": "r1", "metric_key": "m", "page_token": "garbage"}, headers=h), 400)
    _err(requests.get(hist, params={"run_id": "r1", "metric_key": "m", "page_token": "9" * 40}, headers=h), 400)


def test_invalid_data_is_refused_and_nothing_stored(srv) -> None:  # type: ignore[no-untyped-def]
    h, base = srv.h, srv.base
    mlflow = base + "/api/2.0/mlflow"
    assert "value" in _err(requests.post(mlflow + "/runs/log-metric", json={"run_id": "r1", "key": "m",
                                                                             "timestamp": 1}, headers=h), 400)
    assert "timestamp" in _err(requests.post(mlflow + "/runs/log-metric", json={"run_id": "r1", "key": "m",
                                                                                 "value": 1.0}, headers=h), 400)
    got = requests.post(base + "/metrics/query", json={"run_ids": ["r1"]}, headers=h).json()
    assert got["points"] == []
    assert "status" in _err(requests.patch(base + "/runs/r1", json={"status": "T"}, headers=h), 400)
    for kind in ("param", "tag", "property"):
        _err(requests.put(base + f"/runs/r1/attributes/{kind}", json={"values": {"": "v"}}, headers=h), 400)
    msg = _err(requests.put(base + "/runs/r1/attributes/param", json={"values": {"p": "x" * 10_000_000}},
                            headers=h), 400)
    assert "at most" in msg
    run = requests.get(base + "/runs/r1", headers=h).json()
    assert run["status"] == "NotStarted" and run["params"] == {} and run["tags"] == {}


def test_mlflow_status_codes_match_mlflows(srv) -> None:  # type: ignore[no-untyped-def]
    h, mlflow = srv.h, srv.base + "/api/2.0/mlflow"
    point = {"key": "m", "value": 1.0, "timestamp": 1}
    _err(requests.post(mlflow + "/runs/log-batch", json={"run_id": "bad id!", "metrics": [point]}, headers=h), 400)
    _err(requests.get(mlflow + "/runs/get", params={"run_id": "bad id!"}, headers=h), 404, "RESOURCE_DOES_NOT_EXIST")
    r = requests.get(mlflow + "/metrics/get-history", params={"run_id": "0" * 32, "metric_key": "m"}, headers=h)
    assert r.status_code == 200 and r.json().get("metrics", []) == []
    _err(requests.post(mlflow + "/runs/search", json={"experiment_ids": ["1"], "max_results": 50001}, headers=h), 400)
    _err(requests.post(mlflow + "/experiments/search", json={"max_results": 0}, headers=h), 400)
    _err(requests.post(mlflow + "/runs/log-batch", json={"run_id": "r1", "metrics": [point] * 1001}, headers=h), 400)


def test_device_codes_are_rate_limited_and_bounded(srv) -> None:  # type: ignore[no-untyped-def]
    url = srv.url + "/oidc/oauth2/v2.0/devicecode"
    answers = [requests.post(url, data={"client_id": "cli"}) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and int(answers[3].headers["Retry-After"]) >= 1
    assert answers[3].json()["error"] == "slow_down"
    assert len(requests.post(srv.url + "/oidc/oauth2/v2.0/token", data={"grant_type": "x" * 20_000}).content) > 0
    r = requests.post(srv.url + "/oidc/oauth2/v2.0/token", data={"grant_type": "x" * 20_000})
    assert r.status_code == 413


def test_rate_limiter_per_client_and_purged() -> None:
    from azuremlcore.server.security.ratelimit import Limit, RateLimiter

    now = [0.0]
    rl = RateLimiter({"x": Limit(2, 60.0)}, clock=lambda: now[0])
    assert rl.allow("x", "a") == 0 and rl.allow("x", "a") == 0
    assert rl.allow("x", "a") > 0          # a's burst is spent
    assert rl.allow("x", "b") == 0         # b has its own bucket
    now[0] += 1.0
    assert rl.allow("x", "a") == 0         # one a second comes back
    now[0] += 120.0
    rl.allow("x", "c")                     # a purge: full buckets of a and b are forgotten
    assert len(rl) == 1


def test_pending_device_codes_are_capped(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from azuremlcore.server.security.device import DeviceCodes

    codes = DeviceCodes(sa.create_engine(f"sqlite:///{tmp_path / 'd.db'}"))
    assert all(codes.start("c", "", max_pending=3) for _ in range(3))
    assert codes.start("c", "", max_pending=3) is None
    assert codes.start("c", "", lifetime_s=-1) is not None     # expired at once: purged by the next start
    assert codes.start("c", "", max_pending=5) is not None

