"""Sending a spool's records to a workspace store, in order, each once (see `spool` for the format).

`replay` is what the live writer, `aml sync` and the next SDK process that finds an abandoned spool
all call: it sends every record the target has not acknowledged, and records each acknowledgement
in the spool's `.ack` file. A record the store refuses for good (a param changed, a bad value) is
reported and skipped; an unreachable store stops the replay (`SpoolOffline`), to be resumed later.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azuremlcore._store.records import RunRecord
from azuremlcore._tracking.spool import LINE, Spool, columnar, record_points, record_size

if TYPE_CHECKING:
    from azuremlcore._store.artifacts import FileArtifactStore
    from azuremlcore._store.protocol import WorkspaceStore

_log = logging.getLogger(__name__)


class SpoolOffline(Exception):
    """The store could not be reached (or failed on its side): the replay stopped, nothing was lost."""


@dataclass
class Replayed:
    """What one replay sent."""

    run_id: str
    created: bool = False
    points: int = 0
    attributes: int = 0
    files: int = 0
    status: str | None = None
    errors: list[str] = field(default_factory=list)


def transient(exc: BaseException) -> bool:
    """Whether an error may pass if tried again later: anything but the store refusing the record
    itself (a 4xx answer other than 401, 403, 408 and 429), so that nothing is dropped for a
    missing login, an expired token or an unreachable server."""
    from azuremlcore._store.errors import StoreError

    status = getattr(exc, "http_status", None)
    if not isinstance(exc, StoreError) or not isinstance(status, int):
        return True
    return not (400 <= status < 500) or status in (401, 403, 408, 429)


def unreachable(exc: BaseException) -> bool:
    """Whether an error says the store could not be reached or failed on its side (5xx)."""
    status = getattr(exc, "http_status", None)
    return isinstance(exc, OSError) or (isinstance(status, int) and status >= 500)


def target_of(store: "WorkspaceStore") -> str:
    """The key a store's acknowledgements are recorded under (its endpoint or database URL)."""
    return str(getattr(store, "url", "") or id(store))


def _sort_error(exc: Exception, skip_refused: bool, out: Replayed, refused: str) -> None:
    """A store error sorted into "later" (SpoolOffline: the server is away) or "never" (refused: raised,
    or with skip_refused logged as `refused: <error>` and passed over so the records after it are sent)."""
    if transient(exc):
        raise SpoolOffline(str(exc)) from exc
    if not skip_refused:
        raise exc
    msg = f"{refused}: {exc}"
    _log.error("%s", msg)
    out.errors.append(msg)


def create_offline_run(store: "WorkspaceStore", header: dict[str, Any], workspace_id: str,
                       experiment_id: str) -> bool:
    """Create the workspace run an offline spool stands for (same id); False when it exists already."""
    from azuremlcore._store.errors import AlreadyExistsError, NotFoundError

    run_id = header["run_id"]
    try:
        store.get_run(run_id)
        return False
    except NotFoundError:
        pass
    record = RunRecord(id=run_id, workspace_id=workspace_id, experiment_id=experiment_id, status="Running",
                       display_name=header.get("display_name") or run_id, created_time=int(header["created_time"]),
                       start_time=int(header["created_time"]), type="azureml.offline",
                       submitted_by=header.get("user"))
    try:
        store.create_run(record)
    except AlreadyExistsError:
        return False
    return True


# Points per request when consecutive metrics records are sent together (a writer's records, the
# MLflow bridge's one-point records): one request instead of one per record. The sender sends what
# accumulated while the last request was in flight, so requests grow with the load up to this; a
# request is one transaction on the server, which answers nothing else meanwhile, so this bounds
# that pause (0.1-0.2 s of inserting on SQLite) and how long a value waits behind a request in flight,
# while the per-request cost (HTTP, authentication, commit: about a millisecond) stays a few per cent.
COALESCE_POINTS = 25_000
_END: dict[str, Any] = {"t": "end", "n": -1}


def rows_json(line: bytes) -> bytes:
    """The JSON of a metrics record's rows, without the brackets: the record's line ends with them."""
    start = line.index(b'"rows":[') + 8
    return line[start:line.rindex(b"]")]


def _with_end(records: Any) -> Any:
    yield from records
    yield _END


def _shape(rec: dict[str, Any]) -> tuple[bool, bool]:
    """What must be alike for metrics records to go in one request: (columnar, unique)."""
    return columnar(rec), bool(rec.get("unique", False))


