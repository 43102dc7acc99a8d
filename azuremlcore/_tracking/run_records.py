"""Making and ending run records: the run types, Azure ML-style run ids, who submitted.

`Run` wraps these records for the user; the submit machinery creates and fails them directly.
"""
from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azuremlcore._store.protocol import WorkspaceStore
    from azuremlcore._store.records import RunRecord

INTERACTIVE_RUN_TYPE = "azureml.interactive"
SCRIPT_RUN_TYPE = "azureml.scriptrun"


def new_run_id(experiment_name: str) -> str:
    """A run id in Azure ML's style: '<experiment>_<unix time>_<8 hex>'."""
    return f"{experiment_name}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


def submitter() -> str:
    """The user name recorded as the run's submitter ('unknown' where the system has none)."""
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


def create_run(store: "WorkspaceStore", workspace_id: str, experiment_id: str, run_id: str, *,
               run_type: str = INTERACTIVE_RUN_TYPE, status: str = "Running", target: str = "local",
               parent_id: str | None = None, display_name: str | None = None, tags: dict | None = None,
               details: dict | None = None) -> "RunRecord":
    """Create a run (started now when its status is Running) and return its stored record."""
    from azuremlcore._store.records import RunRecord
    from azuremlcore._timeutil import now_ms

    t = now_ms()
    record = RunRecord(id=run_id, workspace_id=workspace_id, experiment_id=experiment_id, parent_id=parent_id,
                       type=run_type, display_name=display_name, status=status, target=target,
                       submitted_by=submitter(), created_time=t, start_time=t if status == "Running" else None,
                       details=dict(details or {}), tags={str(k): str(v) for k, v in (tags or {}).items()})
    return store.create_run(record)


def fail_run(store: "WorkspaceStore", run_id: str, message: str, code: str = "UserError") -> "RunRecord":
    """Record the run Failed now, with the error `get_details()` shows (as `Run.fail` does)."""
    from azuremlcore._timeutil import now_ms

    rec = store.get_run(run_id)
    fields: dict[str, Any] = {"status": "Failed", "end_time": now_ms(),
                              "details": {"error": {"error": {"code": code, "message": message}}}}
    if rec.start_time is None:
        fields["start_time"] = fields["end_time"]
    return store.update_run(run_id, **fields)
