"""`RunDetails` in JupyterLab, driven in headless Chromium (Playwright): the widget a user sees updates live.

A notebook shows the widget of a running run, the next cell logs metrics and completes the run
while the kernel is busy; the page must show the widget go from Running to Completed with its
charts, and the object tables. Any console error or request to a host other than the Jupyter
server (a CDN) fails the test. The screenshot goes to $CI_ARTIFACTS_DIR/widgets when that is set.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

_CELLS = [
    """from azuremlcore import Workspace, Experiment
from azuremlcore.widgets import RunDetails
ws = Workspace.create(name="labws", subscription_id="s", resource_group="rg", exist_ok=True, show_output=False)
exp = Experiment(ws, "lab")
run = exp.start_logging(outputs=False)
run.child_run(name="trial-1").complete()
RunDetails(run).show()""",
    """import math, time
for i in range(40):
    run.log("loss", math.exp(-i / 8))
    time.sleep(0.25)
run.complete()""",
    "ws", "exp", "run",
]


def _missing() -> str | None:
    """What the test lacks here (None when it can run)."""
    if shutil.which("chromium") is None:
        return "no chromium on PATH (bash .ci/install-chromium.sh installs it)"
    for module in ("playwright", "jupyterlab", "ipywidgets"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (the test extra has it)"
    return None


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab on a free loopback port, serving a folder with the notebook; yields the notebook's URL."""
    why = _missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the JupyterLab widget test: {why}")
        pytest.skip(reason=why)
    import nbformat
    import requests

    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in _CELLS],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, root / "widget.ipynb")
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"), JUPYTER_RUNTIME_DIR=str(tmp_path / "jrun"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "jset"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "jws"))
    env.pop("AZUREMLCORE_AZUREML_ALIAS", None)
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                             "--IdentityProvider.token=t0ken", f"--ServerApp.root_dir={root}", "--allow-root"],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/api/status?token=t0ken", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield f"{base}/lab/tree/widget.ipynb?token=t0ken"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.timeout(300)
def test_the_widget_updates_live_in_jupyterlab(lab: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    origin = lab.split("/lab/")[0]
    errors: list[str] = []
    foreign: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):  # type: ignore[no-untyped-def]
                if r.request.url.startswith(origin):
                    return r.continue_()
                foreign.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            page.goto(lab)
            page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=90_000)
            page.click('.lm-MenuBar-itemLabel:text-is("Run")')
            page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')

            status = page.locator(".jp-OutputArea .aml-status")
            expect(status).to_have_text("Running", timeout=60_000)  # shown while the next cell runs
            expect(page.locator(".jp-OutputArea .aml-metric")).to_contain_text("values", timeout=30_000)
            expect(status).to_have_text("Completed", timeout=90_000)
            metric = page.locator(".jp-OutputArea .aml-metric")
            expect(metric).to_contain_text("(40 values)", timeout=30_000)
            assert page.locator(".jp-OutputArea svg.aml-chart polyline").count() == 1
            expect(page.locator(".jp-OutputArea .aml-children")).to_contain_text("trial-1")
            tables = page.locator(".jp-OutputArea-output table:has(th:text-is('Details Page'))")
            expect(tables).to_contain_text("Completed", timeout=60_000)
            expect(page.locator(".jp-OutputArea-output table:has(th:text-is('Report Page'))")).to_contain_text("lab")
            shots = Path(os.environ["CI_ARTIFACTS_DIR"]) / "widgets" if os.environ.get("CI_ARTIFACTS_DIR") \
                else tmp_path
            shots.mkdir(parents=True, exist_ok=True)
            page.locator(".jp-Cell >> nth=0").screenshot(path=str(shots / "rundetails-jupyterlab.png"))
        finally:
            browser.close()
    assert foreign == [], f"requests to other hosts: {foreign}"
    assert errors == [], f"console errors: {errors}"
