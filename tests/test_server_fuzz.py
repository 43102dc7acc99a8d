"""Schemathesis against the served OpenAPI document (workspace API and MLflow routes): no 5xx, answers as documented.

Bounded (a few examples per operation, fixed seed, in-process ASGI calls) so it stays within the
default suite's budget; `bench/schemathesis_sweep.py` runs the wide sweep by hand.
"""
from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

from schemathesis.config import SchemathesisConfig  # noqa: E402

SUB, RG, WS = "s1", "rg", "ws1"
_EXAMPLES = 8
_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
_state: dict = {}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A live server with a workspace, an experiment and a run in it, and an Owner's token."""
    import requests

    from conftest_server import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("fuzz"), rate_limits={
        "devicecode": (10_000, 1e6), "token": (10_000, 1e6), "device_page": (10_000, 1e6)})
    h = {"Authorization": f"Bearer {srv.token('fuzzer', 'Owner', '/')}"}
    assert requests.put(srv.url + _PATH, json={}, headers=h).status_code == 200
    exp = requests.post(srv.url + _PATH + "/experiments", json={"name": "exp"}, headers=h).json()
    assert requests.post(srv.url + _PATH + "/runs", json={"id": "run1", "experiment_id": exp["id"]},
                         headers=h).status_code == 200
    _state["headers"], _state["url"] = h, srv.url
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_schema(served):  # type: ignore[no-untyped-def]
    """The served document, with the workspace path fixed to the prepared workspace."""
    config = SchemathesisConfig.from_dict({
        "seed": 20240611, "headers": dict(_state["headers"]),
        "parameters": {"path.sub": SUB, "path.rg": RG, "path.ws": WS},
        "generation": {"max-examples": 6, "deterministic": True}})
    return schemathesis.openapi.from_url(served.url + "/openapi.json", config=config, headers=_state["headers"])


def test_no_server_errors_and_answers_as_documented(api_schema) -> None:  # type: ignore[no-untyped-def]
    """Every operation, a few generated requests each (valid and invalid): no 5xx, every answer as documented."""
    from hypothesis import given

    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                                   status_code_conformance)

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []
    sent = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=_EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal sent
            sent += 1
            try:
                case.call_and_validate(base_url=_state["url"], headers=_state["headers"], checks=checks)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - collected (schemathesis raises groups), all reported at once
                failures.append(f"{operation.label}: {' '.join(str(exc).split())[:300] or type(exc).__name__}")

        exercise()
    assert sent > 200
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(sorted(set(failures))[:40])


def test_document_describes_errors_as_answered(served) -> None:  # type: ignore[no-untyped-def]
    """No 422 anywhere (the server answers 400), and the MLflow routes are in the document."""
    import requests

    doc = requests.get(served.url + "/openapi.json", headers=_state["headers"]).json()
    codes = {code for ops in doc["paths"].values() for op in ops.values() for code in op["responses"]}
    assert "422" not in codes and "400" in codes
    assert any(p.endswith("/api/2.0/mlflow/runs/log-metric") for p in doc["paths"])

