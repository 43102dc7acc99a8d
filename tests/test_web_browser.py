"""The web view in headless Chromium (Playwright), on `aml server` in a subprocess with runs made by the SDK:
sign in, every page kind, charts drawn, rows, a log that grows while its run runs, cancel, /docs offline.

Any console error or request to another host fails the test; screenshots go to $CI_ARTIFACTS_DIR/web
(or test-artifacts/web)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from browser_support import ServerProcess, artifacts_dir, chromium_or_reason, open_browser

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM, WHY = chromium_or_reason()


def _png(width: int = 160, height: int = 100) -> bytes:
    """A small gradient image (PNG written by hand: no imaging library in the test environment)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 160))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {WHY}")
        pytest.skip(reason=WHY)
    return CHROMIUM


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    srv = ServerProcess(tmp_path / "server")
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", srv.url)
    yield srv
    srv.stop()


def _workspace(server: ServerProcess):  # type: ignore[no-untyped-def]
    from azuremlcore import Workspace
    from azuremlcore.authentication import TokenAuthentication

    return Workspace.create("browserws", auth=TokenAuthentication(lambda _aud: server.token), subscription_id="s1",
                            resource_group="rg", show_output=False)


def _fill(ws, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    from azuremlcore import Environment, Experiment, Model

    exp = Experiment(ws, "sweep")
    runs = []
    for i in range(8):
        run = exp.start_logging(display_name=f"trial-{i}")
        ws._store.set_run_attributes(run.id, "param", {"lr": str(0.01 * (i + 1)), "layers": str(2 + i % 3)})
        for step in range(300):
            run.log("loss", 2.0 / (step + 1) + 0.05 * i, step=step)
            run.log("accuracy", 1 - 1.0 / (step + 2) - 0.01 * i, step=step)
        run.log("final", 0.9 - 0.01 * i)
        run.tag("sweep", "grid")
        runs.append(run)
    best = runs[0]
    best.log_table("confusion", {"label": ["cat", "dog"], "cat": [40, 3], "dog": [5, 52]})
    img = tmp_path / "curve.png"
    img.write_bytes(_png())
    best.log_image("curve", path=str(img))
    best.upload_file("outputs/model.txt", str(_write(tmp_path / "model.txt", "weights")))
    best.child_run(name="fold-1").complete()
    for run in runs:
        run.complete()
    model_file = _write(tmp_path / "model.pkl", "model")
    Model.register(ws, model_path=str(model_file), model_name="classifier", tags={"stage": "test"})
    Environment("training-env").register(ws)
    return {"exp": exp, "runs": runs}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _shot(page, name: str, full_page: bool = True) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=full_page)


def test_every_page_in_a_browser(chromium, server, tmp_path):
    from playwright.sync_api import sync_playwright

    ws = _workspace(server)
    data = _fill(ws, tmp_path)
    exp, runs = data["exp"], data["runs"]
    with sync_playwright() as p:
        browser, context, watch = open_browser(p, chromium, server.url)
        try:
            page = context.new_page()
            page.goto(server.url + "/ui/workspaces")
            assert "/login" in page.url
            _shot(page, "login")
            page.fill("#token", server.token)
            page.click("#token-submit")
            page.wait_for_url("**/ui/workspaces")
            assert page.locator("#workspaces tbody tr").count() == 1
            _shot(page, "workspaces")

            page.click("text=browserws")
            page.wait_for_selector("#experiments")
            assert page.locator("#experiments tbody tr").count() == 1
            _shot(page, "workspace")

            page.goto(exp.get_portal_url())
            assert page.locator("#runs tbody tr").count() == 8
            assert page.locator("#runs thead th", has_text="loss").count() == 1
            page.click("#runs thead th a:has-text('accuracy')")  # sort by a metric column, on the server
            page.wait_for_url("**sort=metric%3Aaccuracy**")
            first = page.locator("#runs tbody tr").first.get_attribute("data-run")
            assert first == runs[0].id  # highest accuracy first
            _shot(page, "runs-table")

            page.goto(runs[0].get_portal_url())
            page.wait_for_selector('.chart[data-drawn="1"] canvas')
            assert page.locator(".chart").count() == 2
            page.wait_for_function("document.querySelectorAll('.chart[data-drawn=\"1\"]').length == 2")
            assert page.locator("#params tr").count() == 2 and page.locator("#child-runs tbody tr").count() == 1
            assert page.locator(".data-table tbody tr").count() == 2
            page.wait_for_function("[...document.querySelectorAll('#images img')].every(i => i.complete && i.naturalWidth > 0)")
            assert page.locator("#file-list a", has_text="outputs/model.txt").count() == 1
            _shot(page, "run")
            page.check('input[name="axis"][value="timestamp"]')
            page.wait_for_function("document.querySelectorAll('.chart[data-axis=\"timestamp\"]').length == 2")

            page.goto(exp.get_portal_url())
            for box in page.locator(".pick").all()[:5]:
                box.check()
            page.click("#compare-selected")
            page.wait_for_selector('.chart.overlay[data-drawn="1"] canvas')
            assert page.locator("#scatter circle.dot").count() == 5
            assert page.locator("#parallel polyline").count() == 5
            assert page.locator("#compare-runs tbody tr").count() == 5
            _shot(page, "compare")

            base = f"{server.url}/ui/workspaces/{ws._ws_id}"
            page.goto(base + "/models")
            assert page.locator("#assets tbody tr", has_text="classifier").count() == 1
            _shot(page, "models")
            page.goto(base + "/environments")
            assert page.locator("#assets tbody tr", has_text="training-env").count() == 1
            _shot(page, "environments")

            page.goto(server.url + "/docs")
            page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
            _shot(page, "api-docs", full_page=False)
            watch.check()
        finally:
            context.close()
            browser.close()


