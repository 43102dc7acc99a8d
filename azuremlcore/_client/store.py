"""RestWorkspaceStore: the WorkspaceStore protocol as calls to a workspace server."""
from __future__ import annotations

import json
import math
import threading
from typing import Any, Iterable
from urllib.parse import quote

from azuremlcore._client.http import HttpClient
from azuremlcore._config import arm_id
from azuremlcore._store.errors import InvalidValueError, NotFoundError
from azuremlcore._store.metric_columns import points_of
from azuremlcore._store.records import AssetRecord, ExperimentRecord, MetricPoint, RunRecord, WorkspaceRecord

_METRICS_PER_REQUEST = 20_000


def _q(s: str) -> str:
    return quote(s, safe="")


def _enc(v: float | None) -> Any:
    if v is None or math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _dec(v: Any) -> float | None:
    return float(v.replace("Infinity", "inf")) if isinstance(v, str) else v


class RestWorkspaceStore:
    """The workspace store of a server (`aml server`), spoken over its JSON workspace API.

    Calls addressed only by a run or experiment id find the owning workspace from what this
    client has already seen, or ask the server once (`/api/v1/locate/...`).
    """

    # Runs logged to a server write through a local spool first (`_tracking/spool.py`): a network can fail.
    SPOOLED = True

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self.url = http.endpoint
        self._lock = threading.Lock()
        self._ws_paths: dict[str, str] = {}
        self._run_ws: dict[str, str] = {}
        self._exp_ws: dict[str, str] = {}
        # Set when the server refused `batches` (a version before them): spool records then go as rows.
        self._rows_only = False

    def close(self) -> None:
        """Close the HTTP sessions."""
        self.http.session.close()
        self.http.session_once.close()

    # ------------------------------------------------------------------ paths
    def _remember_ws(self, rec: WorkspaceRecord) -> WorkspaceRecord:
        with self._lock:
            self._ws_paths[rec.id] = arm_id(_q(rec.subscription_id), _q(rec.resource_group), _q(rec.name))
        return rec

    def ws_path(self, workspace_id: str) -> str:
        """The URL path of a workspace by id."""
        path = self._ws_paths.get(workspace_id)
        if path is None:
            self._locate("workspaces", workspace_id)
            path = self._ws_paths[workspace_id]
        return path

    def _locate(self, kind: str, item_id: str) -> str:
        rec = self._workspace(self.http.json("GET", f"/api/v1/locate/{kind}/{_q(item_id)}"))
        self._remember_ws(rec)
        return rec.id

    def _run_path(self, run_id: str) -> str:
        ws_id = self._run_ws.get(run_id) or self._locate("runs", run_id)
        self._run_ws[run_id] = ws_id
        return f"{self.ws_path(ws_id)}/runs/{_q(run_id)}"

    def _exp_path(self, experiment_id: str) -> str:
        ws_id = self._exp_ws.get(experiment_id) or self._locate("experiments", experiment_id)
        self._exp_ws[experiment_id] = ws_id
        return f"{self.ws_path(ws_id)}/experiments/{_q(experiment_id)}"

    def run_workspace(self, run_id: str) -> str:
        """The id of the workspace a run belongs to."""
        self._run_path(run_id)
        return self._run_ws[run_id]

    # ------------------------------------------------------------------ records
    def _workspace(self, d: dict) -> WorkspaceRecord:
        return WorkspaceRecord(**d)

    def _experiment(self, d: dict) -> ExperimentRecord:
        rec = ExperimentRecord(**d)
        self._exp_ws[rec.id] = rec.workspace_id
        return rec

    def _run(self, d: dict) -> RunRecord:
        rec = RunRecord(**d)
        self._run_ws[rec.id] = rec.workspace_id
        return rec

    # ------------------------------------------------------------------ workspaces
    def create_workspace(self, record: WorkspaceRecord, exist_ok: bool = False) -> WorkspaceRecord:
        """Create a workspace on the server (exist_ok returns an existing one)."""
        path = arm_id(_q(record.subscription_id), _q(record.resource_group), _q(record.name))
        body = {"location": record.location, "sku": record.sku, "friendly_name": record.friendly_name,
                "description": record.description, "tags": record.tags, "exist_ok": exist_ok}
        return self._remember_ws(self._workspace(self.http.json("PUT", path, json_body=body)))

    def find_workspace(self, subscription_id: str | None, resource_group: str | None,
                       name: str | None) -> list[WorkspaceRecord]:
        """Workspaces matching the coordinates that the caller can read."""
        params = {k: v for k, v in (("subscription_id", subscription_id), ("resource_group", resource_group),
                                    ("name", name)) if v is not None}
        return [self._remember_ws(self._workspace(d)) for d in self.http.json("GET", "/api/v1/workspaces", params=params)]

    def get_workspace(self, workspace_id: str) -> WorkspaceRecord:
        """A workspace by id."""
        return self._remember_ws(self._workspace(self.http.json("GET", self.ws_path(workspace_id))))

    def update_workspace(self, workspace_id: str, **fields: object) -> WorkspaceRecord:
        """Change friendly_name, description, tags, location or sku."""
        return self._workspace(self.http.json("PATCH", self.ws_path(workspace_id), json_body=fields))

    def delete_workspace(self, workspace_id: str) -> None:
        """Delete a workspace with everything in it (Owner role needed)."""
        self.http.request("DELETE", self.ws_path(workspace_id))

    # ------------------------------------------------------------------ experiments
    def get_or_create_experiment(self, workspace_id: str, name: str) -> ExperimentRecord:
        """The experiment of that name, created when missing."""
        return self._experiment(self.http.json("POST", f"{self.ws_path(workspace_id)}/experiments",
                                               json_body={"name": name, "get_or_create": True}))

    def create_experiment(self, workspace_id: str, name: str, tags: dict[str, str] | None = None) -> ExperimentRecord:
        """Create an experiment."""
        return self._experiment(self.http.json("POST", f"{self.ws_path(workspace_id)}/experiments",
                                               json_body={"name": name, "tags": tags or {}}))

    def get_experiment(self, workspace_id: str, *, name: str | None = None,
                       experiment_id: str | None = None) -> ExperimentRecord:
        """An experiment by name or id."""
        if name is None:
            return self._experiment(self.http.json(
                "GET", f"{self.ws_path(workspace_id)}/experiments/{_q(str(experiment_id))}"))
        found = self.http.json("GET", f"{self.ws_path(workspace_id)}/experiments",
                               params={"name": name, "view_type": "All"})
        if not found:
            raise NotFoundError(f"Experiment {name!r} does not exist in this workspace.")
        return self._experiment(found[0])

    def list_experiments(self, workspace_id: str, view_type: str = "ActiveOnly",
                         name: str | None = None) -> list[ExperimentRecord]:
        """Experiments by name."""
        params = {"view_type": view_type, **({"name": name} if name is not None else {})}
        return [self._experiment(d) for d in self.http.json("GET", f"{self.ws_path(workspace_id)}/experiments",
                                                            params=params)]

    def update_experiment(self, experiment_id: str, *, name: str | None = None,
                          archived: bool | None = None) -> ExperimentRecord:
        """Rename, archive or reactivate an experiment."""
        return self._experiment(self.http.json("PATCH", self._exp_path(experiment_id),
                                               json_body={"name": name, "archived": archived}))

    def set_experiment_tags(self, experiment_id: str, tags: dict[str, str]) -> None:
        """Add or overwrite experiment tags."""
        self.http.request("PUT", self._exp_path(experiment_id) + "/tags", json_body={"tags": tags})

    def remove_experiment_tags(self, experiment_id: str, keys: Iterable[str]) -> None:
        """Remove experiment tags."""
        self.http.request("POST", self._exp_path(experiment_id) + "/tags/delete", json_body={"keys": list(keys)})

    def delete_experiment(self, experiment_id: str) -> list[str]:
        """Delete an experiment with its runs; returns the deleted run ids (their files are deleted too)."""
        return self.http.json("DELETE", self._exp_path(experiment_id))

    # ------------------------------------------------------------------ runs
    def create_run(self, record: RunRecord) -> RunRecord:
        """Create a run."""
        body = {k: v for k, v in record.__dict__.items() if k not in ("workspace_id", "number")}
        return self._run(self.http.json("POST", f"{self.ws_path(record.workspace_id)}/runs", json_body=body))

    def get_run(self, run_id: str) -> RunRecord:
        """A run with its tags, properties and params."""
        return self._run(self.http.json("GET", self._run_path(run_id)))

    def update_run(self, run_id: str, **fields: object) -> RunRecord:
        """Change run fields; details are merged key by key."""
        return self._run(self.http.json("PATCH", self._run_path(run_id), json_body=fields))

    def search_runs(self, workspace_id: str, *, experiment_ids: list[str] | None = None, parent_id: str | None = None,
                    include_children: bool = True, statuses: list[str] | None = None, run_type: str | None = None,
                    lifecycle_stage: str | None = "active", limit: int | None = None) -> list[RunRecord]:
        """Runs newest first, filtered."""
        params: dict[str, Any] = {"include_children": str(include_children).lower(),
                                  "lifecycle_stage": lifecycle_stage if lifecycle_stage is not None else "any"}
        for k, v in (("experiment_ids", experiment_ids), ("parent_id", parent_id), ("statuses", statuses),
                     ("run_type", run_type), ("limit", limit)):
            if v is not None:
                params[k] = v
        if experiment_ids is not None and not experiment_ids:
            return []
        return [self._run(d) for d in self.http.json("GET", f"{self.ws_path(workspace_id)}/runs", params=params)]

    def set_run_attributes(self, run_id: str, kind: str, values: dict[str, str], write_once: bool = False) -> None:
        """Set tags, properties or params."""
        self.http.request("PUT", f"{self._run_path(run_id)}/attributes/{kind}",
                          json_body={"values": values, "write_once": write_once})

    def delete_run_attributes(self, run_id: str, kind: str, keys: Iterable[str]) -> None:
        """Delete attributes by key."""
        self.http.request("POST", f"{self._run_path(run_id)}/attributes/{kind}/delete", json_body={"keys": list(keys)})

    def issue_run_token(self, run_id: str) -> tuple[str, int]:
        """A fresh token scoped to the run (for a runner starting the run's process); (token, expires_on)."""
        out = self.http.json("POST", f"{self._run_path(run_id)}/token")
        return out["token"], out["expires_on"]

    # ------------------------------------------------------------------ metrics
    def log_metrics(self, points: list[MetricPoint]) -> None:
        """Store points in bulk (one request per workspace per 20,000 points)."""
        by_ws: dict[str, list[list[Any]]] = {}
        for p in points:
            ws_id = self._run_ws.get(p.run_id) or self.run_workspace(p.run_id)
            by_ws.setdefault(ws_id, []).append([p.run_id, p.key, p.kind, _enc(p.value), p.value_json, p.step,
                                                p.timestamp])
        for ws_id, rows in by_ws.items():
            for i in range(0, len(rows), _METRICS_PER_REQUEST):
                self.http.request("POST", f"{self.ws_path(ws_id)}/metrics",
                                  json_body={"points": rows[i:i + _METRICS_PER_REQUEST]})

    def log_metrics_once(self, run_id: str, source: str, seq: "int | list[int]", points: list[MetricPoint]) -> bool:
        """Store the points of spool record `seq` of `source` unless the server has it already (one request).

        Returns True: the server does not say whether the record was new (a resend is harmless either way).
        Sent once, without the session's retries: the spool's sender retries on its own schedule.
        """
        rows = [[p.run_id, p.key, p.kind, _enc(p.value), p.value_json, p.step, p.timestamp] for p in points]
        self.http.request("POST", f"{self.ws_path(self.run_workspace(run_id))}/metrics",
                          json_body={"points": rows, "source": source, "seq": seq}, retry=False)
        return True

    def log_metric_lines_once(self, run_id: str, source: str, seq: "int | list[int]", rows_json: list[bytes],
                              unique: bool = False) -> None:
        """`log_metrics_once` for rows already encoded, as a spool holds them: each item is the JSON of
        some rows [key, kind, value, value_json, step, timestamp] without the enclosing brackets.

        `unique`: MLflow's semantics instead (points identical to stored ones are skipped; no record numbers)."""
        fields: dict[str, Any] = {"run_id": run_id, "unique": True} if unique else {
            "run_id": run_id, "source": source, "seq": seq}
        head = json.dumps(fields, separators=(",", ":")).encode()
        body = head[:-1] + b',"rows":[' + b",".join(part for part in rows_json if part) + b"]}"
        self.http.request("POST", f"{self.ws_path(self.run_workspace(run_id))}/metrics", data=body,
                          headers={"Content-Type": "application/json"}, retry=False)

    def log_metric_batches_once(self, run_id: str, source: str, records: list[bytes]) -> None:
        """Store columnar spool records of a run unless the server has them already (one request).

        Each item is a record's line as the spool holds it (`{"n": seq, "t": "metrics", "key": ...,
        "value": [...], ...}`): the server's `batches`, sent without decoding or encoding them again."""
        path = f"{self.ws_path(self.run_workspace(run_id))}/metrics"
        if not self._rows_only:
            head = json.dumps({"run_id": run_id, "source": source}, separators=(",", ":")).encode()
            body = head[:-1] + b',"batches":[' + b",".join(line.rstrip(b"\n") for line in records) + b"]}"
            try:
                self.http.request("POST", path, data=body, headers={"Content-Type": "application/json"}, retry=False)
                return
            except InvalidValueError as exc:
                if "batches" not in str(exc) or "Extra inputs" not in str(exc):
                    raise
                self._rows_only = True  # a server older than `batches`: it takes the same points as rows
        rows: list[list[Any]] = []
        seqs: list[int] = []
        for line in records:
            rec = json.loads(line)
            rows += map(list, points_of(rec.get("key"), rec.get("kind"), rec["value"], rec.get("value_json"),
                                        rec["step"], rec["timestamp"]))
            seqs += [rec["n"]] * len(rec["value"])
        self.http.request("POST", path, json_body={"run_id": run_id, "rows": rows, "source": source, "seq": seqs},
                          retry=False)

    def get_metrics(self, run_ids: list[str], key: str | None = None) -> list[MetricPoint]:
        """Points of the runs in logging order."""
        if not run_ids:
            return []
        ws_id = self.run_workspace(run_ids[0])
        out = self.http.json("POST", f"{self.ws_path(ws_id)}/metrics/query", json_body={"run_ids": run_ids, "key": key},
                             read=True)
        return [MetricPoint(r[0], r[1], r[2], _dec(r[3]), r[4], r[5], r[6]) for r in out["points"]]

    # ------------------------------------------------------------------ assets
    def put_asset(self, workspace_id: str, kind: str, name: str, spec: dict, description: str | None = None,
                  tags: dict[str, str] | None = None, properties: dict[str, str] | None = None) -> AssetRecord:
        """Store a new version of a named asset."""
        body = {"name": name, "spec": spec, "description": description, "tags": tags or {},
                "properties": properties or {}}
        return AssetRecord(**self.http.json("POST", f"{self.ws_path(workspace_id)}/assets/{_q(kind)}", json_body=body))

    def get_asset(self, workspace_id: str, kind: str, name: str, version: int | None = None) -> AssetRecord | None:
        """One version of an asset (the latest when version is None), or None."""
        params = {"version": int(version)} if version is not None else None
        resp = self.http.request("GET", f"{self.ws_path(workspace_id)}/assets/{_q(kind)}/{_q(name)}", params=params,
                                 ok404=True)
        return None if resp.status_code == 404 else AssetRecord(**resp.json())

    def compute_cluster(self, workspace_id: str, name: str) -> dict[str, Any] | None:
        """The Ray cluster backing a server's AmlCompute target ({address, version, nodes}), or None without one."""
        resp = self.http.request("GET", f"{self.ws_path(workspace_id)}/computes/{_q(name)}/cluster", ok404=True)
        return None if resp.status_code == 404 else dict(resp.json())

    def list_assets(self, workspace_id: str, kind: str, name: str | None = None) -> list[AssetRecord]:
        """Every version of the assets of a kind."""
        params = {"name": name} if name is not None else None
        return [AssetRecord(**d) for d in self.http.json("GET", f"{self.ws_path(workspace_id)}/assets/{_q(kind)}",
                                                         params=params)]

    def update_asset(self, workspace_id: str, kind: str, name: str, version: int, **fields: object) -> AssetRecord:
        """Change an asset version."""
        return AssetRecord(**self.http.json(
            "PATCH", f"{self.ws_path(workspace_id)}/assets/{_q(kind)}/{_q(name)}/versions/{int(version)}",
            json_body=fields))

    def delete_asset(self, workspace_id: str, kind: str, name: str, version: int | None = None) -> None:
        """Delete one version, or every version."""
        params = {"version": int(version)} if version is not None else None
        self.http.request("DELETE", f"{self.ws_path(workspace_id)}/assets/{_q(kind)}/{_q(name)}", params=params)

    # ------------------------------------------------------------------ secrets
    def set_secrets(self, workspace_id: str, values: dict[str, str]) -> None:
        """Add or overwrite secrets."""
        self.http.request("PUT", f"{self.ws_path(workspace_id)}/secrets", json_body={"values": values})

    def get_secrets(self, workspace_id: str, names: list[str]) -> dict[str, str | None]:
        """Secret values by name (None when missing)."""
        return self.http.json("POST", f"{self.ws_path(workspace_id)}/secrets/get", json_body={"names": names},
                              read=True)

    def list_secrets(self, workspace_id: str) -> list[str]:
        """Secret names."""
        return self.http.json("GET", f"{self.ws_path(workspace_id)}/secrets")

    def delete_secret(self, workspace_id: str, name: str) -> None:
        """Delete a secret."""
        self.http.request("DELETE", f"{self.ws_path(workspace_id)}/secrets/{_q(name)}")
