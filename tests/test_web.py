"""The web view over HTTP (no browser): sign-in, roles, the runs table, downsampled series, live state, files,
/docs without a CDN, and `aml studio` over an embedded home. Browser tests are in test_web_browser.py."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest_server import LiveServer, live_server  # noqa: F401 - fixture

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360"
                    "0000000200015e2e0d0a0000000049454e44ae426082")


def _sdk_workspace(server: LiveServer, monkeypatch: pytest.MonkeyPatch, token: str, name: str = "webws"):  # type: ignore[no-untyped-def]
    from azuremlcore import Workspace
    from azuremlcore.authentication import TokenAuthentication

    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", server.url)
    return Workspace.create(name, auth=TokenAuthentication(lambda _aud: token), subscription_id="s1",
                            resource_group="rg", show_output=False)


def _signed_in(server: LiveServer, token: str) -> requests.Session:
    s = requests.Session()
    r = s.post(server.url + "/login", data={"token": token, "next": "/ui/workspaces"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/workspaces"
    return s


@pytest.fixture
def site(live_server, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """A server with a workspace holding an experiment of runs (params, metrics, a table, an image, a child)."""
    from azuremlcore import Experiment

    admin = live_server.token("admin")
    ws = _sdk_workspace(live_server, monkeypatch, admin)
    exp = Experiment(ws, "sweep")
    runs = []
    for i in range(12):
        run = exp.start_logging()
        run.log("lr", 0.01 * (i + 1))
        ws._store.set_run_attributes(run.id, "param", {"lr": str(0.01 * (i + 1)), "opt": "adam" if i % 2 else "sgd"})
        for step in range(20):
            run.log("loss", 1.0 / (step + 1) + i, step=step)
        run.tag("group", "even" if i % 2 == 0 else "odd")
        runs.append(run)
    last = runs[-1]
    last.log_list("classes", [3, 5, 8])
    last.log_row("roc", fpr=0.1, tpr=0.6)
    last.log_row("roc", fpr=0.3, tpr=0.9)
    img = tmp_path / "curve.png"
    img.write_bytes(PNG)
    last.log_image("curve", path=str(img))
    last.upload_file("outputs/page.html", str(_write(tmp_path / "page.html", "<script>alert(1)</script>")))
    last.child_run(name="child").complete()
    for run in runs:
        run.complete()
    return {"server": live_server, "admin": admin, "ws": ws, "exp": exp, "runs": runs}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_pages_need_sign_in_and_the_cookie_is_httponly_samesite(site):
    server, admin = site["server"], site["admin"]
    r = requests.get(server.url + "/ui/workspaces?x=1", allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fui%2Fworkspaces%3Fx%3D1"
    assert requests.get(server.url + f"/ui/api/workspaces/{site['ws']._ws_id}/runs/x/live").status_code == 401
    assert requests.get(server.url + "/docs", allow_redirects=False).status_code == 303
    assert requests.get(server.url + "/static/app.js").status_code == 200  # the package's assets are public
    forged = requests.post(server.url + "/login", data={"token": admin}, headers={"Origin": "https://evil.example"},
                           allow_redirects=False)
    assert forged.status_code == 403 and "set-cookie" not in forged.headers  # no login CSRF
    bad = requests.post(server.url + "/login", data={"token": "amlu_nope"}, allow_redirects=False)
    assert bad.status_code == 401 and "unknown, expired or revoked" in bad.text
    s = requests.Session()
    r = s.post(server.url + "/login", data={"token": admin, "next": "https://evil.example/"}, allow_redirects=False)
    assert r.headers["location"] == "/ui/workspaces"  # never an open redirect
    cookie = r.headers["set-cookie"]
    assert "aml_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert s.get(server.url + "/ui/workspaces").status_code == 200
    # Scripts use the API's bearer header on pages too.
    page = requests.get(server.url + "/ui/workspaces", headers={"Authorization": f"Bearer {admin}"})
    assert page.status_code == 200 and "webws" in page.text
    assert s.get(server.url + "/logout", allow_redirects=False).headers["set-cookie"].startswith("aml_session=;")


def test_every_page_kind_renders_the_runs(site):
    server, ws, exp, runs = site["server"], site["ws"], site["exp"], site["runs"]
    s = _signed_in(server, site["admin"])
    base = f"{server.url}/ui/workspaces/{ws._ws_id}"
    assert ws._ws_id in s.get(server.url + "/ui/workspaces").text
    assert exp.get_portal_url() in s.get(base).text.replace('href="', f'href="{server.url}')
    table = s.get(exp.get_portal_url()).text
    assert table.count('class="pick"') == 12 and "lr" in table and "loss" in table and "group=even" in table
    last = runs[-1]
    page = s.get(last.get_portal_url()).text
    assert 'data-name="classes"' in page and "<td>8</td>" in page  # a list is also shown as a table
    for expected in ('data-key="loss"', 'id="params"', "group", "roc", "curve.png", 'id="child-runs"',
                     "outputs/page.html", 'id="tag-form"'):
        assert expected in page, expected
    compare = s.get(f"{base}/compare", params={"runs": ",".join(r.id for r in runs), "metric": "loss", "param": "lr"})
    assert compare.status_code == 200 and compare.text.count('class="dot"') == 12
    assert compare.text.count('class="line"') == 12 and ">opt</text>" in compare.text  # parallel coordinates
    assert s.get(f"{base}/compare", params={"runs": f"{runs[0].id},nope"}).status_code == 404
    series = f"{server.url}/ui/api/workspaces/{ws._ws_id}/series"
    assert s.get(series, params={"key": "loss", "runs": f"{runs[0].id},nope"}).status_code == 404
    overlay = s.get(series, params={"key": "loss", "runs": ",".join(r.id for r in runs)}).json()["series"]
    assert [o["run"] for o in overlay] == [r.id for r in runs] and all(len(o["y"]) == 20 for o in overlay)
    assert s.get(f"{base}/models").status_code == 200 and s.get(f"{base}/environments").status_code == 200
    missing = s.get(f"{base}/runs/nope")
    assert missing.status_code == 404 and "does not exist" in missing.text


def test_runs_table_sorts_filters_and_paginates_on_the_server(site):
    s = _signed_in(site["server"], site["admin"])
    url = site["exp"].get_portal_url()
    runs = site["runs"]

    def ids(html: str) -> list[str]:
        return re.findall(r'<tr data-run="([^"]+)"', html)

    by_loss = ids(s.get(url, params={"sort": "metric:loss", "dir": "asc", "per": 5}).text)
    assert by_loss == [r.id for r in runs[:5]]  # run i's last loss is 1/20 + i
    page3 = s.get(url, params={"sort": "metric:loss", "dir": "asc", "per": 5, "page": 3}).text
    assert ids(page3) == [r.id for r in runs[10:]] and "page 3 of 3" in page3
    by_lr = ids(s.get(url, params={"sort": "param:lr", "dir": "desc"}).text)
    assert by_lr == [r.id for r in reversed(runs)]  # numbers sort as numbers (0.12 > 0.09)
    odd = ids(s.get(url, params={"q": "group=odd", "per": 50}).text)
    assert sorted(odd) == sorted(r.id for i, r in enumerate(runs) if i % 2)
    assert ids(s.get(url, params={"q": "opt=sgd"}).text) == ids(s.get(url, params={"q": "group=even"}).text)
    assert ids(s.get(url, params={"status": "Failed"}).text) == []


def test_series_keep_the_extremes_of_a_long_history(live_server, monkeypatch):
    from azuremlcore import Experiment
    from azuremlcore.server.web.downsample import min_max

    admin = live_server.token("admin")
    ws = _sdk_workspace(live_server, monkeypatch, admin)
    run = Experiment(ws, "long").start_logging()
    values = [((i * 7919) % 1000) / 10 for i in range(3000)]
    values[2222] = -50.0  # one dip of one step must survive the reduction
    for i, v in enumerate(values):
        run.log("noisy", v, step=i)
    run.flush()
    s = _signed_in(live_server, admin)
    url = f"{live_server.url}/ui/api/workspaces/{ws._ws_id}/series"
    got = s.get(url, params={"key": "noisy", "runs": run.id, "width": 100}).json()["series"][0]
    assert len(got["x"]) <= 200 and min(got["y"]) == -50.0 and max(got["y"]) == max(values)
    assert (got["x"], got["y"]) == min_max(list(enumerate(values)), 100)
    assert got["x"] == sorted(got["x"])
    full = s.get(url, params={"key": "noisy", "runs": run.id, "width": 10_000}).json()["series"][0]
    assert full["y"] == values  # wider than the history: every point
    timed = s.get(url, params={"key": "noisy", "runs": run.id, "axis": "timestamp", "width": 50}).json()["series"][0]
    assert timed["x"][0] > 1e9 and len(timed["x"]) <= 100  # seconds since the epoch
    assert s.get(url, params={"key": "noisy", "runs": run.id, "axis": "bogus"}).status_code == 400
    run.log("noisy", 1000.0, step=3000)  # the server's cache of reduced series must not hide a new point
    run.complete()
    grown = s.get(url, params={"key": "noisy", "runs": run.id, "width": 100}).json()["series"][0]
    assert max(grown["y"]) == 1000.0 and grown["x"][-1] == 3000


def test_live_state_answers_304_until_the_run_changes(site):
    s = _signed_in(site["server"], site["admin"])
    run = site["runs"][0]
    url = f"{site['server'].url}/ui/api/workspaces/{site['ws']._ws_id}/runs/{run.id}/live"
    first = s.get(url)
    assert first.json()["status"] == "Completed" and first.json()["metrics"]["loss"][0] == "scalar"
    assert s.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    run.tag("later", "1")
    assert s.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 200


def test_roles_readers_see_contributors_change_and_the_cookie_needs_the_ui_header(site):
    server, ws, run = site["server"], site["ws"], site["runs"][0]
    scope = f"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"
    reader = _signed_in(server, server.token("rita", "Reader", scope))
    page = reader.get(run.get_portal_url()).text
    assert 'id="tag-form"' not in page and run.id in page
    api = server.url + scope + f"/runs/{run.id}/attributes/tag"
    ui = {"X-AML-UI": "1"}
    assert reader.put(api, json={"values": {"k": "v"}}, headers=ui).status_code == 403
    writer = _signed_in(server, server.token("carl", "Contributor", scope))
    forged = writer.put(api, json={"values": {"k": "v"}})  # a form of another site cannot add the header
    assert forged.status_code == 403 and "X-AML-UI" in forged.json()["message"]
    assert writer.put(api, json={"values": {"k": "v"}}, headers=ui).status_code == 204
    assert 'id="tag-form"' in writer.get(run.get_portal_url()).text
    outsider = _signed_in(server, server.token("olga", None))
    assert outsider.get(run.get_portal_url()).status_code == 404
    assert ws.name not in outsider.get(server.url + "/ui/workspaces").text


def test_run_files_show_images_and_download_everything_else(site):
    s = _signed_in(site["server"], site["admin"])
    run = site["runs"][-1]
    url = f"{site['server'].url}/ui/api/workspaces/{site['ws']._ws_id}/runs/{run.id}/file"
    image = s.get(url, params={"name": "curve.png"})
    assert image.headers["content-type"] == "image/png" and image.content == PNG
    html = s.get(url, params={"name": "outputs/page.html"})
    assert html.headers["content-type"] == "application/octet-stream"
    assert "attachment" in html.headers["content-disposition"] and html.headers["x-content-type-options"] == "nosniff"
    assert s.get(url, params={"name": "../../../etc/passwd"}).status_code in (400, 404)


def test_device_code_sign_in_sets_the_session(live_server):
    from azuremlcore.server.security.device import DeviceCodes

    live_server.token("dora", "Reader")
    s = requests.Session()
    started = s.post(live_server.url + "/login/device").json()
    assert s.post(live_server.url + "/login/device/poll").json() == {"state": "pending"}
    assert DeviceCodes(live_server.state.store._engine).approve(started["user_code"], "user:dora")
    done = s.post(live_server.url + "/login/device/poll")
    assert done.json() == {"state": "approved"} and "aml_session=" in done.headers["set-cookie"]
    assert s.get(live_server.url + "/ui/workspaces").status_code == 200
    assert "user:dora" in s.get(live_server.url + "/ui/workspaces").text


def test_api_docs_load_only_packaged_assets(live_server):
    s = _signed_in(live_server, live_server.token("admin"))
    page = s.get(live_server.url + "/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    for a in assets:
        got = s.get(live_server.url + a)
        assert got.status_code == 200 and "immutable" in got.headers["cache-control"]  # URLs carry a content hash
    assert any(a.startswith("/static/vendor/swagger-ui/swagger-ui-bundle.js?v=") for a in assets)
    assert live_server.url and s.get(live_server.url + "/redoc").status_code == 404


def test_studio_serves_the_embedded_home_and_portal_urls_point_at_it(workspace, azuremlcore_home):
    from azuremlcore import Experiment

    run = Experiment(workspace, "local").start_logging()
    run.log("m", 2.0)
    run.complete()
    # The test's home is not ~/.azuremlcore: the hint names it, for a shell without $AZUREMLCORE_HOME.
    assert f"start the web view with: aml studio --path {azuremlcore_home}" in run._web_view_line()
    proc = subprocess.Popen([sys.executable, "-m", "azuremlcore._cli.main", "studio", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "aml studio did not start"
            time.sleep(0.1)
        assert run.get_portal_url() == f"{url}/ui/workspaces/{workspace._ws_id}/runs/{run.id}"
        assert run._web_view_line() == run.get_portal_url()
        page = requests.get(run.get_portal_url())  # no sign-in on 127.0.0.1
        assert page.status_code == 200 and "studio (this machine)" in page.text and 'id="tag-form"' in page.text
        again = subprocess.run([sys.executable, "-m", "azuremlcore._cli.main", "studio"], capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 0 and again.stdout.strip() == url  # one studio per home
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert not (azuremlcore_home / "studio.json").exists()
    assert run.get_portal_url().startswith("http://127.0.0.1:8765/")


def test_studio_explains_a_folder_without_workspaces(tmp_path):
    out = subprocess.run([sys.executable, "-m", "azuremlcore._cli.main", "studio", "--path", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "No embedded workspaces" in out.stderr and "--path" in out.stderr
