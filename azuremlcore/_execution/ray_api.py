"""A client of a Ray cluster's dashboard: the Jobs REST API and the node list, with `requests` only.

No `ray` package is needed on the submitting side. Calls used: `GET /api/version` (is it Ray, which
version), `PUT /api/packages/gcs/<name>.zip` (upload a working folder), `POST /api/jobs/` (submit),
`GET /api/jobs/<id>`, `GET /api/jobs/<id>/logs`, `POST /api/jobs/<id>/stop`, `GET /api/v0/nodes`.
Errors are `RayClusterError` with what to check.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from azuremlcore.exceptions import ComputeTargetException

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
# Jobs API version "4" (Ray 2.x) is the one this client speaks; Ray 2.9 is the oldest tried.
MIN_RAY_VERSION = (2, 9)
AGENT_WAIT_S = 60.0  # how long a submit waits for a just-started head's job agent
TERMINAL_JOB_STATES = ("SUCCEEDED", "FAILED", "STOPPED")


class RayClusterError(ComputeTargetException):
    """The Ray cluster did not answer, is not compatible, or refused a request (a ComputeTargetException)."""


def normalize_address(address: str) -> str:
    """The dashboard URL of an address ('head:8265', 'http://head:8265/', 'ray://head:10001' are refused)."""
    address = str(address or "").strip().rstrip("/")
    if not address:
        raise RayClusterError("A Ray address is needed: the dashboard URL of the cluster's head, e.g. "
                              "http://127.0.0.1:8265.")
    if address.startswith("ray://"):
        raise RayClusterError(f"{address!r} is a Ray Client address; give the dashboard URL instead (the Jobs API "
                              "listens there, port 8265 by default), e.g. http://head:8265.")
    if "://" not in address:
        address = "http://" + address
    return address


def _version_tuple(text: str) -> tuple[int, ...]:
    out = []
    for part in str(text).split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


class RayJobsClient:
    """One requests session to a Ray cluster's dashboard, with retries and timeouts."""

    def __init__(self, address: str) -> None:
        """A client of the cluster whose dashboard is at `address` (e.g. http://127.0.0.1:8265)."""
        self.address = normalize_address(address)
        self.session = requests.Session()
        # GETs and stops are safe to repeat; a submit is not retried (it would start the job twice).
        retry = Retry(total=3, connect=3, read=2, backoff_factor=0.2, status_forcelist=(502, 503, 504),
                      allowed_methods=frozenset({"GET", "PUT"}), raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.address + path
        try:
            resp = self.session.request(method, url, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), **kwargs)
        except requests.RequestException as exc:
            raise RayClusterError(
                f"The Ray cluster at {self.address} does not answer ({type(exc).__name__}). Check that its head is "
                "running (`ray start --head --dashboard-host 0.0.0.0`, or `ray status` on the head) and that the "
                "address is the dashboard's URL (port 8265 by default).") from exc
        if resp.status_code >= 400:
            raise RayClusterError(f"The Ray cluster at {self.address} refused {method} {path}: HTTP "
                                  f"{resp.status_code} {resp.text.strip()[:500]}")
        return resp

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self._call(method, path, **kwargs)
        try:
            return resp.json()
        except ValueError:
            raise RayClusterError(f"{self.address}{path} did not answer with JSON: is this a Ray dashboard? "
                                  f"(it said {resp.text.strip()[:200]!r})") from None

    # ------------------------------------------------------------------ cluster
    def version(self) -> dict[str, Any]:
        """`/api/version`: {version (Jobs API), ray_version, ...}; RayClusterError when not a compatible Ray."""
        out = self._json("GET", "/api/version")
        if not isinstance(out, dict) or "ray_version" not in out:
            raise RayClusterError(f"{self.address} answered /api/version without a Ray version: is it a Ray "
                                  "dashboard?")
        if _version_tuple(out["ray_version"]) < MIN_RAY_VERSION:
            raise RayClusterError(
                f"The Ray cluster at {self.address} runs Ray {out['ray_version']}; Ray "
                f"{'.'.join(map(str, MIN_RAY_VERSION))} or newer is needed (pip install 'ray[default]>=2.9' on "
                "every node).")
        return out

    def nodes(self) -> list[dict[str, Any]]:
        """The cluster's nodes (node_id, node_ip, state ALIVE/DEAD, resources_total, is_head_node)."""
        out = self._json("GET", "/api/v0/nodes", params={"limit": 10000})
        data = (out or {}).get("data", {}).get("result", {})
        return list(data.get("result", []) if isinstance(data, dict) else data)

    # ------------------------------------------------------------------ jobs
    def upload_package(self, zip_path: str | Path) -> str:
        """Upload a zip as a package (once per content) and return its `gcs://` URI for runtime_env."""
        data = Path(zip_path).read_bytes()
        uri = f"gcs://_ray_pkg_{hashlib.sha1(data).hexdigest()}.zip"
        path = "/api/packages/" + uri.replace("://", "/", 1)
        if not self._exists(path):  # the same snapshot twice is uploaded once
            self._call("PUT", path, data=data)
        return uri

    def _exists(self, path: str) -> bool:
        try:
            resp = self.session.get(self.address + path, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.RequestException:
            return False
        return resp.status_code == 200

    def submit(self, entrypoint: str, runtime_env: dict[str, Any], submission_id: str,
               metadata: dict[str, str] | None = None, entrypoint_num_cpus: float | None = None) -> str:
        """Submit a job; returns its submission id."""
        body: dict[str, Any] = {"entrypoint": entrypoint, "runtime_env": runtime_env, "submission_id": submission_id,
                                "metadata": dict(metadata or {})}
        if entrypoint_num_cpus is not None:
            body["entrypoint_num_cpus"] = entrypoint_num_cpus
        deadline = time.monotonic() + AGENT_WAIT_S
        while True:
            try:
                out = self._json("POST", "/api/jobs/", json=body)
                return str(out.get("submission_id") or out.get("job_id") or submission_id)
            except RayClusterError as exc:
                # A head that has just started has no job agent yet; the job was not created, so ask again.
                if "No available agent" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def job(self, submission_id: str) -> dict[str, Any]:
        """The job's details: status (PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED), message, times."""
        return dict(self._json("GET", f"/api/jobs/{submission_id}"))

    def logs(self, submission_id: str) -> str:
        """The driver's whole log so far."""
        return str(self._json("GET", f"/api/jobs/{submission_id}/logs").get("logs", ""))

    def stop(self, submission_id: str) -> bool:
        """Ask Ray to stop the job (SIGTERM to the driver, then SIGKILL); whether it was still running."""
        return bool(self._json("POST", f"/api/jobs/{submission_id}/stop").get("stopped", False))