def test_a_running_run_updates_live_and_can_be_cancelled(chromium, server, tmp_path):
    from playwright.sync_api import sync_playwright

    from azuremlcore import Experiment

    ws = _workspace(server)
    exp = Experiment(ws, "live")
    run = exp.start_logging(display_name="training")
    run.log("loss", 1.0, step=0)
    container = run._container
    stop = threading.Event()

    def train() -> None:  # what a job's runner does: append to the log, log metrics, over HTTP
        step = 1
        while not stop.is_set() and step < 400:
            ws._artifacts.append(container, "user_logs/std_log.txt", f"epoch {step}: loss {1 / (step + 1):.4f}\n".encode())
            run.log("loss", 1 / (step + 1), step=step)
            run.flush()
            step += 1
            time.sleep(0.2)

    worker = threading.Thread(target=train, daemon=True)
    worker.start()
    with sync_playwright() as p:
        browser, context, watch = open_browser(p, chromium, server.url)
        try:
            page = context.new_page()
            page.goto(f"{server.url}/login?next=/ui/workspaces")
            page.fill("#token", server.token)
            page.click("#token-submit")
            page.goto(run.get_portal_url())
            page.wait_for_selector("pre.log")
            page.wait_for_function("document.querySelector('pre.log').textContent.length > 0")
            before = page.evaluate("document.querySelector('pre.log').textContent.split('\\n').length")
            page.wait_for_function(f"document.querySelector('pre.log').textContent.split('\\n').length > {before + 3}",
                                   timeout=20_000)
            page.wait_for_selector('.chart[data-key="loss"][data-drawn="1"] canvas')
            points = int(page.get_attribute('.chart[data-key="loss"]', "data-points") or 0)
            page.wait_for_function(f"Number(document.querySelector('.chart[data-key=\"loss\"]').dataset.points) > {points}",
                                   timeout=20_000)  # the chart grew without a reload
            assert page.text_content("#status") == "Running"
            page.fill("#tag-form input[name=key]", "note")
            page.fill("#tag-form input[name=value]", "from the browser")
            page.click("#tag-form button")
            page.wait_for_selector("#tags th:has-text('note')")
            _shot(page, "run-live")
            page.click("#cancel")
            page.wait_for_function("document.querySelector('#status').textContent === 'Canceled'", timeout=30_000)
            assert page.locator("#cancel").count() == 0
            watch.check()
        finally:
            stop.set()
            worker.join(timeout=10)
            context.close()
            browser.close()
    assert run.get_status() == "Canceled" and run.get_tags()["note"] == "from the browser"


def test_device_code_sign_in_in_a_browser(chromium, server):
    import subprocess
    import sys

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, context, watch = open_browser(p, chromium, server.url)
        try:
            page = context.new_page()
            page.goto(server.url + "/ui/workspaces")
            page.click("#device-start")
            page.wait_for_selector("#device-code:not([hidden]) .code")
            code = page.text_content("#device-code .code")
            assert code and len(code) == 9
            approved = subprocess.run([sys.executable, "-m", "azuremlcore._cli.main", "device", "approve", code,
                                       "--data-dir", str(server.data_dir), "--user", "dana", "--role", "Reader"],
                                      capture_output=True, text=True, timeout=60)
            assert approved.returncode == 0, approved.stderr
            page.wait_for_url("**/ui/workspaces", timeout=20_000)
            assert "user:dana" in page.text_content("header")
            watch.check()
        finally:
            context.close()
            browser.close()
