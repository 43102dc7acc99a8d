"""Headless Chromium for tests and benchmarks: Debian's `chromium` driven by Playwright, and `aml server` in a
subprocess on a free port. In CI both must be there (.ci/install-chromium.sh installs them); locally the
browser tests skip and say what to install."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests


def chromium_or_reason() -> tuple[str | None, str]:
    """(path of chromium, "") or (None, why the browser tests cannot run here)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        return None, "browser: no chromium on PATH (apt-get install -y chromium, or bash .ci/install-chromium.sh)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return None, "browser: the playwright package is missing (pip install playwright)"
    return path, ""


def artifacts_dir() -> Path:
    """Where screenshots go: $CI_ARTIFACTS_DIR/web, else test-artifacts/web (gitignored)."""
    root = Path(os.environ.get("CI_ARTIFACTS_DIR") or Path(__file__).resolve().parents[1] / "test-artifacts")
    folder = root / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ServerProcess:
    """`aml server` in a subprocess on a free port, with a bootstrap admin token."""

    def __init__(self, data_dir: Path) -> None:
        from conftest_server import free_port

        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "azuremlcore._cli.main", "server", "--data-dir", str(data_dir), "--port",
             str(self.port), "--bootstrap-admin", "admin"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.token = ""
        deadline = time.monotonic() + 60
        while not self.token:
            line = self.proc.stderr.readline()  # type: ignore[union-attr]
            match = re.match(r"admin token for admin: (\S+)", line)
            if match:
                self.token = match.group(1)
            if not line and self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("aml server did not start")
        while True:
            try:
                if requests.get(self.url + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("aml server did not answer /health")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then kill)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Watch:
    """What a page did wrong: console errors, uncaught exceptions, requests to other hosts."""

    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Fail when anything was seen."""
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.foreign, f"requests to hosts other than the server: {self.foreign}"


def open_browser(playwright: Any, chromium: str, server_url: str, width: int = 1360) -> tuple[Any, Any, Watch]:
    """(browser, context, watch): every request to a host other than the server is blocked and recorded."""
    browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
    context = browser.new_context(viewport={"width": width, "height": 900})
    watch = Watch()
    netloc = urlsplit(server_url).netloc

    def route(r: Any) -> None:
        if urlsplit(r.request.url).netloc == netloc or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            watch.foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    context.on("page", lambda page: _watch_page(page, watch))
    return browser, context, watch


def _watch_page(page: Any, watch: Watch) -> None:
    page.on("console", lambda m: watch.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(f"{page.url}: {e}"))