def _send_metrics(store: "WorkspaceStore", spool: Spool, run_id: str, records: list[dict[str, Any]],
                  out: Replayed, skip_refused: bool) -> None:
    is_columnar, unique = _shape(records[0])
    try:
        send_batches = getattr(store, "log_metric_batches_once", None)
        send_lines = getattr(store, "log_metric_lines_once", None)
        if is_columnar and send_batches is not None:  # a server: each record's line is a batch of its wire format
            send_batches(run_id, spool.source, [rec[LINE] for rec in records])
        elif not is_columnar and send_lines is not None:
            seq: "int | list[int]" = records[0]["n"] if len(records) == 1 else [
                rec["n"] for rec in records for _ in rec["rows"]]
            send_lines(run_id, spool.source, seq, [rows_json(rec[LINE]) for rec in records], unique=unique)
        else:
            per_record = [(rec["n"], record_points(run_id, rec)) for rec in records]
            points = [p for _, pts in per_record for p in pts]
            if unique:
                store.log_metrics_unique(run_id, points)  # type: ignore[attr-defined]
            else:
                seqs = [n for n, pts in per_record for _ in pts]
                store.log_metrics_once(run_id, spool.source, records[0]["n"] if len(records) == 1 else seqs, points)
    except Exception as exc:  # noqa: BLE001 - sorted as for any record
        _sort_error(exc, skip_refused, out,
                    f"{run_id}: spool records {records[0]['n']}..{records[-1]['n']} (metrics) were refused and skipped")
        return
    out.points += sum(record_size(rec) for rec in records)


def replay(spool: Spool, store: "WorkspaceStore", artifacts: "FileArtifactStore | None" = None,
           *, workspace_id: str | None = None, experiment_id: str | None = None,
           upto: int | None = None, skip_refused: bool = True) -> Replayed:
    """Send the records of `spool` that the store has not acknowledged (up to record `upto`).

    An offline run's spool needs `workspace_id` and `experiment_id` (its run is created there).
    Raises `SpoolOffline` when the store cannot be reached; what was sent is acknowledged. A record
    the store refuses is reported and skipped, or with `skip_refused=False` stops the replay (raised).
    """
    header = spool.header()
    run_id = header.get("run_id")
    out = Replayed(run_id=str(run_id))
    if not run_id:
        return out
    target = target_of(store)
    done = spool.acked(target)
    ws_id = workspace_id
    try:
        if header.get("offline") and done < 0:
            if workspace_id is None or experiment_id is None:
                raise ValueError(f"The offline run {run_id} needs a workspace and an experiment to be uploaded "
                                 "into: aml sync -w WORKSPACE -e EXPERIMENT.")
            out.created = create_offline_run(store, header, workspace_id, experiment_id)
        pending: list[dict[str, Any]] = []  # consecutive metrics records, sent as one request
        pending_points = 0
        for rec in _with_end(spool.records(after=done)):
            n = rec["n"]
            if upto is not None and n > upto:
                rec = _END
            if pending and (rec["t"] != "metrics" or pending_points + record_size(rec) > COALESCE_POINTS
                            or _shape(rec) != _shape(pending[0])):
                _send_metrics(store, spool, run_id, pending, out, skip_refused)
                spool.ack(target, pending[-1]["n"])
                pending, pending_points = [], 0
            if rec is _END:
                break
            try:
                kind = rec["t"]
                if kind == "metrics":
                    pending.append(rec)
                    pending_points += record_size(rec)
                    continue
                elif kind == "attrs":
                    store.set_run_attributes(run_id, rec["kind"], rec["values"], write_once=rec.get("write_once", False))
                    out.attributes += len(rec["values"])
                elif kind == "file":
                    if artifacts is None:  # the writer that spooled it has not said where files go yet
                        raise SpoolOffline("no artifact store to upload the run's files to")
                    if ws_id is None:
                        ws_id = store.get_run(run_id).workspace_id
                    artifacts.put(f"{ws_id}/runs/{run_id}", rec["name"], spool.folder / rec["copy"])
                    out.files += 1
                elif kind == "status":
                    fields = {k: rec[k] for k in ("end_time", "start_time", "details") if rec.get(k) is not None}
                    store.update_run(run_id, status=rec["status"], **fields)
                    out.status = rec["status"]
            except SpoolOffline:
                raise
            except Exception as exc:  # noqa: BLE001 - a store error is sorted into "later" or "never"
                _sort_error(exc, skip_refused, out, f"{run_id}: spool record {n} ({rec.get('t')}) was refused and skipped")
            spool.ack(target, n)
    except SpoolOffline:
        raise
    except Exception as exc:  # noqa: BLE001 - creating the run: same sorting
        if transient(exc):
            raise SpoolOffline(str(exc)) from exc
        raise
    return out
