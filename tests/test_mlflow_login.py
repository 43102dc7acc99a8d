"""Signing in once authenticates MLflow too: `aml login`, $AZUREMLCORE_TOKEN or a cached device-code sign-in.

MLflow against a server workspace's `azureml://` URI uses the SDK's own credential for that server
when nothing else is given, also in a fresh process that only calls `mlflow.set_tracking_uri`, and
never starts an interactive sign-in itself.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

mlflow = pytest.importorskip("mlflow")

from conftest_server import LiveServer, live_server, self_signed_cert  # noqa: E402,F401 - fixture

SUB, RG = "00000000-0000-0000-0000-0000000000cc", "rg"
URL = "http://127.0.0.1:9"  # nothing listens: the unit tests only ask for tokens

# What a user's script does in a new process: no azuremlcore import, no token in the environment.
FRESH_SCRIPT = """\
    import sys
    import mlflow
    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.set_experiment("fresh")
    with open("note.txt", "w") as f:
        f.write("from a fresh process")
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_metric("loss", 0.25)
        mlflow.log_artifact("note.txt")
    print("RUN", run.info.run_id)
"""


def _reset_default(endpoint: str) -> None:
    # default_credential is per process: tests that sign in anew must not see an earlier test's object.
    from azuremlcore import authentication

    authentication._defaults.pop(endpoint.rstrip("/"), None)


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AZUREMLCORE_TOKEN", "AZUREMLCORE_AUTHORITY", "AZUREMLCORE_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    _reset_default(URL)
    yield
    _reset_default(URL)


# ---------------------------------------------------------------------- token look-up (no server)
def test_saved_login_is_the_token_for_that_server_only() -> None:
    from azuremlcore.authentication import save_login
    from azuremlmlflow import _auth

    assert _auth.token_for(URL) is None
    save_login(URL, "tok-saved")
    assert _auth.token_for(URL) == "tok-saved"
    assert _auth.token_for(URL + "/") == "tok-saved"
    assert _auth.token_for("http://127.0.0.1:10") is None
    save_login(URL, "tok-renewed")  # `aml login` again: the next request uses the new token
    assert _auth.token_for(URL) == "tok-renewed"


def test_saved_login_read_again_only_when_its_file_changes(azuremlcore_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    from azuremlcore import authentication
    from azuremlcore._store import azuremlcore_home as home
    from azuremlmlflow import _auth

    authentication.save_login(URL, "tok-1")
    reads = []
    real_read = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self.name) or real_read(self, *a, **k))
    assert [_auth.token_for(URL) for _ in range(5)] == ["tok-1"] * 5
    assert reads.count("credentials.json") <= 1  # MLflow asks at every request: the file is parsed once
    authentication.save_login(URL, "tok-2")  # another `aml login`, this process or another
    assert _auth.token_for(URL) == "tok-2"
    (azuremlcore_home / "credentials.json").unlink()  # the login removed: no token, as before it was saved
    assert _auth.token_for(URL) is None
    # A relative home is resolved from the folder of the moment, as before the resolution was memoised.
    monkeypatch.setenv("AZUREMLCORE_HOME", "rel-home")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert home() == (tmp_path / folder / "rel-home").resolve()


def test_explicit_and_run_tokens_come_before_the_saved_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from azuremlcore.authentication import save_login
    from azuremlmlflow import _auth

    save_login(URL, "tok-saved")
    monkeypatch.setenv("AZUREMLCORE_TOKEN", "tok-env")
    assert _auth.token_for(URL) == "tok-env"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-mlflow")
    assert _auth.token_for(URL) == "tok-mlflow"
    monkeypatch.setenv("AZUREML_RUN_TOKEN", "tok-run")
    assert _auth.token_for(URL) == "tok-run"
    (tmp_path / "token").write_text("tok-run-file")
    monkeypatch.setenv("AZUREML_RUN_TOKEN_FILE", str(tmp_path / "token"))
    assert _auth.token_for(URL) == "tok-run-file"
    _auth.register_token_provider(URL, lambda: "tok-registered")
    try:
        assert _auth.token_for(URL) == "tok-registered"
    finally:
        _auth.register_token_provider(URL, None)


def test_mlflow_never_starts_a_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore.authentication import InteractiveLoginAuthentication
    from azuremlmlflow import _auth

    def prompt(*args: Any) -> Any:
        raise AssertionError("MLflow started an interactive sign-in")

    monkeypatch.setattr("azuremlcore.authentication._interactive", lambda: True)  # as in a notebook
    monkeypatch.setattr(InteractiveLoginAuthentication, "_plain", prompt)
    monkeypatch.setattr(InteractiveLoginAuthentication, "_msal", prompt)
    assert _auth.token_for(URL) is None  # no login: no token, the server answers 401
    explicit = InteractiveLoginAuthentication()._bind(URL)
    _auth.register_token_provider(URL, _auth.silently(explicit))  # what get_mlflow_tracking_uri registers
    try:
        assert _auth.token_for(URL) is None
    finally:
        _auth.register_token_provider(URL, None)


def test_the_sdk_and_mlflow_share_one_default_credential() -> None:
    from azuremlcore._client import open_rest
    from azuremlcore.authentication import AccessToken, client_credential, default_credential
    from azuremlmlflow import _auth

    sdk = open_rest(URL, None, client_credential)[0].http.auth  # the client a Workspace without auth= opens
    assert sdk is default_credential(URL)
    # A sign-in the SDK made in this process (e.g. a device code on a plain-http server) serves MLflow too.
    sdk._signed_in, sdk._cached = True, AccessToken("tok-device", 2 ** 40)
    assert _auth.token_for(URL) == "tok-device"


# ---------------------------------------------------------------------- against a real server
def _fresh_process(uri: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AZUREML_"))
           and k not in ("AZUREMLCORE_TOKEN", "AZUREMLCORE_ENDPOINT")}
    env["AZUREMLCORE_HOME"] = str(home)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(FRESH_SCRIPT), uri], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_aml_login_then_plain_mlflow_in_a_fresh_process(live_server: LiveServer, azuremlcore_home: Path,
                                                        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore import Experiment, Run, Workspace
    from azuremlmlflow import _uri

    token = live_server.token("erin", "Contributor", f"/subscriptions/{SUB}")
    uri = _uri.build(SUB, RG, "loginws", endpoint=live_server.url)
    before = _fresh_process(uri, workdir, azuremlcore_home)
    assert before.returncode != 0 and "UNAUTHENTICATED" in before.stderr, before.stderr[-2000:]

    login = subprocess.run([sys.executable, "-m", "azuremlcore._cli.main", "login", "--endpoint", live_server.url,
                            "--token", token], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "AZUREMLCORE_HOME": str(azuremlcore_home)})
    assert login.returncode == 0, login.stderr
    (workdir / "config.json").write_text(json.dumps({"subscription_id": SUB, "resource_group": RG,
                                                     "workspace_name": "loginws", "endpoint": live_server.url}))
    _reset_default(live_server.url)
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", live_server.url)
    Workspace.create("loginws", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    monkeypatch.delenv("AZUREMLCORE_ENDPOINT")
    ws = Workspace.from_config()  # no auth argument: the saved login
    assert ws.get_mlflow_tracking_uri() == uri

    after = _fresh_process(uri, workdir, azuremlcore_home)
    assert after.returncode == 0, after.stderr[-3000:]
    run_id = re.search(r"RUN (\w+)", after.stdout).group(1)  # type: ignore[union-attr]
    run = Run(Experiment(ws, "fresh"), run_id)
    assert run.get_metrics() == {"loss": 0.25}
    assert "note.txt" in run.get_file_names()


@pytest.mark.slow
def test_from_config_without_auth_then_mlflow_in_the_same_process(live_server: LiveServer, azuremlcore_home: Path,
                                                                   workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore import Experiment, Workspace
    from azuremlcore.authentication import save_login

    save_login(live_server.url, live_server.token("fay", "Contributor", f"/subscriptions/{SUB}"))
    _reset_default(live_server.url)
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", live_server.url)
    Workspace.create("samews", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False).write_config()
    monkeypatch.delenv("AZUREMLCORE_ENDPOINT")
    ws = Workspace.from_config()
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    try:
        mlflow.set_experiment("same")
        with mlflow.start_run() as run:
            mlflow.log_metric("acc", 0.5)
    finally:
        mlflow.set_tracking_uri(None)
    assert next(Experiment(ws, "same").get_runs()).id == run.info.run_id
    assert next(Experiment(ws, "same").get_runs()).get_metrics() == {"acc": 0.5}


@pytest.mark.slow
def test_cached_device_code_sign_in_authenticates_mlflow(tmp_path: Path, azuremlcore_home: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    from azuremlcore import Workspace
    from azuremlcore._cli.main import main as aml
    from azuremlcore.authentication import InteractiveLoginAuthentication
    from azuremlmlflow import _uri
    from test_device_code import _approve_when_asked

    cert, key = self_signed_cert(tmp_path / "tls")
    server = LiveServer(tmp_path / "srv", tls=(cert, key), token_lifetime_s=120)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
        data_dir = str(server.config.data_dir)
        _approve_when_asked(server, lambda code: aml(["device", "approve", code, "--data-dir", data_dir, "--user",
                                                      "gus", "--role", "Contributor"])).join(timeout=0)
        Workspace.create("devws", auth=InteractiveLoginAuthentication(force=True), subscription_id=SUB,
                         resource_group=RG, show_output=False)
        assert list((azuremlcore_home / "msal").glob("*.json"))  # msal cached the sign-in on this machine
        monkeypatch.delenv("AZUREMLCORE_ENDPOINT")
        _reset_default(server.url)  # as in a new process: only the msal cache is left
        uri = _uri.build(SUB, RG, "devws", endpoint=server.url)
        client = MlflowClient(tracking_uri=uri)
        exp = client.create_experiment("after-device-code")
        run = client.create_run(exp)
        client.log_metric(run.info.run_id, "m", 1.0)
        assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    finally:
        server.stop()
